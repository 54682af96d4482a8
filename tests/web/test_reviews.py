import pytest
from django.urls import reverse

from portal.applications.models import Review
from quotas.services import application_decide
from tests import builders
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db

SCORES = {
    "technical_merit": "5",
    "feasibility": "4",
    "impact": "3",
    "need_for_public_compute": "2",
    "public_comment": "Clear plan.",
    "private_comment": "The PI oversold the team.",
}


def detail_url(review) -> str:
    return reverse("web:review_detail", kwargs={"public_id": review.public_id})


@pytest.fixture
def assignment(owner, organisation, call, staff, reviewer):
    """An application under review, waiting for ``reviewer``'s scores."""
    application = builders.make_application(owner, organisation, call, project_title="Unscored weather model")
    builders.under_review(builders.submitted(application, owner), staff, reviewer)
    return Review.objects.get(application=application, reviewer=reviewer)


def test_it_lists_the_reviewers_assignments_pending_first(
    client, reviewer, reviewed, assignment, outsider, staff
):
    response = login(client, reviewer).get(reverse("web:review_list"))
    assert [review.application.project_title for review in response.context["reviews"]] == [
        "Unscored weather model",
        "Reviewed vision model",
    ]
    assert response.context["pending_ids"] == {assignment.pk}


def test_it_shows_reviewers_only_their_own_assignments(client, reviewer2, assignment):
    response = login(client, reviewer2).get(reverse("web:review_list"))
    assert not shows(response, "Unscored weather model")
    assert client.get(detail_url(assignment)).status_code == 404


def test_it_shows_the_application_read_only_with_a_scoring_form(client, reviewer, assignment):
    response = login(client, reviewer).get(detail_url(assignment))
    assert shows(response, "Unscored weather model")
    assert shows(response, "We have no GPUs of our own.")
    assert set(response.context["form"].fields) == {*SCORES}


def test_it_records_scores_and_comments(client, reviewer, assignment):
    response = login(client, reviewer).post(detail_url(assignment), SCORES)
    assert response["Location"] == reverse("web:review_list")
    assignment.refresh_from_db()
    assert (assignment.technical_merit, assignment.feasibility, assignment.impact) == (5, 4, 3)
    assert assignment.private_comment == "The PI oversold the team."
    assert assignment.submitted_at is not None


BAD_SCORES = {
    "score too high": ({"impact": "6"}, "impact"),
    "score zero": ({"feasibility": "0"}, "feasibility"),
    "score missing": ({"technical_merit": ""}, "technical_merit"),
    "oversized comment": ({"public_comment": "x" * 5001}, "public_comment"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCORES))
def test_it_rejects_bad_scores(client, reviewer, assignment, case):
    overrides, field = BAD_SCORES[case]
    response = login(client, reviewer).post(detail_url(assignment), {**SCORES, **overrides})
    assert field in response.context["form"].errors
    assignment.refresh_from_db()
    assert assignment.submitted_at is None


def test_it_closes_the_form_once_the_application_is_decided(client, reviewer, staff, reviewed):
    application_decide(application=reviewed, staff=staff, decision="reject", reason="Out of scope")
    review = Review.objects.get(application=reviewed)
    login(client, reviewer)
    response = client.get(detail_url(review))
    assert not response.context["is_open"]
    assert shows(response, "This review is closed.")
    response = client.post(detail_url(review), SCORES)
    assert (
        "This application is no longer under review in this round."
        in response.context["form"].non_field_errors()
    )
    review.refresh_from_db()
    assert review.impact == 4


def test_it_refuses_a_reviewer_who_joined_the_applicant(client, reviewer, assignment, organisation):
    builders.add_member(organisation, reviewer)
    response = login(client, reviewer).post(detail_url(assignment), SCORES)
    assert any("conflict of interest" in error for error in response.context["form"].non_field_errors())
    assignment.refresh_from_db()
    assert assignment.submitted_at is None


def test_it_keeps_review_pages_from_non_reviewers(client, owner, staff, assignment):
    for user in (owner, staff):
        login(client, user)
        assert client.get(reverse("web:review_list")).status_code == 403
        assert client.post(detail_url(assignment), SCORES).status_code == 403
    assignment.refresh_from_db()
    assert assignment.submitted_at is None
