"""Both overlays, as the real kustomize renders them, and both Secret templates filled in pass the real API
server's checks without being stored: ``kubectl apply --server-side --dry-run=server`` against the test
control plane (tests/cluster, Kubernetes v1.37.2): its schemas (an unknown field is an error), defaulting
and admission, Pod Security included.

The namespaced objects need their namespaces to exist even in a dry run; the session's ``control_plane``
fixture has applied deploy/base/namespaces.yaml. tests/deploy/test_install.py applies one overlay for real.
"""

import pytest
import yaml

from tests.deploy.manifests import OVERLAYS, filled_templates, find, kubectl_kustomize, kustomized

pytestmark = pytest.mark.cluster

DRY_RUN = "serverside-applied (server dry run)"


def _dry_run(plane, manifest: str):
    return plane.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=manifest, check=False)


def _warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Warning:")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_server_accepts_every_object_of_the_overlay(control_plane, overlay):
    result = _dry_run(control_plane, kubectl_kustomize(overlay))

    assert result.returncode == 0, result.stderr
    accepted = result.stdout.splitlines()
    assert len(accepted) == len(kustomized(overlay))
    assert all(line.endswith(DRY_RUN) for line in accepted)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_only_warning_is_the_node_agents_pod_security_one(control_plane, overlay):
    # Namespace gpugrant-node-agent enforces "privileged" but warns at "restricted" on purpose
    # (namespaces.yaml); any other warning (a deprecated API, a duplicate field, a gpugrant pod that
    # "restricted" would refuse) fails here.
    (warning,) = _warnings(_dry_run(control_plane, kubectl_kustomize(overlay)))

    assert 'would violate PodSecurity "restricted:' in warning
    assert 'container "node-agent"' in warning


def test_the_secret_templates_filled_in_are_accepted(control_plane):
    result = _dry_run(control_plane, yaml.safe_dump_all(filled_templates()))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"secret/gpugrant {DRY_RUN}",
        f"secret/gpugrant-node-keys {DRY_RUN}",
    ]
    assert _warnings(result) == []


def test_the_dry_run_refuses_a_misspelt_field(control_plane):
    objects = kustomized("test-cluster")
    (portal,) = find(objects, "Deployment", "gpugrant-portal")["spec"]["template"]["spec"]["containers"]
    portal["imagePullPolice"] = "Always"

    result = _dry_run(control_plane, yaml.safe_dump_all(objects))

    assert result.returncode != 0
    assert '.containers[name="portal"].imagePullPolice: field not declared in schema' in result.stderr
