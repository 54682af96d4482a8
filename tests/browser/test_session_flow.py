"""An interactive session in a real browser (issue 18): launched from the portal, a notebook cell run in
the real JupyterLab, stopped, launched again with the notebook's file still there; other people refused
at its address over HTTP and over WebSocket.

Real parts throughout: the portal and the sessions' proxy under uvicorn (portal.asgi, as the demo and
production serve them), the local backend running JupyterLab as a job (sandboxed where bubblewrap
works), and a scheduler thread doing what the worker's beat does (a cycle and a reconcile, over and
over). Nothing here calls the services the pages call.
"""

import re
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.db import connection
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as websocket_connect

import portal.asgi
from portal.environments.models import Environment
from scheduler import backends
from scheduler.backends.local import LocalBackend
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from scheduler.states import TERMINAL, JobState
from tests import builders
from tests.browser.conftest import SCREENSHOTS
from tests.scheduler.backends.test_local import _kill_everything

expect = pytest.importorskip("playwright.sync_api", reason="needs playwright: the [dev] extra").expect

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JUPYTERLAB_LOADS_MS = 90_000  # the first load on two busy cores: JupyterLab's own scripts, several MB
CELL = (
    "import os, pathlib; "
    "print('GPUS', repr(os.environ.get('CUDA_VISIBLE_DEVICES')), os.environ.get('GPUGRANT_SIMULATED_GPUS')); "
    "pathlib.Path('kept.txt').write_text('written in the first session')"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def local_backend(settings):
    """The local backend with two simulated A100s, as the configured one; its folders short enough for
    a UNIX socket's path."""
    folder = Path(tempfile.mkdtemp(prefix="gg-browser-", dir="/tmp"))
    settings.GPUGRANT_LOCAL_GPUS = "A100:2"
    settings.GPUGRANT_SESSION_SOCKET_DIR = str(folder / "s")
    backend = LocalBackend(folder / "local-backend", nvidia_smi=None, stop_grace_seconds=2.0)
    settings.GPUGRANT_BACKEND = backend.name
    backends._instances[backend.name] = backend  # noqa: SLF001
    yield backend
    for job_dir in backend.root.glob("*"):
        if job_dir.is_dir() and not job_dir.name.startswith("."):
            backend.stop(job_dir.name, "test over")
    _kill_everything(backend.root)
    backends.reset_backends()


@pytest.fixture
def portal_server(settings):
    """The portal, its static files and /sessions/ under a real uvicorn, as the demo serves them."""
    port = _free_port()
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    config = uvicorn.Config(
        ASGIStaticFilesHandler(portal.asgi.application),
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


class SchedulerLoop:
    """What the worker's beat does for these jobs: a cycle, then the backend's phases applied."""

    def __init__(self, backend):
        self.backend = backend
        self.stopping = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                run_cycle(backend=self.backend, estimate=False)
                reconcile_jobs(backend=self.backend)
                self.stopping.wait(0.2)
        except BaseException as error:  # noqa: BLE001 — reported by the test, not lost in the thread
            self.failure = error
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)
        assert self.failure is None, f"the scheduler loop failed: {self.failure!r}"


@pytest.fixture
def people(staff, reviewer, local_backend):
    """Mina owns an organisation with an active A100 allocation; Joon is a plain member of it; Han
    belongs to another organisation. JupyterLab is in the catalogue for sessions."""
    mina = builders.make_user("mina@startup.test", full_name="Mina Seo")
    joon = builders.make_user("joon@startup.test", full_name="Joon Lim")
    han = builders.make_user("han@elsewhere.test", full_name="Han Oh")
    organisation = builders.make_org(mina, name="Startup Seo", staff=staff)
    builders.add_member(organisation, joon)
    builders.make_org(han, name="Elsewhere University", org_type="university", staff=staff)
    call = builders.make_call(staff, title="2026 AI compute support")
    builders.approved(mina, organisation, call, staff, reviewer, awarded_gpu_hours={"A100": 100})
    Environment.objects.create(
        name="jupyterlab-4", display_name="JupyterLab 4", image="quay.io/jupyter/scipy-notebook:2026-11-30",
        cuda_version="none", for_training=False, for_sessions=True,
    )  # fmt: skip
    inventory_sync(backend=local_backend)
    return {"mina": mina, "joon": joon, "han": han}


def _launch(page, base: str) -> str:
    """Launch through the form; the session's page opens JupyterLab by itself. Returns the session's id."""
    page.goto(base + "/my-sessions/new/")
    page.get_by_label("Allocation").select_option(index=1)
    page.get_by_label("Software environment").select_option("jupyterlab-4")
    page.get_by_label("GPU type").select_option("A100")
    page.get_by_label("Time limit (minutes)").fill("60")
    page.get_by_role("button", name="Launch session").click()
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}/lab"), timeout=JUPYTERLAB_LOADS_MS)
    return re.search(r"/sessions/([0-9a-f-]{36})/", page.url).group(1)


def _run_cell(page, code: str):
    """One cell typed and run: in a new notebook from the launcher, or, where JupyterLab brought back the
    last session's notebook (its layout is kept in the workspace), in that one once its kernel is
    chosen. Returns what the cell printed."""
    launcher = page.locator(".jp-LauncherCard[data-category='Notebook']")
    dialog = page.locator(".jp-Dialog")
    launcher.or_(dialog).first.wait_for(timeout=JUPYTERLAB_LOADS_MS)
    if dialog.count():
        dialog.locator("button.jp-mod-accept").click()  # "Select": the kernel it proposes
    else:
        launcher.first.click()
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")
    cells.last.locator(".cm-content").click(timeout=JUPYTERLAB_LOADS_MS)
    cell = cells.nth(cells.count() - 1)  # by its place: running it adds a new last cell below
    editor = cell.locator(".cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.type(code)
    expect(editor).to_contain_text(code[:24])
    # run only once the kernel is connected and idle: a cell run while it connects may never run
    expect(page.get_by_text(re.compile(r"ipykernel\) \| Idle"))).to_be_visible(timeout=JUPYTERLAB_LOADS_MS)
    page.keyboard.press("Shift+Enter")
    return cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")


def _stop(page, base: str, public_id: str) -> None:
    page.goto(f"{base}/my-sessions/{public_id}/")
    page.get_by_role("button", name="Stop session").click()
    deadline = time.monotonic() + 60
    while Job.objects.get(public_id=public_id).state not in TERMINAL:
        assert time.monotonic() < deadline, "the stopped session did not end"
        time.sleep(0.1)


def _cookie(context) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies() if c["name"] != "_xsrf")


def _websocket_refusal(address: str, path: str, cookie: str) -> int:
    """The status a WebSocket handshake at ``path`` is refused with (fails if it is accepted)."""
    try:
        with websocket_connect(
            f"ws://{address}{path}",
            additional_headers={"Cookie": cookie, "Origin": f"http://{address}"},
            open_timeout=30,
        ):
            pass
    except InvalidStatus as refused:
        return refused.response.status_code
    raise AssertionError(f"the WebSocket at {path} was accepted")


def test_a_session_runs_a_notebook_keeps_its_files_and_admits_its_owner_only(
    browser, people, local_backend, portal_server
):
    base = f"http://{portal_server}"
    contexts = {
        name: browser.new_context(locale="en-GB", viewport={"width": 1400, "height": 900}) for name in people
    }
    pages = {}
    for name, context in contexts.items():
        context.set_default_timeout(30_000)
        pages[name] = page = context.new_page()
        page.goto(base + "/accounts/login/")
        page.get_by_label("Email").fill(people[name].email)
        page.get_by_label("Password", exact=True).fill(builders.PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))
    mina = pages["mina"]
    try:
        with SchedulerLoop(local_backend):
            first = _launch(mina, base)
            output = _run_cell(mina, CELL)
            job = Job.objects.get(public_id=first)
            assert job.state == JobState.RUNNING
            gpus = ",".join(str(index) for pod in job.placement for index in pod["gpus"])
            # simulated GPUs: CUDA sees none; the job is told which it holds, as a real one's CUDA would be
            expect(output).to_contain_text(f"GPUS '' {gpus}", timeout=JUPYTERLAB_LOADS_MS)

            # Others at its address: another organisation's user is told it does not exist; a plain
            # member of its organisation is refused; over HTTP and over a kernel's WebSocket alike.
            kernels = httpx.get(
                f"{base}/sessions/{first}/api/kernels", headers={"Cookie": _cookie(contexts["mina"])}
            )
            assert kernels.status_code == 200 and kernels.json(), kernels.text
            channels = f"/sessions/{first}/api/kernels/{kernels.json()[0]['id']}/channels"
            assert pages["han"].goto(f"{base}/sessions/{first}/lab").status == 404
            assert pages["joon"].goto(f"{base}/sessions/{first}/lab").status == 403
            assert _websocket_refusal(portal_server, channels, _cookie(contexts["han"])) == 404
            assert _websocket_refusal(portal_server, channels, _cookie(contexts["joon"])) == 403

            _stop(mina, base, first)
            assert Job.objects.get(public_id=first).state == JobState.CANCELLED
            assert mina.goto(f"{base}/sessions/{first}/lab").status == 410  # ended, for good

            # A new session in the same workspace finds the file the first one wrote.
            second = _launch(mina, base)
            assert second != first
            expect(mina.locator(".jp-DirListing-content")).to_contain_text(
                "kept.txt", timeout=JUPYTERLAB_LOADS_MS
            )
            output = _run_cell(mina, "print(open('kept.txt').read())")
            expect(output).to_contain_text("written in the first session", timeout=JUPYTERLAB_LOADS_MS)
            _stop(mina, base, second)
    except BaseException:
        # what JupyterLab showed, for whoever reads the failure
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        mina.screenshot(path=str(SCREENSHOTS / "session-flow-failure.png"), full_page=True)
        raise
    finally:
        for context in contexts.values():
            context.close()
