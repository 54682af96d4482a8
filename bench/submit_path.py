"""Benchmark: one job submission through the whole Django/DRF stack, in process — queries and time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gpugrant REDIS_URL=redis://127.0.0.1:6379/0 \\
    .venv/bin/python -m bench.submit_path [--submissions 300] [--reads 200] [--show-queries] [--profile 25]

Sends ``POST /api/v1/jobs`` (API key, ``Idempotency-Key``) through Django's test client — middleware,
authentication, throttles, view, admission, rendering — against its own PostgreSQL database
(``<name>_submit_bench``, created, migrated and emptied) and Redis as the cache, with DEBUG off. Counts the
SQL statements (``CaptureQueriesContext``) and Redis round trips of one submission, then times
``submissions`` more, one after another, spread over 50 users in 5 organisations so that no throttle
trips. Reports the median and mean wall time per submission and this process's CPU time per submission
(PostgreSQL's and Redis's excluded); ``--profile N`` adds cProfile's top N. ``--reads N`` then times the
burst's reads the same way: N job lists (``?state=queued``) and N reads of one job.
This isolates the per-request cost the burst (bench/burst.py) multiplies: no HTTP, no contention.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import time
import uuid


def count_redis_round_trips():
    """Patch redis-py so every packet sent (a command, or a whole pipeline) is counted."""
    from redis.connection import AbstractConnection

    counter = {"round_trips": 0}
    send = AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        counter["round_trips"] += 1
        return send(self, command, check_health)

    AbstractConnection.send_packed_command = counting
    return counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--show-queries", action="store_true")
    parser.add_argument("--profile", type=int, default=0, help="print cProfile's top N functions")
    parser.add_argument(
        "--reads", type=int, default=0, help="then time N job lists and N job reads (the burst's reads)"
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    if not 1 <= args.submissions <= 5000:
        raise SystemExit("bounded: 1 to 5,000 submissions")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL=postgres://… (this benchmark measures PostgreSQL)")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("CACHE_KEY_PREFIX", f"submit-path-{uuid.uuid4().hex[:12]}")
    from bench.burst import job_body, reset_jobs, seed, setup_django

    setup_django(url, suffix="_submit_bench")
    keys, _ = seed(organisations=5, clients=50)
    reset_jobs()

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    redis = count_redis_round_trips()
    clients = []
    for api_key, allocation in keys:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
        clients.append((client, allocation))
    sent = 0
    accepted: dict[int, str] = {}  # client → its last job's id

    def submit() -> None:
        nonlocal sent
        client, allocation = clients[sent % len(clients)]
        response = client.post(
            "/api/v1/jobs",
            job_body(allocation, sent),
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"submit-path-{uuid.uuid4()}",
        )
        sent += 1
        if response.status_code != 201:
            raise SystemExit(f"submission {sent} answered {response.status_code}: {response.content[:300]!r}")
        accepted[(sent - 1) % len(clients)] = response.json()["id"]

    for _ in range(len(clients)):  # every client's first request warms its caches and connections
        submit()
    redis["round_trips"] = 0
    with CaptureQueriesContext(connection) as captured:
        submit()
    queries = [q["sql"] for q in captured.captured_queries]
    redis_round_trips = redis["round_trips"]

    profiler = cProfile.Profile() if args.profile else None
    times, cpu_started = [], time.process_time()
    for _ in range(args.submissions):
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        submit()
        if profiler:
            profiler.disable()
        times.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu_started
    result = {
        "queries_per_submission": len(queries),
        "redis_round_trips_per_submission": redis_round_trips,
        "submissions_timed": len(times),
        "ms_per_submission_median": round(statistics.median(times) * 1000, 2),
        "ms_per_submission_mean": round(statistics.mean(times) * 1000, 2),
        # This process's CPU only (not PostgreSQL's or Redis's): steadier than wall time on a shared machine.
        "cpu_ms_per_submission": round(cpu / len(times) * 1000, 2),
        "profiled": bool(profiler),
        "load_average": os.getloadavg(),
    }
    if args.reads:
        result.update(time_reads(clients, accepted, args.reads))
    if args.show_queries:
        for number, sql in enumerate(queries, 1):
            print(f"{number:2d}. {sql[:220]}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile)
        print(out.getvalue())
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({**result, "queries": queries}, out, indent=2)


def time_reads(clients, accepted: dict[int, str], n: int) -> dict:
    """The burst's reads, one after another: ``GET /api/v1/jobs?state=queued`` (a page of up to 50 of the
    organisation's queued jobs) and ``GET /api/v1/jobs/{id}``, each ``n`` times over the clients."""
    out = {}
    reads = {
        "list": lambda i: clients[i % len(clients)][0].get("/api/v1/jobs?state=queued"),
        "job": lambda i: clients[i % len(clients)][0].get(f"/api/v1/jobs/{accepted[i % len(clients)]}"),
    }
    for name, read in reads.items():
        times, listed, cpu_started = [], 0, time.process_time()
        for i in range(n):
            started = time.perf_counter()
            response = read(i)
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{name} read answered {response.status_code}")
            listed += len(response.json().get("results", [None]))
        out[f"{name}_reads_timed"] = n
        out[f"{name}_read_ms_median"] = round(statistics.median(times) * 1000, 2)
        out[f"cpu_ms_per_{name}_read"] = round((time.process_time() - cpu_started) / n * 1000, 2)
        out[f"{name}_read_jobs_mean"] = round(listed / n, 1)
    return out


if __name__ == "__main__":
    main()
