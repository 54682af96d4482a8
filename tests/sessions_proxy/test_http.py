"""HTTP through the sessions' proxy: who gets in, what reaches JupyterLab, what comes back."""

import http.client
import logging

import httpx
import pytest
from django.conf import settings

from tests.sessions_proxy.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(portal_address):
    with httpx.Client(base_url=f"http://{portal_address}", timeout=30) as client:
        yield client


def test_it_forwards_the_owners_request_to_jupyter_with_its_token(portal, cast, jupyter, caplog):
    caplog.set_level(logging.DEBUG)
    public_id, upstream = jupyter
    response = portal.get(f"/sessions/{public_id}/api/status?probe=1", headers={"Cookie": cast.owner_cookie})
    assert response.status_code == 200
    assert {"started", "last_activity", "kernels"} <= response.json().keys()  # Jupyter's own answer
    assert upstream.token not in response.text
    assert all(upstream.token not in value for value in response.headers.values())
    # The proxy logs once the answer has gone out: wait for the line, not for a time.
    access = wait_for(
        lambda: [record for record in caplog.records if record.name == "gpugrant.access"],
        "the access line",
        10,
    )
    assert [record.getMessage().split()[:3] for record in access] == [
        ["GET", "sessions/<public_id>/<path>", "200"]
    ]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert upstream.token not in logged and "probe=1" not in logged and str(public_id) not in logged


def test_it_creates_a_kernel_for_the_owner(portal, cast, jupyter):
    public_id, _ = jupyter
    base = f"/sessions/{public_id}/api/kernels"
    created = portal.post(base, json={"name": "python3"}, headers={"Cookie": cast.owner_cookie})
    assert created.status_code == 201, created.text
    kernel_id = created.json()["id"]
    gone = portal.delete(f"{base}/{kernel_id}", headers={"Cookie": cast.owner_cookie})
    assert gone.status_code == 204


def test_it_tells_anyone_else_the_session_does_not_exist(portal, cast, jupyter):
    response = portal.get(f"/sessions/{jupyter[0]}/api/status", headers={"Cookie": cast.outsider_cookie})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_refuses_a_manager_who_sees_but_may_not_enter(portal, cast, jupyter):
    response = portal.get(f"/sessions/{jupyter[0]}/api/status", headers={"Cookie": cast.manager_cookie})
    assert response.status_code == 403


def test_it_asks_the_anonymous_to_log_in(portal, cast, jupyter):
    path = f"/sessions/{jupyter[0]}/lab"
    page = portal.get(path + "?token=guess", headers={"Accept": "text/html"})
    assert page.status_code == 302
    assert page.headers["location"].endswith("?next=" + path)  # the path, not the query
    api = portal.get(f"/sessions/{jupyter[0]}/api/status")
    assert api.status_code == 401
    forged = portal.get(f"/sessions/{jupyter[0]}/api/status", headers={"Cookie": "sessionid=forged"})
    assert forged.status_code == 401


def test_it_refuses_a_disabled_account(portal, cast, jupyter, django_user_model):
    django_user_model.objects.update(is_active=False)
    response = portal.get(f"/sessions/{jupyter[0]}/api/status", headers={"Cookie": cast.owner_cookie})
    assert response.status_code == 401


def test_it_says_a_starting_session_is_starting(portal, cast):
    api = portal.get(f"/sessions/{cast.starting_id}/api/status", headers={"Cookie": cast.owner_cookie})
    assert api.status_code == 503
    assert api.json()["code"] == "session_not_ready"
    assert api.headers["retry-after"]
    page = portal.get(
        f"/sessions/{cast.starting_id}/lab", headers={"Cookie": cast.owner_cookie, "Accept": "text/html"}
    )
    assert page.status_code == 503 and "starting" in page.text


def test_it_refuses_a_write_from_another_site(portal, cast, jupyter):
    response = portal.post(
        f"/sessions/{jupyter[0]}/api/kernels",
        json={"name": "python3"},
        headers={"Cookie": cast.owner_cookie, "Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "cross_origin"


def test_it_refuses_a_host_the_portal_does_not_serve(portal, cast, jupyter):
    response = portal.get(
        f"/sessions/{jupyter[0]}/api/status", headers={"Cookie": cast.owner_cookie, "Host": "evil.example"}
    )
    assert response.status_code == 400


def test_it_strips_hop_by_hop_headers_and_the_portals_credentials(portal, cast, recording_session):
    public_id, upstream, recorder = recording_session
    recorder.http_headers.clear()
    response = portal.get(
        f"/sessions/{public_id}/files/a.txt",
        headers={
            "Cookie": f"{cast.owner_cookie}; {settings.CSRF_COOKIE_NAME}=portalcsrf; _xsrf=jupyters",
            "Authorization": "Bearer portal-api-token",
            "Proxy-Authorization": "Basic eDp5",
            "Connection": "keep-alive, X-Browser-Private",
            "X-Browser-Private": "1",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "X-Kept": "yes",
        },
    )
    assert response.status_code == 200 and response.text == "recorded"
    [sent] = recorder.http_headers
    assert sent["authorization"] == f"token {upstream.token}"
    assert sent["cookie"] == "_xsrf=jupyters"  # the portal's session and CSRF cookies stay behind
    assert sent["x-kept"] == "yes"
    assert not {"proxy-authorization", "x-browser-private", "keep-alive", "te"} & sent.keys()
    # And back: the session's hop-by-hop headers stay, and it cannot plant the portal's login cookie.
    assert "x-upstream-private" not in response.headers
    assert response.headers.get_list("set-cookie") == ["_xsrf=jupyters; Path=/sessions/"]
    assert upstream.token not in str(response.headers)


def test_it_sends_other_paths_to_django(portal):
    assert portal.get("/healthz/live").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/sessions/not-a-uuid/api/status",
        "/sessions/{upper}/api/status",
        "/sessions/{id}/api/../api/status",
    ],
)
def test_it_answers_not_found_for_a_path_that_is_not_a_sessions(portal_address, cast, jupyter, path):
    public_id = jupyter[0]
    path = path.format(id=public_id, upper=str(public_id).upper())
    # http.client sends the path as written; httpx would resolve the dot segments first.
    connection = http.client.HTTPConnection(portal_address, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": cast.owner_cookie})
        assert connection.getresponse().status == 404
    finally:
        connection.close()


def test_it_leads_the_bare_address_to_the_session(portal, cast, jupyter):
    response = portal.get(f"/sessions/{jupyter[0]}", headers={"Cookie": cast.owner_cookie})
    assert response.status_code == 302
    assert response.headers["location"] == f"/sessions/{jupyter[0]}/"


def test_it_answers_bad_gateway_when_the_session_does_not_answer(portal, cast):
    response = portal.get(f"/sessions/{cast.gone_id}/api/status", headers={"Cookie": cast.owner_cookie})
    assert response.status_code == 502
    assert response.json()["code"] == "session_unreachable"
