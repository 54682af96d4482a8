import pytest

from portal.applications import services
from quotas.models import Allocation
from tests import builders


@pytest.mark.django_db
def test_it_runs_the_whole_lifecycle(owner, organisation, call, staff, reviewer):
    application = builders.ready_for_decision(owner, organisation, call, staff, reviewer)
    services.application_decide(application=application, staff=staff, decision="approve", reason="Strong", awarded_gpu_hours={"A100": 1500})
    allocation = Allocation.objects.get(application=application)
    assert [(b.gpu_type, b.awarded_gpu_hours) for b in allocation.budgets.all()] == [("A100", 1500)]
    assert call.pools.get(gpu_type="A100").awarded_gpu_hours == 1500
