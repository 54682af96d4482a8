"""JSON bodies nested too deeply are refused before they are parsed: a 400 in the envelope, never a 500.

Python's json module recurses once per level, so a body of 1,000 `[` (1 KB) raised RecursionError.
The limit is checked on the raw text before json parses it, on every API endpoint (the one parser in
REST_FRAMEWORK), on the node agents' usage endpoint, and in the portal's job form (its JSON command).
"""

import json

import pytest
from django.test import Client
from django.urls import URLPattern

from portal.accounts.services import api_key_create
from portal.api.urls import urlpatterns
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.node_keys import node_key_create
from tests import builders

pytestmark = pytest.mark.django_db

MAX_JSON_DEPTH = 32  # as documented in docs/api.md

DEEP = {
    "1,000 [": "[" * 1000,
    "100,000 [": "[" * 100_000,
    '1,000 {"a":': '{"a":' * 1000,
    '100,000 {"a":': '{"a":' * 100_000,
    "1,000 levels, closed": "[" * 1000 + "]" * 1000,
    "in a field": '{"name": ' + "[" * 5000 + "]" * 5000 + "}",
}


def too_deep(response) -> bool:
    return (
        response.status_code == 400
        and response["Content-Type"] == "application/json"
        and response.json()["code"] == "json_too_deep"
        and str(MAX_JSON_DEPTH) in response.json()["message"]
    )


@pytest.fixture
def user_key(owner):
    return api_key_create(user=owner)[1]


@pytest.mark.parametrize("body", sorted(DEEP))
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/organisations"),
        ("post", "/api/v1/jobs"),
        ("post", "/api/v1/api-keys"),
        ("patch", "/api/v1/applications/{draft}"),
    ],
)
def test_it_refuses_deep_json_on_user_endpoints(user_key, owner, organisation, call, method, path, body):
    draft = builders.make_application(owner, organisation, call)
    response = getattr(Client(raise_request_exception=False), method)(
        path.format(draft=draft.public_id),
        DEEP[body],
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {user_key}",
    )
    assert too_deep(response), (response.status_code, response.content[:200])


@pytest.mark.parametrize("body", sorted(DEEP))
def test_it_refuses_deep_json_from_node_agents(body):
    _, key = node_key_create(node="node-a")
    response = Client(raise_request_exception=False).post(
        "/api/v1/usage", DEEP[body], content_type="application/json", HTTP_AUTHORIZATION=f"Node {key}"
    )
    assert too_deep(response), (response.status_code, response.content[:200])


def test_it_refuses_deep_json_in_korean_too(user_key):
    response = Client().post(
        "/api/v1/organisations",
        DEEP["1,000 ["],
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {user_key}",
        HTTP_ACCEPT_LANGUAGE="ko",
    )
    assert response.json()["code"] == "json_too_deep" and response.json()["message"].isascii() is False


def test_the_limit_is_exactly_the_documented_depth(user_key):
    def nested(depth: int) -> str:
        # {"name": [[…]]}: the outer object is one level
        return '{"name": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    at_limit = Client().post(
        "/api/v1/organisations",
        nested(MAX_JSON_DEPTH),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {user_key}",
    )
    assert at_limit.status_code == 400 and at_limit.json()["code"] == "invalid"  # parsed; name is no list
    assert "name" in at_limit.json()["extra"]["fields"]
    over = Client().post(
        "/api/v1/organisations",
        nested(MAX_JSON_DEPTH + 1),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {user_key}",
    )
    assert too_deep(over)


def test_ordinary_nested_payloads_still_work(client_for, owner, allocation, staff, backend):
    """Brackets inside strings are text, not nesting; a job's environment and a call's pools parse."""
    inventory_sync(backend=backend)
    brackets = "[" * 3000 + '\\"{' * 300
    body = {
        "allocation": str(allocation.public_id),
        "name": "brackets",
        "kind": "training",
        "image": "python:3.11",
        "command": ["python", "-c", "print('[[[')"],
        "environment": {"BRACKETS": json.loads(f'"{brackets}"')},
        "gpu_type": "A100",
        "gpus_per_pod": 1,
        "max_runtime_minutes": 10,
    }
    response = client_for(owner).post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.json()
    assert Job.objects.get(name="brackets").environment["BRACKETS"].startswith("[[[")
    call = {
        "title": "Nested pools",
        "opens_at": "2027-01-01T00:00:00Z",
        "closes_at": "2027-02-01T00:00:00Z",
        "eligible_org_types": ["sme"],
        "allocation_start": "2027-03-01",
        "allocation_end": "2027-12-31",
        "pools": [{"gpu_type": "A100", "total_gpu_hours": 10, "max_gpu_hours_per_application": 10}],
    }
    assert client_for(staff).post("/api/v1/calls", call, format="json").status_code == 201


def test_a_body_too_large_is_refused_before_its_depth_is_looked_at(user_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = Client().post(
        "/api/v1/organisations",
        "[" * 20_000,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {user_key}",
    )
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"


def test_every_api_view_parses_json_through_the_limited_parser():
    from portal.api.parsers import DepthLimitedJSONParser
    from portal.jsonlimits import MAX_JSON_DEPTH as configured

    assert configured == MAX_JSON_DEPTH

    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.cls
        assert view.parser_classes, view
        assert all(issubclass(parser, DepthLimitedJSONParser) for parser in view.parser_classes), view


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('"[[[["', 0),
        ('["\\"[[[", [[]]]', 3),
        ('"\\\\"[[', 2),  # an escaped backslash ends the string; the brackets after it count
        ('"unterminated [[[', 3),  # malformed; counted, then json refuses it anyway
    ],
)
def test_json_depth(text, depth):
    from portal.jsonlimits import json_depth

    assert json_depth(text) == depth


def test_the_portal_job_form_refuses_a_deep_json_command(owner, allocation):
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    page = client.post(
        "/jobs/new/",
        {
            "allocation": str(allocation.public_id),
            "name": "deep",
            "kind": "training",
            "image": "python:3.11",
            "command": "[" * 5000,
            "gpu_type": "A100",
            "gpus_per_pod": "1",
            "pods": "1",
            "max_runtime_minutes": "10",
            "priority": "normal",
        },
    )
    assert page.status_code == 200
    errors = page.context["form"].errors["command"]
    assert errors == [f"The JSON is nested too deeply: at most {MAX_JSON_DEPTH} levels."]
    assert not Job.objects.filter(name="deep").exists()


def test_the_portal_refuses_a_form_too_large_with_400(owner, allocation, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    response = client.post("/jobs/new/", {"allocation": str(allocation.public_id), "command": "x" * 20_000})
    assert response.status_code == 400
    assert not Job.objects.exists()


def test_a_malformed_job_submission_is_reported_as_such(user_key):
    """The per-organisation throttle reads the body first; its parse error must reach the caller (DRF
    keeps an empty body after a failed parse, so the view used to answer with "required" fields)."""
    for text, code in (("{not json", "parse_error"), ("[" * 1000, "json_too_deep")):
        response = Client().post(
            "/api/v1/jobs", text, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {user_key}"
        )
        assert response.status_code == 400 and response.json()["code"] == code
        assert response.json()["extra"]["fields"] == {}


def test_the_admin_refuses_deep_json_in_a_json_field(staff, call):
    """The Django admin edits a call's eligible_org_types as JSON text: staff, but still no 500."""
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    url = f"/admin/calls/call/{call.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    data = {
        key: value
        for key, value in page.context["adminform"].form.initial.items()
        # lists and dicts are JSON fields' (not the form's text); None is an empty optional field
        if not isinstance(value, list | dict) and value is not None
    }
    response = client.post(url, {**data, "eligible_org_types": "[" * 5000})
    assert response.status_code == 200, response.status_code
    errors = response.context["adminform"].form.errors["eligible_org_types"]
    assert errors == [f"The JSON is nested too deeply: at most {MAX_JSON_DEPTH} levels."]


def test_every_admin_json_field_is_depth_limited(rf, staff):
    from django import forms
    from django.contrib import admin

    from portal.jsonlimits import DepthLimitedJSONFormField

    staff.is_superuser = True
    request = rf.get("/admin/")
    request.user = staff
    for model, model_admin in admin.site._registry.items():
        if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
            continue  # read-only in the admin: nothing is ever parsed from a form
        form = model_admin.get_form(request)
        for name, field in form.base_fields.items():
            if isinstance(field, forms.JSONField):
                assert isinstance(field, DepthLimitedJSONFormField), (model, name)
