"""The audit trail of one object, as staff read it through portal.audit.selectors."""

import pytest

from portal.audit.selectors import audit_events_for
from quotas.models import Allocation
from tests import builders


def _trail(target_type, obj):
    return [
        (e.action, e.actor.email if e.actor else None, e.from_state, e.to_state, e.reason)
        for e in audit_events_for(target_type=target_type, target_id=obj.public_id)
    ]


@pytest.mark.django_db
def test_it_tells_the_whole_story_of_an_application_in_order(owner, organisation, call, staff, reviewer):
    application = builders.ready_for_decision(owner, organisation, call, staff, reviewer)
    builders.decided(application, staff, "request_revision", reason="Add a data plan.")
    builders.submitted(application, owner)
    builders.under_review(application, staff, reviewer)
    builders.scored(application, reviewer)
    builders.decided(application, staff, "approve", reason="Convincing now.")

    assert _trail("application", application) == [
        ("created", owner.email, "", "draft", ""),
        ("submit", owner.email, "draft", "submitted", ""),
        ("start_review", staff.email, "submitted", "under_review", ""),
        ("reviewer_assigned", staff.email, "", "", ""),
        ("review_submitted", reviewer.email, "", "", ""),
        ("request_revision", staff.email, "under_review", "revision_requested", "Add a data plan."),
        ("resubmit", owner.email, "revision_requested", "resubmitted", ""),
        ("start_review", staff.email, "resubmitted", "under_review", ""),
        ("reviewer_assigned", staff.email, "", "", ""),
        ("review_submitted", reviewer.email, "", "", ""),
        ("approve", staff.email, "under_review", "approved", "Convincing now."),
    ]
    approval = list(audit_events_for(target_type="application", target_id=application.public_id))[-1]
    assert approval.data == {"awarded_gpu_hours": {"A100": 2000}}


@pytest.mark.django_db
def test_it_keeps_each_objects_trail_separate(owner, organisation, call, staff, reviewer):
    first = builders.make_application(owner, organisation, call)
    second = builders.make_application(owner, organisation, call, project_title="Another one")
    builders.submitted(second, owner)

    assert [a for a, *_ in _trail("application", first)] == ["created"]
    assert [a for a, *_ in _trail("application", second)] == ["created", "submit"]
    assert _trail("allocation", first) == []  # same id, other type: nothing


@pytest.mark.django_db
def test_it_records_the_allocation_side(owner, organisation, call, staff, reviewer):
    allocation = builders.approved(
        owner, organisation, call, staff, reviewer, awarded_gpu_hours={"A100": 1200}
    )
    events = list(audit_events_for(target_type="allocation", target_id=allocation.public_id))
    assert [(e.action, e.actor, e.to_state, e.reason) for e in events] == [
        ("allocation_created", staff, "active", "Panel decision"),
    ]
    assert events[0].data == {"awarded_gpu_hours": {"A100": 1200}}
    assert Allocation.objects.count() == 1
