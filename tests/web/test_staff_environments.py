"""Staff keep the environments catalogue in the portal; every change is audited; others are refused."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.environments.models import Environment
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db

LIST_URL = reverse("web:staff_environment_list")
NEW_URL = reverse("web:staff_environment_create")
VALUES = {
    "name": "pytorch-2.5-cuda12.4",
    "display_name": "PyTorch 2.5",
    "for_training": "on",
    "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
    "cuda_version": "12.4",
    "description": "PyTorch for training",
    "description_ko": "학습용 PyTorch",
}


@pytest.fixture
def pytorch():
    return Environment.objects.create(
        name="pytorch-2.5", display_name="PyTorch 2.5", image="pytorch/pytorch:2.5.1", cuda_version="12.4"
    )


def test_it_adds_an_environment_and_audits_it(client, staff):
    response = login(client, staff).post(NEW_URL, VALUES)
    assert response.status_code == 302
    environment = Environment.objects.get(name="pytorch-2.5-cuda12.4")
    assert environment.for_training and not environment.for_inference
    assert AuditEvent.objects.filter(target_id=environment.public_id, action="environment_created").exists()
    assert shows(client.get(LIST_URL), "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime")


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("pytorch/pytorch", "Pin the image"),
        ("pytorch/pytorch:latest", "latest"),
        ("Not An Image", "Not an image"),
    ],
)
def test_it_shows_why_an_image_is_refused_next_to_the_field(client, staff, image, message):
    response = login(client, staff).post(NEW_URL, {**VALUES, "image": image})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["image"])
    assert not Environment.objects.exists()


def test_it_edits_an_environment(client, staff, pytorch):
    url = reverse("web:staff_environment_edit", kwargs={"public_id": pytorch.public_id})
    login(client, staff)
    assert shows(client.get(url), "pytorch/pytorch:2.5.1")
    response = client.post(url, {**VALUES, "name": "pytorch-2.5", "image": "pytorch/pytorch:2.5.2"})
    assert response.status_code == 302
    pytorch.refresh_from_db()
    assert pytorch.image == "pytorch/pytorch:2.5.2"
    event = AuditEvent.objects.get(action="environment_updated")
    assert event.data["changed"]["image"] == ["pytorch/pytorch:2.5.1", "pytorch/pytorch:2.5.2"]


def test_it_deactivates_and_reactivates(client, staff, pytorch):
    url = reverse("web:staff_environment_set_active", kwargs={"public_id": pytorch.public_id})
    login(client, staff)
    assert client.post(url, {"active": "0"}).status_code == 302
    pytorch.refresh_from_db()
    assert not pytorch.active
    assert client.post(url, {"active": "1"}).status_code == 302
    pytorch.refresh_from_db()
    assert pytorch.active
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["environment_deactivated", "environment_reactivated"]


def test_it_refuses_non_staff(client, owner, pytorch):
    login(client, owner)
    assert client.get(LIST_URL).status_code == 403
    assert client.post(NEW_URL, VALUES).status_code == 403
    url = reverse("web:staff_environment_set_active", kwargs={"public_id": pytorch.public_id})
    assert client.post(url, {"active": "0"}).status_code == 403
    pytorch.refresh_from_db()
    assert pytorch.active and not AuditEvent.objects.exists()
