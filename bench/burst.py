"""Benchmark: the burst — thousands of users submitting at once, on the real stack on loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gpugrant \\
    CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// REDIS_URL=redis://127.0.0.1:6379/0 \\
    .venv/bin/python -m bench.burst [--scenario closed|open|both] [--clients 1000] [--submissions 10000] \\
        [--arrivals 10000] [--arrival-window 60] [--connection-limit 250] [--seed 1] [--organisations 50] \\
        [--duration-limit 120] [--runs 3] [--workers 5] [--threads 8] [--submit-concurrency 2] \\
        [--retry-after 1] [--submit-queue 6] [--submit-queue-wait-ms 1000] [--retry-jitter 0] [--error-backoff 1] [--org-rate 1200/min] \\
        [--peer slurm] [--peer-backoff 1] [--json OUT]

Per run and scenario it starts gunicorn (``portal.wsgi``, GPUGRANT_ENV=production, plain HTTP on 127.0.0.1)
against its own PostgreSQL database (``<name>_burst_bench``, created, migrated and emptied here), RabbitMQ
and Redis, with ``organisations`` organisations holding active allocations and one user with its own API
key per client (closed loop) or per arrival (open loop), spread over them (inserted directly).

- ``closed``: ``clients`` concurrent clients send ``submissions`` distinct POST /api/v1/jobs in all, each
  client its next only once its last was accepted; after an acceptance every third client reads
  GET /api/v1/jobs or GET /api/v1/jobs/{id}.
- ``open``: ``arrivals`` users arrive over ``arrival-window`` seconds as a Poisson process (exponential gaps
  from a seeded RNG), each submitting one job; nothing else limits concurrency but aiohttp's
  ``connection-limit`` open connections.

In both scenarios and for both systems the requests share at most ``connection-limit`` open connections
(default 250): slurmrestd 22.05 stops answering near 1,000 open connections and goes on creating jobs
nobody hears of (bench/slurm_peer.py), so both get the same pool, small enough for either. The pool is
handed out first come, first served: a request waiting for a connection is timed from before the wait.

Every submission carries its own Idempotency-Key; 429/503 are retried with the same key after exactly
``Retry-After`` (``--retry-jitter``: up to that fraction later, never sooner), a lost connection or another
5xx after ``--error-backoff`` s, any other 4xx is final. Each submission's first attempt, every attempt
(status, latency) and every wait are recorded: **time-to-acceptance** = its 201 − its first attempt's start
(closed) or its scheduled arrival (open). Reported per run: time-to-acceptance p50/p95/p99/max over the
accepted submissions, and the p99 over every submission (not accepted counting as never); how many were not
accepted by ``duration-limit`` (from the run's start), and why; the makespan (run start to the last 201)
and accepted/s = accepted ÷ makespan; attempts per submission; per-attempt latency per endpoint and status
(labelled per attempt); status counts; the load average before and after. Afterwards it checks the
database: every 201's job exists exactly once, no job exists without its 201, each budget's holds equal the
sum of its queued jobs' holds, no budget is overdrawn; and counts 5xx other than 503.

``--peer slurm``: after gpugrant's, each run drives the same scenarios against a fresh
``bench.slurm_peer.SlurmPeer`` (slurmctld, slurmd and slurmrestd on loopback) through slurmrestd's job
submit. Slurm sends no Retry-After: every answer that is not an acceptance is retried after
``--peer-backoff`` s; it has no idempotency key. Checked afterwards: every accepted job's name is known to
slurmctld exactly once, none without an acceptance. Medians over runs are labelled as such; nothing is
summed across runs. Only loopback is targeted.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import math
import os
import platform
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
READ_EVERY = 3  # one read per this many accepted submissions, per client
CLIENT_KEEPALIVE_S = 1.5  # below gunicorn's --keep-alive (2 s by default)
PEER_NODES = 64  # simulated GPU nodes × 8 GPUs seeded for gpugrant; the Slurm peer gets as many


# --- Database -------------------------------------------------------------------------------------
def bench_database_url(database_url: str, suffix: str = "_burst_bench") -> str:
    base, _, name = database_url.rpartition("/")
    return f"{base}/{name}{suffix}"


def setup_django(database_url: str, suffix: str = "_burst_bench") -> str:
    url = bench_database_url(database_url, suffix)
    base, _, name = url.rpartition("/")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("GPUGRANT_BACKEND", "simulated")
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    return url


def seed(
    organisations: int, clients: int, nodes: int = PEER_NODES
) -> tuple[list[tuple[str, str]], list[int]]:
    """Organisations with active allocations, users with API keys. Returns [(api key, allocation id)]."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from portal.accounts.models import ApiKey, User
    from portal.accounts.services import API_KEY_PREFIX
    from portal.applications.models import Application
    from portal.calls.models import Call
    from portal.organisations.models import Membership, Organisation
    from quotas.models import Allocation, AllocationBudget
    from scheduler.models import GpuNode

    now = timezone.now()
    today = timezone.localdate()
    with transaction.atomic():
        orgs = Organisation.objects.bulk_create(
            Organisation(
                name=f"Burst {i}", org_type="university", registration_number=f"BURST-{i}", verified=True
            )
            for i in range(organisations)
        )
        users = User.objects.bulk_create(
            User(email=f"burst{i}@example.test", password="!") for i in range(clients)
        )
        Membership.objects.bulk_create(
            Membership(
                organisation=orgs[i % organisations],
                user=user,
                role="owner" if i < organisations else "member",
            )
            for i, user in enumerate(users)
        )
        call = Call.objects.create(
            title="burst",
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=1),
            eligible_org_types=["university"],
            allocation_start=today,
            allocation_end=today + timedelta(days=30),
        )
        applications = Application.objects.bulk_create(
            Application(
                call=call,
                organisation=org,
                created_by=users[i],
                project_title=f"burst {i}",
                summary="s",
                field="other",
                requested_start=today,
                requested_end=today + timedelta(days=30),
                max_concurrent_gpus=64,
                justification="j",
                state="approved",
            )
            for i, org in enumerate(orgs)
        )
        allocations = Allocation.objects.bulk_create(
            Allocation(
                organisation=org,
                call=call,
                application=applications[i],
                project_title=f"burst {i}",
                starts_on=today - timedelta(days=1),
                ends_on=today + timedelta(days=30),
                max_concurrent_gpus=64,
                # The bench submits its own image: what it measures is admission, not the catalogue.
                allow_custom_images=True,
            )
            for i, org in enumerate(orgs)
        )
        AllocationBudget.objects.bulk_create(
            AllocationBudget(allocation=a, gpu_type="A100", awarded_gpu_hours=1_000_000) for a in allocations
        )
        GpuNode.objects.bulk_create(
            GpuNode(name=f"sim-{i:04d}", gpu_type="A100", gpu_count=8, backend="simulated")
            for i in range(nodes)
        )
        keys, rows = [], []
        for i, user in enumerate(users):
            prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
            plaintext = f"{API_KEY_PREFIX}_{prefix}_{secret}"
            digest = hashlib.sha256(plaintext.encode()).hexdigest()
            rows.append(ApiKey(user=user, name="burst", prefix=prefix, key_hash=digest, last_used_at=now))
            keys.append((plaintext, str(allocations[i % organisations].public_id)))
        ApiKey.objects.bulk_create(rows)
    return keys, [a.pk for a in allocations]


def reset_jobs() -> None:
    """Empty jobs (and what hangs off them) and release every hold, for the next run."""
    from django.db import connection

    from quotas.models import AllocationBudget

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE scheduler_job RESTART IDENTITY CASCADE")
    AllocationBudget.objects.update(held_gpu_seconds=0)


def verify(accepted_ids: list[str]) -> dict:
    """Every 201 is in the database exactly once; holds match queued jobs; no budget overdrawn."""
    from django.db.models import Sum

    from quotas.models import AllocationBudget
    from scheduler.models import Job

    wanted = set(accepted_ids)
    in_db = Counter(str(p) for p in Job.objects.values_list("public_id", flat=True))
    sums = {
        (row["allocation_id"], row["gpu_type"]): row["total"]
        for row in Job.objects.filter(state="queued")
        .values("allocation_id", "gpu_type")
        .annotate(total=Sum("hold_gpu_seconds"))
    }
    budgets = list(AllocationBudget.objects.all())
    wrong_holds = sum(1 for b in budgets if b.held_gpu_seconds != sums.get((b.allocation_id, b.gpu_type), 0))
    overdrawn = sum(1 for b in budgets if b.remaining_gpu_seconds < 0)
    return {
        "accepted_responses": len(accepted_ids),
        "duplicate_responses": len(accepted_ids) - len(wanted),
        "lost": sum(1 for p in wanted if in_db[p] == 0),
        "duplicated_in_db": sum(1 for c in in_db.values() if c > 1),
        "jobs_without_a_201": sum(1 for p in in_db if p not in wanted),
        "jobs_in_db": sum(in_db.values()),
        "budgets_with_wrong_holds": wrong_holds,
        "budgets_overdrawn": overdrawn,
    }


# --- Server ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(
    database_url: str,
    port: int,
    workers: int,
    threads: int,
    env_extra: dict,
    keep_alive: int = 2,
    worker_connections: int = 1000,
) -> subprocess.Popen:
    env = {
        **os.environ,
        "GPUGRANT_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        # required in production; the burst stores no provider credentials (a Fernet key: 32 bytes, base64)
        "GPUGRANT_CREDENTIALS_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "600",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "CACHE_KEY_PREFIX": f"burst-{uuid.uuid4().hex[:12]}",  # fresh throttle counters per run
        "GPUGRANT_BACKEND": "simulated",
        "LOG_LEVEL": "WARNING",
        **env_extra,
    }
    command = [
        sys.executable, "-m", "gunicorn", "portal.wsgi:application",
        "--bind", f"{HOST}:{port}", "--workers", str(workers), "--backlog", "2048",
        "--worker-class", "gthread" if threads > 1 else "sync", "--threads", str(threads),
        "--timeout", "60", "--log-level", "warning", "--keep-alive", str(keep_alive),
        "--worker-connections", str(worker_connections),
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"GET /healthz/live HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/"):
                    return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise SystemExit("gunicorn did not answer within 30 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --- Targets: what the load generator drives ------------------------------------------------------
def job_body(allocation: str, n: int) -> dict:
    return {
        "allocation": allocation,
        "name": f"burst-{n}",
        "kind": "training",
        "image": "registry.example.kr/team/train:1.2",
        "command": ["python", "train.py"],
        "gpu_type": "A100",
        "gpus_per_pod": 1,
        "max_runtime_minutes": 60,
    }


class GpugrantTarget:
    """gpugrant's POST /api/v1/jobs: one API key per user, an Idempotency-Key per submission, 429/503 retried
    after exactly the Retry-After it sent (``jitter`` > 0: up to that fraction later, never sooner), a lost
    connection or another 5xx after ``error_backoff`` seconds, any other 4xx final."""

    name = "gpugrant"
    idempotent = True  # a retry with the same key never creates a second job: unknown outcomes are settled
    reads = True  # closed loop: every third client reads its jobs after an acceptance

    def __init__(self, port: int, keys: list[tuple[str, str]], error_backoff: float, jitter: float = 0.0):
        self.base = f"http://{HOST}:{port}/api/v1"
        self.keys = keys
        self.error_backoff = error_backoff
        self.jitter = jitter  # > 0: wait Retry-After × (1 + uniform(0, jitter)), never less than told
        self.rng = random.Random(2)

    def submission(self, n: int, user: int, key: str) -> tuple[str, dict, dict]:
        api_key, allocation = self.keys[user]
        headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}
        return f"{self.base}/jobs", headers, job_body(allocation, n)

    def accepted(self, status: int | None, data) -> str | None:
        return data["id"] if status == 201 and isinstance(data, dict) else None

    def wait_after(self, status: int | None, retry_after: str | None) -> tuple[str, float] | None:
        """("retry_after" | "backoff", seconds) before the next attempt, or None: the refusal is final."""
        if status in (429, 503) and retry_after:
            return "retry_after", float(retry_after) * (1 + self.jitter * self.rng.random())
        if status is None or status >= 500 or status in (429, 503):
            return "backoff", self.error_backoff
        return None

    def read_requests(self, user: int, accepted_ids: list[str]) -> tuple[str, str, dict]:
        headers = {"Authorization": f"Bearer {self.keys[user][0]}"}
        if len(accepted_ids) % 2:
            return "GET /jobs", f"{self.base}/jobs?state=queued", headers
        return "GET /jobs/{id}", f"{self.base}/jobs/{accepted_ids[-1]}", headers


class SlurmTarget:
    """slurmrestd's job submit (bench.slurm_peer.SlurmPeer). Slurm has no Retry-After protocol: every answer
    that is not an acceptance (and every lost connection) is retried after ``backoff`` seconds, and there is
    no idempotency key, so a retry after a lost answer may submit the job twice (the check counts it)."""

    name = "slurm"
    idempotent = False
    reads = False  # the peer's interface has no read path: the Slurm side gets no read traffic

    def __init__(self, peer, backoff: float):
        self.peer = peer
        self.url = peer.base_url.rstrip("/") + peer.submit_path()
        self.headers = {**peer.headers(), "Content-Type": "application/json"}
        self.backoff = backoff

    def submission(self, n: int, user: int, key: str) -> tuple[str, dict, dict]:
        return self.url, self.headers, self.peer.submit_body(n)

    def accepted(self, status: int | None, data) -> str | None:
        if status is None or not isinstance(data, dict):
            return None
        return self.peer.accepted_job_id(status, data)

    def wait_after(self, status: int | None, retry_after: str | None) -> tuple[str, float] | None:
        return "backoff", self.backoff


# --- Load -----------------------------------------------------------------------------------------
class Submission:
    """One job a user wants accepted: every attempt, every wait, and when (if) it was accepted."""

    __slots__ = (
        "n", "user", "first", "lag", "key", "attempts", "waits", "accepted_at", "ident", "final", "settled"
    )  # fmt: skip

    def __init__(self, n: int, user: int, first: float):
        self.n, self.user, self.first = n, user, first
        self.key = f"burst-{uuid.uuid4()}"  # the Idempotency-Key of every attempt (gpugrant)
        self.lag = 0.0  # open loop: its first attempt's start after its scheduled arrival
        self.attempts: list[tuple[str, float]] = []  # (status or "error:…", seconds)
        self.waits = {"retry_after": 0.0, "backoff": 0.0}
        self.accepted_at: float | None = None
        self.ident: str | None = None
        self.final: str | None = None  # the status that ended it without an acceptance (a final 4xx)
        self.settled: str | None = None  # accepted after the deadline, by re-sending the same key


def arrival_offsets(arrivals: int, window: float, seed: int) -> list[float]:
    """Poisson arrivals: exponential gaps at arrivals/window per second, from a seeded RNG (the process
    runs past ``window`` when the gaps add up to more; they are not squeezed into it)."""
    rng = random.Random(seed)
    rate, t, out = arrivals / window, 0.0, []
    for _ in range(arrivals):
        t += rng.expovariate(rate)
        out.append(t)
    return out


async def drive(target, scenario: str, args, users: int) -> dict:
    """One run of ``scenario`` ("closed" or "open") against ``target``; figures per submission and per
    attempt."""
    import aiohttp

    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    subs: list[Submission] = []
    timeout = aiohttp.ClientTimeout(total=30)
    limit = min(args.clients, args.connection_limit) if scenario == "closed" else args.connection_limit
    # Idle connections are dropped before gunicorn's own keep-alive (2 s) closes them: reusing one the server
    # has just closed would fail as a lost connection that no server fault caused.
    connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=CLIENT_KEEPALIVE_S)
    # The pool is shared first come, first served. aiohttp's own queue for it is not: the coroutine that
    # has just released a connection takes one again before any waiter runs, so in the closed loop the
    # clients holding a connection kept it for submission after submission while the rest waited until
    # the 30 s timeout — a tail no server caused. asyncio.Semaphore hands a freed slot to its oldest
    # waiter (and queues newcomers behind waiters), and aiohttp's pool never waits beneath it.
    turns = asyncio.Semaphore(limit)
    start = time.perf_counter()
    deadline = start + args.duration_limit

    async def attempt(session, endpoint, method, url, headers, body=None):
        t0 = time.perf_counter()  # includes waiting for a connection from the pool
        try:
            async with turns, session.request(method, url, json=body, headers=headers) as response:
                data = await response.json(content_type=None)
                seconds = time.perf_counter() - t0
                statuses[endpoint][str(response.status)] += 1
                latencies[endpoint].append(seconds)
                latencies[f"{endpoint} → {response.status}"].append(seconds)
                return str(response.status), response.status, response.headers.get("Retry-After"), data
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError, ValueError) as exc:
            statuses[endpoint][f"error:{type(exc).__name__}"] += 1
            return f"error:{type(exc).__name__}", None, None, None

    async def submit(session, s: Submission) -> None:
        while time.perf_counter() < deadline:
            url, headers, body = target.submission(s.n, s.user, s.key)
            t0 = time.perf_counter()
            label, code, retry_after, data = await attempt(session, "POST submit", "POST", url, headers, body)
            s.attempts.append((label, time.perf_counter() - t0))
            ident = target.accepted(code, data)
            if ident is not None:
                s.accepted_at, s.ident = time.perf_counter(), ident
                return
            wait = target.wait_after(code, retry_after)
            if wait is None:
                s.final = label
                return
            kind, seconds = wait
            seconds = min(seconds, max(0.0, deadline - time.perf_counter()))
            s.waits[kind] += seconds
            await asyncio.sleep(seconds)

    async def closed_client(session, user: int, numbers) -> None:
        mine: list[str] = []
        for n in numbers:
            if time.perf_counter() >= deadline:
                return
            s = Submission(n, user, time.perf_counter())
            subs.append(s)
            await submit(session, s)
            if s.ident is None:
                return  # its deadline passed (or a final refusal): this client stops
            mine.append(s.ident)
            if target.reads and (len(mine) + user) % READ_EVERY == 0:
                endpoint, url, headers = target.read_requests(user, mine)
                await attempt(session, endpoint, "GET", url, headers)

    async def open_user(session, user: int, at: float) -> None:
        s = Submission(user, user, start + at)  # counted from its arrival, not from when it got to run
        subs.append(s)
        await asyncio.sleep(max(0.0, s.first - time.perf_counter()))
        s.lag = max(0.0, time.perf_counter() - s.first)
        await submit(session, s)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if scenario == "closed":
            numbers = iter(range(args.submissions))
            await asyncio.gather(*(closed_client(session, u, numbers) for u in range(users)))
        else:
            offsets = arrival_offsets(args.arrivals, args.arrival_window, args.seed)
            await asyncio.gather(*(open_user(session, u, at) for u, at in enumerate(offsets)))
        elapsed = time.perf_counter() - start
        # Submissions whose last attempt's outcome is unknown at the deadline (a lost answer): with an
        # idempotency key, re-sending it returns the job if it was committed, never a second one. They are
        # accepted after the deadline: not in the time-to-acceptance figures, but in the database check.
        unknown = [
            s for s in subs if s.ident is None and s.attempts and s.attempts[-1][0].startswith("error:")
        ]
        if target.idempotent and unknown:
            settle = asyncio.Semaphore(50)

            async def settle_one(s: Submission) -> None:
                async with settle:
                    url, headers, body = target.submission(s.n, s.user, s.key)
                    _, code, _, data = await attempt(
                        session, "POST submit (settle)", "POST", url, headers, body
                    )
                    s.settled = target.accepted(code, data)

            await asyncio.gather(*(settle_one(s) for s in unknown))
    return {"subs": subs, "start": start, "wall_s": elapsed, "latencies": latencies, "statuses": statuses}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def spread(values: list[float], scale: float = 1.0, digits: int = 3) -> dict:
    """count, p50, p95, p99, max and mean of ``values`` × ``scale`` (zeros when there are none)."""
    pick = {p: percentile(values, p) for p in (50, 95, 99)}
    return {
        "count": len(values),
        **{f"p{p}": round(v * scale, digits) for p, v in pick.items()},
        "max": round(max(values, default=0.0) * scale, digits),
        "mean": round(statistics.fmean(values) * scale, digits) if values else 0.0,
    }


def p99_all(to_acceptance: list[float], submissions: int) -> float | None:
    value = percentile(to_acceptance + [math.inf] * (submissions - len(to_acceptance)), 99)
    return None if math.isinf(value) else round(value, 3)


def figures(scenario: str, result: dict, submissions: int) -> dict:
    """A run's figures per submission (time-to-acceptance, attempts, waits) and per attempt (latency)."""
    subs: list[Submission] = result["subs"]
    start = result["start"]
    accepted = [s for s in subs if s.accepted_at is not None]
    to_acceptance = [s.accepted_at - s.first for s in accepted]
    makespan = max((s.accepted_at for s in accepted), default=start) - start
    attempts = [len(s.attempts) for s in subs if s.attempts]
    statuses = result["statuses"]
    codes = Counter()
    for counts in statuses.values():
        codes.update(counts)
    settled = sum(1 for s in subs if s.settled)
    out = {
        "submissions": submissions,
        "started": len(subs),
        "accepted": len(accepted),
        "not_accepted": submissions - len(accepted),
        "not_accepted_detail": {
            "never_started": submissions - len(subs),  # closed loop: the deadline came first
            "refused_finally": sum(1 for s in subs if s.final is not None),
            "still_retrying_at_deadline": sum(1 for s in subs if s.ident is None and s.final is None),
            "of_which_accepted_after_the_deadline_by_settling": settled,
        },
        "wall_s": round(result["wall_s"], 2),
        "makespan_s": round(makespan, 3),
        "accepted_per_s": round(len(accepted) / makespan, 1) if makespan > 0 else 0.0,
        "accepted_per_s_basis": "accepted by the deadline ÷ makespan (run start to the last acceptance)",
        "time_to_acceptance_s": spread(to_acceptance),
        # the same p99 over every submission, one not accepted by the deadline counting as never: None when
        # more than 1 % were not accepted (the p99 is then beyond the run)
        "time_to_acceptance_p99_all_s": p99_all(to_acceptance, submissions),
        "time_to_acceptance_basis": (
            "per accepted submission: its acceptance − its first attempt's start"
            if scenario == "closed"
            else "per accepted submission: its acceptance − its scheduled arrival"
        ),
        "attempts_per_submission": {
            "mean": round(statistics.fmean(attempts), 2) if attempts else 0.0,
            "max": max(attempts, default=0),
        },
        "waits_s_total": {
            kind: round(sum(s.waits[kind] for s in subs), 1) for kind in ("retry_after", "backoff")
        },
        "per_attempt_latency_ms": {
            endpoint: {k: v for k, v in spread(values, 1000, 1).items() if k != "mean"}
            for endpoint, values in sorted(result["latencies"].items())
        },
        "status_counts": {endpoint: dict(sorted(c.items())) for endpoint, c in sorted(statuses.items())},
        "shed_503": codes["503"],
        "throttled_429": codes["429"],
        "server_errors_5xx_other_than_503": sum(
            n for code, n in codes.items() if code.startswith("5") and code != "503"
        ),
        "connection_errors": sum(n for code, n in codes.items() if code.startswith("error:")),
    }
    if scenario == "open":
        out["generator_lag_ms"] = {
            k: v for k, v in spread([s.lag for s in subs], 1000, 1).items() if k in ("p99", "max")
        }
    return out


def accepted_ids(result: dict) -> list[str]:
    return [s.ident or s.settled for s in result["subs"] if s.ident or s.settled]


def verify_slurm(peer, result: dict) -> dict:
    """Every accepted job's name appears exactly once among slurmctld's jobs; no burst job without an
    acceptance."""
    accepted = Counter(f"burst-{s.n}" for s in result["subs"] if s.ident)
    known = Counter(name for name in peer.job_names() if name.startswith("burst-"))
    return {
        "accepted_responses": sum(accepted.values()),
        "lost": sum(1 for name in accepted if known[name] == 0),
        "duplicated_in_db": sum(1 for name in accepted if known[name] > 1),
        "jobs_without_a_201": sum(1 for name in known if name not in accepted),
        "jobs_in_db": sum(known.values()),
        "budgets_with_wrong_holds": None,  # Slurm holds no budgets here
        "budgets_overdrawn": None,
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def one_run(target, scenario: str, args, users: int) -> tuple[dict, dict]:
    before = load_average()
    result = asyncio.run(drive(target, scenario, args, users))
    out = {"target": target.name, "scenario": scenario, "load_before": before, "load_after": load_average()}
    out |= figures(scenario, result, args.submissions if scenario == "closed" else args.arrivals)
    return out, result


def slurm_peer_class():
    """bench.slurm_peer.SlurmPeer, or the reason it cannot be used here."""
    try:
        from bench.slurm_peer import SlurmPeer
    except ImportError as exc:
        return None, f"bench.slurm_peer does not import ({exc})"
    return SlurmPeer, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("closed", "open", "both"), default="both")
    parser.add_argument("--clients", type=int, default=1000, help="closed loop: concurrent clients")
    parser.add_argument("--submissions", type=int, default=10_000, help="closed loop: submissions in all")
    parser.add_argument("--arrivals", type=int, default=10_000, help="open loop: users, one job each")
    parser.add_argument("--arrival-window", type=float, default=60.0, help="open loop: seconds")
    parser.add_argument(
        "--connection-limit",
        type=int,
        default=250,
        help="open connections at most, both scenarios and systems (slurmrestd stalls near 1,000)",
    )
    parser.add_argument("--seed", type=int, default=1, help="open loop: the arrivals' RNG")
    parser.add_argument("--organisations", type=int, default=50)
    parser.add_argument("--duration-limit", type=float, default=120.0, help="seconds per run, from its start")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers: 2 × cores + 1 for 2 cores")
    parser.add_argument("--threads", type=int, default=8, help="> 1: gthread workers with this many threads")
    parser.add_argument("--org-rate", help="GPUGRANT_ORG_SUBMIT_RATE for the server (default: the product's)")
    parser.add_argument(
        "--submit-concurrency",
        type=int,
        default=2,
        help="GPUGRANT_SUBMIT_CONCURRENCY for the server (0: off)",
    )
    parser.add_argument(
        "--retry-after", type=int, default=1, help="GPUGRANT_OVERLOAD_RETRY_AFTER_S (the product's default)"
    )
    parser.add_argument(
        "--submit-queue", type=int, default=6, help="GPUGRANT_SUBMIT_QUEUE: threads − cap, each may wait"
    )
    parser.add_argument(
        "--submit-queue-wait-ms", type=int, default=1000, help="GPUGRANT_SUBMIT_QUEUE_WAIT_MS for the server"
    )
    parser.add_argument(
        "--error-backoff", type=float, default=1.0, help="s before retrying a lost connection or a 5xx ≠ 503"
    )
    parser.add_argument(
        "--retry-jitter",
        type=float,
        default=0.0,
        help="gpugrant: wait Retry-After × (1 + uniform(0, this)); 0 (default): exactly Retry-After",
    )
    parser.add_argument("--peer", choices=("slurm",), help="also drive this system, after gpugrant, per run")
    parser.add_argument("--peer-backoff", type=float, default=1.0, help="s before retrying at the peer")
    parser.add_argument(
        "--keep-alive", type=int, default=2, help="gunicorn --keep-alive s (0: a connection per request)"
    )
    parser.add_argument(
        "--worker-connections",
        type=int,
        default=1000,
        help="gunicorn --worker-connections: connections one worker takes before leaving the rest to others",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    # A terminated bench still stops its server (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if (
        not 1 <= args.clients <= 5000
        or not 1 <= args.submissions <= 200_000
        or not 1 <= args.arrivals <= 20_000
        or args.duration_limit > 600
    ):
        raise SystemExit(
            "bounded: at most 5,000 clients, 200,000 submissions, 20,000 arrivals, 600 s per run"
        )
    scenarios = ["closed", "open"] if args.scenario == "both" else [args.scenario]
    if "open" in scenarios and args.duration_limit <= args.arrival_window:
        raise SystemExit("--duration-limit must be longer than --arrival-window")
    peer_class = None
    if args.peer == "slurm":
        peer_class, why = slurm_peer_class()
        if peer_class is None:
            raise SystemExit(f"--peer slurm: {why}")
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gpugrant")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL=postgres://… (this benchmark measures PostgreSQL)")
    bench_url = setup_django(url)
    users = max(args.clients if "closed" in scenarios else 0, args.arrivals if "open" in scenarios else 0)
    keys, _ = seed(args.organisations, users)
    env_extra = {}
    if args.org_rate is not None:
        env_extra["GPUGRANT_ORG_SUBMIT_RATE"] = args.org_rate
    if args.submit_concurrency is not None:
        env_extra["GPUGRANT_SUBMIT_CONCURRENCY"] = str(args.submit_concurrency)
    if args.retry_after is not None:
        env_extra["GPUGRANT_OVERLOAD_RETRY_AFTER_S"] = str(args.retry_after)
    env_extra["GPUGRANT_SUBMIT_QUEUE"] = str(args.submit_queue)
    env_extra["GPUGRANT_SUBMIT_QUEUE_WAIT_MS"] = str(args.submit_queue_wait_ms)
    runs, peer_facts, peer_errors = [], None, []
    for number in range(args.runs):
        for scenario in scenarios:
            reset_jobs()
            from django.db import connections

            connections.close_all()
            port = free_port()
            server = start_server(
                bench_url,
                port,
                args.workers,
                args.threads,
                env_extra,
                args.keep_alive,
                args.worker_connections,
            )
            try:
                target = GpugrantTarget(port, keys, args.error_backoff, args.retry_jitter)
                out, result = one_run(target, scenario, args, args.clients if scenario == "closed" else 0)
            finally:
                stop_server(server)
            out["check"] = verify(accepted_ids(result))
            out["run"] = number + 1
            runs.append(out)
            print(json.dumps({k: v for k, v in out.items() if k != "status_counts"}), flush=True)
        if peer_class is None:
            continue
        for scenario in scenarios:  # a fresh peer per run, like gpugrant's fresh server and emptied tables
            try:
                instance = peer_class(gpu_nodes=PEER_NODES, gpus_per_node=8)  # the simulated GPU nodes' size
                with instance as entered:
                    peer = entered if entered is not None else instance
                    peer_facts = peer.describe() | {"version": peer.version}
                    target = SlurmTarget(peer, args.peer_backoff)
                    out, result = one_run(target, scenario, args, args.clients if scenario == "closed" else 0)
                    out["check"] = verify_slurm(peer, result)
            except Exception as exc:  # the peer failing must not cost gpugrant's figures: recorded, shown
                peer_errors.append({"run": number + 1, "scenario": scenario, "error": repr(exc)[:500]})
                print(json.dumps(peer_errors[-1]), file=sys.stderr, flush=True)
                continue
            out["run"] = number + 1
            runs.append(out)
            print(json.dumps({k: v for k, v in out.items() if k != "status_counts"}), flush=True)
    report = summarise(args, scenarios, runs, peer_facts)
    report["peer_errors"] = peer_errors
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)


def p99_median(rows: list[dict]) -> float | None:
    values = [r["time_to_acceptance_p99_all_s"] for r in rows]
    value = statistics.median(math.inf if v is None else v for v in values)
    return None if math.isinf(value) else round(value, 3)


def summarise(args, scenarios: list[str], runs: list[dict], peer_facts: dict | None) -> dict:
    """Per (target, scenario): medians over runs (labelled so) of the figures, and the worst run of every
    count that must be zero. Nothing is summed across runs; every run's figures are in ``runs``."""

    def median(rows, get):
        return round(statistics.median(get(r) for r in rows), 3)

    summary: dict[str, dict] = {}
    for target in ("gpugrant", args.peer):
        for scenario in scenarios:
            rows = [r for r in runs if r["target"] == target and r["scenario"] == scenario]
            if not target or not rows:
                continue
            summary.setdefault(target, {})[scenario] = {
                "runs": len(rows),
                "median_over_runs": {
                    "accepted": median(rows, lambda r: r["accepted"]),
                    "not_accepted": median(rows, lambda r: r["not_accepted"]),
                    "makespan_s": median(rows, lambda r: r["makespan_s"]),
                    "accepted_per_s": median(rows, lambda r: r["accepted_per_s"]),
                    "time_to_acceptance_s": {
                        p: median(rows, lambda r, p=p: r["time_to_acceptance_s"][p])
                        for p in ("p50", "p95", "p99", "max")
                    },
                    # None: in the median run more than 1 % of the submissions were not accepted
                    "time_to_acceptance_p99_all_s": p99_median(rows),
                    "attempts_per_submission_mean": median(
                        rows, lambda r: r["attempts_per_submission"]["mean"]
                    ),
                    "shed_503": median(rows, lambda r: r["shed_503"]),
                    "throttled_429": median(rows, lambda r: r["throttled_429"]),
                },
                "worst_run": {
                    "not_accepted": max(r["not_accepted"] for r in rows),
                    "attempts_per_submission_max": max(r["attempts_per_submission"]["max"] for r in rows),
                    "server_errors_5xx_other_than_503": max(
                        r["server_errors_5xx_other_than_503"] for r in rows
                    ),
                    "lost": max(r["check"]["lost"] for r in rows),
                    "duplicated": max(
                        r["check"]["duplicated_in_db"] + r["check"]["jobs_without_a_201"] for r in rows
                    ),
                    "holds_wrong": max(r["check"]["budgets_with_wrong_holds"] or 0 for r in rows),
                    "overdrawn": max(r["check"]["budgets_overdrawn"] or 0 for r in rows),
                },
            }
    return {
        "config": {
            "scenarios": scenarios,
            "clients": args.clients,
            "submissions": args.submissions,
            "arrivals": args.arrivals,
            "arrival_window_s": args.arrival_window,
            "arrival_process": f"Poisson (exponential gaps, random.Random({args.seed}))",
            "open_loop_connection_limit": args.connection_limit,
            "client_keepalive_s": CLIENT_KEEPALIVE_S,
            "organisations": args.organisations,
            "duration_limit_s": args.duration_limit,
            "workers": args.workers,
            "threads": args.threads,
            "org_rate": args.org_rate,
            "submit_concurrency": args.submit_concurrency,
            "retry_after_s": args.retry_after,
            "submit_queue": args.submit_queue,
            "submit_queue_wait_ms": args.submit_queue_wait_ms,
            "retry_jitter": args.retry_jitter,
            "client_rules": {
                "gpugrant": (
                    "429/503 retried after exactly Retry-After"
                    if not args.retry_jitter
                    else f"429/503 retried after Retry-After × (1 + uniform(0, {args.retry_jitter:g}))"
                )
                + ", same Idempotency-Key; "
                f"lost connection or other 5xx retried after {args.error_backoff:g} s; other 4xx final",
                "slurm": f"any answer that is not an acceptance retried after {args.peer_backoff:g} s "
                "(Slurm sends no Retry-After); no idempotency key",
            },
            "peer": args.peer,
        },
        "peer": peer_facts,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "summary": summary,
        "runs": runs,
    }


if __name__ == "__main__":
    main()
