from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.calls.models import Call
from tests import builders
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


def call_data(**overrides) -> dict:
    data = {
        "title": "2027 national AI compute",
        "description": "GPU time for Korean AI.",
        "opens_at": "2027-01-01T09:00",
        "closes_at": "2027-02-01T18:00",
        "eligible_org_types": ["sme", "startup"],
        "allocation_start": "2027-03-01",
        "allocation_end": "2027-12-31",
        "pool_total_H100": "40000",
        "pool_max_H100": "5000",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def edit_url(call) -> str:
    return reverse("web:staff_call_edit", kwargs={"public_id": call.public_id})


def test_it_shows_staff_their_work_queue(
    client, staff, owner, organisation, call, reviewer, reviewer2, reviewed
):
    builders.submitted(
        builders.make_application(owner, organisation, call, project_title="Waiting one"), owner
    )
    builders.under_review(reviewed, staff, reviewer2)
    unverified = builders.make_org(owner, name="Unverified Lab", verified=False)
    response = login(client, staff).get(reverse("web:staff_home"))
    assert [a.project_title for a in response.context["awaiting_assignment"]] == ["Waiting one"]
    (under_review,) = response.context["under_review"]
    assert (under_review.reviews_submitted, under_review.reviews_assigned) == (1, 2)
    assert shows(response, "1 of 2")
    assert list(response.context["awaiting_verification"]) == [unverified]
    assert shows(response, call.title)


def test_it_opens_a_call(client, staff):
    response = login(client, staff).post(reverse("web:staff_call_create"), call_data())
    call = Call.objects.get(title="2027 national AI compute")
    assert response["Location"] == reverse("web:call_detail", kwargs={"public_id": call.public_id})
    assert call.eligible_org_types == ["sme", "startup"]
    assert timezone.localtime(call.opens_at).strftime("%Y-%m-%d %H:%M") == "2027-01-01 09:00"
    assert (call.allocation_start, call.allocation_end) == (date(2027, 3, 1), date(2027, 12, 31))
    assert [(p.gpu_type, p.total_gpu_hours, p.max_gpu_hours_per_application) for p in call.pools.all()] == [
        ("H100", 40000, 5000)
    ]


BAD_CALLS = {
    "missing title": ({"title": ""}, "title"),
    "oversized description": ({"description": "x" * 5001}, "description"),
    "closes before it opens": ({"closes_at": "2026-12-31T09:00"}, "closes_at"),
    "allocation ends before it starts": ({"allocation_end": "2027-02-28"}, "allocation_end"),
    "no eligible types": ({"eligible_org_types": None}, "eligible_org_types"),
    "unknown organisation type": ({"eligible_org_types": ["guild"]}, "eligible_org_types"),
    "not a datetime": ({"opens_at": "soon"}, "opens_at"),
    "pool without a cap": ({"pool_max_H100": ""}, "pool_max_H100"),
    "cap without a pool": ({"pool_total_A100": "", "pool_max_A100": "10"}, "pool_total_A100"),
    "negative pool": ({"pool_total_H100": "-1"}, "pool_total_H100"),
    "absurd pool": ({"pool_total_H100": "1000000000"}, "pool_total_H100"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_it_rejects_a_bad_call(client, staff, case):
    overrides, field = BAD_CALLS[case]
    response = login(client, staff).post(reverse("web:staff_call_create"), call_data(**overrides))
    assert field in response.context["form"].errors, response.context["form"].errors
    assert not Call.objects.exists()


def test_it_shows_pool_errors_at_the_top_of_the_pool_section(client, staff):
    login(client, staff)
    response = client.post(reverse("web:staff_call_create"), call_data(pool_total_H100="", pool_max_H100=""))
    assert response.context["form"].section_errors["pools"] == ["Offer at least one GPU type."]
    response = client.post(reverse("web:staff_call_create"), call_data(pool_max_H100="50000"))
    assert response.context["form"].section_errors["pools"] == [
        "H100: the per-application maximum must be 1–40,000 GPU-hours."
    ]
    assert shows(response, "H100: the per-application maximum must be 1–40,000 GPU-hours.")
    assert not Call.objects.exists()


def test_it_edits_a_call_starting_from_its_values(client, staff, call):
    login(client, staff)
    form = client.get(edit_url(call)).context["form"]
    assert form["title"].value() == call.title
    assert form["pool_total_A100"].value() == 100_000
    assert form["pool_max_H100"].value() == 10_000
    assert form["pool_total_V100"].value() is None
    opens = timezone.localtime(call.opens_at)
    closes = timezone.localtime(call.closes_at)
    data = call_data(
        title="Renamed call",
        opens_at=opens.strftime("%Y-%m-%dT%H:%M"),
        closes_at=(closes + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
        allocation_start=call.allocation_start.isoformat(),
        allocation_end=call.allocation_end.isoformat(),
        pool_total_A100="120000",
        pool_max_A100="20000",
    )
    response = client.post(edit_url(call), data)
    assert response.status_code == 302
    call.refresh_from_db()
    assert call.title == "Renamed call"
    assert {p.gpu_type: p.total_gpu_hours for p in call.pools.all()} == {"A100": 120000, "H100": 40000}


def test_it_refuses_to_shrink_a_pool_below_its_awards(client, staff, call, allocation):
    opens = timezone.localtime(call.opens_at).strftime("%Y-%m-%dT%H:%M")
    closes = timezone.localtime(call.closes_at).strftime("%Y-%m-%dT%H:%M")
    data = call_data(
        title=call.title,
        opens_at=opens,
        closes_at=closes,
        allocation_start=call.allocation_start.isoformat(),
        allocation_end=call.allocation_end.isoformat(),
        pool_total_A100="1000",
        pool_max_A100="1000",
    )
    response = login(client, staff).post(edit_url(call), data)
    assert response.context["form"].section_errors["pools"] == [
        "A100: 1500 GPU-hours are already awarded; the pool cannot be smaller."
    ]
    assert call.pools.get(gpu_type="A100").total_gpu_hours == 100_000


def test_it_lists_organisations_unverified_first_with_verify_buttons(client, staff, owner, organisation):
    unverified = builders.make_org(owner, name="Zeta Unverified", verified=False)
    response = login(client, staff).get(reverse("web:staff_organisation_list"))
    assert list(response.context["organisations"])[:2] == [unverified, organisation]
    verify_action = reverse("web:organisation_verify", kwargs={"public_id": unverified.public_id})
    assert f'action="{verify_action}"' in response.content.decode()


def test_it_keeps_staff_pages_from_everyone_else(client, owner, reviewer, call):
    for user in (owner, reviewer):
        login(client, user)
        assert client.post(reverse("web:staff_call_create"), call_data()).status_code == 403
        assert client.post(edit_url(call), call_data(title="Hijacked")).status_code == 403
    assert list(Call.objects.values_list("title", flat=True)) == [call.title]
