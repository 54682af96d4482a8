from datetime import timedelta

import pytest
from django.urls import reverse

from portal.applications.models import Application, Review
from portal.applications.states import State
from portal.audit.models import AuditEvent
from portal.organisations.models import Membership
from quotas.models import Allocation
from tests import builders
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


def create_url(call) -> str:
    return f"{reverse('web:application_create')}?call={call.public_id}"


def detail_url(application) -> str:
    return reverse("web:application_detail", kwargs={"public_id": application.public_id})


def action_url(name: str, application) -> str:
    return reverse(f"web:application_{name}", kwargs={"public_id": application.public_id})


def form_data(call, organisation_, **overrides) -> dict:
    data = {
        "organisation": str(organisation_.public_id),
        "project_title": "Protein folding at scale",
        "summary": "Fold every protein in the public databank.",
        "field": "science",
        "requested_start": call.allocation_start.isoformat(),
        "requested_end": (call.allocation_start + timedelta(days=90)).isoformat(),
        "max_concurrent_gpus": "8",
        "justification": "Our lab has four old GPUs.",
        "gpu_hours_A100": "3000",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- list and detail: who sees what -----------------------------------------------------------------


def test_it_lists_only_the_members_own_applications(
    client, teammate, outsider, draft, other_organisation, call
):
    other = builders.make_application(outsider, other_organisation, call, project_title="Outsider robotics")
    mine = login(client, teammate).get(reverse("web:application_list"))
    assert shows(mine, "Draft speech model")
    assert not shows(mine, "Outsider robotics")
    theirs = login(client, outsider).get(reverse("web:application_list"))
    assert shows(theirs, "Outsider robotics")
    assert not shows(theirs, "Draft speech model")
    assert client.get(detail_url(draft)).status_code == 404
    assert client.get(detail_url(other)).status_code == 200


def test_it_shows_reviewers_only_the_applications_assigned_to_them(
    client, reviewer, reviewer2, reviewed, draft
):
    response = login(client, reviewer).get(reverse("web:application_list"))
    assert shows(response, "Reviewed vision model")
    assert not shows(response, "Draft speech model")
    assert client.get(detail_url(draft)).status_code == 404
    login(client, reviewer2)
    assert client.get(detail_url(reviewed)).status_code == 404
    assert not shows(client.get(reverse("web:application_list")), "Reviewed vision model")


def test_it_shows_staff_every_application(client, staff, draft, reviewed):
    response = login(client, staff).get(reverse("web:application_list"))
    assert shows(response, "Draft speech model") and shows(response, "Reviewed vision model")


def test_it_shows_the_state_in_plain_words(client, owner, reviewed):
    response = login(client, owner).get(detail_url(reviewed))
    assert shows(response, "Under review")
    assert "under_review<" not in response.content.decode()


def test_it_never_shows_private_comments_to_the_applicant(client, owner, reviewed):
    response = login(client, owner).get(detail_url(reviewed))
    assert shows(response, "Solid plan.")  # the public comment of the submitted review
    assert not shows(response, "Team is small.")
    assert not shows(response, "Reviewer Lee")  # reviewers stay anonymous to applicants


def test_it_hides_unsubmitted_reviews_from_the_applicant(client, owner, organisation, call, staff, reviewer):
    application = builders.under_review(
        builders.submitted(builders.make_application(owner, organisation, call), owner), staff, reviewer
    )
    review = Review.objects.get(application=application)
    Review.objects.filter(pk=review.pk).update(public_comment="Half-written thoughts")
    response = login(client, owner).get(detail_url(application))
    assert not shows(response, "Half-written thoughts")
    assert response.context["reviews"].count() == 0


def test_it_never_shows_a_reviewer_another_reviewers_comments(client, reviewed, staff, reviewer, reviewer2):
    builders.under_review(reviewed, staff, reviewer2)
    response = login(client, reviewer2).get(detail_url(reviewed))
    assert response.status_code == 200
    assert not shows(response, "Solid plan.")
    assert not shows(response, "Team is small.")


def test_it_shows_staff_all_reviews_private_comments_scores_and_the_audit_log(client, staff, reviewed):
    response = login(client, staff).get(detail_url(reviewed))
    assert shows(response, "Team is small.")
    assert shows(response, "Reviewer Lee")
    assert response.context["scores_summary"]["impact"] == 4
    actions = [event.action for event in response.context["audit_events"]]
    assert actions[:4] == ["created", "submit", "start_review", "reviewer_assigned"]
    assert shows(response, "Reviewer assigned")


def test_it_keeps_the_audit_log_from_applicants(client, owner, reviewed):
    response = login(client, owner).get(detail_url(reviewed))
    assert "audit_events" not in response.context
    assert not shows(response, "Audit log")


# --- create ---------------------------------------------------------------------------------------


def test_it_creates_a_draft_from_the_form(client, owner, organisation, call):
    response = login(client, owner).post(create_url(call), form_data(call, organisation))
    application = Application.objects.get(project_title="Protein folding at scale")
    assert response.status_code == 302
    assert response["Location"] == detail_url(application)
    assert application.state == State.DRAFT
    assert application.organisation == organisation
    assert application.created_by == owner
    assert {line.gpu_type: line.gpu_hours for line in application.gpu_requests.all()} == {"A100": 3000}


def test_it_turns_gpus_times_months_into_gpu_hours(client, owner, organisation, call, settings):
    data = form_data(
        call,
        organisation,
        gpu_hours_A100="",
        gpus_A100="4",
        months_A100="1.5",
        gpus_H100="2",
        months_H100="1",
    )
    login(client, owner).post(create_url(call), data)
    application = Application.objects.get(project_title="Protein folding at scale")
    per_month = settings.GPUGRANT_HOURS_PER_MONTH
    assert {line.gpu_type: line.gpu_hours for line in application.gpu_requests.all()} == {
        "A100": int(4 * 1.5 * per_month),
        "H100": 2 * per_month,
    }
    assert shows(client.get(detail_url(application)), "4,380")


def test_it_previews_the_gpu_hours_without_saving(client, owner, organisation, call):
    data = form_data(call, organisation, gpu_hours_A100="", gpus_A100="2", months_A100="3", preview="1")
    response = login(client, owner).post(create_url(call), data)
    assert response.status_code == 200
    assert response.context["form"].meant_gpu_hours == {"A100": 4380}
    assert shows(response, "= 4,380")
    assert not Application.objects.exists()


def test_it_prefers_gpu_hours_given_directly_over_gpus_times_months(client, owner, organisation, call):
    data = form_data(call, organisation, gpu_hours_A100="100", gpus_A100="8", months_A100="6")
    login(client, owner).post(create_url(call), data)
    line = Application.objects.get().gpu_requests.get()
    assert line.gpu_hours == 100


BAD_INPUT = {
    "missing title": ({"project_title": ""}, "project_title"),
    "oversized title": ({"project_title": "x" * 201}, "project_title"),
    "oversized summary": ({"summary": "x" * 5001}, "summary"),
    "unknown field": ({"field": "astrology"}, "field"),
    "negative hours": ({"gpu_hours_A100": "-5"}, "gpu_hours_A100"),
    "hours over the per-application cap": ({"gpu_hours_A100": "20001"}, "gpu_hours_A100"),
    "absurd hours": ({"gpu_hours_A100": "99999999999999999999"}, "gpu_hours_A100"),
    "hours not a number": ({"gpu_hours_A100": "lots"}, "gpu_hours_A100"),
    "GPUs without months": ({"gpu_hours_A100": "", "gpus_A100": "4"}, "months_A100"),
    "months without GPUs": ({"gpu_hours_A100": "", "months_A100": "2"}, "gpus_A100"),
    "GPUs × months over the cap": (
        {"gpu_hours_A100": "", "gpus_A100": "100", "months_A100": "12"},
        "gpus_A100",
    ),
    "zero concurrency": ({"max_concurrent_gpus": "0"}, "max_concurrent_gpus"),
    "missing start": ({"requested_start": ""}, "requested_start"),
    "not a date": ({"requested_end": "next year"}, "requested_end"),
    "another organisation": ({"organisation": "00000000-0000-0000-0000-000000000000"}, "organisation"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_it_rejects_bad_input_field_by_field_and_saves_nothing(client, owner, organisation, call, case):
    overrides, field = BAD_INPUT[case]
    response = login(client, owner).post(create_url(call), form_data(call, organisation, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert not Application.objects.exists()


def test_it_reports_the_services_date_rules_on_the_date_fields(client, owner, organisation, call):
    login(client, owner)
    before_call = (call.allocation_start - timedelta(days=1)).isoformat()
    end_before_start = form_data(
        call,
        organisation,
        requested_end=call.allocation_start.isoformat(),
        requested_start=call.allocation_start.isoformat(),
    )
    cases = {
        "requested_start": form_data(call, organisation, requested_start=before_call),
        "requested_end": form_data(
            call, organisation, requested_end=(call.allocation_end + timedelta(days=1)).isoformat()
        ),
    }
    for field, data in cases.items():
        response = client.post(create_url(call), data)
        assert field in response.context["form"].errors
    response = client.post(create_url(call), end_before_start)
    assert response.context["form"].errors["requested_end"] == ["The end must be after the start."]
    assert not Application.objects.exists()


def test_it_shows_gpu_request_errors_at_the_top_of_the_gpu_section(client, owner, organisation, call):
    response = login(client, owner).post(create_url(call), form_data(call, organisation, gpu_hours_A100=""))
    form = response.context["form"]
    assert form.section_errors["gpu_requests"] == ["Request GPU-hours for at least one GPU type."]
    assert shows(response, "Request GPU-hours for at least one GPU type.")
    assert not Application.objects.exists()


def test_it_refuses_a_gpu_type_the_call_does_not_offer(client, owner, organisation, call):
    response = login(client, owner).post(
        create_url(call), form_data(call, organisation, gpu_hours_V100="500")
    )
    assert (
        response.context["form"]
        .section_errors["gpu_requests"][0]
        .startswith("V100: this call does not offer")
    )
    assert not Application.objects.exists()


def test_it_puts_an_eligibility_refusal_on_the_organisation_field(client, owner, staff):
    university_only = builders.make_call(staff, eligible=["university"])
    sme = builders.make_org(owner, name="Small company", staff=staff)
    response = login(client, owner).post(create_url(university_only), form_data(university_only, sme))
    assert response.context["form"].errors["organisation"] == [
        "SME organisations are not eligible for this call."
    ]
    assert not Application.objects.exists()


def test_it_offers_only_the_users_own_organisations(client, teammate, organisation, other_organisation, call):
    response = login(client, teammate).get(create_url(call))
    assert list(response.context["form"].fields["organisation"].queryset) == [organisation]
    response = client.post(create_url(call), form_data(call, other_organisation))
    assert "organisation" in response.context["form"].errors
    assert not Application.objects.exists()


def test_it_offers_one_gpu_section_row_per_gpu_type_of_the_call(client, owner, organisation, call):
    response = login(client, owner).get(create_url(call))
    assert [row.gpu_type for row in response.context["form"].gpu_rows] == ["A100", "H100"]


def test_it_turns_people_away_from_a_closed_call(client, owner, organisation, staff):
    now = builders.timezone.now()
    closed = builders.make_call(staff, opens_at=now - timedelta(days=30), closes_at=now - timedelta(days=1))
    response = login(client, owner).get(create_url(closed))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:call_detail", kwargs={"public_id": closed.public_id})
    client.post(create_url(closed), form_data(closed, organisation))
    assert not Application.objects.exists()


def test_it_hides_calls_that_have_not_opened(client, owner, organisation, staff):
    upcoming = builders.make_call(staff, open_now=False)
    assert login(client, owner).get(create_url(upcoming)).status_code == 404
    assert client.get(f"{reverse('web:application_create')}?call=not-a-uuid").status_code == 404


def test_it_asks_people_without_an_organisation_to_register_one(client, outsider, call):
    outsider.memberships.all().delete()
    response = login(client, outsider).get(create_url(call))
    assert response.status_code == 200
    assert shows(response, "Register an organisation")
    assert "form" not in response.context


def test_it_lists_open_calls_when_no_call_is_chosen(client, owner, call):
    response = login(client, owner).get(reverse("web:application_create"))
    assert shows(response, call.title)


# --- edit -----------------------------------------------------------------------------------------


def test_it_edits_a_draft(client, teammate, draft, call, organisation):
    data = form_data(call, organisation, project_title="Renamed", gpu_hours_A100="", gpu_hours_H100="700")
    response = login(client, teammate).post(action_url("edit", draft), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.project_title == "Renamed"
    assert {line.gpu_type: line.gpu_hours for line in draft.gpu_requests.all()} == {"H100": 700}


def test_it_prefills_the_edit_form(client, owner, draft):
    form = login(client, owner).get(action_url("edit", draft)).context["form"]
    assert form["project_title"].value() == "Draft speech model"
    assert form["gpu_hours_A100"].value() == 2000
    assert "organisation" not in form.fields


def test_it_leaves_a_draft_unchanged_on_bad_input(client, owner, draft, call, organisation):
    response = login(client, owner).post(action_url("edit", draft), form_data(call, organisation, summary=""))
    assert "summary" in response.context["form"].errors
    draft.refresh_from_db()
    assert draft.project_title == "Draft speech model"


def test_it_does_not_edit_a_submitted_application(client, owner, reviewed, call, organisation):
    response = login(client, owner).post(
        action_url("edit", reviewed), form_data(call, organisation, project_title="X")
    )
    assert response.status_code == 302
    reviewed.refresh_from_db()
    assert reviewed.project_title == "Reviewed vision model"


def test_it_does_not_let_outsiders_edit(client, outsider, draft, call, organisation):
    response = login(client, outsider).post(
        action_url("edit", draft), form_data(call, organisation, project_title="X")
    )
    assert response.status_code == 404
    draft.refresh_from_db()
    assert draft.project_title == "Draft speech model"


# --- submit, withdraw -------------------------------------------------------------------------------


def test_it_submits_a_draft(client, teammate, draft):
    response = login(client, teammate).post(action_url("submit", draft))
    assert response["Location"] == detail_url(draft)
    draft.refresh_from_db()
    assert draft.state == State.SUBMITTED


def test_it_explains_why_a_submission_failed(client, owner, reviewed):
    response = login(client, owner).post(action_url("submit", reviewed), follow=True)
    assert shows(response, "Cannot submit an application that is under review.")
    reviewed.refresh_from_db()
    assert reviewed.state == State.UNDER_REVIEW


def test_it_does_not_let_outsiders_submit_or_withdraw(client, outsider, draft):
    login(client, outsider)
    assert client.post(action_url("submit", draft)).status_code == 404
    assert client.post(action_url("withdraw", draft)).status_code == 404
    draft.refresh_from_db()
    assert draft.state == State.DRAFT


def test_it_withdraws_with_a_reason(client, owner, reviewed):
    login(client, owner).post(action_url("withdraw", reviewed), {"reason": "Project cancelled"})
    reviewed.refresh_from_db()
    assert reviewed.state == State.WITHDRAWN
    assert (
        AuditEvent.objects.get(target_id=reviewed.public_id, action="withdraw").reason == "Project cancelled"
    )


def test_it_refuses_an_oversized_withdrawal_reason(client, owner, draft):
    response = login(client, owner).post(action_url("withdraw", draft), {"reason": "x" * 2001})
    assert "reason" in response.context["withdraw_form"].errors
    draft.refresh_from_db()
    assert draft.state == State.DRAFT


def test_it_shows_only_the_actions_the_state_allows(client, owner, draft, reviewed):
    login(client, owner)
    on_draft = client.get(detail_url(draft)).context
    assert (on_draft["can_edit"], on_draft["can_submit"], on_draft["can_withdraw"]) == (True, True, True)
    under_review = client.get(detail_url(reviewed)).context
    assert (under_review["can_edit"], under_review["can_submit"], under_review["can_withdraw"]) == (
        False,
        False,
        True,
    )
    assert "decision_form" not in under_review


# --- staff: assign and decide ------------------------------------------------------------------------


def test_it_lets_staff_assign_reviewers_without_conflicts(
    client, staff, owner, draft, reviewer, reviewer2, organisation
):
    builders.add_member(organisation, reviewer2)
    builders.submitted(draft, owner)
    response = login(client, staff).get(detail_url(draft))
    assert list(response.context["assign_form"].fields["reviewers"].queryset) == [reviewer]
    response = client.post(action_url("assign", draft), {"reviewers": [str(reviewer.public_id)]})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.state == State.UNDER_REVIEW
    assert [review.reviewer for review in draft.reviews.all()] == [reviewer]


def test_it_refuses_a_conflicted_or_missing_reviewer(client, staff, owner, draft, reviewer2, organisation):
    builders.add_member(organisation, reviewer2)
    builders.submitted(draft, owner)
    login(client, staff)
    response = client.post(action_url("assign", draft), {"reviewers": [str(reviewer2.public_id)]})
    assert "reviewers" in response.context["assign_form"].errors
    response = client.post(action_url("assign", draft), {})
    assert "reviewers" in response.context["assign_form"].errors
    assert not Review.objects.exists()


def test_it_lets_only_staff_assign_and_decide(client, owner, reviewer, reviewed):
    for user in (owner, reviewer):
        login(client, user)
        assert (
            client.post(action_url("assign", reviewed), {"reviewers": [str(reviewer.public_id)]}).status_code
            == 403
        )
        assert (
            client.post(action_url("decide", reviewed), {"decision": "approve", "reason": "ok"}).status_code
            == 403
        )
    reviewed.refresh_from_db()
    assert reviewed.state == State.UNDER_REVIEW


def test_it_approves_with_a_reduced_award(client, staff, reviewed, call):
    response = login(client, staff).get(detail_url(reviewed))
    assert response.context["decision_form"]["awarded_A100"].value() == 2000
    response = client.post(
        action_url("decide", reviewed),
        {"decision": "approve", "reason": "Good, but trim it", "awarded_A100": "1200"},
    )
    assert response.status_code == 302
    allocation = Allocation.objects.get(application=reviewed)
    assert [(b.gpu_type, b.awarded_gpu_hours) for b in allocation.budgets.all()] == [("A100", 1200)]
    assert call.pools.get(gpu_type="A100").awarded_gpu_hours == 1200
    page = client.get(detail_url(reviewed))
    assert shows(page, "Approved") and shows(page, "Good, but trim it") and shows(page, "1,200")


def test_it_refuses_an_award_above_the_request(client, staff, reviewed):
    response = login(client, staff).post(
        action_url("decide", reviewed), {"decision": "approve", "reason": "ok", "awarded_A100": "2001"}
    )
    assert "awarded_A100" in response.context["decision_form"].errors
    assert not Allocation.objects.exists()


def test_it_requires_a_reason_for_a_decision(client, staff, reviewed):
    response = login(client, staff).post(action_url("decide", reviewed), {"decision": "reject", "reason": ""})
    assert "reason" in response.context["decision_form"].errors
    reviewed.refresh_from_db()
    assert reviewed.state == State.UNDER_REVIEW


def test_it_shows_a_refused_approval_on_the_form(client, staff, reviewed, organisation):
    organisation.verified = False
    organisation.save()
    response = login(client, staff).post(
        action_url("decide", reviewed), {"decision": "approve", "reason": "ok", "awarded_A100": "100"}
    )
    assert response.status_code == 200
    assert any("not verified" in error for error in response.context["decision_form"].non_field_errors())
    assert not Allocation.objects.exists()


def test_it_shows_an_award_the_pool_cannot_cover_in_the_award_section(
    client, staff, owner, organisation, reviewer
):
    small = builders.make_call(staff, pools={"A100": (1000, 1000)})
    application = builders.ready_for_decision(
        owner, organisation, small, staff, reviewer, gpu_requests={"A100": 1000}
    )
    other = builders.ready_for_decision(
        owner, organisation, small, staff, reviewer, gpu_requests={"A100": 500}
    )
    from quotas.services import application_decide

    application_decide(application=other, staff=staff, decision="approve", reason="first")
    response = login(client, staff).post(
        action_url("decide", application), {"decision": "approve", "reason": "ok", "awarded_A100": "1000"}
    )
    assert response.context["decision_form"].section_errors["awarded_gpu_hours"] == [
        "A100: 1,000 GPU-hours asked, 500 left in the call's pool."
    ]
    application.refresh_from_db()
    assert application.state == State.UNDER_REVIEW


def test_it_requests_a_revision_and_lets_the_applicant_resubmit(client, staff, owner, reviewed):
    login(client, staff).post(
        action_url("decide", reviewed), {"decision": "request_revision", "reason": "More detail"}
    )
    reviewed.refresh_from_db()
    assert reviewed.state == State.REVISION_REQUESTED
    login(client, owner)
    assert client.get(action_url("edit", reviewed)).status_code == 200
    assert shows(client.get(detail_url(reviewed)), "Resubmit for review")
    client.post(action_url("submit", reviewed))
    reviewed.refresh_from_db()
    assert (reviewed.state, reviewed.review_round) == (State.RESUBMITTED, 2)


def test_it_tells_conflicted_staff_to_ask_someone_else(client, staff, reviewed, organisation):
    Membership.objects.create(organisation=organisation, user=staff)
    response = login(client, staff).post(
        action_url("decide", reviewed), {"decision": "reject", "reason": "no"}
    )
    assert any(
        "conflict of interest" in error for error in response.context["decision_form"].non_field_errors()
    )
    reviewed.refresh_from_db()
    assert reviewed.state == State.UNDER_REVIEW


def test_it_answers_malformed_identifiers_with_field_errors_not_crashes(
    client, owner, staff, draft, call, organisation
):
    response = login(client, owner).post(
        create_url(call), form_data(call, organisation, organisation="not-a-uuid")
    )
    assert "organisation" in response.context["form"].errors
    builders.submitted(draft, owner)
    response = login(client, staff).post(action_url("assign", draft), {"reviewers": ["junk"]})
    assert "reviewers" in response.context["assign_form"].errors
    assert Application.objects.count() == 1
    assert not Review.objects.exists()
