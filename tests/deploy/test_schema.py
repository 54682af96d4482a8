"""Every rendered object, and every template, is valid against the official Kubernetes schema (strict)."""

import kubernetes_validate
import pytest

from tests.deploy.kustomize import object_id
from tests.deploy.manifests import KUBERNETES_VERSION, OVERLAYS, find, rendered, templates


def _cases():
    for overlay in OVERLAYS:
        for obj in rendered(overlay):
            yield pytest.param(obj, id=f"{overlay}:{'/'.join(object_id(obj))}")
    for obj in templates():
        yield pytest.param(obj, id=f"templates:{'/'.join(object_id(obj))}")


@pytest.mark.parametrize("obj", list(_cases()))
def test_every_object_is_valid_against_the_kubernetes_schema(obj):
    # An unknown kind or apiVersion (SchemaNotFoundError) fails too.
    assert kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_validation_refuses_a_misspelt_field():
    deployment = find(rendered("production"), "Deployment", "gpugrant-portal")
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_a_wrong_type_is_refused_too():
    hpa = find(rendered("production"), "HorizontalPodAutoscaler", "gpugrant-portal")
    hpa["spec"]["minReplicas"] = "three"

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
