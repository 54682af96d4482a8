"""Benchmark: full scheduling cycles through PostgreSQL and the simulated backend.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gpugrant python -m bench.cycle_throughput \\
        [--nodes 1250] [--batch 2000] [--rounds 5] [--json OUT]

Each round queues ``batch`` one- or two-GPU jobs (inserted directly: submission is not what is measured)
and runs cycles — inventory, snapshot, plan, conditional claims in one transaction, binds after commit,
queue view — until all are placed, then finishes them in virtual time and reconciles. Reports placements
per second of cycle time (median over rounds) and where the time goes. Uses its own database
(<name>_bench), which it creates, migrates and empties. The baseline, in the same process, is the claim
step alone: the database work no cycle can avoid.
"""

import argparse
import json
import os
import statistics
import time


def setup_django(database_url: str) -> None:
    base, _, name = database_url.rpartition("/")
    os.environ["DATABASE_URL"] = f"{base}/{name}_bench"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("GPUGRANT_BACKEND", "simulated")
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"{name}_bench",)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}_bench"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


def world(nodes: int):
    from bench.world import bench_allocation
    from scheduler.backends.base import NodeInfo
    from scheduler.backends.simulated import SimulatedBackend

    user, organisation, allocation = bench_allocation("A100")
    backend = SimulatedBackend(
        [NodeInfo(f"sim-{i:05d}", "A100", 8) for i in range(nodes)], durations=lambda spec: 600.0
    )
    return user, organisation, allocation, backend


def queue_batch(user, organisation, allocation, batch: int, round_number: int) -> None:
    from django.db.models import F

    from quotas.models import AllocationBudget
    from scheduler.models import Job

    holds = sum((1 + i % 2) * 3600 for i in range(batch))
    AllocationBudget.objects.filter(allocation=allocation).update(
        held_gpu_seconds=F("held_gpu_seconds") + holds
    )
    Job.objects.bulk_create(
        Job(
            organisation=organisation,
            allocation=allocation,
            created_by=user,
            name=f"r{round_number}-{i}",
            kind="training",
            image="python:3.11",
            command=["true"],
            gpu_type="A100",
            gpus_per_pod=1 + i % 2,
            max_runtime_minutes=60,
            hold_gpu_seconds=(1 + i % 2) * 3600,
        )
        for i in range(batch)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1250)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL=postgres://… (this benchmark measures PostgreSQL)")
    setup_django(url)
    from scheduler.cycle import run_cycle
    from scheduler.inventory import inventory_sync
    from scheduler.models import Job
    from scheduler.reconcile import reconcile_jobs

    user, organisation, allocation, backend = world(args.nodes)
    inventory_sync(backend=backend)
    rounds = []
    for number in range(args.rounds):
        queue_batch(user, organisation, allocation, args.batch, number)
        placed, cycles, phases = 0, 0, {}
        start = time.perf_counter()
        while Job.objects.filter(state="queued").exists() and cycles < 20:
            result = run_cycle(backend=backend, sync_inventory=cycles == 0)
            placed += result.claimed
            cycles += 1
            for name, seconds in result.seconds.items():
                phases[name] = phases.get(name, 0.0) + seconds
        elapsed = time.perf_counter() - start
        rounds.append(
            {
                "placed": placed,
                "cycles": cycles,
                "seconds": round(elapsed, 3),
                "jobs_per_second": round(placed / elapsed, 1),
                "phase_seconds": {k: round(v, 3) for k, v in phases.items()},
            }
        )
        print(json.dumps(rounds[-1]))
        backend.advance(backend.now + 3600)
        reconcile_jobs(backend=backend)
    rates = [r["jobs_per_second"] for r in rounds]
    claim_rates = [r["placed"] / r["phase_seconds"]["claim"] for r in rounds]
    report = {
        "nodes": args.nodes,
        "gpus": args.nodes * 8,
        "batch": args.batch,
        "rounds": rounds,
        "median_jobs_per_second": statistics.median(rates),
        "baseline_claim_only_jobs_per_second": round(statistics.median(claim_rates), 1),
    }
    report["ratio_to_baseline"] = round(
        report["median_jobs_per_second"] / report["baseline_claim_only_jobs_per_second"], 2
    )
    print(json.dumps({k: v for k, v in report.items() if k != "rounds"}))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
