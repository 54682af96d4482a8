"""Staff's decision on a proposed reclaim: accept (budget and pool give back exactly the unused hours)
or dismiss with a reason."""

import pytest

from portal.audit.models import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.models import Notification
from quotas.models import AllocationBudget, CallPool, Reclaim, ReclaimState
from quotas.reclaims import reclaim_decide, reclaims_for_staff
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def reclaim(allocation):
    """300 of the award's 2,000 A100 GPU-hours proposed for return."""
    return Reclaim.objects.create(allocation=allocation, gpu_type="A100", gpu_hours=300)


def _use(allocation, hours, held_hours=0):
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(
        used_gpu_seconds=int(hours * 3600), held_gpu_seconds=int(held_hours * 3600)
    )


def _awarded(allocation):
    budget = AllocationBudget.objects.get(allocation=allocation, gpu_type="A100").awarded_gpu_hours
    return budget, CallPool.objects.get(call=allocation.call, gpu_type="A100").awarded_gpu_hours


def test_accepting_returns_exactly_the_unused_hours(
    allocation, reclaim, staff, owner, django_capture_on_commit_callbacks
):
    assert _awarded(allocation) == (2000, 2000)
    with django_capture_on_commit_callbacks(execute=True):
        decided = reclaim_decide(reclaim=reclaim, staff=staff, decision="accept", reason="Two months idle.")
    assert (decided.state, decided.decided_by, decided.gpu_hours) == (ReclaimState.ACCEPTED, staff, 300)
    assert _awarded(allocation) == (1700, 1700)
    event = AuditEvent.objects.get(target_id=allocation.public_id, action="reclaim_accepted")
    assert event.data["returned_gpu_hours"] == 300
    assert Notification.objects.filter(recipient=owner, subject__startswith="GPU-hours reclaimed").exists()


def test_accepting_never_takes_the_budget_below_used_and_held(allocation, reclaim, staff):
    _use(allocation, 1500.5, held_hours=300)  # 1,801 kept (rounded up): only 199 can go
    decided = reclaim_decide(reclaim=reclaim, staff=staff, decision="accept")
    assert decided.gpu_hours == 199
    assert _awarded(allocation) == (1801, 1801)
    event = AuditEvent.objects.get(target_id=allocation.public_id, action="reclaim_accepted")
    assert (event.data["proposed_gpu_hours"], event.data["returned_gpu_hours"]) == (300, 199)


def test_accepting_what_jobs_now_use_is_refused(allocation, reclaim, staff):
    _use(allocation, 2000)
    with pytest.raises(Conflict) as error:
        reclaim_decide(reclaim=reclaim, staff=staff, decision="accept")
    assert error.value.code == "nothing_to_reclaim"
    reclaim.refresh_from_db()
    assert reclaim.state == ReclaimState.PROPOSED and _awarded(allocation) == (2000, 2000)


def test_dismissing_keeps_the_hours_and_needs_a_reason(allocation, reclaim, staff):
    with pytest.raises(InvalidInput) as error:
        reclaim_decide(reclaim=reclaim, staff=staff, decision="dismiss", reason=" ")
    assert error.value.fields == {"reason": ["Say why the GPU-hours stay with the award."]}
    decided = reclaim_decide(reclaim=reclaim, staff=staff, decision="dismiss", reason="Cluster was down.")
    assert (decided.state, decided.reason, decided.gpu_hours) == ("dismissed", "Cluster was down.", 300)
    assert _awarded(allocation) == (2000, 2000)
    assert AuditEvent.objects.filter(target_id=allocation.public_id, action="reclaim_dismissed").exists()


@pytest.mark.parametrize(
    ("decision", "reason", "fields"),
    [
        ("maybe", "", {"decision": ["Choose accept or dismiss."]}),
        ("accept", "x" * 2001, {"reason": ["At most 2,000 characters."]}),
    ],
)
def test_it_refuses_bad_decisions_and_writes_nothing(allocation, reclaim, staff, decision, reason, fields):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as error:
        reclaim_decide(reclaim=reclaim, staff=staff, decision=decision, reason=reason)
    assert error.value.fields == fields
    assert builders.row_counts() == before


def test_only_staff_decide(allocation, reclaim, owner):
    with pytest.raises(NotAllowed):
        reclaim_decide(reclaim=reclaim, staff=owner, decision="dismiss", reason="Mine")


def test_a_reclaim_is_decided_once(allocation, reclaim, staff):
    reclaim_decide(reclaim=reclaim, staff=staff, decision="accept")
    for decision in ("accept", "dismiss"):
        with pytest.raises(Conflict) as error:
            reclaim_decide(reclaim=reclaim, staff=staff, decision=decision, reason="Again")
        assert error.value.code == "already_decided"
    assert _awarded(allocation) == (1700, 1700)


def test_staff_list_reclaims_by_state(allocation, reclaim, staff):
    other = Reclaim.objects.create(allocation=allocation, gpu_type="H100", gpu_hours=10)
    reclaim_decide(reclaim=other, staff=staff, decision="dismiss", reason="No")
    assert list(reclaims_for_staff("proposed")) == [reclaim]
    assert set(reclaims_for_staff()) == {reclaim, other}
