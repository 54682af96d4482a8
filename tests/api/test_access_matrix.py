"""Every API endpoint × every kind of caller → the expected status.

The table is checked against portal.api.urls, so a new endpoint without a row fails the suite. Callers:
"anonymous"; "owner", "manager" and "member" of the organisation that owns the objects; "outsider", a
member of another organisation; "reviewer", assigned to the application under review; "staff",
programme staff with no membership; "node", a node agent's credential (``Authorization: Node ggnode_…``).
Users authenticate with their own API key. For list endpoints the row also names an object that only
some callers may see in the answer.
"""

from datetime import timedelta

import pytest
from django.urls import URLPattern
from rest_framework.test import APIClient

from portal.api.urls import urlpatterns

ROLES = ("anonymous", "owner", "manager", "member", "outsider", "reviewer", "staff", "node")


def expect(anonymous, owner, manager, member, outsider, reviewer, staff, node) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, owner, manager, member, outsider, reviewer, staff, node), strict=True))


# Shapes most rows share.
ANY_USER = expect(401, 200, 200, 200, 200, 200, 200, 401)
ORGANISATION_AND_STAFF = expect(401, 200, 200, 200, 404, 404, 200, 401)
STAFF_ONLY_WRITE = expect(401, 403, 403, 403, 403, 403, 200, 401)
REVIEWER_ONLY = expect(401, 403, 403, 403, 403, 200, 403, 401)
NODE_ONLY = expect(401, 401, 401, 401, 401, 401, 401, 200)
OWNER_AND_MANAGER_WRITE = expect(401, 200, 200, 403, 404, 404, 403, 401)


def _call_body(w):
    call = w["call"]
    return {
        "title": "Edited",
        "opens_at": call.opens_at.isoformat(),
        "closes_at": call.closes_at.isoformat(),
        "eligible_org_types": ["sme"],
        "allocation_start": str(call.allocation_start),
        "allocation_end": str(call.allocation_end),
        "pools": [],
    }


def _session(w):
    """A session the owner launched on the world's allocation (made once per world)."""
    if "session" not in w:
        from portal.environments.models import Environment
        from scheduler.sessions import session_launch

        Environment.objects.create(
            name="jupyter-matrix", display_name="JupyterLab", image="jupyter/lab:4", cuda_version="12.4",
            for_training=False, for_sessions=True,
        )  # fmt: skip
        w["session"] = session_launch(
            user=w["users"]["owner"], allocation=w["allocation"], environment_name="jupyter-matrix",
            gpu_type="A100", gpus=1, time_limit_minutes=60,
        )  # fmt: skip
    return w["session"]


def _job_body(w):
    return {
        "allocation": str(w["allocation"].public_id),
        "name": "matrix submit",
        "kind": "training",
        "image": "python:3.11",
        "command": ["python", "-c", "print(1)"],
        "gpu_type": "A100",
        "gpus_per_pod": 1,
        "max_runtime_minutes": 10,
    }


# name → (method, path builder, body builder or None, expected status by role, object a list must not leak)
MATRIX = {
    "me": ("get", lambda w: "/api/v1/me", None, ANY_USER, None),
    "api_keys": ("get", lambda w: "/api/v1/api-keys", None, ANY_USER, "member_key"),
    "api_key_revoke": (
        "post",
        lambda w: f"/api/v1/api-keys/{w['member_key'].public_id}/revoke",
        None,
        # Only the key's own user; staff revoke keys in /admin/, never by API through someone's id.
        expect(401, 200, 404, 404, 404, 404, 404, 401),
        None,
    ),
    "audit_events": (
        "get",
        lambda w: f"/api/v1/audit-events?target_type=application&target_id={w['application'].public_id}",
        None,
        expect(401, 403, 403, 403, 403, 403, 200, 401),
        None,
    ),
    "organisations": ("get", lambda w: "/api/v1/organisations", None, ANY_USER, "organisation"),
    "organisation": (
        "get",
        lambda w: f"/api/v1/organisations/{w['organisation'].public_id}",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    "organisation_verify": (
        "post",
        lambda w: f"/api/v1/organisations/{w['organisation'].public_id}/verify",
        lambda w: {"verified": False, "reason": "registration lapsed"},
        STAFF_ONLY_WRITE,
        None,
    ),
    "organisation_members": (
        "post",
        lambda w: f"/api/v1/organisations/{w['organisation'].public_id}/members",
        lambda w: {"email": w["reviewer2"].email},
        # 202: an invitation is sent, the same answer whether or not an account uses the address
        expect(401, 202, 202, 403, 404, 404, 403, 401),
        None,
    ),
    "calls": (
        "post",
        lambda w: "/api/v1/calls",
        _call_body,
        expect(401, 403, 403, 403, 403, 403, 400, 401),
        None,
    ),
    "call": (
        "put",
        lambda w: f"/api/v1/calls/{w['call'].public_id}",
        _call_body,
        expect(401, 403, 403, 403, 403, 403, 400, 401),
        None,
    ),
    "call_ranking": (
        "get",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/ranking",
        None,
        STAFF_ONLY_WRITE,
        None,
    ),
    "call_criteria": (
        "put",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/criteria",
        lambda w: {"weights": {"impact": 2}},
        STAFF_ONLY_WRITE,
        None,
    ),
    "call_levers": (
        "put",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/levers",
        lambda w: {"regional_share": 0.1},
        STAFF_ONLY_WRITE,
        None,
    ),
    "call_tracks": (
        "put",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/tracks",
        lambda w: {
            "tracks": [
                {
                    "code": "s",
                    "name": "Small",
                    "min_gpus": 1,
                    "max_gpus": 4,
                    "max_days": 90,
                    "pools": {"A100": 100},
                }
            ]
        },
        STAFF_ONLY_WRITE,
        None,
    ),
    # the world's call has no round (tests/rounds/test_round_api.py has one): staff pass, and find none
    "call_round": (
        "get",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/round",
        None,
        expect(401, 403, 403, 403, 403, 403, 404, 401),
        None,
    ),
    "call_round_proposal": (
        "post",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/round/proposal",
        None,
        expect(401, 403, 403, 403, 403, 403, 409, 401),
        None,
    ),
    "call_round_line": (
        "patch",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/round/lines/{w['application'].public_id}",
        lambda w: {"decision": "award", "gpu_hours": 10, "reason": "x"},
        expect(401, 403, 403, 403, 403, 403, 404, 401),
        None,
    ),
    "call_round_approval": (
        "post",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/round/approval",
        None,
        expect(401, 403, 403, 403, 403, 403, 409, 401),
        None,
    ),
    "call_statistics": (
        "get",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/statistics",
        None,
        STAFF_ONLY_WRITE,
        None,
    ),
    # Anonymised aggregates for anyone, signed in or not (a node key is no user's credential: anonymous).
    "call_public_statistics": (
        "get",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/statistics/public",
        None,
        expect(200, 200, 200, 200, 200, 200, 200, 200),
        None,
    ),
    "applications": ("get", lambda w: "/api/v1/applications", None, ANY_USER, "application"),
    "application": (
        "patch",
        lambda w: f"/api/v1/applications/{w['application'].public_id}",
        lambda w: {"project_title": "Hijacked"},
        expect(401, 409, 409, 409, 404, 403, 403, 401),
        None,
    ),
    "application_submit": (
        "post",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/submit",
        None,
        expect(401, 409, 409, 409, 404, 403, 403, 401),
        None,
    ),
    "application_withdraw": (
        "post",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/withdraw",
        lambda w: {"reason": "x"},
        expect(401, 200, 200, 200, 404, 403, 403, 401),
        None,
    ),
    "application_assign": (
        "post",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/assign",
        lambda w: {"reviewers": [w["reviewer2"].email]},
        expect(401, 403, 403, 403, 403, 403, 201, 401),
        None,
    ),
    "application_decision": (
        "post",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/decision",
        lambda w: {"decision": "reject", "reason": "Out of scope"},
        STAFF_ONLY_WRITE,
        None,
    ),
    "application_reviews": (
        "get",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/reviews",
        None,
        expect(401, 200, 200, 200, 404, 200, 200, 401),
        None,
    ),
    "reviews": ("get", lambda w: "/api/v1/reviews", None, REVIEWER_ONLY, "review"),
    "review": ("get", lambda w: f"/api/v1/reviews/{w['review'].public_id}", None, REVIEWER_ONLY, None),
    "review_submit": (
        "post",
        lambda w: f"/api/v1/reviews/{w['review'].public_id}/submit",
        lambda w: {"technical_merit": 3, "feasibility": 3, "impact": 3, "need_for_public_compute": 3},
        REVIEWER_ONLY,
        None,
    ),
    "allocations": ("get", lambda w: "/api/v1/allocations", None, ANY_USER, "allocation"),
    # the world's allocation was approved on its own, with no agreement (tests/rounds/test_round_api.py)
    "allocation_agreement": (
        "get",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/agreement",
        None,
        expect(401, 404, 404, 404, 404, 404, 404, 401),
        None,
    ),
    "allocation_agreement_acceptance": (
        "post",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/agreement/acceptance",
        lambda w: {"terms_version": "1"},
        expect(401, 404, 404, 404, 404, 404, 404, 401),
        None,
    ),
    "allocation": (
        "get",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    "allocation_status": (
        "post",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/status",
        lambda w: {"status": "suspended", "reason": "audit"},
        STAFF_ONLY_WRITE,
        None,
    ),
    "allocation_session_settings": (
        "put",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/session-settings",
        lambda w: {"gpu_cap": 2, "idle_minutes": 60, "managers_may_enter": True},
        STAFF_ONLY_WRITE,
        None,
    ),
    "allocation_change_request": (
        "post",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/change-requests",
        lambda w: {
            "requested_end": str(w["allocation"].ends_on + timedelta(days=10)),
            "max_concurrent_gpus": 8,
            "justification": "More time",
            "gpu_requests": {"A100": 100},
        },
        expect(401, 201, 201, 201, 404, 404, 403, 401),
        None,
    ),
    "allocation_stages": (
        "get",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/stages",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    # The organisation's owner or a manager; members and staff see the award but may not report.
    "stage_report": (
        "post",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/stage-report",
        lambda w: {"number": 2, "report": "The first model is trained."},
        OWNER_AND_MANAGER_WRITE,
        None,
    ),
    "stage_evaluation": (
        "post",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/stage-evaluation",
        lambda w: {"number": 3, "decision": "release", "evaluation": "Good progress."},
        STAFF_ONLY_WRITE,
        None,
    ),
    "allocation_usage_checks": (
        "get",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/usage-checks",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    "allocation_outcomes": (
        "get",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/outcomes",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    "allocation_misuse_reports": (
        "get",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/misuse-reports",
        None,
        STAFF_ONLY_WRITE,
        None,
    ),
    "reclaims": ("get", lambda w: "/api/v1/reclaims", None, STAFF_ONLY_WRITE, "reclaim"),
    "reclaim_decision": (
        "post",
        lambda w: f"/api/v1/reclaims/{w['reclaim'].public_id}/decision",
        lambda w: {"decision": "dismiss", "reason": "The cluster was down."},
        STAFF_ONLY_WRITE,
        None,
    ),
    "call_outcomes": (
        "get",
        lambda w: f"/api/v1/calls/{w['call'].public_id}/outcomes?export=xlsx",
        None,
        STAFF_ONLY_WRITE,
        None,
    ),
    "outcomes": ("get", lambda w: "/api/v1/outcomes?export=csv", None, STAFF_ONLY_WRITE, None),
    "environments": ("get", lambda w: "/api/v1/environments", None, ANY_USER, None),
    "providers": ("get", lambda w: "/api/v1/providers", None, ANY_USER, None),
    "settlement": (
        "get",
        lambda w: "/api/v1/settlement?from=2026-01&to=2026-01",
        None,
        STAFF_ONLY_WRITE,
        None,
    ),
    "jobs": ("get", lambda w: "/api/v1/jobs", None, ANY_USER, "job"),
    "sessions": ("get", lambda w: _session(w) and "/api/v1/sessions", None, ANY_USER, "session"),
    "session": (
        "get",
        lambda w: f"/api/v1/sessions/{_session(w).public_id}",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    # its owner (who launched it), the organisation's managers and staff stop it; other members may not
    "session_stop": (
        "post",
        lambda w: f"/api/v1/sessions/{_session(w).public_id}/stop",
        None,
        expect(401, 200, 200, 403, 404, 404, 200, 401),
        None,
    ),
    "job": ("get", lambda w: f"/api/v1/jobs/{w['job'].public_id}", None, ORGANISATION_AND_STAFF, None),
    "job_events": (
        "get",
        lambda w: f"/api/v1/jobs/{w['job'].public_id}/events",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    "job_logs": (
        "get",
        lambda w: f"/api/v1/jobs/{w['job'].public_id}/logs",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    "job_cancel": (
        "post",
        lambda w: f"/api/v1/jobs/{w['job'].public_id}/cancel",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    "job_usage": (
        "get",
        lambda w: f"/api/v1/jobs/{w['job'].public_id}/usage",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    "allocation_usage": (
        "get",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/usage",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    "organisation_usage": (
        "get",
        lambda w: f"/api/v1/organisations/{w['organisation'].public_id}/usage",
        None,
        ORGANISATION_AND_STAFF,
        None,
    ),
    # Node-agent endpoints take only node keys. An empty batch is refused (400) once the node is let in.
    "usage": (
        "post",
        lambda w: "/api/v1/usage",
        lambda w: {"records": []},
        expect(401, 401, 401, 401, 401, 401, 401, 400),
        None,
    ),
    "node_jobs": ("get", lambda w: "/api/v1/node/jobs", None, NODE_ONLY, None),
}

# Who may see the object a list endpoint must not leak, by role.
LIST_VISIBILITY = {
    "api_keys": ("owner",),
    "organisations": ("owner", "manager", "member", "staff"),
    "applications": ("owner", "manager", "member", "reviewer", "staff"),
    "reviews": ("reviewer",),
    "allocations": ("owner", "manager", "member", "staff"),
    "jobs": ("owner", "manager", "member", "staff"),
    "sessions": ("owner", "manager", "member", "staff"),
    "reclaims": ("staff",),
}

# Writes a role may make; job submission is a write of its own (POST /jobs), checked here per role.
SUBMIT = expect(401, 201, 201, 201, 400, 400, 400, 401)


def _client(client_for, world, role) -> APIClient:
    if role == "node":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Node {world['node_key']}")
        return client
    return client_for(world["users"].get(role))


def test_it_covers_every_named_api_route():
    names = {p.name for p in urlpatterns if isinstance(p, URLPattern) and p.name}
    assert names == set(MATRIX), f"routes without access rows: {sorted(names - set(MATRIX))}"
    unnamed = [str(p.pattern) for p in urlpatterns if not p.name]
    assert all(route.endswith("/") for route in unnamed), "only trailing-slash twins may be unnamed"


def test_it_names_every_role_in_every_row():
    assert all(set(row[3]) == set(ROLES) for row in MATRIX.values())


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_it_gives_each_role_exactly_what_it_should(client_for, api_world, name, role):
    method, path_of, body_of, expected, leak_key = MATRIX[name]
    body = body_of(api_world) if body_of else None
    response = getattr(_client(client_for, api_world, role), method)(path_of(api_world), body, format="json")
    assert response.status_code == expected[role], (name, role, response.content[:300])
    if expected[role] >= 400:
        assert set(response.json()) == {"message", "code", "extra"}
    if leak_key and response.status_code == 200:
        visible = str(api_world[leak_key].public_id) in response.content.decode()
        assert visible == (role in LIST_VISIBILITY[name]), (name, role)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_it_lets_only_the_organisation_submit_jobs_against_its_allocation(client_for, api_world, role):
    response = _client(client_for, api_world, role).post("/api/v1/jobs", _job_body(api_world), format="json")
    assert response.status_code == SUBMIT[role], response.content[:300]
    if response.status_code == 400:
        assert response.json()["extra"]["fields"] == {"allocation": ["No such allocation among yours."]}
