"""Expiring allocations whose period has ended: by date, audited, and idempotent."""

from datetime import timedelta

import pytest

from portal.audit.models import AuditEvent
from quotas.models import Allocation
from quotas.services import allocations_expire_due
from quotas.tasks import allocations_expire_due as allocations_expire_due_task
from tests import builders


@pytest.fixture
def allocations(owner, organisation, call, staff, reviewer):
    """Three allocations ending 10, 20 and 30 days after the call's allocation start."""
    start = call.allocation_start
    return [
        builders.approved(
            owner,
            organisation,
            call,
            staff,
            reviewer,
            requested_end=start + timedelta(days=days),
            project_title=f"Project {days}",
        )
        for days in (10, 20, 30)
    ]


def _statuses():
    return list(Allocation.objects.order_by("ends_on").values_list("status", flat=True))


@pytest.mark.django_db
def test_it_expires_only_allocations_that_ended_before_today(allocations, call):
    start = call.allocation_start
    assert allocations_expire_due(today=start + timedelta(days=20)) == 1  # ends_on == today is still valid
    assert _statuses() == ["expired", "active", "active"]
    assert allocations_expire_due(today=start + timedelta(days=21)) == 1
    assert _statuses() == ["expired", "expired", "active"]


@pytest.mark.django_db
def test_it_is_idempotent(allocations, call):
    today = call.allocation_start + timedelta(days=25)
    assert allocations_expire_due(today=today) == 2
    events_after_first = AuditEvent.objects.filter(action="allocation_expired").count()
    assert allocations_expire_due(today=today) == 0
    assert allocations_expire_due(today=today) == 0
    assert AuditEvent.objects.filter(action="allocation_expired").count() == events_after_first == 2
    assert _statuses() == ["expired", "expired", "active"]


@pytest.mark.django_db
def test_it_expires_suspended_allocations_too_and_audits_it(allocations, call, staff):
    from quotas.services import allocation_set_status

    first = allocations[0]
    allocation_set_status(allocation=first, staff=staff, status="suspended", reason="Audit")
    allocations_expire_due(today=call.allocation_start + timedelta(days=11))

    event = AuditEvent.objects.get(target_id=first.public_id, action="allocation_expired")
    assert (event.actor, event.from_state, event.to_state) == (None, "suspended", "expired")
    assert str(first.ends_on) in event.reason


@pytest.mark.django_db
def test_it_runs_as_a_task_against_today(allocations):
    Allocation.objects.filter(pk=allocations[0].pk).update(
        ends_on=allocations[0].starts_on - timedelta(days=1)
    )
    assert allocations_expire_due_task.delay().get() == 1
    assert allocations_expire_due_task.delay().get() == 0
