"""Benchmark: click to a usable notebook when GPUs are free (issue 18; docs/benchmarks.md, section 11).

    .venv/bin/python -m bench.session_start [--launches 20] [--poll-s 1 0.1] [--warmup 1] [--json OUT]

The demo's service on embedded defaults, in a fresh temporary folder (GPUGRANT_VAR_DIR; the sessions'
sockets in a folder beside it): SQLite, the filesystem broker, the local backend with simulated GPUs
(sandboxed by bubblewrap where the machine allows), ``manage.py seed_demo --no-jobs`` (no example jobs:
the GPUs are free), the demo's Celery worker with beat in it and the portal under uvicorn on a free port
(``portal.web.management.commands.demo``: ``worker_command`` and ``serve``). DATABASE_URL,
CELERY_BROKER_URL and REDIS_URL are left out of the services' environment. The bench starts once the
portal answers and the worker has finished a scheduling cycle (``/metrics``).

As alice (the demo's login with an active A100 allocation, a session cap of 1 GPU), over HTTP as a
browser does it: log in once; then for each launch, open *Launch a session* (the form's CSRF token and
the allocation), and **from just before the form's POST** (the click): follow the redirect to the
session's page; poll ``GET /api/v1/sessions/<id>`` as its script does (session_wait.js: at once, then
``--poll-s`` after each answer; a change of state, queue place or estimate reloads the page) until the
job runs; ``GET /sessions/<id>/lab`` until 200, waiting the 503's Retry-After (the page's own refresh) or
``--poll-s`` if shorter (**click → lab page**); then create a kernel through the proxy (``POST
/sessions/<id>/api/kernels``, Origin the portal's) and run ``print(1+1)`` over its WebSocket through the
proxy (the portal's cookie, Origin the portal's; Jupyter's JSON protocol) until the stream says ``2``
(**click → kernel answers**). Then *Stop session* (``POST /my-sessions/<id>/stop/``), and the next launch
only once the API says the job ended and the allocation's rules show no GPUs in sessions.

``--poll-s`` takes several values: the launches of each are interleaved (1 s, 0.1 s, 1 s, …), so that
what the page's one-second polling adds is read beside what the service allows. ``--warmup`` launches
run first and are reported apart (the first JupyterLab of a fresh machine reads its files from disk).

Reported per launch: both times, and the phases on the service's side: submitted, GPUs claimed and the
server started (the API's ``scheduled_at``), seen running (``started_at``), JupyterLab listening (its
socket's creation time), the kernel created. Median (statistics.median: the mean of the two middle
values for an even count) and p95 by nearest rank (the ⌈0.95·n⌉-th smallest). A launch that fails
(refused, timed out, the wrong output) is counted and reported, and the bench exits 1; so does a Stop
form that answers anything but its redirect (the session is still waited for until it ends).
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx

from workers import local_layout

ROOT = Path(__file__).resolve().parent.parent
LOGIN = ("alice@demo.test", "demo")
ENVIRONMENT = "jupyterlab-4"
GPU_TYPE = "A100"
LAUNCH_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
EMBEDDED_ONLY = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ALLOCATION = re.compile(r'<select name="allocation"[^>]*>.*?<option value="([0-9a-f-]{36})"', re.S)
GPUS_IN_USE = re.compile(r'class="num gpus-in-use">(\d+)<')


class LaunchFailed(Exception):
    pass


# --- the service --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_ONLY}
    env |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "GPUGRANT_VAR_DIR": str(folder / "var"),
        "GPUGRANT_SESSION_SOCKET_DIR": str(folder / "s"),  # short: a socket's path stays under 108 bytes
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    }
    return env


class Service:
    """migrate, seed_demo --no-jobs, the demo's worker (with beat) and its ASGI server; torn down on exit."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.base = f"http://127.0.0.1:{port}"
        self.processes: list[subprocess.Popen] = []
        self.logs = folder / "logs"

    def start(self) -> None:
        from portal.web.management.commands.demo import worker_command

        self.logs.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for step in (["migrate", "--no-input"], ["seed_demo", "--no-jobs"]):
            with open(self.logs / f"{step[0]}.log", "w") as log:
                subprocess.run(
                    [sys.executable, "manage.py", *step],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=log,
                    check=True,
                )
        serve = f"import django; django.setup(); from portal.web.management.commands.demo import serve; serve({self.port})"
        for name, command in (("worker", worker_command()), ("server", [sys.executable, "-c", serve])):
            log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - open for the process's life
            self.processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
            )
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 120.0) -> None:
        """The portal answers, and the worker has finished a scheduling cycle (beat runs one every 3 s)."""
        give_up = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while time.monotonic() < give_up:
                for process in self.processes:
                    if process.poll() is not None:
                        raise RuntimeError(
                            f"{process.args[:4]} exited ({process.returncode}); see {self.logs}"
                        )
                try:
                    metrics = client.get("/metrics")
                except httpx.TransportError:
                    metrics = None
                if metrics is not None and re.search(
                    r"^gpugrant_scheduler_last_cycle_timestamp_seconds \S+", metrics.text, re.M
                ):
                    return
                time.sleep(0.2)
        raise RuntimeError(
            f"the portal or the worker was not ready within {timeout_s:.0f} s; see {self.logs}"
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # A session still running (a launch that failed half-way) runs in a process group of its own.
        try:
            from scheduler.backends import get_backend

            backend = get_backend()
            for job_id in backend.owned_job_ids():
                backend.stop(job_id, "cancelled")
        except Exception as error:  # noqa: BLE001 - tearing down: say it, go on removing the folder
            print(f"could not stop the sessions left running: {error}", file=sys.stderr)


# --- a browser's way through it ------------------------------------------------------------------------


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    if not match:
        raise LaunchFailed("no CSRF token on the page")
    return match.group(1)


def login(client: httpx.Client, base: str) -> None:
    page = client.get("/accounts/login/")
    answer = client.post(
        "/accounts/login/",
        data={"csrfmiddlewaretoken": csrf_token(page.text), "username": LOGIN[0], "password": LOGIN[1]},
        headers={"Referer": f"{base}/accounts/login/", "Origin": base},
    )
    if answer.status_code != 302:
        raise RuntimeError(f"login refused ({answer.status_code})")


def parse_time(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def run_code(base: str, client: httpx.Client, public_id: str, kernel_id: str, code: str) -> str:
    """Run ``code`` on the kernel over its WebSocket through the proxy; the stream's text it printed."""
    from websockets.sync.client import connect

    path = f"/sessions/{public_id}/api/kernels/{kernel_id}/channels"
    url = f"ws://127.0.0.1:{base.rsplit(':', 1)[1]}{path}"
    # The cookies a browser would send with it: those whose path it is under (JupyterLab sets its own).
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar if path.startswith(c.path))
    msg_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "bench",
            "session": uuid.uuid4().hex,
            "version": "5.3",
            "date": datetime.now().astimezone().isoformat(),
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
    with connect(url, origin=base, additional_headers={"Cookie": cookie}, open_timeout=30) as ws:
        ws.send(json.dumps(request))
        while True:
            message = json.loads(ws.recv(timeout=LAUNCH_TIMEOUT_S))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message.get("msg_type") or message["header"]["msg_type"]
            if kind == "stream":
                return message["content"]["text"]
            if kind == "error":
                raise LaunchFailed(f"the kernel answered an error: {message['content'].get('ename')}")


def launch(client: httpx.Client, base: str, poll_s: float, folder: Path) -> dict:
    """One launch, timed from just before the form's POST; the session is stopped before returning."""
    form = client.get("/my-sessions/new/")
    allocation = ALLOCATION.search(form.text)
    in_use = GPUS_IN_USE.search(form.text)
    if allocation is None or in_use is None or in_use.group(1) != "0":
        raise LaunchFailed("the form offers no allocation, or GPUs are still in sessions")
    data = {
        "csrfmiddlewaretoken": csrf_token(form.text),
        "allocation": allocation.group(1),
        "environment_name": ENVIRONMENT,
        "gpu_type": GPU_TYPE,
        "gpus": "1",
        "time_limit_minutes": "60",
    }
    headers = {"Referer": f"{base}/my-sessions/new/", "Origin": base}
    out: dict = {"poll_s": poll_s, "api_polls": 0, "lab_tries": 0, "page_reloads": 0, "queued_behind": 0}
    queued_reasons: set[str] = set()
    wall0, t0 = time.time(), time.perf_counter()

    def at() -> float:
        return round(time.perf_counter() - t0, 3)

    answer = client.post("/my-sessions/new/", data=data, headers=headers)
    if answer.status_code != 302:
        raise LaunchFailed(f"the launch was refused ({answer.status_code})")
    page_url = answer.headers["location"]
    public_id = page_url.rstrip("/").rsplit("/", 1)[1]
    out["id"] = public_id
    try:
        page = client.get(page_url)
        out["page_s"] = at()
        status_url = re.search(r'data-status-url="([^"]+)"', page.text)
        if status_url is None:  # already running: the page shows the link instead of waiting
            if f"/sessions/{public_id}/lab" not in page.text:
                raise LaunchFailed("the session's page neither waits nor opens it")
            job = client.get(f"/api/v1/sessions/{public_id}").json()["job"]
        else:
            seen = None
            while True:  # session_wait.js
                if time.perf_counter() - t0 > LAUNCH_TIMEOUT_S:
                    raise LaunchFailed("not running in time")
                job = client.get(status_url.group(1), headers={"Accept": "application/json"}).json()["job"]
                out["api_polls"] += 1
                out["queued_behind"] = max(out["queued_behind"], (job.get("queue_position") or 1) - 1)
                if job["state"] == "queued":
                    queued_reasons.add(job.get("state_reason_code") or "")
                if job["state"] == "running":
                    break
                if job["state"] not in ("queued", "scheduled"):
                    raise LaunchFailed(f"the session went {job['state']}: {job.get('state_reason')}")
                now = "|".join(str(job.get(k)) for k in ("state", "queue_position", "estimated_start"))
                if seen is not None and now != seen:
                    client.get(page_url)  # the script reloads the page; the new page's script starts afresh
                    out["page_reloads"] += 1
                    seen = None
                else:
                    seen = now
                time.sleep(poll_s)
        out["seen_running_s"] = at()
        while True:
            if time.perf_counter() - t0 > LAUNCH_TIMEOUT_S:
                raise LaunchFailed("the lab page did not open in time")
            lab = client.get(f"/sessions/{public_id}/lab", headers={"Accept": "text/html"})
            out["lab_tries"] += 1
            if lab.status_code == 200:
                break
            if lab.status_code != 503:
                raise LaunchFailed(f"the lab page answered {lab.status_code}")
            time.sleep(min(float(lab.headers.get("retry-after", "1")), poll_s))
        out["lab_s"] = at()
        kernel = client.post(
            f"/sessions/{public_id}/api/kernels",
            json={"name": "python3"},
            headers={"Origin": base, "Referer": f"{base}/sessions/{public_id}/lab"},
        )
        if kernel.status_code != 201:
            raise LaunchFailed(f"creating a kernel answered {kernel.status_code}")
        out["kernel_created_s"] = at()
        text = run_code(base, client, public_id, kernel.json()["id"], "print(1+1)")
        if text.strip() != "2":
            raise LaunchFailed(f"print(1+1) printed {text!r}")
        out["usable_s"] = at()
        # The service's side, from the API's timestamps and the socket JupyterLab made when it listened.
        job = client.get(f"/api/v1/sessions/{public_id}").json()["job"]
        events = client.get(f"/api/v1/jobs/{public_id}/events").json()
        events = events["results"] if isinstance(events, dict) else events
        # Waited in the queue: a cycle left it there (an event queued → queued), or the page saw it behind
        # another job, or waiting for anything but its first cycle.
        queued_reasons |= {e["reason_code"] for e in events if e["from_state"] == e["to_state"] == "queued"}
        out["queued_reasons"] = sorted(queued_reasons - {"accepted", ""})
        out["waited_in_queue"] = bool(out["queued_reasons"]) or out["queued_behind"] > 0
        for name, key in (
            ("submitted", "submitted_at"),
            ("scheduled", "scheduled_at"),
            ("running", "started_at"),
        ):
            moment = parse_time(job.get(key))
            out[f"server_{name}_s"] = None if moment is None else round(moment - wall0, 3)
        # The local backend's run folder: spec.json is written as the bind begins, child-0.json once the
        # command (JupyterLab, in its sandbox) has started; the socket appears when JupyterLab listens.
        run = folder / "var" / local_layout.ROOT_FOLDER / public_id / local_layout.run_name(1)
        sock = next((p for p in (folder / "s" / public_id).glob("*") if p.is_socket()), None)
        for name, path in (
            ("bound", run / local_layout.SPEC),
            ("command_started", local_layout.child_file(run, 0)),
            ("listening", sock),
        ):
            exists = path is not None and path.exists()
            out[f"server_{name}_s"] = round(path.stat().st_mtime - wall0, 3) if exists else None
    finally:
        out["stop_s"], out["stop_status"] = stop(client, base, public_id)
    return out


def stop(client: httpx.Client, base: str, public_id: str) -> tuple[float, int]:
    """The page's Stop form; back once the job ended and the allocation shows no GPUs in sessions: how
    long that took, and what the form's POST answered (302; anything else is reported, and the session
    is still waited for, as a user who saw an error page would reload the session's page)."""
    started = time.perf_counter()
    page = client.get(f"/my-sessions/{public_id}/")
    answer = client.post(
        f"/my-sessions/{public_id}/stop/",
        data={"csrfmiddlewaretoken": csrf_token(page.text)},
        headers={"Referer": f"{base}/my-sessions/{public_id}/", "Origin": base},
    )
    if answer.status_code != 302:
        print(f"    the Stop form answered {answer.status_code}", file=sys.stderr, flush=True)
    while time.perf_counter() - started < STOP_TIMEOUT_S:
        job = client.get(f"/api/v1/sessions/{public_id}").json()["job"]
        if job["state"] in ("succeeded", "failed", "cancelled", "timed_out", "exhausted"):
            form = client.get("/my-sessions/new/")
            in_use = GPUS_IN_USE.search(form.text)
            if in_use is not None and in_use.group(1) == "0":
                return round(time.perf_counter() - started, 3), answer.status_code
        time.sleep(0.2)
    raise RuntimeError(f"the session {public_id} did not end within {STOP_TIMEOUT_S:.0f} s")


def last_error(logs: Path) -> str | None:
    """The last exception the portal logged (what a 500 was), for the report."""
    lines = (logs / "server.log").read_text(errors="replace").splitlines()
    found = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)]
    return found[-1] if found else None


# --- figures ---------------------------------------------------------------------------------------------


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def summary(launches: list[dict]) -> dict:
    done = [x for x in launches if "usable_s" in x]
    out: dict = {"launches": len(launches), "succeeded": len(done), "failed": len(launches) - len(done)}
    if not done:
        return out
    for key in ("lab_s", "usable_s"):
        values = [x[key] for x in done]
        out[key] = {
            "median": round(statistics.median(values), 3),
            "p95": nearest_rank(values, 0.95),
            "min": min(values),
            "max": max(values),
        }
    # The phases, each from the one before: medians.
    phases = [
        ("post_and_page", None, "page_s"),
        ("to_gpus_claimed", "server_submitted_s", "server_scheduled_s"),
        ("claimed_to_bind", "server_scheduled_s", "server_bound_s"),
        ("bind_to_command_started", "server_bound_s", "server_command_started_s"),
        ("command_started_to_listening", "server_command_started_s", "server_listening_s"),
        ("listening_to_lab_200", "server_listening_s", "lab_s"),
        ("claimed_to_state_running", "server_scheduled_s", "server_running_s"),
        ("state_running_to_seen_by_page", "server_running_s", "seen_running_s"),
        ("lab_to_kernel_created", "lab_s", "kernel_created_s"),
        ("kernel_created_to_answer", "kernel_created_s", "usable_s"),
    ]
    out["phase_medians_s"] = {}
    for name, start, end in phases:
        values = [
            x[end] - (x[start] if start else 0)
            for x in done
            if x.get(end) is not None and (not start or x.get(start) is not None)
        ]
        if values:
            out["phase_medians_s"][name] = round(statistics.median(values), 3)
    out["waited_in_queue_launches"] = sum(1 for x in done if x["waited_in_queue"])
    out["page_reloads"] = sum(x["page_reloads"] for x in done)
    out["stop_errors"] = sum(1 for x in done if x.get("stop_status", 302) != 302)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=20, help="timed launches per --poll-s value")
    parser.add_argument(
        "--poll-s",
        type=float,
        nargs="+",
        default=[1.0],
        help="seconds between the page's looks (1: the page's own); several: interleaved, each reported",
    )
    parser.add_argument("--warmup", type=int, default=1, help="launches first, reported apart")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its logs)")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="gg-"))
    env = service_env(folder)
    os.environ.clear()
    os.environ.update(env)  # this process reads the same settings (the backend, to clean up; the sandbox)
    import django

    django.setup()
    from django.conf import settings

    from bench.report import load_average, machine
    from portal.web.management.commands.seed_demo import DEMO_LOCAL_CLUSTERS

    # As the demo sets it: the simulated GPUs belong to seed_demo's two clusters.
    os.environ["GPUGRANT_LOCAL_CLUSTERS"] = settings.GPUGRANT_LOCAL_CLUSTERS = DEMO_LOCAL_CLUSTERS
    from scheduler.backends.local import sandbox_unavailable_reason

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    service = Service(folder, free_port())
    variants = {poll_s: [] for poll_s in args.poll_s}
    warmups: list[dict] = []
    failures: list[dict] = []
    try:
        started = time.perf_counter()
        service.start()
        ready_s = round(time.perf_counter() - started, 1)
        print(f"service ready in {ready_s} s at {service.base} ({folder})", flush=True)
        client = httpx.Client(base_url=service.base, timeout=60)
        login(client, service.base)
        plan = [("warmup", args.poll_s[0])] * args.warmup + [
            ("timed", poll_s) for _ in range(args.launches) for poll_s in args.poll_s
        ]
        for number, (kind, poll_s) in enumerate(plan, 1):
            try:
                result = launch(client, service.base, poll_s, folder)
            except LaunchFailed as error:
                result = {"poll_s": poll_s, "error": str(error), "server_error": last_error(folder / "logs")}
                failures.append(result)
            (warmups if kind == "warmup" else variants[poll_s]).append(result)
            print(
                f"{number:>3} {kind:<6} poll {poll_s:g} s: "
                + (
                    f"lab {result['lab_s']:.2f} s, kernel answers {result['usable_s']:.2f} s "
                    f"(claimed {result['server_scheduled_s']}, running {result['server_running_s']}, "
                    f"listening {result['server_listening_s']}, seen {result['seen_running_s']}), "
                    f"stopped in {result['stop_s']:.1f} s"
                    if "usable_s" in result
                    else f"FAILED: {result['error']} ({result['server_error']})"
                ),
                flush=True,
            )
        client.close()
    except BaseException:
        for name in ("server", "worker"):  # the folder goes; what the service said stays on the screen
            log = folder / "logs" / f"{name}.log"
            if log.exists():
                print(
                    f"--- the end of {name}.log ---",
                    *log.read_text().splitlines()[-60:],
                    sep="\n",
                    file=sys.stderr,
                )
        raise
    finally:
        service.stop()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    report = {
        "launches": args.launches,
        "poll_s": args.poll_s,
        "warmup": {"launches": warmups, **summary(warmups)},
        "variants": [
            {"poll_s": poll_s, **summary(results), "per_launch": results}
            for poll_s, results in variants.items()
        ],
        "failures": failures,
        "percentiles": "median: statistics.median; p95: nearest rank (the ceil(0.95 n)-th smallest)",
        "service_ready_s": ready_s,
        "sandboxed": not sandbox_unavailable_reason(),
        "unsandboxed_reason": sandbox_unavailable_reason() or None,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "load_average_after": load_average(),
        "command": "python -m bench.session_start "
        + f"--launches {args.launches} --poll-s {' '.join(f'{p:g}' for p in args.poll_s)} --warmup {args.warmup}",
    }
    for variant in report["variants"]:
        if "usable_s" in variant:
            print(
                f"poll {variant['poll_s']:g} s, {variant['succeeded']} launches: click → lab page median "
                f"{variant['lab_s']['median']} s, p95 {variant['lab_s']['p95']} s; click → kernel answers median "
                f"{variant['usable_s']['median']} s, p95 {variant['usable_s']['p95']} s; phases "
                f"{variant['phase_medians_s']}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    stop_errors = sum(v["stop_errors"] for v in report["variants"] if "stop_errors" in v)
    return 1 if failures or stop_errors else 0


if __name__ == "__main__":
    sys.exit(main())
