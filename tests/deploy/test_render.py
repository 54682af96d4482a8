"""The overlays render, the Python renderer agrees with kustomize (the kubectl tests/cluster builds), and no
file is left out."""

import pytest

from tests.deploy.kustomize import UnsupportedKustomization, documents, object_id, render, strategic_merge
from tests.deploy.manifests import BASE, DEPLOY, OVERLAYS, TEMPLATES, find, kustomized, rendered


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_it_renders_every_object_once(overlay):
    objects = rendered(overlay)

    ids = [object_id(obj) for obj in objects]
    assert len(ids) == len(set(ids))
    assert {obj["kind"] for obj in objects} >= {
        "Namespace",
        "ConfigMap",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "DaemonSet",
        "Job",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }


# The kubectl of the test control plane's build: wherever the control plane can run, this comparison runs.
@pytest.mark.cluster
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_it_renders_what_kubectl_kustomize_renders(overlay):
    theirs = {object_id(obj): obj for obj in kustomized(overlay)}

    ours = {object_id(obj): obj for obj in rendered(overlay)}

    assert set(ours) == set(theirs)
    assert [key for key in ours if ours[key] != theirs[key]] == []


def test_the_overlays_really_differ_where_they_patch():
    production, test = rendered("production"), rendered("test-cluster")

    assert find(production, "Deployment", "gpugrant-worker")["spec"]["replicas"] == 4
    assert find(test, "Deployment", "gpugrant-worker")["spec"]["replicas"] == 1
    assert find(test, "HorizontalPodAutoscaler", "gpugrant-portal")["spec"]["minReplicas"] == 1
    assert find(test, "Ingress", "gpugrant-portal")["spec"]["rules"][0]["host"] == "gpugrant-test.example.kr"
    portal = find(test, "Deployment", "gpugrant-portal")["spec"]["template"]["spec"]
    # A strategic merge keeps what the patch does not mention: the probes, the init container.
    assert portal["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/healthz/ready"
    assert [c["name"] for c in portal["initContainers"]] == ["wait-for-migrations"]
    assert portal["containers"][0]["resources"]["requests"]["cpu"] == "100m"
    assert find(production, "Deployment", "gpugrant-sessions")["spec"]["replicas"] == 2
    sessions = find(test, "Deployment", "gpugrant-sessions")["spec"]
    assert sessions["replicas"] == 1
    assert sessions["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "100m"
    assert sessions["template"]["spec"]["containers"][0]["args"][0] == "uvicorn"  # kept by the merge
    assert (
        find(test, "Ingress", "gpugrant-sessions")["spec"]["rules"][0]["host"] == "gpugrant-test.example.kr"
    )


def test_the_base_kustomization_lists_every_manifest_beside_it():
    (kustomization,) = documents(BASE / "kustomization.yaml")

    beside = {path.name for path in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == beside


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_uses_every_file_beside_it(overlay):
    directory = DEPLOY / "overlays" / overlay
    (kustomization,) = documents(directory / "kustomization.yaml")

    used = {patch["path"] for patch in kustomization["patches"]}
    assert kustomization["resources"] == ["../../base"]
    assert used == {path.name for path in directory.glob("*.yaml")} - {"kustomization.yaml"}


def test_no_kustomization_applies_the_secret_templates():
    listed = set()
    for kustomization in DEPLOY.rglob("kustomization.yaml"):
        (document,) = documents(kustomization)
        listed |= {(kustomization.parent / entry).resolve() for entry in document.get("resources", [])}

    assert {path.resolve() for path in TEMPLATES.glob("*.yaml")}.isdisjoint(listed)
    for overlay in OVERLAYS:
        assert not [obj for obj in rendered(overlay) if obj["kind"] == "Secret"]


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(UnsupportedKustomization):
        render(tmp_path)
    with pytest.raises(UnsupportedKustomization):
        strategic_merge({"ports": [{"containerPort": 1}]}, {"ports": [{"containerPort": 2}]})


def test_strategic_merge_merges_containers_by_name_and_replaces_plain_lists():
    original = {
        "containers": [{"name": "a", "args": ["x", "y"], "image": "i"}, {"name": "b", "image": "j"}],
        "tolerations": [{"key": "k"}],
    }
    patch = {"containers": [{"name": "b", "args": ["z"]}, {"name": "c"}], "tolerations": [{"key": "l"}]}

    assert strategic_merge(original, patch) == {
        "containers": [
            {"name": "a", "args": ["x", "y"], "image": "i"},
            {"name": "b", "image": "j", "args": ["z"]},
            {"name": "c"},
        ],
        "tolerations": [{"key": "l"}],
    }
