"""Submitting and resubmitting: open calls only, content checked again, a new review round each time."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.applications import services
from portal.applications.models import Review
from portal.calls.models import Call
from portal.errors import Conflict, InvalidInput, NotAllowed
from quotas import services as quota_services
from quotas.calls import call_update
from quotas.models import Allocation
from tests import builders


def _close(call):
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        opens_at=now - timedelta(days=30), closes_at=now - timedelta(minutes=1)
    )
    call.refresh_from_db()


@pytest.mark.django_db
def test_it_submits_a_draft(owner, organisation, call):
    application = builders.make_application(owner, organisation, call)
    services.application_submit(application=application, user=owner)
    application.refresh_from_db()
    assert application.state == "submitted"
    assert application.submitted_at is not None
    assert application.review_round == 1


@pytest.mark.django_db
def test_it_refuses_to_submit_to_a_closed_call(owner, organisation, call):
    application = builders.make_application(owner, organisation, call)
    _close(call)
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        services.application_submit(application=application, user=owner)

    assert excinfo.value.code == "call_closed"
    application.refresh_from_db()
    assert (application.state, application.submitted_at) == ("draft", None)
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_allows_a_resubmission_after_the_call_closed(owner, organisation, call, staff, reviewer):
    application = builders.application_in_state(
        "revision_requested", user=owner, organisation=organisation, call=call, staff=staff, reviewer=reviewer
    )
    _close(call)
    services.application_submit(application=application, user=owner)
    application.refresh_from_db()
    assert application.state == "resubmitted"


@pytest.mark.django_db
def test_it_checks_the_content_again_when_the_call_changed(owner, organisation, call, staff):
    application = builders.make_application(owner, organisation, call, gpu_requests={"A100": 15_000})
    call_update(
        call=call,
        staff=staff,
        title=call.title,
        description=call.description,
        opens_at=call.opens_at,
        closes_at=call.closes_at,
        eligible_org_types=call.eligible_org_types,
        allocation_start=call.allocation_start,
        allocation_end=call.allocation_end,
        pools=[
            {"gpu_type": "A100", "total_gpu_hours": 100_000, "max_gpu_hours_per_application": 10_000},
            {"gpu_type": "H100", "total_gpu_hours": 50_000, "max_gpu_hours_per_application": 10_000},
        ],
    )
    before = builders.row_counts()

    with pytest.raises(InvalidInput) as excinfo:
        services.application_submit(application=application, user=owner)

    assert set(excinfo.value.fields) == {"gpu_requests"}
    application.refresh_from_db()
    assert application.state == "draft"
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_an_outsider(owner, outsider, organisation, call):
    application = builders.make_application(owner, organisation, call)
    with pytest.raises(NotAllowed):
        services.application_submit(application=application, user=outsider)
    application.refresh_from_db()
    assert application.state == "draft"


@pytest.mark.django_db
def test_it_starts_a_new_review_round_on_resubmission(owner, organisation, call, staff, reviewer, reviewer2):
    application = builders.application_in_state(
        "revision_requested", user=owner, organisation=organisation, call=call, staff=staff, reviewer=reviewer
    )
    first_submitted_at = application.submitted_at
    old_review = Review.objects.get(application=application, round=1)
    assert old_review.submitted_at is not None

    services.application_update(application=application, user=owner, gpu_requests={"A100": 1800})
    services.application_submit(application=application, user=owner)
    application.refresh_from_db()

    assert (application.state, application.review_round) == ("resubmitted", 2)
    assert application.submitted_at > first_submitted_at

    # Round 1's score does not count any more: approval needs a round-2 review.
    builders.under_review(application, staff, reviewer2)
    assert list(
        Review.objects.filter(application=application, round=2).values_list("reviewer", flat=True)
    ) == [reviewer2.pk]
    before = builders.row_counts()
    with pytest.raises(Conflict) as excinfo:
        quota_services.application_decide(
            application=application, staff=staff, decision="approve", reason="Good now"
        )
    assert excinfo.value.code == "no_reviews"
    assert builders.row_counts() == before

    # The round-1 review is closed; it cannot be re-scored into round 2.
    with pytest.raises(Conflict) as excinfo:
        services.review_submit(
            review=old_review,
            reviewer=reviewer,
            technical_merit=5,
            feasibility=5,
            impact=5,
            need_for_public_compute=5,
        )
    assert excinfo.value.code == "review_closed"

    builders.scored(application, reviewer2)
    quota_services.application_decide(
        application=application, staff=staff, decision="approve", reason="Good now"
    )
    application.refresh_from_db()
    assert application.state == "approved"
    allocation = Allocation.objects.get(application=application)
    assert [(b.gpu_type, b.awarded_gpu_hours) for b in allocation.budgets.all()] == [("A100", 1800)]


@pytest.mark.django_db
def test_it_counts_rounds_over_several_revisions(owner, organisation, call, staff, reviewer):
    application = builders.ready_for_decision(owner, organisation, call, staff, reviewer)
    for expected_round in (2, 3):
        builders.decided(application, staff, "request_revision", reason="Again")
        services.application_submit(application=application, user=owner)
        application.refresh_from_db()
        assert application.review_round == expected_round
        builders.under_review(application, staff, reviewer)
        builders.scored(application, reviewer)
    assert Review.objects.filter(application=application, reviewer=reviewer).count() == 3
