"""Every YAML under deploy/ is a valid Kubernetes object (kubernetes_validate, strict), and kustomize lists them all."""

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.scheduler.backends.fake_apiserver import KUBERNETES_VERSION

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


def _documents(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def test_there_is_something_to_check():
    assert DEPLOY / "scheduler" / "clusterrole.yaml" in YAML_FILES


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda path: str(path.relative_to(DEPLOY)))
def test_every_object_is_valid_against_the_official_schema(path):
    for document in _documents(path):
        if document.get("kind") == "Kustomization":
            for resource in document.get("resources", []):
                assert (path.parent / resource).exists(), f"{path}: {resource} does not exist"
            continue
        # SchemaNotFoundError (an unknown kind or apiVersion) fails the test too.
        assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("kustomization", sorted(DEPLOY.rglob("kustomization.yaml")), ids=str)
def test_each_kustomization_lists_every_manifest_beside_it(kustomization):
    (document,) = _documents(kustomization)
    beside = {path.name for path in kustomization.parent.glob("*.yaml") if path.name != "kustomization.yaml"}
    assert set(document["resources"]) == beside


def test_the_configmaps_gpu_product_map_matches_the_settings_default(settings):
    (configmap,) = _documents(DEPLOY / "scheduler" / "configmap.yaml")

    assert json.loads(configmap["data"]["GPUGRANT_K8S_PRODUCT_MAP"]) == settings.GPUGRANT_K8S_PRODUCT_MAP
    assert set(json.loads(configmap["data"]["GPUGRANT_K8S_PRODUCT_MAP"]).values()) <= set(
        settings.GPUGRANT_GPU_TYPES
    )


def test_the_role_binding_names_the_service_account_the_scheduler_runs_as():
    (account,) = _documents(DEPLOY / "scheduler" / "serviceaccount.yaml")
    (binding,) = _documents(DEPLOY / "scheduler" / "clusterrolebinding.yaml")
    (role,) = _documents(DEPLOY / "scheduler" / "clusterrole.yaml")

    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
