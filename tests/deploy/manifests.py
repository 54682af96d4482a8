"""deploy/ rendered once per overlay, and small accessors the deploy tests share."""

import copy
import functools
import secrets
import subprocess
from collections.abc import Iterable
from pathlib import Path

import yaml

from tests.cluster.controlplane import binaries_folder
from tests.deploy.kustomize import documents, pod_specs, render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "base"
TEMPLATES = DEPLOY / "templates"
OVERLAYS = ("production", "test-cluster")
KUBERNETES_VERSION = "1.33.0"  # the Kubernetes schemas kubernetes_validate checks against
AGENT = "node-agent"


@functools.cache
def _rendered(overlay: str) -> tuple[dict, ...]:
    return tuple(render(DEPLOY / "overlays" / overlay))


def rendered(overlay: str) -> list[dict]:
    return copy.deepcopy(list(_rendered(overlay)))


def templates() -> list[dict]:
    return [obj for path in sorted(TEMPLATES.glob("*.yaml")) for obj in documents(path)]


def filled_templates(gpu_nodes: Iterable[str] = ("gpu-node-001",)) -> list[dict]:
    """The Secret templates as an operator fills them in, with throwaway values: one node key per GPU node."""
    filled = templates()
    for secret in filled:
        if secret["metadata"]["name"] == "gpugrant-node-keys":
            secret["stringData"] = {node: f"ggnode_{secrets.token_urlsafe(24)}" for node in gpu_nodes}
        else:
            secret["stringData"] = {
                key: value.replace("REPLACE-ME", secrets.token_urlsafe(24))
                for key, value in secret["stringData"].items()
            }
    return filled


@functools.cache
def kubectl_kustomize(overlay: str) -> str:
    """The overlay as real kustomize renders it: the kubectl that tests/cluster/build builds (marker
    ``cluster``), so the version is the control plane's and not whatever kubectl is on PATH."""
    return subprocess.run(
        [str(binaries_folder() / "kubectl"), "kustomize", str(DEPLOY / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def kustomized(overlay: str) -> list[dict]:
    return [obj for obj in yaml.safe_load_all(kubectl_kustomize(overlay)) if obj]


def find(objects: list[dict], kind: str, name: str) -> dict:
    (match,) = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    return match


def of_kind(objects: list[dict], *kinds: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] in kinds]


def workloads(objects: list[dict]) -> list[dict]:
    return [obj for obj in objects if pod_specs(obj)]


def component(obj: dict) -> str:
    """The app.kubernetes.io/component of a workload's pods."""
    return obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]


def containers(spec: dict) -> list[dict]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def long_running(obj: dict) -> bool:
    return obj["kind"] in ("Deployment", "DaemonSet", "StatefulSet")


def selects(selector: dict, labels: dict) -> bool:
    """Whether a LabelSelector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) matches."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        if operator == "In" and labels.get(key) not in expression["values"]:
            return False
        if operator == "NotIn" and labels.get(key) in expression["values"]:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def arguments(container: dict) -> dict[str, str]:
    """``--name=value`` arguments of a container, by name."""
    pairs = [arg[2:].partition("=") for arg in container.get("args", []) if arg.startswith("--")]
    return {name: value for name, _, value in pairs}
