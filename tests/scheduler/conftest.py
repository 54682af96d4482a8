import pytest

from portal.applications import services as application_services
from quotas.models import Allocation
from tests import builders
from tests.scheduler.fakes import ScriptedBackend


@pytest.fixture
def backend(settings):
    """The scripted backend, installed as the configured one."""
    from scheduler import backends

    fake = ScriptedBackend()
    settings.GPUGRANT_BACKEND = fake.name
    backends._instances[fake.name] = fake  # noqa: SLF001
    yield fake
    backends.reset_backends()


@pytest.fixture
def allocation(owner, organisation, call, staff, reviewer):
    """An active allocation of the owner's organisation: 2000 A100 and 500 H100 GPU-hours, cap 16 GPUs."""
    application = builders.ready_for_decision(
        owner, organisation, call, staff, reviewer, gpu_requests={"A100": 2000, "H100": 500}, max_concurrent_gpus=16
    )
    application_services.application_decide(application=application, staff=staff, decision="approve", reason="ok")
    return Allocation.objects.get(application=application)


@pytest.fixture
def other_allocation(outsider, other_organisation, call, staff, reviewer):
    application = builders.ready_for_decision(outsider, other_organisation, call, staff, reviewer, gpu_requests={"A100": 2000})
    application_services.application_decide(application=application, staff=staff, decision="approve", reason="ok")
    return Allocation.objects.get(application=application)
