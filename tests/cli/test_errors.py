"""Failures the user can do something about: a clear message and an exit code, never a traceback."""

import http.server
import socket
import subprocess
import sys
import threading

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_that_is_down_exits_5_after_backing_off(cli, signed_in, closed_port):
    down = {**signed_in, "GPUGRANT_SERVER": f"http://127.0.0.1:{closed_port}"}
    result = cli("jobs", env=down)
    assert result.code == 5
    assert result.stderr.startswith(f"gpugrant: Cannot reach http://127.0.0.1:{closed_port}: ")
    assert "Check the server address" in result.stderr and "Traceback" not in result.stderr
    assert result.waits == [0.5, 1.0, 2.0]  # three retries, each waiting longer


def test_a_submission_that_may_have_been_lost_says_how_to_retry_it_safely(
    cli, signed_in, closed_port, spec_file, nodes
):
    down = {**signed_in, "GPUGRANT_SERVER": f"http://127.0.0.1:{closed_port}"}
    result = cli("submit", spec_file(), "--idempotency-key", "run-7", env=down)
    assert result.code == 5 and "--idempotency-key run-7` submits it at most once" in result.stderr


class _Teapot(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>not the portal</html>")

    def log_message(self, *args):
        pass


def test_a_server_that_is_not_the_portal_is_named_as_such(cli, signed_in):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Teapot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = cli("jobs", env={**signed_in, "GPUGRANT_SERVER": f"http://127.0.0.1:{server.server_port}"})
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 5 and "did not answer with JSON" in result.stderr


def test_a_read_only_key_may_read_but_not_cancel(cli, signed_in, owner, nodes, allocation):
    from portal.accounts.services import api_key_create
    from tests.scheduler.helpers import submit

    job = submit(owner, allocation)
    read_only = {**signed_in, "GPUGRANT_API_KEY": api_key_create(user=owner, read_only=True)[1]}
    assert cli("status", job.public_id, env=read_only).code == 0
    refused = cli("cancel", job.public_id, env=read_only)
    assert refused.code == 3 and refused.stderr.startswith("gpugrant: ")
    job.refresh_from_db()
    assert job.state == "queued"


def test_no_command_or_a_wrong_one_is_a_usage_error(cli):
    assert cli().code == 2
    wrong = cli("sumbit", "job.yaml")
    assert wrong.code == 2 and "invalid choice: 'sumbit'" in wrong.stderr


def test_the_installed_command_starts_without_django():
    """The client is a plain HTTP program: it must not drag in the portal's Django project."""
    code = (
        "import sys, gpugrant_cli.main\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'django', 'celery', 'portal', 'rest_framework'})\n"
        "print(loaded)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    version = subprocess.run(
        [sys.executable, "-m", "gpugrant_cli", "--version"], capture_output=True, text=True, check=False
    )
    assert version.returncode == 0 and version.stdout.startswith("gpugrant ")
