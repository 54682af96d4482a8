"""WebSockets through the sessions' proxy: a real kernel runs code; strangers and other sites are refused."""

import json
import logging
import time
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.sessions_proxy.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

KERNEL_DEADLINE_S = 60


def _open(portal_address, path, *, cookie=None, origin=None, subprotocols=None):
    headers = {"Cookie": cookie} if cookie else {}
    return connect(
        f"ws://{portal_address}{path}",
        additional_headers=headers,
        origin=origin if origin is not None else f"http://{portal_address}",
        subprotocols=subprotocols,
        open_timeout=30,
    )


def _execute_request(code: str) -> dict:
    msg_id = uuid.uuid4().hex
    return {
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "test",
            "session": uuid.uuid4().hex,
            "version": "5.3",
            "date": "2026-01-01T00:00:00Z",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
        "buffers": [],
    }


@pytest.fixture
def kernel(portal_address, cast, jupyter):
    public_id, _ = jupyter
    base = f"http://{portal_address}/sessions/{public_id}/api/kernels"
    with httpx.Client(headers={"Cookie": cast.owner_cookie}, timeout=30) as client:
        created = client.post(base, json={"name": "python3"})
        assert created.status_code == 201, created.text
        kernel_id = created.json()["id"]
        yield f"/sessions/{public_id}/api/kernels/{kernel_id}/channels"
        client.delete(f"{base}/{kernel_id}")


def test_it_runs_code_in_a_real_kernel_for_the_owner(portal_address, cast, jupyter, kernel, caplog):
    caplog.set_level(logging.DEBUG)
    request = _execute_request("print(1+1)")
    deadline = time.monotonic() + KERNEL_DEADLINE_S
    with _open(portal_address, kernel + "?probe=1", cookie=cast.owner_cookie) as websocket:
        websocket.send(json.dumps(request))
        while True:
            message = json.loads(websocket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if (
                message["msg_type"] == "stream"
                and message["parent_header"].get("msg_id") == request["header"]["msg_id"]
            ):
                break
    assert message["content"] == {"name": "stdout", "text": "2\n"}
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert jupyter[1].token not in logged and "probe=1" not in logged and str(jupyter[0]) not in logged


def test_a_terminal_runs_a_shell_command_for_the_owner(portal_address, cast, jupyter):
    """JupyterLab's plain terminal (terminado's JSON messages over a WebSocket) works through the proxy."""
    public_id, _ = jupyter
    base = f"http://{portal_address}/sessions/{public_id}/api/terminals"
    with httpx.Client(headers={"Cookie": cast.owner_cookie}, timeout=30) as client:
        created = client.post(base, headers={"Origin": f"http://{portal_address}"})
        assert created.status_code == 200, created.text
        name = created.json()["name"]
        try:
            seen, deadline = "", time.monotonic() + KERNEL_DEADLINE_S
            path = f"/sessions/{public_id}/terminals/websocket/{name}"
            with _open(portal_address, path, cookie=cast.owner_cookie) as websocket:
                websocket.send(json.dumps(["stdin", "echo gg-$((40 + 2))\r"]))
                while "gg-42" not in seen:  # the shell's answer, not the echo of what was typed
                    kind, *data = json.loads(websocket.recv(timeout=max(0.1, deadline - time.monotonic())))
                    if kind == "stdout":
                        seen += data[0]
        finally:
            client.delete(f"{base}/{name}", headers={"Origin": f"http://{portal_address}"})


def test_it_passes_the_subprotocol_both_ways(portal_address, cast, kernel):
    protocol = "v1.kernel.websocket.jupyter.org"  # what JupyterLab asks its server for
    with _open(portal_address, kernel, cookie=cast.owner_cookie, subprotocols=[protocol]) as websocket:
        assert websocket.subprotocol == protocol


@pytest.mark.parametrize(
    "who, status",
    [("outsider_cookie", 404), ("manager_cookie", 403), (None, 401)],
)
def test_it_refuses_the_handshake_to_anyone_but_the_owner(portal_address, cast, jupyter, who, status):
    path = f"/sessions/{jupyter[0]}/api/events/subscribe"
    with pytest.raises(InvalidStatus) as refused:
        _open(portal_address, path, cookie=getattr(cast, who) if who else None)
    assert refused.value.response.status_code == status


def test_it_refuses_the_handshake_from_another_site(portal_address, cast, jupyter):
    path = f"/sessions/{jupyter[0]}/api/events/subscribe"
    with pytest.raises(InvalidStatus) as refused:
        _open(portal_address, path, cookie=cast.owner_cookie, origin="https://evil.example")
    assert refused.value.response.status_code == 403


def test_it_admits_a_trusted_origin(portal_address, cast, jupyter, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.example.org"]
    path = f"/sessions/{jupyter[0]}/api/events/subscribe"
    with _open(portal_address, path, cookie=cast.owner_cookie, origin="https://portal.example.org"):
        pass


def test_it_closes_the_browser_when_the_session_closes(portal_address, cast, recording_session):
    public_id, _, _ = recording_session
    with _open(portal_address, f"/sessions/{public_id}/ws", cookie=cast.owner_cookie) as websocket:
        websocket.send("hello")
        assert websocket.recv(timeout=10) == "echo hello"
        websocket.send("close with 4000")
        with pytest.raises(ConnectionClosed):
            websocket.recv(timeout=10)
    assert websocket.close_code == 4000


def test_it_closes_the_session_when_the_browser_closes(portal_address, cast, recording_session):
    public_id, _, recorder = recording_session
    recorder.websocket_closes.clear()
    with _open(portal_address, f"/sessions/{public_id}/ws", cookie=cast.owner_cookie) as websocket:
        websocket.send("hello")
        assert websocket.recv(timeout=10) == "echo hello"
        websocket.close(code=4001)
    assert wait_for(lambda: recorder.websocket_closes, "the session sees the close", 10) == [4001]


def test_it_refuses_the_handshake_when_the_session_does_not_answer(portal_address, cast):
    with pytest.raises(InvalidStatus) as refused:
        _open(portal_address, f"/sessions/{cast.gone_id}/api/events/subscribe", cookie=cast.owner_cookie)
    assert refused.value.response.status_code == 502
