"""Benchmark: the burst — thousands of users submitting at once, on the real stack on loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gpugrant \\
    CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// REDIS_URL=redis://127.0.0.1:6379/0 \\
    .venv/bin/python -m bench.burst [--clients 1000] [--submissions 10000] [--organisations 50] \\
        [--duration-limit 120] [--runs 3] [--workers 5] [--threads 8] \\
        [--submit-concurrency 2] [--retry-after 5] [--org-rate 1200/min] [--json OUT]

Per run it starts gunicorn (``portal.wsgi``, GPUGRANT_ENV=production, plain HTTP on 127.0.0.1) against
its own PostgreSQL database (``<name>_burst_bench``, created, migrated and emptied here), RabbitMQ and
Redis, with ``organisations`` organisations holding active allocations and ``clients`` users, each with
its own API key, spread over them (inserted directly). Then ``clients`` concurrent asyncio clients send
``submissions`` distinct POST /api/v1/jobs, each with its own Idempotency-Key (a 429/503 or a lost
connection is retried with the same key after Retry-After, as a well-behaved client does), and after each
accepted submission every third client reads GET /api/v1/jobs or GET /api/v1/jobs/{id}. Everything stops
at ``duration-limit`` seconds. Afterwards it checks the database: every 201's job exists exactly once, no
job exists without its 201, each budget's holds equal the sum of its queued jobs' holds, no budget is
overdrawn. Reports accepted submissions/s, latency p50/p95/p99 per endpoint and status counts; medians
over runs. Only loopback is targeted.
"""

import argparse
import asyncio
import hashlib
import json
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


def seed(organisations: int, clients: int, nodes: int = 64) -> tuple[list[tuple[str, str]], list[int]]:
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
    database_url: str, port: int, workers: int, threads: int, env_extra: dict
) -> subprocess.Popen:
    env = {
        **os.environ,
        "GPUGRANT_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
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
        "--timeout", "60", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"GET /api/schema/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
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


# --- Load -----------------------------------------------------------------------------------------
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


async def load(port: int, keys: list[tuple[str, str]], submissions: int, duration_limit: float) -> dict:
    import aiohttp

    base = f"http://{HOST}:{port}/api/v1"
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    accepted: list[str] = []
    accepted_at: list[float] = []
    remaining = iter(range(submissions))
    unsettled: list[tuple[str, dict, dict]] = []
    start = time.perf_counter()
    deadline = start + duration_limit
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=len(keys), force_close=False)

    async def request(session, endpoint, method, url, headers, body=None):
        t0 = time.perf_counter()
        try:
            async with session.request(method, url, json=body, headers=headers) as response:
                data = await response.json(content_type=None)
                statuses[endpoint][str(response.status)] += 1
                latencies[endpoint].append(time.perf_counter() - t0)
                latencies[f"{endpoint} → {response.status}"].append(time.perf_counter() - t0)
                return response.status, response.headers.get("Retry-After"), data
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError) as exc:
            statuses[endpoint][f"error:{type(exc).__name__}"] += 1
            return None, None, None

    async def client(session, index, api_key, allocation):
        headers = {"Authorization": f"Bearer {api_key}"}
        mine: list[str] = []
        for n in remaining:
            key = f"burst-{uuid.uuid4()}"
            while time.perf_counter() < deadline:
                code, retry_after, data = await request(
                    session, "POST /jobs", "POST", f"{base}/jobs",
                    {**headers, "Idempotency-Key": key}, job_body(allocation, n),
                )  # fmt: skip
                if code == 201:
                    accepted.append(data["id"])
                    accepted_at.append(time.perf_counter() - start)
                    mine.append(data["id"])
                    break
                if code in (429, 503) or code is None or code >= 500:
                    # Honour Retry-After, with jitter so that shed clients do not come back in lockstep.
                    wait = (float(retry_after) if retry_after else 0.5) * (0.5 + random.random())
                    await asyncio.sleep(min(wait, max(0.0, deadline - time.perf_counter())))
                    continue
                break  # a 4xx other than 429 is final
            else:
                if code is None:  # the outcome is unknown: settle it after the burst, with the same key
                    unsettled.append((key, {**headers, "Idempotency-Key": key}, job_body(allocation, n)))
                return
            if mine and (len(mine) + index) % READ_EVERY == 0:
                if len(mine) % 2:
                    await request(session, "GET /jobs", "GET", f"{base}/jobs?state=queued", headers)
                else:
                    await request(session, "GET /jobs/{id}", "GET", f"{base}/jobs/{mine[-1]}", headers)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session, i, k, a) for i, (k, a) in enumerate(keys)))
        elapsed = time.perf_counter() - start
        # Submissions whose last attempt timed out at the deadline: a retry with the same key must return
        # the job if it was committed (never a second one), or create it now.
        settle = asyncio.Semaphore(50)

        async def settle_one(key, headers, body):
            async with settle:
                code, _, data = await request(
                    session, "POST /jobs (settle)", "POST", f"{base}/jobs", headers, body
                )
                if code == 201:
                    accepted.append(data["id"])

        await asyncio.gather(*(settle_one(*u) for u in unsettled))
    last = accepted_at[-1] if accepted_at else elapsed
    return {
        "wall_s": round(elapsed, 2),
        "accepted": len(accepted_at),
        "settled_after_deadline": len(unsettled),
        "accepted_ids": accepted,
        "accepted_per_s": round(len(accepted_at) / last, 1) if last else 0.0,
        "timed_out": elapsed >= duration_limit,
        "latency_ms": {
            endpoint: {
                "count": len(values),
                "p50": round(percentile(values, 50) * 1000, 1),
                "p95": round(percentile(values, 95) * 1000, 1),
                "p99": round(percentile(values, 99) * 1000, 1),
            }
            for endpoint, values in sorted(latencies.items())
        },
        "status_counts": {endpoint: dict(sorted(c.items())) for endpoint, c in sorted(statuses.items())},
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--organisations", type=int, default=50)
    parser.add_argument("--duration-limit", type=float, default=120.0)
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
    parser.add_argument("--retry-after", type=int, default=5, help="GPUGRANT_OVERLOAD_RETRY_AFTER_S")
    parser.add_argument("--json")
    args = parser.parse_args()
    # A terminated bench still stops its server (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not 1 <= args.clients <= 5000 or not 1 <= args.submissions <= 200_000 or args.duration_limit > 600:
        raise SystemExit("bounded: at most 5,000 clients, 200,000 submissions, 600 s per run")
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gpugrant")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL=postgres://… (this benchmark measures PostgreSQL)")
    bench_url = setup_django(url)
    keys, _ = seed(args.organisations, args.clients)
    env_extra = {}
    if args.org_rate is not None:
        env_extra["GPUGRANT_ORG_SUBMIT_RATE"] = args.org_rate
    if args.submit_concurrency is not None:
        env_extra["GPUGRANT_SUBMIT_CONCURRENCY"] = str(args.submit_concurrency)
    if args.retry_after is not None:
        env_extra["GPUGRANT_OVERLOAD_RETRY_AFTER_S"] = str(args.retry_after)
    runs = []
    for number in range(args.runs):
        reset_jobs()
        from django.db import connections

        connections.close_all()
        port = free_port()
        server = start_server(bench_url, port, args.workers, args.threads, env_extra)
        try:
            result = asyncio.run(load(port, keys, args.submissions, args.duration_limit))
        finally:
            stop_server(server)
        result["check"] = verify(result.pop("accepted_ids"))
        result["run"] = number + 1
        runs.append(result)
        print(json.dumps(result))
    report = summarise(args, runs)
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)


def summarise(args, runs: list[dict]) -> dict:
    def median(get):
        return round(statistics.median(get(r) for r in runs), 1)

    endpoints = sorted({e for r in runs for e in r["latency_ms"]})
    statuses = Counter()
    for r in runs:
        for endpoint, counts in r["status_counts"].items():
            for code, n in counts.items():
                statuses[f"{endpoint} {code}"] += n
    return {
        "scenario": {
            "clients": args.clients,
            "submissions": args.submissions,
            "organisations": args.organisations,
            "duration_limit_s": args.duration_limit,
            "workers": args.workers,
            "threads": args.threads,
            "org_rate": args.org_rate,
            "submit_concurrency": args.submit_concurrency,
            "retry_after_s": args.retry_after,
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "median_accepted_per_s": median(lambda r: r["accepted_per_s"]),
        "median_accepted": median(lambda r: r["accepted"]),
        "median_latency_ms": {
            e: {
                p: median(lambda r, e=e, p=p: r["latency_ms"].get(e, {}).get(p, 0.0))
                for p in ("p50", "p95", "p99")
            }
            for e in endpoints
        },
        "status_counts_all_runs": dict(sorted(statuses.items())),
        # 503 is the overload guard shedding (with Retry-After); any other 5xx is a failure.
        "shed_503": sum(n for k, n in statuses.items() if k.split()[-1] == "503"),
        "throttled_429": sum(n for k, n in statuses.items() if k.split()[-1] == "429"),
        "server_errors_5xx_other_than_503": sum(
            n for k, n in statuses.items() if k.split()[-1].startswith("5") and k.split()[-1] != "503"
        ),
        "client_errors_connection": sum(n for k, n in statuses.items() if k.split()[-1].startswith("error:")),
        "lost": sum(r["check"]["lost"] for r in runs),
        "duplicated": sum(r["check"]["duplicated_in_db"] + r["check"]["jobs_without_a_201"] for r in runs),
        "holds_wrong": sum(r["check"]["budgets_with_wrong_holds"] for r in runs),
        "overdrawn": sum(r["check"]["budgets_overdrawn"] for r in runs),
        "runs": runs,
    }


if __name__ == "__main__":
    main()
