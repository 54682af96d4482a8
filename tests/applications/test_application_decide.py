"""Staff decisions: who may decide, with what input, and the preconditions of an approval."""

import pytest

from portal.applications.models import Review
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.organisations.services import organisation_verify
from quotas import services as quota_services
from tests import builders


@pytest.fixture
def application(owner, organisation, call, staff, reviewer):
    return builders.ready_for_decision(owner, organisation, call, staff, reviewer)


def _decide(application, staff, decision="approve", reason="Strong proposal.", **kwargs):
    return quota_services.application_decide(
        application=application, staff=staff, decision=decision, reason=reason, **kwargs
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("decision", "reason", "fields"),
    [
        ("accept", "Fine", {"decision"}),
        ("", "Fine", {"decision"}),
        ("approve", "", {"reason"}),
        ("reject", "   ", {"reason"}),
        ("request_revision", None, {"reason"}),
        ("reject", "r" * 2001, {"reason"}),
        ("maybe", "", {"decision", "reason"}),
    ],
)
def test_it_refuses_bad_decision_input(application, staff, decision, reason, fields):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        _decide(application, staff, decision=decision, reason=reason)
    assert set(excinfo.value.fields) == fields
    application.refresh_from_db()
    assert application.state == "under_review"
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("decision", ["approve", "reject", "request_revision"])
@pytest.mark.parametrize("who", ["owner", "reviewer", "outsider"])
def test_it_lets_only_staff_decide(application, request, who, decision):
    actor = request.getfixturevalue(who)
    before = builders.row_counts()
    with pytest.raises(NotAllowed):
        _decide(application, actor, decision=decision)
    application.refresh_from_db()
    assert application.state == "under_review"
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("decision", ["approve", "reject", "request_revision"])
@pytest.mark.parametrize("role", ["member", "manager", "owner"])
def test_it_refuses_staff_who_belong_to_the_applicant(application, organisation, decision, role):
    insider = builders.make_user(staff=True)
    builders.add_member(organisation, insider, role=role)
    before = builders.row_counts()

    with pytest.raises(NotAllowed) as excinfo:
        _decide(application, insider, decision=decision)

    assert "conflict of interest" in excinfo.value.message
    application.refresh_from_db()
    assert application.state == "under_review"
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_to_approve_an_unverified_organisation(application, organisation, staff):
    organisation_verify(organisation=organisation, staff=staff, verified=False, reason="Registry mismatch")
    before = builders.row_counts()
    pool_before = application.call.pools.get(gpu_type="A100").awarded_gpu_hours

    with pytest.raises(Conflict) as excinfo:
        _decide(application, staff)

    assert excinfo.value.code == "organisation_unverified"
    application.refresh_from_db()
    assert application.state == "under_review"
    assert application.call.pools.get(gpu_type="A100").awarded_gpu_hours == pool_before
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_still_lets_staff_reject_an_unverified_organisation(owner, staff, reviewer, call):
    unverified = builders.make_org(owner, verified=False)
    application = builders.ready_for_decision(owner, unverified, call, staff, reviewer)
    _decide(application, staff, decision="reject", reason="Not eligible.")
    application.refresh_from_db()
    assert application.state == "rejected"


@pytest.mark.django_db
def test_it_refuses_to_approve_without_a_submitted_review(owner, organisation, call, staff, reviewer):
    application = builders.under_review(
        builders.submitted(builders.make_application(owner, organisation, call), owner), staff, reviewer
    )
    assert Review.objects.filter(application=application, submitted_at__isnull=True).count() == 1
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        _decide(application, staff)

    assert excinfo.value.code == "no_reviews"
    application.refresh_from_db()
    assert application.state == "under_review"
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_can_reject_or_return_without_reviews(owner, organisation, call, staff, reviewer):
    application = builders.under_review(
        builders.submitted(builders.make_application(owner, organisation, call), owner), staff, reviewer
    )
    _decide(application, staff, decision="request_revision", reason="Budget unclear.")
    application.refresh_from_db()
    assert application.state == "revision_requested"
