"""A session reached at an address instead of a UNIX socket (a Kubernetes Service's, ``http://host:port``):
a real Jupyter Server on a loopback port; HTTP and a kernel's WebSocket through the proxy, the handshake
naming localhost as JupyterLab requires."""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import httpx
import pytest
from django.conf import settings
from django.test import Client

from scheduler import session_access
from scheduler.session_access import Upstream
from tests import builders
from tests.sessions_proxy.conftest import wait_for
from tests.sessions_proxy.test_websocket import KERNEL_DEADLINE_S, _execute_request, _open

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter_on_a_port():
    folder = tempfile.mkdtemp(prefix="gg-tcp-", dir="/tmp")
    port, public_id, token = _free_port(), uuid.uuid4(), secrets.token_hex(24)
    base = f"/sessions/{public_id}/"
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "JUPYTER_RUNTIME_DIR": f"{folder}/rt",
        "IPYTHONDIR": f"{folder}/ip",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--ServerApp.base_url={base}", "--ServerApp.open_browser=False",
         f"--ServerApp.root_dir={folder}", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    upstream = Upstream(f"http://127.0.0.1:{port}", token, base)

    def answers() -> bool:
        try:
            got = httpx.get(
                f"{upstream.socket_path}{base}api/status", headers={"Authorization": f"token {token}"}
            )
        except httpx.TransportError:
            return False
        return got.status_code == 200

    try:
        wait_for(answers, "Jupyter Server answers on its port")
        yield public_id, upstream
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_session_at_an_address_is_reached_over_http_and_websocket(
    portal_address, jupyter_on_a_port, monkeypatch
):
    public_id, upstream = jupyter_on_a_port
    owner = builders.make_user()
    monkeypatch.setattr(
        session_access, "session_upstream", lambda user, pid: upstream if user.pk == owner.pk else None
    )
    client = Client()
    client.force_login(owner)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    base = f"http://{portal_address}/sessions/{public_id}/api"
    with httpx.Client(headers={"Cookie": cookie}, timeout=30) as portal:
        assert "last_activity" in portal.get(f"{base}/status").json()
        kernel_id = portal.post(f"{base}/kernels", json={"name": "python3"}).json()["id"]
        request, deadline = _execute_request("print(6*7)"), time.monotonic() + KERNEL_DEADLINE_S
        with _open(
            portal_address, f"/sessions/{public_id}/api/kernels/{kernel_id}/channels", cookie=cookie
        ) as ws:
            ws.send(json.dumps(request))
            while True:
                message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                if (
                    message["msg_type"] == "stream"
                    and message["parent_header"].get("msg_id") == request["header"]["msg_id"]
                ):
                    break
        assert message["content"]["text"] == "42\n"
        portal.delete(f"{base}/kernels/{kernel_id}")
