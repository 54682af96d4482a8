"""Assigning reviewers: staff only, active reviewers only, never someone from the applicant organisation."""

import pytest

from portal.applications import services
from portal.applications.models import Review
from portal.audit.models import AuditEvent
from portal.errors import InvalidInput, NotAllowed
from tests import builders


@pytest.fixture
def application(owner, organisation, call):
    return builders.submitted(builders.make_application(owner, organisation, call), owner)


@pytest.mark.django_db
def test_it_assigns_reviewers_for_the_current_round(application, staff, reviewer, reviewer2):
    created = services.review_assign(application=application, staff=staff, reviewers=[reviewer, reviewer2])

    assert sorted(r.reviewer.email for r in created) == sorted([reviewer.email, reviewer2.email])
    assert {(r.round, r.assigned_by_id, r.submitted_at) for r in created} == {(1, staff.pk, None)}
    application.refresh_from_db()
    assert application.state == "under_review"
    assigned = AuditEvent.objects.filter(target_id=application.public_id, action="reviewer_assigned")
    assert sorted(e.data["reviewer"] for e in assigned) == sorted([reviewer.email, reviewer2.email])


@pytest.mark.django_db
def test_it_does_not_assign_the_same_reviewer_twice(application, staff, reviewer):
    services.review_assign(application=application, staff=staff, reviewers=[reviewer])
    again = services.review_assign(application=application, staff=staff, reviewers=[reviewer])
    assert again == []
    assert Review.objects.filter(application=application).count() == 1


@pytest.mark.django_db
def test_it_ignores_a_reviewer_listed_twice_in_one_request(application, staff, reviewer):
    created = services.review_assign(application=application, staff=staff, reviewers=[reviewer, reviewer])
    assert [r.reviewer for r in created] == [reviewer]
    assert Review.objects.filter(application=application).count() == 1


def _member_reviewer(organisation, role="member"):
    user = builders.make_user(reviewer=True)
    builders.add_member(organisation, user, role=role)
    return user


# case → a function (organisation, reviewer2) giving the list of reviewers to assign
REFUSED = {
    "member-of-applicant": lambda org, ok: [_member_reviewer(org)],
    "co-owner-of-applicant": lambda org, ok: [_member_reviewer(org, role="owner")],
    "not-a-reviewer": lambda org, ok: [builders.make_user()],
    "inactive-reviewer": lambda org, ok: [builders.make_user(reviewer=True, is_active=False)],
    "staff-but-not-reviewer": lambda org, ok: [builders.make_user(staff=True)],
    "one-good-one-conflicted": lambda org, ok: [ok, _member_reviewer(org)],
    "nobody": lambda org, ok: [],
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", REFUSED)
def test_it_refuses_unsuitable_reviewers_and_writes_nothing(
    case, application, organisation, staff, reviewer2
):
    reviewers = REFUSED[case](organisation, reviewer2)
    before = builders.row_counts()

    with pytest.raises(InvalidInput) as excinfo:
        services.review_assign(application=application, staff=staff, reviewers=reviewers)

    assert set(excinfo.value.fields) == {"reviewers"}
    application.refresh_from_db()
    assert application.state == "submitted"
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_explains_a_conflict_of_interest(application, organisation, staff, reviewer):
    builders.add_member(organisation, reviewer, role="manager")
    with pytest.raises(InvalidInput) as excinfo:
        services.review_assign(application=application, staff=staff, reviewers=[reviewer])
    assert "conflict of interest" in excinfo.value.fields["reviewers"][0]
    assert reviewer.email in excinfo.value.fields["reviewers"][0]


@pytest.mark.django_db
def test_it_allows_a_reviewer_from_another_organisation(application, other_organisation, staff, reviewer):
    builders.add_member(other_organisation, reviewer)
    assert len(services.review_assign(application=application, staff=staff, reviewers=[reviewer])) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "reviewer", "outsider"])
def test_it_lets_only_staff_assign(who, application, request):
    actor = request.getfixturevalue(who)
    reviewer2 = request.getfixturevalue("reviewer2")
    before = builders.row_counts()
    with pytest.raises(NotAllowed):
        services.review_assign(application=application, staff=actor, reviewers=[reviewer2])
    assert builders.row_counts() == before
