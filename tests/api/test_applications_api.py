from datetime import timedelta

import pytest

from portal.applications.models import Application, ApplicationGpuRequest
from portal.audit.models import AuditEvent
from tests import builders

pytestmark = pytest.mark.django_db


def payload(the_call, organisation, **overrides):
    call = the_call
    data = {
        "call": str(call.public_id),
        "organisation": str(organisation.public_id),
        "project_title": "Medical imaging foundation model",
        "summary": "Pretrain on de-identified CT scans.",
        "field": "health",
        "requested_start": str(call.allocation_start),
        "requested_end": str(call.allocation_start + timedelta(days=120)),
        "max_concurrent_gpus": 16,
        "justification": "No on-premise GPUs.",
        "gpu_requests": {"A100": 3000, "H100": 500},
    }
    data.update(overrides)
    return data


def test_it_creates_a_draft_and_submits_it(client_for, owner, organisation, call):
    api = client_for(owner)
    created = api.post("/api/v1/applications", payload(call, organisation), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["state"] == "draft"
    assert {r["gpu_type"]: r["gpu_hours"] for r in body["gpu_requests"]} == {"A100": 3000, "H100": 500}
    assert "submit" in body["allowed_actions"]
    submitted = api.post(f"/api/v1/applications/{body['id']}/submit")
    assert submitted.status_code == 200
    assert submitted.json()["state"] == "submitted"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"project_title": ""}, "project_title"),
        ({"project_title": "x" * 201}, "project_title"),
        ({"summary": "x" * 5001}, "summary"),
        ({"justification": "x" * 10001}, "justification"),
        ({"gpu_requests": {"A100": -5}}, "gpu_requests.A100"),
        ({"gpu_requests": {"A100": 10**12}}, "gpu_requests.A100"),
        ({"gpu_requests": {"A100": 999_999}}, "gpu_requests"),
        ({"gpu_requests": {"TPUv4": 100}}, "gpu_requests"),
        ({"gpu_requests": {}}, "gpu_requests"),
        ({"gpu_requests": "lots"}, "gpu_requests"),
        ({"max_concurrent_gpus": 0}, "max_concurrent_gpus"),
        ({"max_concurrent_gpus": "many"}, "max_concurrent_gpus"),
        ({"field": "astrology"}, "field"),
        ({"requested_start": "not-a-date"}, "requested_start"),
        ({"requested_end": "2020-01-01"}, "requested_end"),
        ({"call": "00000000-0000-0000-0000-000000000000"}, "call"),
    ],
)
def test_it_rejects_bad_input_field_by_field_and_writes_nothing(
    client_for, owner, organisation, call, overrides, field
):
    api = client_for(owner)
    before = (Application.objects.count(), ApplicationGpuRequest.objects.count(), AuditEvent.objects.count())
    response = api.post("/api/v1/applications", payload(call, organisation, **overrides), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["extra"]["fields"], body
    assert (
        Application.objects.count(),
        ApplicationGpuRequest.objects.count(),
        AuditEvent.objects.count(),
    ) == before


def test_it_rejects_dates_outside_the_call(client_for, owner, organisation, call):
    data = payload(
        call,
        organisation,
        requested_start=str(call.allocation_start - timedelta(days=1)),
        requested_end=str(call.allocation_end + timedelta(days=1)),
    )
    response = client_for(owner).post("/api/v1/applications", data, format="json")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) >= {"requested_start", "requested_end"}


def test_it_refuses_to_apply_for_another_organisation(client_for, outsider, organisation, call):
    response = client_for(outsider).post("/api/v1/applications", payload(call, organisation), format="json")
    assert response.status_code == 400
    assert "organisation" in response.json()["extra"]["fields"]
    assert not Application.objects.exists()


def test_it_answers_an_illegal_transition_with_409(client_for, owner, organisation, call):
    application = builders.make_application(owner, organisation, call)
    api = client_for(owner)
    assert (
        api.post(
            f"/api/v1/applications/{application.public_id}/withdraw",
            {"reason": "changed plans"},
            format="json",
        ).status_code
        == 200
    )
    response = api.post(f"/api/v1/applications/{application.public_id}/submit")
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    application.refresh_from_db()
    assert application.state == "withdrawn"


def test_it_edits_a_draft_but_not_a_submitted_application(client_for, owner, organisation, call):
    application = builders.make_application(owner, organisation, call)
    api = client_for(owner)
    url = f"/api/v1/applications/{application.public_id}"
    edited = api.patch(url, {"project_title": "Renamed", "gpu_requests": {"H100": 100}}, format="json")
    assert edited.status_code == 200
    assert edited.json()["project_title"] == "Renamed"
    assert [r["gpu_type"] for r in edited.json()["gpu_requests"]] == ["H100"]
    api.post(f"{url}/submit")
    refused = api.patch(url, {"project_title": "Sneaky"}, format="json")
    assert refused.status_code == 409
    application.refresh_from_db()
    assert application.project_title == "Renamed"


def test_it_filters_the_list_and_rejects_unknown_filters(client_for, owner, organisation, call):
    draft = builders.make_application(owner, organisation, call)
    sent = builders.submitted(
        builders.make_application(owner, organisation, call, project_title="Second"), owner
    )
    api = client_for(owner)
    listed = api.get("/api/v1/applications?state=submitted").json()
    assert [item["id"] for item in listed["results"]] == [str(sent.public_id)]
    assert str(draft.public_id) not in str(listed)
    assert api.get("/api/v1/applications?state=bogus").status_code == 400
    assert api.get("/api/v1/applications?call=not-a-uuid").status_code == 400


def test_it_runs_review_and_decision_through_the_api(client_for, owner, organisation, call, staff, reviewer):
    application = builders.submitted(builders.make_application(owner, organisation, call), owner)
    staff_api, reviewer_api, owner_api = client_for(staff), client_for(reviewer), client_for(owner)
    base = f"/api/v1/applications/{application.public_id}"

    assigned = staff_api.post(f"{base}/assign", {"reviewers": [reviewer.email]}, format="json")
    assert assigned.status_code == 201
    review_id = assigned.json()[0]["id"]
    assert reviewer_api.get("/api/v1/reviews").json()["count"] == 1

    scores = {
        "technical_merit": 5,
        "feasibility": 4,
        "impact": 4,
        "need_for_public_compute": 5,
        "public_comment": "Well argued.",
        "private_comment": "Check the team size.",
    }
    bad = reviewer_api.post(f"/api/v1/reviews/{review_id}/submit", {**scores, "impact": 6}, format="json")
    assert bad.status_code == 400 and "impact" in bad.json()["extra"]["fields"]
    assert reviewer_api.post(f"/api/v1/reviews/{review_id}/submit", scores, format="json").status_code == 200

    public = owner_api.get(f"{base}/reviews").json()["results"]
    assert public[0]["public_comment"] == "Well argued."
    assert "private_comment" not in public[0] and "reviewer" not in public[0]
    assert staff_api.get(f"{base}/reviews").json()["results"][0]["private_comment"] == "Check the team size."

    decided = staff_api.post(
        f"{base}/decision",
        {"decision": "approve", "reason": "Strong need.", "awarded_gpu_hours": {"A100": 1500}},
        format="json",
    )
    assert decided.status_code == 200, decided.json()
    assert decided.json()["state"] == "approved"
    allocations = owner_api.get("/api/v1/allocations").json()["results"]
    assert len(allocations) == 1
    assert allocations[0]["gpu_types"] == [
        {
            "gpu_type": "A100",
            "awarded_gpu_hours": 1500.0,
            "used_gpu_hours": 0.0,
            "held_gpu_hours": 0.0,
            "remaining_gpu_hours": 1500.0,
        }
    ]


def test_it_refuses_decisions_from_non_staff(client_for, owner, organisation, call, staff, reviewer):
    application = builders.ready_for_decision(owner, organisation, call, staff, reviewer)
    for user in (owner, reviewer):
        response = client_for(user).post(
            f"/api/v1/applications/{application.public_id}/decision",
            {"decision": "approve", "reason": "me"},
            format="json",
        )
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    application.refresh_from_db()
    assert application.state == "under_review"


def test_it_reports_an_over_award_as_409_with_fields(client_for, owner, organisation, staff, reviewer):
    call = builders.make_call(staff, pools={"A100": (1000, 1000)})
    application = builders.ready_for_decision(
        owner, organisation, call, staff, reviewer, gpu_requests={"A100": 800}
    )
    call.pools.filter(gpu_type="A100").update(awarded_gpu_hours=500)
    response = client_for(staff).post(
        f"/api/v1/applications/{application.public_id}/decision",
        {"decision": "approve", "reason": "ok"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "pool_exhausted"
    assert "awarded_gpu_hours" in response.json()["extra"]["fields"]
