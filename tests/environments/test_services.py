"""Staff curate the catalogue: every write is checked and audited; only staff may write."""

import pytest

from portal.audit.models import AuditEvent
from portal.environments import services
from portal.environments.models import Environment
from portal.environments.selectors import environment_to_run
from portal.errors import InvalidInput, NotAllowed

pytestmark = pytest.mark.django_db

PYTORCH = dict(
    name="pytorch-2.5-cuda12.4",
    display_name="PyTorch 2.5",
    image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
    cuda_version="12.4",
    description="PyTorch with CUDA 12.4",
    description_ko="CUDA 12.4 기반 PyTorch",
)


def test_it_creates_an_environment_and_audits_it(staff):
    environment = services.environment_create(staff=staff, **PYTORCH)
    event = AuditEvent.objects.get(target_id=environment.public_id)
    assert (event.target_type, event.action, event.actor) == ("environment", "environment_created", staff)
    assert environment.kinds == ["training"]


def test_it_refuses_non_staff(owner):
    with pytest.raises(NotAllowed):
        services.environment_create(staff=owner, **PYTORCH)
    assert not Environment.objects.exists()


def test_it_refuses_an_unpinned_image_as_a_field_error(staff):
    with pytest.raises(InvalidInput) as error:
        services.environment_create(staff=staff, **{**PYTORCH, "image": "pytorch/pytorch:latest"})
    assert set(error.value.fields) == {"image"}


def test_it_refuses_a_name_taken(staff):
    services.environment_create(staff=staff, **PYTORCH)
    with pytest.raises(InvalidInput) as error:
        services.environment_create(staff=staff, **PYTORCH)
    assert set(error.value.fields) == {"name"}


def test_it_records_what_an_edit_changed(staff):
    environment = services.environment_create(staff=staff, **PYTORCH)
    services.environment_update(environment=environment, staff=staff, image="pytorch/pytorch:2.5.2-cuda12.4")
    event = AuditEvent.objects.filter(action="environment_updated").get()
    assert event.data["changed"] == {
        "image": ["pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime", "pytorch/pytorch:2.5.2-cuda12.4"]
    }


def test_a_deactivated_environment_is_no_longer_offered(staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        environment = services.environment_create(staff=staff, **PYTORCH)
    assert environment_to_run(PYTORCH["name"]) is not None
    with django_capture_on_commit_callbacks(execute=True):
        services.environment_deactivate(environment=environment, staff=staff)
    assert environment_to_run(PYTORCH["name"]) is None
    event = AuditEvent.objects.get(action="environment_deactivated")
    assert (event.from_state, event.to_state) == ("active", "inactive")
