"""No cross-organisation read through the side doors: filters, ordering and expansion parameters,
CSV exports, job logs and events, usage reports, and ids guessed in sequence.

The access matrix (test_access_matrix.py) checks each endpoint's front door; these tests try the
parameters an endpoint takes on top. The outsider belongs to another organisation and names the
owner's objects; every answer must be empty or 404, never the owner's data.
"""

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from portal.accounts.models import ApiKey, User
from portal.applications.models import Application, Review
from portal.calls.models import Call
from portal.organisations.models import Organisation
from quotas.models import Allocation
from scheduler.models import Job

pytestmark = pytest.mark.django_db

# The query parameters a list takes that name another object, and parameters clients try for
# ordering and expansion (which no endpoint offers: they must change nothing).
FILTERS = {
    "/api/v1/jobs": {"allocation": "allocation"},
    "/api/v1/applications": {"organisation": "organisation", "call": "call"},
}
SIDE_PARAMETERS = [
    "ordering=-id",
    "ordering=organisation",
    "o=-created_at",
    "sort=id",
    "expand=organisation",
    "include=allocation,organisation",
    "fields=*",
    "organisation__in={organisation}",
    "organisation_id={organisation_pk}",
    "allocation_id={allocation_pk}",
    "user={owner}",
    "all=1",
    "staff=true",
]
LISTS = [
    "/api/v1/jobs",
    "/api/v1/applications",
    "/api/v1/allocations",
    "/api/v1/organisations",
    "/api/v1/api-keys",
]


def _secrets(world) -> list[str]:
    """Strings that appear only in the owner's organisation's data."""
    return [
        str(world["organisation"].public_id),
        str(world["allocation"].public_id),
        str(world["job"].public_id),
        str(world["application"].public_id),
        str(world["member_key"].public_id),
        "matrix job",
        "Pending one",
    ]


def _leaks(response, world) -> list[str]:
    text = response.content.decode()
    return [secret for secret in _secrets(world) if secret in text]


@pytest.mark.parametrize("path", sorted(FILTERS))
def test_it_filters_only_within_what_the_caller_may_see(client_for, api_world, path):
    outsider = client_for(api_world["users"]["outsider"])
    for parameter, key in FILTERS[path].items():
        response = outsider.get(f"{path}?{parameter}={api_world[key].public_id}")
        assert response.status_code == 200
        assert response.json()["count"] == 0, (path, parameter)
        assert _leaks(response, api_world) == []


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("parameter", SIDE_PARAMETERS)
def test_it_lets_no_ordering_or_expansion_parameter_widen_a_list(client_for, api_world, path, parameter):
    world = api_world
    query = parameter.format(
        organisation=world["organisation"].public_id,
        organisation_pk=world["organisation"].pk,
        allocation_pk=world["allocation"].pk,
        owner=world["users"]["owner"].public_id,
    )
    response = client_for(world["users"]["outsider"]).get(f"{path}?{query}")
    assert response.status_code in (200, 400)
    assert _leaks(response, world) == [], (path, query)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/jobs/{job}/usage?export=csv",
        "/api/v1/allocations/{allocation}/usage?export=csv",
        "/api/v1/organisations/{organisation}/usage?export=csv",
        "/api/v1/jobs/{job}/logs?limit_bytes=10",
        "/api/v1/jobs/{job}/events?page_size=200",
    ],
)
def test_it_refuses_another_organisations_exports_logs_and_events(client_for, api_world, path):
    world = api_world
    url = path.format(
        job=world["job"].public_id,
        allocation=world["allocation"].public_id,
        organisation=world["organisation"].public_id,
    )
    for role in ("outsider", "reviewer"):
        response = client_for(world["users"][role]).get(url)
        assert response.status_code == 404, (role, url)
        assert response["Content-Type"] == "application/json"
    assert client_for(world["users"]["member"]).get(url).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["organisations/{organisation}/usage.csv", "allocations/{allocation}/usage.csv", "jobs/{job}/usage.csv"],
)
def test_it_refuses_another_organisations_csv_pages(client, api_world, path):
    world = api_world
    url = "/" + path.format(
        job=world["job"].public_id,
        allocation=world["allocation"].public_id,
        organisation=world["organisation"].public_id,
    )
    client.force_login(world["users"]["outsider"])
    assert client.get(url).status_code == 404
    client.force_login(world["users"]["member"])
    assert client.get(url).status_code == 200


def test_it_names_objects_in_urls_by_uuid_only():
    """No URL of the API or the portal takes an integer or free-text object id (the admin aside)."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith("admin/"):
                continue
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                yield route, pattern.pattern.converters

    routes = list(walk(get_resolver().url_patterns))
    assert len(routes) > 50
    for route, converters in routes:
        names = {type(converter).__name__ for converter in converters.values()}
        # SecretTokenConverter: an emailed link's secret (sign-up, invitation, password reset), no id.
        assert names <= {"UUIDConverter", "SecretTokenConverter"}, route


@pytest.mark.parametrize(
    "collection",
    ["jobs", "allocations", "applications", "organisations", "reviews", "calls"],
)
def test_it_answers_sequential_ids_with_not_found(client_for, api_world, collection):
    staff = client_for(api_world["users"]["staff"])  # staff may see everything: only the id form matters
    for guess in (1, 2, 3, 10, 100):
        response = staff.get(f"/api/v1/{collection}/{guess}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_it_never_shows_a_database_id_in_api_answers(client_for, api_world):
    """Integer primary keys stay inside: every id an answer carries is a UUID."""
    models = [Job, Allocation, Application, Organisation, Review, Call, ApiKey, User]
    staff = client_for(api_world["users"]["staff"])
    paths = [
        "/api/v1/me",
        *LISTS,
        "/api/v1/calls",
        f"/api/v1/jobs/{api_world['job'].public_id}",
        f"/api/v1/jobs/{api_world['job'].public_id}/events",
        f"/api/v1/applications/{api_world['application'].public_id}/reviews",
        f"/api/v1/organisations/{api_world['organisation'].public_id}",
    ]
    seen = 0
    for path in paths:
        body = staff.get(path).json()
        for key, value in _items(body):
            if key == "id" or key.endswith("_id"):
                assert isinstance(value, str) and len(value) == 36, (path, key, value)
                seen += 1
    assert seen > 10
    assert all(model.objects.exists() for model in models)


def _items(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(inner, dict | list):
                yield key, inner
            yield from _items(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _items(inner)


def test_it_keeps_another_organisations_job_out_of_a_node_that_did_not_run_it(api_world):
    """A node key reads only the jobs placed on its own node."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {api_world['node_key']}")
    Job.objects.filter(pk=api_world["job"].pk).update(placement=[{"node": "some-other-node", "gpus": [0]}])
    body = client.get("/api/v1/node/jobs").json()
    assert body == {"jobs": []}
    assert str(api_world["job"].public_id) not in json.dumps(body)
