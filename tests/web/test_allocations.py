from datetime import timedelta

import pytest
from django.urls import reverse

from portal.applications.models import Application, ApplicationKind
from portal.applications.states import State
from quotas.models import AllocationBudget, AllocationStatus
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


def detail_url(allocation) -> str:
    return reverse("web:allocation_detail", kwargs={"public_id": allocation.public_id})


def change_url(allocation) -> str:
    return reverse("web:change_request_create", kwargs={"public_id": allocation.public_id})


def status_url(allocation) -> str:
    return reverse("web:allocation_set_status", kwargs={"public_id": allocation.public_id})


def change_data(allocation, **overrides) -> dict:
    data = {
        "requested_end": (allocation.ends_on + timedelta(days=30)).isoformat(),
        "max_concurrent_gpus": str(allocation.max_concurrent_gpus),
        "justification": "The experiments took longer.",
        "gpu_hours_A100": "500",
    }
    data.update(overrides)
    return data


def test_it_lists_allocations_to_members_only(client, teammate, outsider, allocation):
    response = login(client, teammate).get(reverse("web:allocation_list"))
    assert shows(response, "Approved LLM project")
    response = login(client, outsider).get(reverse("web:allocation_list"))
    assert not shows(response, "Approved LLM project")
    assert not shows(response, "Owner's SME")
    assert client.get(detail_url(allocation)).status_code == 404


def test_it_shows_the_balance_per_gpu_type_with_a_bar(client, owner, allocation):
    budget = allocation.budgets.get(gpu_type="A100")
    AllocationBudget.objects.filter(pk=budget.pk).update(
        used_gpu_seconds=300 * 3600, held_gpu_seconds=75 * 3600
    )
    response = login(client, owner).get(detail_url(allocation))
    (balance,) = response.context["balances"]
    assert (
        balance.awarded_gpu_hours,
        balance.used_gpu_hours,
        balance.held_gpu_hours,
        balance.remaining_gpu_hours,
    ) == (1500, 300, 75, 1125)
    assert '<progress class="bar" max="100" value="25">' in response.content.decode()
    assert shows(response, "1,125")


def test_it_lets_members_request_a_change(client, teammate, allocation):
    response = login(client, teammate).get(detail_url(allocation))
    assert response.context["can_request_change"]
    response = client.post(change_url(allocation), change_data(allocation))
    change = Application.objects.get(kind=ApplicationKind.CHANGE)
    assert response["Location"] == reverse("web:application_detail", kwargs={"public_id": change.public_id})
    assert change.allocation == allocation
    assert change.state == State.DRAFT
    assert change.requested_end == allocation.ends_on + timedelta(days=30)
    assert {line.gpu_type: line.gpu_hours for line in change.gpu_requests.all()} == {"A100": 500}
    page = client.get(detail_url(allocation))
    assert list(page.context["change_requests"]) == [change]


def test_it_takes_extra_hours_as_gpus_times_months(client, owner, allocation):
    data = change_data(allocation, gpu_hours_A100="", gpus_A100="1", months_A100="2")
    login(client, owner).post(change_url(allocation), data)
    change = Application.objects.get(kind=ApplicationKind.CHANGE)
    assert change.gpu_requests.get().gpu_hours == 1460


def test_it_edits_a_change_request_with_the_change_form(client, owner, allocation):
    login(client, owner).post(change_url(allocation), change_data(allocation))
    change = Application.objects.get(kind=ApplicationKind.CHANGE)
    edit_url = reverse("web:application_edit", kwargs={"public_id": change.public_id})
    assert "project_title" not in client.get(edit_url).context["form"].fields
    client.post(edit_url, change_data(allocation, gpu_hours_A100="800"))
    change.refresh_from_db()
    assert change.gpu_requests.get().gpu_hours == 800
    assert change.project_title == allocation.project_title


BAD_CHANGES = {
    "shorter period": ({"requested_end": "2000-01-01"}, "requested_end"),
    "beyond the call": ({"requested_end": "2999-01-01"}, "requested_end"),
    "negative hours": ({"gpu_hours_A100": "-1"}, "gpu_hours_A100"),
    "missing justification": ({"justification": ""}, "justification"),
    "oversized justification": ({"justification": "x" * 10001}, "justification"),
}


@pytest.mark.parametrize("case", sorted(BAD_CHANGES))
def test_it_rejects_a_bad_change_request(client, owner, allocation, case):
    overrides, field = BAD_CHANGES[case]
    response = login(client, owner).post(change_url(allocation), change_data(allocation, **overrides))
    assert field in response.context["form"].errors
    assert not Application.objects.filter(kind=ApplicationKind.CHANGE).exists()


def test_it_rejects_a_change_request_that_changes_nothing(client, owner, allocation):
    data = change_data(allocation, requested_end=allocation.ends_on.isoformat(), gpu_hours_A100="")
    response = login(client, owner).post(change_url(allocation), data)
    assert response.context["form"].section_errors["gpu_requests"]
    assert not Application.objects.filter(kind=ApplicationKind.CHANGE).exists()


def test_it_does_not_offer_changes_to_a_suspended_allocation(client, owner, allocation):
    allocation.status = AllocationStatus.SUSPENDED
    allocation.save()
    login(client, owner)
    assert "change_form" not in client.get(detail_url(allocation)).context
    response = client.post(change_url(allocation), change_data(allocation))
    assert response.status_code == 302
    assert not Application.objects.filter(kind=ApplicationKind.CHANGE).exists()


def test_it_lets_staff_suspend_and_reactivate_with_a_reason(client, staff, allocation):
    login(client, staff)
    response = client.post(status_url(allocation), {"status": "suspended", "reason": "Misuse report"})
    assert response["Location"] == detail_url(allocation)
    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.SUSPENDED
    client.post(status_url(allocation), {"status": "active", "reason": "Resolved"})
    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.ACTIVE
    page = client.get(detail_url(allocation))
    actions = [event.action for event in page.context["audit_events"]]
    assert actions == ["allocation_created", "allocation_suspended", "allocation_active"]
    assert shows(page, "Misuse report")


def test_it_requires_a_reason_to_suspend(client, staff, allocation):
    response = login(client, staff).post(status_url(allocation), {"status": "suspended", "reason": ""})
    assert "reason" in response.context["status_form"].errors
    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.ACTIVE


def test_it_explains_an_impossible_status_change(client, staff, allocation):
    response = login(client, staff).post(status_url(allocation), {"status": "active", "reason": "again"})
    assert any(
        "cannot become active" in error for error in response.context["status_form"].non_field_errors()
    )


def test_it_keeps_status_controls_and_audit_from_members(client, owner, allocation):
    login(client, owner)
    context = client.get(detail_url(allocation)).context
    assert "status_form" not in context and "audit_events" not in context
    assert client.post(status_url(allocation), {"status": "suspended", "reason": "x"}).status_code == 403
    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.ACTIVE


def test_it_does_not_let_staff_request_changes_for_others(client, staff, allocation):
    login(client, staff)
    assert not client.get(detail_url(allocation)).context["can_request_change"]
    assert client.post(change_url(allocation), change_data(allocation)).status_code == 403
