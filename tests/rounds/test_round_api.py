"""The round through the REST API: setup with field errors, proposal, adjustment, approval; the agreement
read by the organisation and accepted by its owner only."""

import pytest
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create
from quotas.models import Agreement
from tests import builders

pytestmark = pytest.mark.django_db


def client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=user)[1]}")
    return api


@pytest.mark.parametrize(
    "levers, field",
    [
        ({"regional_share": 1.5}, "regional_share"),
        ({"sector_shares": {"university": 0.7}, "regional_share": 0.5}, "sector_shares"),
        ({"sector_shares": {"farm": 0.1}}, "sector_shares"),
        ({"max_awards_per_org": 0}, "max_awards_per_org"),
        ({"agreement_terms": "Terms", "agreement_version": ""}, "agreement_version"),
        ({"agreement_days": 0}, "agreement_days"),
        ({"regional_bonus": -1}, "regional_bonus"),
    ],
)
def test_bad_levers_get_field_errors_and_change_nothing(round_call, staff, levers, field):
    before = client(staff).get(f"/api/v1/calls/{round_call.public_id}/levers").json()
    response = client(staff).put(f"/api/v1/calls/{round_call.public_id}/levers", levers, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["extra"]["fields"]
    assert client(staff).get(f"/api/v1/calls/{round_call.public_id}/levers").json() == before


@pytest.mark.parametrize(
    "track, message",
    [
        ({"min_gpus": 8, "max_gpus": 4}, "min_gpus"),
        ({"pools": {"V100": 10}}, "does not offer V100"),
        ({"pools": {"A100": 60_000}}, "1–50,000"),
        ({"code": "Bad Code"}, "lower-case"),
        ({"stage_months": [0]}, "stage_months"),
    ],
)
def test_bad_tracks_get_field_errors(round_call, staff, track, message):
    body = {
        "code": "x",
        "name": "X",
        "min_gpus": 1,
        "max_gpus": 4,
        "max_days": 30,
        "pools": {"A100": 10},
        **track,
    }
    response = client(staff).put(
        f"/api/v1/calls/{round_call.public_id}/tracks", {"tracks": [body]}, format="json"
    )
    assert response.status_code == 400
    assert any(message in m for m in response.json()["extra"]["fields"]["tracks"]), response.json()


def test_the_tracks_together_stay_within_the_calls_pool_and_used_ones_stay(round_call, staff, applicants):
    big = {"code": "a", "name": "A", "min_gpus": 1, "max_gpus": 4, "max_days": 30, "pools": {"A100": 30_000}}
    response = client(staff).put(
        f"/api/v1/calls/{round_call.public_id}/tracks",
        {"tracks": [big, {**big, "code": "b"}]},
        format="json",
    )
    messages = response.json()["extra"]["fields"]["tracks"]
    assert any("share 60,000" in m for m in messages)
    assert any("small: applications chose this track" in m for m in messages)


def test_applicants_see_the_tracks_and_are_held_to_them(round_call, owner, organisation):
    call = client(owner).get(f"/api/v1/calls/{round_call.public_id}").json()
    assert [t["code"] for t in call["tracks"]] == ["small", "large"]
    assert call["tracks"][0]["stage_months"] == [5, 5]
    body = {
        "call": str(round_call.public_id),
        "organisation": str(organisation.public_id),
        **{
            k: str(v) if k.startswith("requested_") else v
            for k, v in builders.application_content(round_call).items()
        },
    }
    assert (
        "track" in client(owner).post("/api/v1/applications", body, format="json").json()["extra"]["fields"]
    )
    wrong = client(owner).post("/api/v1/applications", {**body, "track": "small"}, format="json").json()
    # 8 GPUs in a 1–4 GPU track
    assert list(wrong["extra"]["fields"]) == ["max_concurrent_gpus"]
    ok = client(owner).post(
        "/api/v1/applications", {**body, "track": "large", "gpu_requests": {"H100": 100}}, format="json"
    )
    assert ok.status_code == 201 and ok.json()["track"] == "large"
    two = client(owner).post(
        "/api/v1/applications",
        {**body, "track": "large", "gpu_requests": {"H100": 100, "A100": 5}},
        format="json",
    )
    assert two.json()["extra"]["fields"]["gpu_requests"] == ["In a track, ask for one GPU type only."]


def test_staff_run_the_round_and_the_owner_signs(round_call, applicants, staff):
    api = client(staff)
    round_path = f"/api/v1/calls/{round_call.public_id}/round"
    assert api.get(round_path).status_code == 404
    proposed = api.post(f"{round_path}/proposal").json()
    assert [(line["position"], line["decision"], line["reason"]) for line in proposed["lines"]] == [
        (1, "award", "awarded"),
        (2, "award", "awarded"),
        (3, "award", "awarded"),
        (4, "waitlist", "organisation_unverified"),
    ]
    third = proposed["lines"][2]["application"]
    adjusted = api.patch(
        f"{round_path}/lines/{third}", {"decision": "waitlist", "reason": "Budget kept back"}, format="json"
    ).json()
    assert adjusted["lines"][2]["decision"] == "waitlist" and adjusted["lines"][2]["adjusted"] is True
    approved = api.post(f"{round_path}/approval").json()
    assert approved["state"] == "approved"
    assert [line["outcome"] for line in approved["lines"]] == [
        "awarded",
        "awarded",
        "waitlisted",
        "waitlisted",
    ]
    assert api.post(f"{round_path}/approval").json()["code"] == "round_approved"

    first = applicants[0]
    allocation = Agreement.objects.get(allocation__application=first).allocation
    path = f"/api/v1/allocations/{allocation.public_id}/agreement"
    owner, manager, outsider = first.created_by, builders.make_user(), builders.make_user()
    builders.add_member(first.organisation, manager, "manager")
    assert client(outsider).get(path).status_code == 404
    shown = client(manager).get(path).json()
    assert shown["terms"] == "Use the GPUs for the project only." and shown["state"] == "pending"
    assert (
        client(manager).post(f"{path}/acceptance", {"terms_version": "2026-1"}, format="json").status_code
        == 403
    )
    wrong = client(owner).post(f"{path}/acceptance", {"terms_version": "2026-0"}, format="json")
    assert wrong.status_code == 400 and "terms_version" in wrong.json()["extra"]["fields"]
    signed = client(owner).post(
        f"{path}/acceptance", {"terms_version": "2026-1"}, format="json", REMOTE_ADDR="192.0.2.7"
    )
    assert signed.status_code == 200 and signed.json()["state"] == "accepted"
    agreement = Agreement.objects.get(allocation=allocation)
    assert (agreement.accepted_by, agreement.accepted_from) == (owner, "192.0.2.7")
    assert client(owner).get(f"/api/v1/allocations/{allocation.public_id}").json()["status"] == "active"


def test_the_ranking_is_also_numbered_per_track(round_call, applicants, staff, owner, organisation, reviewer):
    from datetime import timedelta

    large = builders.make_application(
        owner,
        organisation,
        round_call,
        track="large",
        max_concurrent_gpus=8,
        requested_end=round_call.allocation_start + timedelta(days=200),
        gpu_requests={"H100": 1_000},
    )
    builders.scored(builders.under_review(builders.submitted(large, owner), staff, reviewer), reviewer, 1)
    body = client(staff).get(f"/api/v1/calls/{round_call.public_id}/ranking").json()
    rows = [(r["position"], r["track"], r["track_position"]) for r in body["ranking"]]
    assert rows == [(1, "small", 1), (2, "small", 2), (3, "small", 3), (4, "small", 4), (5, "large", 1)]


def test_an_application_left_without_a_track_waits_with_the_reason(round_call, applicants, staff):
    from portal.applications.models import Application
    from quotas.round import round_propose

    Application.objects.filter(pk=applicants[1].pk).update(track=None)  # chosen before the tracks existed
    line = round_propose(staff=staff, call=round_call).lines.get(application=applicants[1])
    assert (line.decision, line.reason) == ("waitlist", "no_track")
