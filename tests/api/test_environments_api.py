"""Jobs by catalogue environment: the list, submission by name, and custom images per allocation."""

import pytest

from portal.environments.models import Environment
from quotas.models import Allocation
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from tests.api.test_jobs_api import body

pytestmark = pytest.mark.django_db

PYTORCH_IMAGE = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"


@pytest.fixture
def catalogue(db):
    Environment.objects.create(
        name="pytorch-2.5-cuda12.4", display_name="PyTorch 2.5", image=PYTORCH_IMAGE, cuda_version="12.4"
    )
    Environment.objects.create(
        name="vllm-0.6",
        display_name="vLLM 0.6",
        image="vllm/vllm-openai:v0.6.3",
        cuda_version="12.4",
        for_training=False,
        for_inference=True,
    )
    Environment.objects.create(
        name="tensorflow-2.15",
        display_name="TF",
        image="tensorflow/tensorflow:2.15.0-gpu",
        cuda_version="12.2",
        active=False,
    )


@pytest.fixture
def catalogue_only(allocation):
    Allocation.objects.filter(pk=allocation.pk).update(allow_custom_images=False)
    allocation.refresh_from_db()
    return allocation


@pytest.fixture
def nodes(backend):
    inventory_sync(backend=backend)


def by_name(the_allocation, name, **overrides):
    data = body(the_allocation, environment_name=name, **overrides)
    del data["image"]
    return data


def test_it_lists_active_environments_to_any_user(client_for, outsider, catalogue):
    response = client_for(outsider).get("/api/v1/environments")
    assert response.status_code == 200
    listed = {row["name"]: row for row in response.json()["results"]}
    assert set(listed) == {"pytorch-2.5-cuda12.4", "vllm-0.6"}
    assert listed["vllm-0.6"]["kinds"] == ["inference"]
    assert listed["pytorch-2.5-cuda12.4"]["image"] == PYTORCH_IMAGE


def test_a_job_by_environment_records_it_and_its_image(client_for, owner, catalogue_only, catalogue, nodes):
    response = client_for(owner).post(
        "/api/v1/jobs", by_name(catalogue_only, "pytorch-2.5-cuda12.4"), format="json"
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["environment_name"], response.json()["image"]) == (
        "pytorch-2.5-cuda12.4",
        PYTORCH_IMAGE,
    )
    job = Job.objects.get()
    assert (job.environment_name, job.image) == ("pytorch-2.5-cuda12.4", PYTORCH_IMAGE)


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("no-such-env", "training", "No active environment"),
        ("tensorflow-2.15", "training", "No active environment"),
        ("vllm-0.6", "training", "not offered for Training"),
    ],
    ids=["unknown", "inactive", "wrong kind"],
)
def test_it_refuses_an_environment_it_cannot_run(
    client_for, owner, catalogue_only, catalogue, nodes, name, kind, message
):
    response = client_for(owner).post("/api/v1/jobs", by_name(catalogue_only, name, kind=kind), format="json")
    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert list(fields) == ["environment_name"] and message in fields["environment_name"][0]
    assert not Job.objects.exists()


def test_a_custom_image_needs_the_allocations_permission(client_for, owner, catalogue_only, nodes):
    response = client_for(owner).post("/api/v1/jobs", body(catalogue_only), format="json")
    assert response.status_code == 400
    assert "catalogue environments only" in response.json()["extra"]["fields"]["image"][0]
    assert not Job.objects.exists()


def test_a_custom_image_is_run_where_the_allocation_allows_it(client_for, owner, allocation, nodes):
    assert allocation.allow_custom_images
    response = client_for(owner).post("/api/v1/jobs", body(allocation), format="json")
    assert response.status_code == 201
    assert response.json()["environment_name"] == ""


def test_it_wants_an_environment_or_an_image_but_not_both(client_for, owner, allocation, catalogue, nodes):
    api = client_for(owner)
    neither = body(allocation)
    del neither["image"]
    response = api.post("/api/v1/jobs", neither, format="json")
    assert response.status_code == 400 and "environment_name" in response.json()["extra"]["fields"]
    both = body(allocation, environment_name="pytorch-2.5-cuda12.4")
    response = api.post("/api/v1/jobs", both, format="json")
    assert response.status_code == 400 and "image" in response.json()["extra"]["fields"]
