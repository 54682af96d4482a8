"""Who may open the operations endpoints, in the demo and in production.

Like tests/api/test_access_matrix.py and tests/web/test_url_coverage.py, the table is checked against
portal.ops.urls, so a new endpoint there fails until it has a row. A portal login or API key opens
nothing extra: /metrics is guarded by its own token and networks, the probes by nothing.
"""

import ipaddress

import pytest
from django.urls import URLResolver, get_resolver, reverse

from portal.accounts.services import api_key_create
from portal.ops.urls import urlpatterns
from scheduler.cycle import run_cycle
from scheduler.node_keys import node_key_create
from tests.ops.conftest import scrape

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "member", "staff", "staff_session", "node", "scraper")
TOKEN = "metrics-token-for-tests-0123456789"

# name → (status by role in the demo, status by role in production with a token and networks set).
TABLE = {
    "ops_metrics": (
        dict.fromkeys(ROLES, 200),
        {**dict.fromkeys(ROLES, 403), "scraper": 200},
    ),
    "ops_live": (dict.fromkeys(ROLES, 200), dict.fromkeys(ROLES, 200)),
    "ops_ready": (dict.fromkeys(ROLES, 200), dict.fromkeys(ROLES, 200)),
}


def test_it_lists_every_operations_endpoint():
    names = {pattern.name for pattern in urlpatterns}
    assert names == set(TABLE)


def test_every_root_route_is_covered_by_an_access_table():
    """A new include in portal/urls.py needs a table like this one (or the API's, or the web's)."""
    covered = {"admin/", "api/schema/", "api/docs/", "api/v1/", "metrics", "healthz/live", "healthz/ready"}
    routes = set()
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLResolver) and str(pattern.pattern) == "":
            routes |= {str(p.pattern) for p in pattern.url_patterns if "ops" in pattern.urlconf_name.__name__}
            continue
        routes.add(str(pattern.pattern))
    assert routes == covered


@pytest.fixture
def callers(owner, staff, organisation, cluster):
    run_cycle(backend=cluster)  # so that readiness has a recent cycle
    _, node_key = node_key_create(node="node-a")
    _, member_key = api_key_create(user=owner)
    _, staff_key = api_key_create(user=staff)
    return {
        "anonymous": ({}, None),
        "member": ({"HTTP_AUTHORIZATION": f"Bearer {member_key}"}, None),
        "staff": ({"HTTP_AUTHORIZATION": f"Bearer {staff_key}"}, None),
        "staff_session": ({}, staff),
        "node": ({"HTTP_AUTHORIZATION": f"Node {node_key}"}, None),
        "scraper": ({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}", "REMOTE_ADDR": "10.42.0.7"}, None),
    }


def answers(client, callers, name) -> dict[str, int]:
    got = {}
    for role, (headers, login) in callers.items():
        client.logout()
        if login is not None:
            client.force_login(login)
        got[role] = client.get(reverse(name), **headers).status_code
    return got


@pytest.mark.parametrize("name", sorted(TABLE))
def test_demo_answers_as_the_table_says(client, callers, name):
    assert answers(client, callers, name) == TABLE[name][0]


@pytest.mark.parametrize("name", sorted(TABLE))
def test_production_answers_as_the_table_says(client, callers, name, settings):
    settings.PRODUCTION = True
    settings.GPUGRANT_METRICS_TOKEN = TOKEN
    settings.GPUGRANT_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.42.0.0/16")]
    assert answers(client, callers, name) == TABLE[name][1]


def test_production_metrics_guards(client, settings):
    settings.PRODUCTION = True
    settings.GPUGRANT_METRICS_TOKEN = ""
    settings.GPUGRANT_METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 404  # neither guard set: off, not open

    settings.GPUGRANT_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 403
    assert scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")  # any address, with the token

    settings.GPUGRANT_METRICS_TOKEN = ""
    settings.GPUGRANT_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.42.0.0/16")]
    assert client.get("/metrics").status_code == 403  # 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="10.42.3.4").status_code == 200

    # The scraper calls the pod's address over plain HTTP: no host check, no redirect to HTTPS.
    settings.ALLOWED_HOSTS = ["gpugrant.example.kr"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/metrics", REMOTE_ADDR="10.42.3.4", HTTP_HOST="10.42.9.9:8000").status_code == 200
