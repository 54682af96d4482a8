"""Who reaches a session through the proxy: every kind of caller × HTTP read, HTTP write and WebSocket, for
a session running (managers kept out, then let in), one still queued, and one ended.

The real parts: the portal's ASGI application under uvicorn, the real access rule
(scheduler/session_access.py) on a session launched through the service, and a real Jupyter server behind
it. Callers carry what a browser carries, the portal's login cookie; an API key or a node key in
``Authorization`` logs nobody in here (the proxy strips that header and reads the cookie only).
"""

import httpx
import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as websocket_connect

from portal.accounts.services import api_key_create
from portal.providers.credentials import encrypt
from scheduler.models import InteractiveSession, Job
from scheduler.sessions import session_launch
from tests import builders

pytestmark = pytest.mark.django_db(transaction=True)

# "launcher": the member who launched the session (its owner); "org_owner" and "manager": the
# organisation's owner and a manager; "member": another plain member; "outsider": another organisation's
# member; "staff": programme staff; "api_key": the launcher's own API key, no cookie; "node": a node key.
ROLES = ("anonymous", "launcher", "org_owner", "manager", "member", "outsider", "staff", "api_key", "node")
REQUESTS = ("read", "write", "websocket")


def expect(*statuses: int) -> dict[str, int]:
    return dict(zip(ROLES, statuses, strict=True))


# (session state, managers may enter) → request → the status each caller gets. 101: the WebSocket joined.
MATRIX = {
    ("running", False): {
        "read": expect(401, 200, 403, 403, 403, 404, 404, 401, 401),
        "write": expect(401, 201, 403, 403, 403, 404, 404, 401, 401),
        "websocket": expect(401, 101, 403, 403, 403, 404, 404, 401, 401),
    },
    ("running", True): {
        "read": expect(401, 200, 200, 200, 403, 404, 404, 401, 401),
        "write": expect(401, 201, 201, 201, 403, 404, 404, 401, 401),
        "websocket": expect(401, 101, 101, 101, 403, 404, 404, 401, 401),
    },
    ("queued", True): {  # seen but not yet there: 503 (try again); refusals come first
        "read": expect(401, 503, 503, 503, 403, 404, 404, 401, 401),
        "write": expect(401, 503, 503, 503, 403, 404, 404, 401, 401),
        "websocket": expect(401, 503, 503, 503, 403, 404, 404, 401, 401),
    },
    ("cancelled", True): {  # ended: gone for good
        "read": expect(401, 410, 410, 410, 403, 404, 404, 401, 401),
        "write": expect(401, 410, 410, 410, 403, 404, 404, 401, 401),
        "websocket": expect(401, 410, 410, 410, 403, 404, 404, 401, 401),
    },
}


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def callers(owner, teammate, organisation, outsider, staff, allocation, session_environment) -> dict:
    """Each role's headers (no role gets another's), and the teammate's session wired to a real server."""
    manager = builders.add_member(organisation, builders.make_user(), "manager").user
    member = builders.add_member(organisation, builders.make_user(), "member").user
    _, key = api_key_create(user=teammate)
    return {
        "anonymous": {},
        "launcher": {"Cookie": _cookie(teammate)},
        "org_owner": {"Cookie": _cookie(owner)},
        "manager": {"Cookie": _cookie(manager)},
        "member": {"Cookie": _cookie(member)},
        "outsider": {"Cookie": _cookie(outsider)},
        "staff": {"Cookie": _cookie(staff)},
        "api_key": {"Authorization": f"Token {key}"},
        "node": {"Authorization": "Node ggnode_0000000000000000"},
    }


@pytest.fixture
def session_job(jupyter, teammate, allocation, session_environment) -> Job:
    public_id, upstream = jupyter
    job = session_launch(
        user=teammate, allocation=allocation, environment_name="jupyterlab-4", gpu_type="A100", gpus=1,
        time_limit_minutes=60,
    )  # fmt: skip
    Job.objects.filter(pk=job.pk).update(public_id=public_id)
    InteractiveSession.objects.filter(job_id=job.pk).update(
        token_ciphertext=encrypt(upstream.token), socket_path=upstream.socket_path
    )
    return Job.objects.get(pk=job.pk)


def _status(address: str, request: str, path: str, headers: dict, kernel: str) -> int:
    origin = {"Origin": f"http://{address}"}
    if request == "read":
        return httpx.get(f"http://{address}{path}api/status", headers=headers, timeout=30).status_code
    if request == "write":
        return httpx.post(
            f"http://{address}{path}api/kernels", headers={**headers, **origin}, json={}, timeout=60
        ).status_code
    try:
        with websocket_connect(
            f"ws://{address}{path}api/kernels/{kernel}/channels",
            additional_headers={**headers, **origin},
            open_timeout=30,
        ):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


@pytest.mark.parametrize("state, managers_may_enter", list(MATRIX))
def test_every_caller_gets_what_the_table_says(
    portal_address, jupyter, session_job, callers, state, managers_may_enter
):
    public_id, upstream = jupyter
    path = f"/sessions/{public_id}/"
    # a kernel to join over WebSocket, started on the server directly (not through any caller)
    with httpx.Client(transport=httpx.HTTPTransport(uds=upstream.socket_path), timeout=60) as direct:
        kernel = direct.post(
            f"http://localhost{path}api/kernels",
            headers={"Authorization": f"token {upstream.token}"},
            json={},
        ).json()["id"]
    Job.objects.filter(pk=session_job.pk).update(state=state)
    InteractiveSession.objects.filter(job=session_job).update(managers_may_enter=managers_may_enter)
    got = {
        request: {role: _status(portal_address, request, path, callers[role], kernel) for role in ROLES}
        for request in REQUESTS
    }
    assert got == MATRIX[(state, managers_may_enter)]


def test_the_table_covers_every_role_and_request():
    assert all(set(row) == set(REQUESTS) for row in MATRIX.values())
    assert all(set(statuses) == set(ROLES) for row in MATRIX.values() for statuses in row.values())
