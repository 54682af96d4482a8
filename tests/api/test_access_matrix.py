"""Every API endpoint × {anonymous, member, outsider, reviewer, staff} → the expected status.

The table is checked against portal.api.urls, so a new endpoint without a row fails the suite.
"member" owns the organisation; "outsider" belongs to another organisation; "reviewer" is assigned
to the application under review; "staff" is programme staff with no membership.
"""

from datetime import timedelta

import pytest
from django.urls import URLPattern

from portal.accounts.services import api_key_create
from portal.api.urls import urlpatterns
from portal.applications import services as application_services
from portal.applications.models import Review
from quotas.models import Allocation
from scheduler.inventory import inventory_sync
from scheduler.services import job_submit
from tests import builders
from tests.scheduler.fakes import ScriptedBackend

ROLES = ("anonymous", "member", "outsider", "reviewer", "staff")


@pytest.fixture
def world(owner, teammate, organisation, other_organisation, outsider, call, staff, reviewer, reviewer2):
    approved = builders.ready_for_decision(
        owner, organisation, call, staff, reviewer2, project_title="Approved one"
    )
    application_services.application_decide(
        application=approved, staff=staff, decision="approve", reason="ok"
    )
    allocation = Allocation.objects.get(application=approved)
    under_review = builders.under_review(
        builders.submitted(
            builders.make_application(owner, organisation, call, project_title="Pending one"), owner
        ),
        staff,
        reviewer,
    )
    member_key, _ = api_key_create(user=owner, name="member key")
    inventory_sync(backend=ScriptedBackend())
    job = job_submit(
        user=owner,
        allocation=allocation,
        name="matrix job",
        kind="training",
        image="python:3.11",
        command=["python", "-c", "print(1)"],
        gpu_type="A100",
        gpus_per_pod=1,
        max_runtime_minutes=10,
    )
    return {
        "organisation": organisation,
        "call": call,
        "allocation": allocation,
        "application": under_review,
        "review": Review.objects.get(application=under_review, reviewer=reviewer),
        "member_key": member_key,
        "job": job,
        "users": {"member": owner, "outsider": outsider, "reviewer": reviewer, "staff": staff},
        "reviewer2": reviewer2,
    }


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


# name → (method, path builder, body builder or None, expected statuses by role, id that must not leak)
MATRIX = {
    "me": ("get", lambda w: "/api/v1/me", None, (401, 200, 200, 200, 200), None),
    "api_keys": ("get", lambda w: "/api/v1/api-keys", None, (401, 200, 200, 200, 200), "member_key"),
    "api_key_revoke": (
        "post",
        lambda w: f"/api/v1/api-keys/{w['member_key'].public_id}/revoke",
        None,
        (401, 200, 404, 404, 404),
        None,
    ),
    "audit_events": (
        "get",
        lambda w: f"/api/v1/audit-events?target_type=application&target_id={w['application'].public_id}",
        None,
        (401, 403, 403, 403, 200),
        None,
    ),
    "organisations": (
        "get",
        lambda w: "/api/v1/organisations",
        None,
        (401, 200, 200, 200, 200),
        "organisation",
    ),
    "organisation": (
        "get",
        lambda w: f"/api/v1/organisations/{w['organisation'].public_id}",
        None,
        (401, 200, 404, 404, 200),
        None,
    ),
    "organisation_verify": (
        "post",
        lambda w: f"/api/v1/organisations/{w['organisation'].public_id}/verify",
        lambda w: {"verified": False, "reason": "registration lapsed"},
        (401, 403, 403, 403, 200),
        None,
    ),
    "organisation_members": (
        "post",
        lambda w: f"/api/v1/organisations/{w['organisation'].public_id}/members",
        lambda w: {"email": w["reviewer2"].email},
        (401, 201, 404, 404, 403),
        None,
    ),
    "calls": ("post", lambda w: "/api/v1/calls", _call_body, (401, 403, 403, 403, 400), None),
    "call": (
        "put",
        lambda w: f"/api/v1/calls/{w['call'].public_id}",
        _call_body,
        (401, 403, 403, 403, 400),
        None,
    ),
    "applications": ("get", lambda w: "/api/v1/applications", None, (401, 200, 200, 200, 200), "application"),
    "application": (
        "patch",
        lambda w: f"/api/v1/applications/{w['application'].public_id}",
        lambda w: {"project_title": "Hijacked"},
        (401, 409, 404, 403, 403),
        None,
    ),
    "application_submit": (
        "post",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/submit",
        None,
        (401, 409, 404, 403, 403),
        None,
    ),
    "application_withdraw": (
        "post",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/withdraw",
        lambda w: {"reason": "x"},
        (401, 200, 404, 403, 403),
        None,
    ),
    "application_assign": (
        "post",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/assign",
        lambda w: {"reviewers": [w["reviewer2"].email]},
        (401, 403, 403, 403, 201),
        None,
    ),
    "application_decision": (
        "post",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/decision",
        lambda w: {"decision": "reject", "reason": "Out of scope"},
        (401, 403, 403, 403, 200),
        None,
    ),
    "application_reviews": (
        "get",
        lambda w: f"/api/v1/applications/{w['application'].public_id}/reviews",
        None,
        (401, 200, 404, 200, 200),
        None,
    ),
    "reviews": ("get", lambda w: "/api/v1/reviews", None, (401, 403, 403, 200, 403), "review"),
    "review": (
        "get",
        lambda w: f"/api/v1/reviews/{w['review'].public_id}",
        None,
        (401, 403, 403, 200, 403),
        None,
    ),
    "review_submit": (
        "post",
        lambda w: f"/api/v1/reviews/{w['review'].public_id}/submit",
        lambda w: {"technical_merit": 3, "feasibility": 3, "impact": 3, "need_for_public_compute": 3},
        (401, 403, 403, 200, 403),
        None,
    ),
    "allocations": ("get", lambda w: "/api/v1/allocations", None, (401, 200, 200, 200, 200), "allocation"),
    "allocation": (
        "get",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}",
        None,
        (401, 200, 404, 404, 200),
        None,
    ),
    "allocation_status": (
        "post",
        lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/status",
        lambda w: {"status": "suspended", "reason": "audit"},
        (401, 403, 403, 403, 200),
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
        (401, 201, 404, 404, 403),
        None,
    ),
    "jobs": ("get", lambda w: "/api/v1/jobs", None, (401, 200, 200, 200, 200), "job"),
    "job": ("get", lambda w: f"/api/v1/jobs/{w['job'].public_id}", None, (401, 200, 404, 404, 200), None),
    "job_events": (
        "get",
        lambda w: f"/api/v1/jobs/{w['job'].public_id}/events",
        None,
        (401, 200, 404, 404, 200),
        None,
    ),
    "job_logs": (
        "get",
        lambda w: f"/api/v1/jobs/{w['job'].public_id}/logs",
        None,
        (401, 200, 404, 404, 200),
        None,
    ),
    "job_cancel": (
        "post",
        lambda w: f"/api/v1/jobs/{w['job'].public_id}/cancel",
        None,
        (401, 200, 404, 404, 200),
        None,
    ),
    "job_usage": ("get", lambda w: f"/api/v1/jobs/{w['job'].public_id}/usage", None, (401, 200, 404, 404, 200), None),
    "allocation_usage": (
        "get", lambda w: f"/api/v1/allocations/{w['allocation'].public_id}/usage", None, (401, 200, 404, 404, 200), None,
    ),
    "organisation_usage": (
        "get", lambda w: f"/api/v1/organisations/{w['organisation'].public_id}/usage", None, (401, 200, 404, 404, 200),
        None,
    ),
    # Node-agent endpoints: a user's API key is not a node key, whoever holds it.
    "usage": ("post", lambda w: "/api/v1/usage", lambda w: {"records": []}, (401, 401, 401, 401, 401), None),
    "node_jobs": ("get", lambda w: "/api/v1/node/jobs", None, (401, 401, 401, 401, 401), None),
}

# Who may see the object a list endpoint must not leak, by role.
LIST_VISIBILITY = {
    "api_keys": ("member",),
    "organisations": ("member", "staff"),
    "applications": ("member", "reviewer", "staff"),
    "reviews": ("reviewer",),
    "allocations": ("member", "staff"),
    "jobs": ("member", "staff"),
}


def test_it_covers_every_named_api_route():
    names = {p.name for p in urlpatterns if isinstance(p, URLPattern) and p.name}
    assert names == set(MATRIX), f"routes without access rows: {sorted(names - set(MATRIX))}"
    unnamed = [str(p.pattern) for p in urlpatterns if not p.name]
    assert all(route.endswith("/") for route in unnamed), "only trailing-slash twins may be unnamed"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_it_gives_each_role_exactly_what_it_should(client_for, world, name, role):
    method, path_of, body_of, expected, leak_key = MATRIX[name]
    client = client_for(world["users"].get(role))
    body = body_of(world) if body_of else None
    response = getattr(client, method)(path_of(world), body, format="json")
    wanted = expected[ROLES.index(role)]
    assert response.status_code == wanted, (name, role, response.content[:300])
    assert set(response.json()) >= {"message", "code", "extra"} if wanted >= 400 else True
    if leak_key and response.status_code == 200:
        visible = str(world[leak_key].public_id) in response.content.decode()
        assert visible == (role in LIST_VISIBILITY[name]), (name, role)
