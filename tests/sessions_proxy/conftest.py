"""Real parts around the sessions' proxy: a Jupyter server on a UNIX socket, a small recording server
on another, and the portal's ASGI application under uvicorn on a loopback port.

Only the access rule is faked (session_upstream belongs to the session work): owner enters, a manager
sees but may not enter, anyone else is told the session does not exist.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client

import portal.asgi
from portal.errors import Conflict
from scheduler import session_access
from scheduler.session_access import Upstream
from tests import builders

START_DEADLINE_S = 60


def wait_for(condition, what: str, deadline_s: float = START_DEADLINE_S):
    """Poll a real condition until it holds or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"not within {deadline_s} s: {what}")


def _short_folder() -> str:
    # A UNIX socket's path must fit in 108 bytes; pytest's tmp_path may not.
    return tempfile.mkdtemp(prefix="gg-sess-", dir="/tmp")


@pytest.fixture(scope="session")
def jupyter():
    """A real Jupyter server on a UNIX socket under /sessions/<id>/, with its token from the environment."""
    folder = _short_folder()
    public_id = uuid.uuid4()
    upstream = Upstream(
        socket_path=os.path.join(folder, "s.sock"),
        token=secrets.token_hex(24),
        base_path=f"/sessions/{public_id}/",
    )
    env = {
        **os.environ,
        # From the environment, not the command line: another user on the host can read `ps`.
        "JUPYTER_TOKEN": upstream.token,
        "JUPYTER_CONFIG_DIR": os.path.join(folder, "config"),
        "JUPYTER_DATA_DIR": os.path.join(folder, "data"),
        "JUPYTER_RUNTIME_DIR": os.path.join(folder, "runtime"),
        "IPYTHONDIR": os.path.join(folder, "ipython"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.sock={upstream.socket_path}",
            f"--ServerApp.base_url={upstream.base_path}",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={folder}",
            *(["--allow-root"] if os.geteuid() == 0 else []),  # this sandbox runs tests as root
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client = httpx.Client(transport=httpx.HTTPTransport(uds=upstream.socket_path), timeout=5)

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError("jupyter server exited: " + process.stderr.read().decode()[-3000:])
        if not os.path.exists(upstream.socket_path):
            return False
        try:
            response = client.get(
                f"http://localhost{upstream.base_path}api/status",
                headers={"Authorization": f"token {upstream.token}"},
            )
        except httpx.TransportError:
            return False
        return response.status_code == 200

    try:
        wait_for(answers, "the Jupyter server answers on its socket")
        yield public_id, upstream
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Recorder:
    """What the recording server was sent, for assertions on what crosses the proxy."""

    http_headers: list[dict[str, str]] = field(default_factory=list)
    websocket_closes: list[int] = field(default_factory=list)


def _recording_app(recorder: Recorder):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        if scope["type"] == "http":
            recorder.http_headers.append(headers)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/plain"),
                        (b"x-upstream-private", b"1"),
                        (b"connection", b"x-upstream-private"),
                        (b"keep-alive", b"timeout=5"),
                        (b"set-cookie", settings.SESSION_COOKIE_NAME.encode() + b"=planted; Path=/"),
                        (b"set-cookie", b"_xsrf=jupyters; Path=/sessions/"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b"recorded"})
            return
        await receive()  # connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                recorder.websocket_closes.append(message.get("code", 1000))
                return
            if message.get("text") == "close with 4000":
                await send({"type": "websocket.close", "code": 4000})
                return
            await send({"type": "websocket.send", "text": "echo " + (message.get("text") or "")})

    return app


def _serve_in_thread(server: uvicorn.Server, **run_kwargs) -> threading.Thread:
    thread = threading.Thread(target=server.run, kwargs=run_kwargs, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "uvicorn has started")
    return thread


@pytest.fixture(scope="session")
def recording_session():
    """A small real server on a UNIX socket standing where a session's JupyterLab would."""
    folder = _short_folder()
    public_id = uuid.uuid4()
    upstream = Upstream(
        socket_path=os.path.join(folder, "r.sock"),
        token=secrets.token_hex(24),
        base_path=f"/sessions/{public_id}/",
    )
    recorder = Recorder()
    config = uvicorn.Config(
        _recording_app(recorder),
        uds=upstream.socket_path,
        lifespan="off",
        log_config=None,
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    thread = _serve_in_thread(server)
    try:
        yield public_id, upstream, recorder
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def portal_address():
    """portal.asgi.application under a real uvicorn on a loopback port: http://127.0.0.1:<port>."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(portal.asgi.application, lifespan="on", log_config=None, ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = _serve_in_thread(server, sockets=[listening])
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        listening.close()


@dataclass
class Cast:
    owner_cookie: str
    manager_cookie: str
    outsider_cookie: str
    starting_id: uuid.UUID
    gone_id: uuid.UUID  # admitted, but nothing listens on its socket


@pytest.fixture
def cast(monkeypatch, jupyter, recording_session) -> Cast:
    """Logged-in users (real sessions in the database) and the faked access rule around both sessions.

    The proxy reads the database from uvicorn's thread: tests mark themselves django_db(transaction=True)
    so that what they write is committed where that thread sees it.
    """
    owner = builders.make_user()
    manager = builders.make_user()
    outsider = builders.make_user()
    gone_id = uuid.uuid4()
    gone = Upstream(socket_path="/nonexistent/s.sock", token="gone", base_path=f"/sessions/{gone_id}/")
    upstreams = {jupyter[0]: jupyter[1], recording_session[0]: recording_session[1], gone_id: gone}
    starting_id = uuid.uuid4()

    def session_upstream(user, public_id):
        if public_id == starting_id:
            raise Conflict("The session is starting.", code="session_not_ready")
        if public_id not in upstreams:
            raise Http404
        if user.pk == owner.pk:
            return upstreams[public_id]
        if user.pk == manager.pk:
            raise PermissionDenied
        raise Http404

    monkeypatch.setattr(session_access, "session_upstream", session_upstream)

    def cookie_of(user) -> str:
        client = Client()
        client.force_login(user)
        return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    return Cast(cookie_of(owner), cookie_of(manager), cookie_of(outsider), starting_id, gone_id)
