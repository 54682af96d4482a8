"""Scoring a review: only the assigned reviewer, only while under review, with no conflict of interest."""

import pytest

from portal.applications import services
from portal.applications.models import Review
from portal.audit.models import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.models import Notification
from tests import builders

SCORES = dict(technical_merit=4, feasibility=3, impact=5, need_for_public_compute=2)


@pytest.fixture
def application(owner, organisation, call, staff, reviewer):
    application = builders.submitted(builders.make_application(owner, organisation, call), owner)
    return builders.under_review(application, staff, reviewer)


@pytest.fixture
def review(application, reviewer):
    return Review.objects.get(application=application, reviewer=reviewer)


def _submit(review, reviewer, **overrides):
    return services.review_submit(review=review, reviewer=reviewer, **{**SCORES, **overrides})


@pytest.mark.django_db
def test_it_records_the_scores(review, reviewer, application):
    _submit(review, reviewer, public_comment="Clear plan.", private_comment="Small team.")
    review.refresh_from_db()
    assert (review.technical_merit, review.feasibility, review.impact, review.need_for_public_compute) == (
        4,
        3,
        5,
        2,
    )
    assert review.average_score == 3.5
    assert (review.public_comment, review.private_comment) == ("Clear plan.", "Small team.")
    assert review.submitted_at is not None
    event = AuditEvent.objects.get(target_id=application.public_id, action="review_submitted")
    assert event.actor == reviewer
    assert event.data == {"reviewer": reviewer.email, **SCORES}
    assert services.review_scores_summary(application) == {k: float(v) for k, v in SCORES.items()}


@pytest.mark.django_db
def test_it_lets_the_reviewer_correct_scores_while_under_review(review, reviewer, application):
    _submit(review, reviewer)
    _submit(review, reviewer, impact=1)
    review.refresh_from_db()
    assert review.impact == 1
    actions = list(
        AuditEvent.objects.filter(target_id=application.public_id, action__startswith="review_").values_list(
            "action", flat=True
        )
    )
    assert actions == ["review_submitted", "review_updated"]


@pytest.mark.django_db
def test_it_tells_staff_once_when_all_reviews_are_in(application, staff, reviewer, reviewer2):
    services.review_assign(application=application, staff=staff, reviewers=[reviewer2])
    subject = f"Reviews complete: {application.project_title}"

    _submit(Review.objects.get(application=application, reviewer=reviewer), reviewer)
    assert not Notification.objects.filter(subject=subject).exists()
    second = Review.objects.get(application=application, reviewer=reviewer2)
    _submit(second, reviewer2)
    _submit(second, reviewer2, impact=2)  # a correction does not announce again

    assert list(Notification.objects.filter(subject=subject).values_list("recipient", flat=True)) == [
        staff.pk
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"technical_merit": 0}, "technical_merit"),
        ({"feasibility": 6}, "feasibility"),
        ({"impact": None}, "impact"),
        ({"need_for_public_compute": "4"}, "need_for_public_compute"),
        ({"impact": 4.5}, "impact"),
        ({"impact": True}, "impact"),
        ({"public_comment": "c" * 5001}, "public_comment"),
        ({"private_comment": "c" * 5001}, "private_comment"),
        ({"public_comment": None}, "public_comment"),
    ],
)
@pytest.mark.django_db
def test_it_refuses_bad_scores_and_writes_nothing(review, reviewer, overrides, field):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        _submit(review, reviewer, **overrides)
    assert set(excinfo.value.fields) == {field}
    review.refresh_from_db()
    assert review.submitted_at is None
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_someone_elses_review(review, reviewer2, staff):
    for intruder in (reviewer2, staff):
        with pytest.raises(NotAllowed):
            _submit(review, intruder)
    review.refresh_from_db()
    assert review.submitted_at is None


@pytest.mark.django_db
def test_it_refuses_a_reviewer_who_joined_the_applicant_after_assignment(review, reviewer, organisation):
    builders.add_member(organisation, reviewer)
    before = builders.row_counts()

    with pytest.raises(NotAllowed) as excinfo:
        _submit(review, reviewer)

    assert "conflict of interest" in excinfo.value.message
    review.refresh_from_db()
    assert review.submitted_at is None and review.technical_merit is None
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["withdrawn", "rejected"])
def test_it_refuses_scores_once_the_application_left_review(
    how, review, reviewer, reviewer2, application, owner, staff
):
    if how == "withdrawn":
        services.application_withdraw(application=application, user=owner)
    else:
        services.review_assign(application=application, staff=staff, reviewers=[reviewer2])
        _submit(Review.objects.get(application=application, reviewer=reviewer2), reviewer2)
        builders.decided(application, staff, "reject")
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        _submit(review, reviewer)

    assert excinfo.value.code == "review_closed"
    review.refresh_from_db()
    assert review.submitted_at is None
    assert builders.row_counts() == before
