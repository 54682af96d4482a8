import pytest
from django.urls import reverse

from quotas.models import AllocationBudget
from tests import builders
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


def test_it_shows_members_their_organisations_applications_and_allocations(
    client, teammate, draft, allocation
):
    AllocationBudget.objects.filter(allocation=allocation).update(used_gpu_seconds=100 * 3600)
    response = login(client, teammate).get(reverse("web:home"))
    assert [m.organisation.name for m in response.context["memberships"]] == ["Owner's SME"]
    assert shows(response, "Draft speech model") and shows(response, "Draft (not submitted)")
    (row,) = response.context["allocations"]
    (balance,) = row["balances"]
    assert (balance.gpu_type, balance.awarded_gpu_hours, balance.remaining_gpu_hours) == ("A100", 1500, 1400)
    assert shows(response, "1,400")


def test_it_never_shows_outsiders_another_organisations_work(
    client, outsider, draft, allocation, other_organisation
):
    response = login(client, outsider).get(reverse("web:home"))
    for text in ("Owner's SME", "Draft speech model", "Approved LLM project"):
        assert not shows(response, text)
    assert shows(response, "Outsider University")


def test_it_counts_the_reviewers_queue(client, reviewer, owner, organisation, call, staff):
    application = builders.submitted(builders.make_application(owner, organisation, call), owner)
    builders.under_review(application, staff, reviewer)
    response = login(client, reviewer).get(reverse("web:home"))
    assert response.context["pending_review_count"] == 1
    assert shows(response, "reviews wait for your scores")


def test_it_gives_staff_shortcuts(client, staff, owner, organisation, call):
    builders.submitted(builders.make_application(owner, organisation, call), owner)
    builders.make_org(owner, name="Unverified", verified=False)
    response = login(client, staff).get(reverse("web:home"))
    assert (
        response.context["awaiting_assignment_count"],
        response.context["awaiting_verification_count"],
    ) == (1, 1)
    assert reverse("web:staff_call_create") in response.content.decode()


def test_it_leaves_role_shortcuts_out_for_applicants(client, owner, organisation):
    response = login(client, owner).get(reverse("web:home"))
    assert "pending_review_count" not in response.context
    assert "awaiting_assignment_count" not in response.context
    content = response.content.decode()
    assert reverse("web:staff_home") not in content and reverse("web:review_list") not in content


def test_it_lists_open_calls(client, owner, call, staff):
    builders.make_call(staff, title="Upcoming call", open_now=False)
    response = login(client, owner).get(reverse("web:home"))
    assert list(response.context["open_calls"]) == [call]
    assert not shows(response, "Upcoming call")
