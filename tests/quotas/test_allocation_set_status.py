"""Suspending and reactivating an allocation: staff only, with a reason, only along allowed moves."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.models import Notification
from quotas.models import Allocation, AllocationStatus
from quotas.services import allocation_set_status
from tests import builders


@pytest.fixture
def allocation(owner, organisation, call, staff, reviewer):
    return builders.approved(owner, organisation, call, staff, reviewer)


def _set(allocation, staff, status, reason="Policy review"):
    return allocation_set_status(allocation=allocation, staff=staff, status=status, reason=reason)


@pytest.mark.django_db
def test_it_suspends_and_reactivates_with_reasons(allocation, staff, owner, teammate):
    _set(allocation, staff, "suspended", reason="Unpaid invoice")
    allocation.refresh_from_db()
    assert allocation.status == "suspended"
    _set(allocation, staff, "active", reason="Paid")
    allocation.refresh_from_db()
    assert allocation.status == "active"

    events = AuditEvent.objects.filter(
        target_id=allocation.public_id, action__in=["allocation_suspended", "allocation_active"]
    )
    assert [(e.action, e.actor, e.from_state, e.to_state, e.reason) for e in events] == [
        ("allocation_suspended", staff, "active", "suspended", "Unpaid invoice"),
        ("allocation_active", staff, "suspended", "active", "Paid"),
    ]
    # Owners and managers hear about it; plain members do not.
    suspended = Notification.objects.filter(subject__startswith="Allocation suspended")
    assert list(suspended.values_list("recipient", flat=True)) == [owner.pk]
    assert not Notification.objects.filter(recipient=teammate, subject__startswith="Allocation").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ("active", "active"),
        ("suspended", "suspended"),
        ("expired", "active"),
        ("expired", "suspended"),
    ],
)
def test_it_refuses_illegal_status_changes_and_writes_nothing(allocation, staff, current, wanted):
    Allocation.objects.filter(pk=allocation.pk).update(status=current)
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        _set(allocation, staff, wanted)

    assert excinfo.value.code == "illegal_transition"
    allocation.refresh_from_db()
    assert allocation.status == current
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_to_reactivate_after_the_period_ended(allocation, staff):
    Allocation.objects.filter(pk=allocation.pk).update(
        status="suspended", ends_on=timezone.localdate() - timedelta(days=1)
    )
    with pytest.raises(Conflict) as excinfo:
        _set(allocation, staff, "active")
    assert excinfo.value.code == "expired"
    allocation.refresh_from_db()
    assert allocation.status == "suspended"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "reason", "fields"),
    [
        ("expired", "Done", {"status"}),
        ("deleted", "Done", {"status"}),
        ("suspended", "", {"reason"}),
        ("suspended", "  ", {"reason"}),
        ("suspended", None, {"reason"}),
        ("bogus", "", {"status", "reason"}),
    ],
)
def test_it_refuses_bad_input(allocation, staff, status, reason, fields):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        _set(allocation, staff, status, reason=reason)
    assert set(excinfo.value.fields) == fields
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "reviewer", "outsider"])
def test_it_lets_only_staff_change_status(allocation, request, who):
    actor = request.getfixturevalue(who)
    with pytest.raises(NotAllowed):
        _set(allocation, actor, AllocationStatus.SUSPENDED)
    allocation.refresh_from_db()
    assert allocation.status == "active"
