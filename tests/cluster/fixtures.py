"""Pytest fixtures for the real control plane (tests/cluster/controlplane.py).

``control_plane`` (session): one etcd, kube-apiserver, controller manager, kube-scheduler and kwok for
the whole run, with gpugrant's RBAC from deploy/base applied. ``cluster`` (per test): a clean slate on it
(no nodes, no gpugrant pods), a namespace prefix of the test's own, and helpers. Tests that use either
carry the ``cluster`` marker; they skip with the reason where the binaries are not built, and fail
instead where GPUGRANT_REQUIRE_CLUSTER=1 (CI).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.cluster.controlplane import ControlPlane, ControlPlaneError, missing_reason

ROOT = Path(__file__).resolve().parents[2]
# The objects a gpugrant install creates that the backend's identity needs (deploy/base).
RBAC_FILES = (
    "namespaces.yaml",
    "scheduler-serviceaccount.yaml",
    "scheduler-clusterrole.yaml",
    "scheduler-clusterrolebinding.yaml",
    "portal-rbac.yaml",
    "sessions-rbac.yaml",
)
SCHEDULER_ACCOUNT = ("gpugrant", "gpugrant-scheduler")
PORTAL_ACCOUNT = ("gpugrant", "gpugrant-portal")
SESSIONS_ACCOUNT = ("gpugrant", "gpugrant-sessions")
_test_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def control_plane():
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    plane = ControlPlane()
    try:
        plane.start()
    except ControlPlaneError as error:
        pytest.fail(f"the test control plane did not start: {error}")
    try:
        for name in RBAC_FILES:
            plane.kubectl("apply", "--server-side", "-f", str(ROOT / "deploy" / "base" / name))
        yield plane
    finally:
        plane.stop()


class Cluster:
    """One test's view of the shared control plane."""

    def __init__(self, plane: ControlPlane, prefix: str):
        self.plane = plane
        self.prefix = prefix  # GPUGRANT_K8S_NAMESPACE_PREFIX for this test
        self.nodes: list[str] = []

    def __getattr__(self, name):
        return getattr(self.plane, name)

    def add_gpu_nodes(self, *names: str, wait: bool = True, **options) -> list[str]:
        self.plane.add_gpu_nodes(names, **options)
        self.nodes.extend(names)
        if wait:
            self.plane.wait_nodes_ready(names)
        return list(names)

    def api_client(self, account: tuple[str, str] = SCHEDULER_ACCOUNT):
        """An API client that authenticates as a service account, with a fresh bound token."""
        import kubernetes

        configuration = kubernetes.client.Configuration()
        kubeconfig = self.plane.kubeconfig_for_service_account(*account)
        kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        return kubernetes.client.ApiClient(configuration)

    def pods(self, label_selector: str = "app.kubernetes.io/managed-by=gpugrant") -> list[dict]:
        from urllib.parse import quote

        status, body = self.plane.request("GET", f"/api/v1/pods?labelSelector={quote(label_selector)}")
        assert status == 200, body
        return sorted(body["items"], key=lambda pod: pod["metadata"]["name"])

    def get(self, path: str) -> dict | None:
        status, body = self.plane.request("GET", path)
        return body if status == 200 else None

    def annotate_pod(self, namespace: str, name: str, annotations: dict[str, str]) -> dict:
        status, body = self.plane.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{name}",
            {"metadata": {"annotations": annotations}},
            content_type="application/merge-patch+json",
        )
        assert status == 200, body
        return body

    def exit_pod(self, namespace: str, name: str, code: int = 0, *, after: str = "") -> None:
        """The pod's containers exit with ``code`` (``after`` a duration such as "3s"): kwok then reports
        it Succeeded or Failed."""
        annotations = {"gpugrant.test/exit-code": str(code)}
        if after:
            annotations["gpugrant.test/exit-delay"] = after
        self.annotate_pod(namespace, name, annotations)

    def wait_pod_phase(self, namespace: str, name: str, phase: str, timeout: float = 30.0) -> dict:
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        return self.plane.wait_for(
            lambda: (pod := self.get(path)) and pod["status"].get("phase") == phase and pod,
            f"pod {namespace}/{name} {phase}",
            timeout=timeout,
        )

    def clean(self) -> None:
        """Remove every pod, Service and node the test left, at once (grace period 0)."""
        for namespace in self._test_namespaces():
            for kind in ("pods", "services"):
                self.plane.request("DELETE", f"/api/v1/namespaces/{namespace}/{kind}?gracePeriodSeconds=0")
            self.plane.request("DELETE", f"/api/v1/namespaces/{namespace}")
        status, body = self.plane.request("GET", "/api/v1/nodes")
        for node in body.get("items", []):
            self.plane.request("DELETE", f"/api/v1/nodes/{node['metadata']['name']}")

    def _test_namespaces(self) -> list[str]:
        _, body = self.plane.request("GET", "/api/v1/namespaces")
        return [
            ns["metadata"]["name"]
            for ns in body.get("items", [])
            if ns["metadata"]["name"].startswith(self.prefix)
        ]


@pytest.fixture
def cluster(control_plane, settings):
    prefix = f"t{next(_test_numbers)}-"
    settings.GPUGRANT_K8S_NAMESPACE_PREFIX = prefix
    view = Cluster(control_plane, prefix)
    yield view
    view.clean()
