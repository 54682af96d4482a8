"""Benchmark: usage records into PostgreSQL through the exactly-once ledger.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gpugrant python -m bench.usage_ingest \\
        [--records 50000] [--batch 500] [--jobs 50] [--rounds 3] [--json OUT]

Each round posts ``records`` new records (``batch`` per call, as a node agent would, for ``jobs`` jobs on
one node with 8 GPUs) through scheduler.metering.usage_ingest — validation, INSERT … ON CONFLICT DO NOTHING,
ledger entries, job/allocation/budget debits, idle and budget checks — then re-posts the first batch to
measure replays. Baseline in the same process: bulk_create of the same number of bare UsageRecord rows
(no ledger, no debits). Uses its own database (<name>_bench), created, migrated and emptied.
"""

import argparse
import json
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL=postgres://… (this benchmark measures PostgreSQL)")
    from bench.cycle_throughput import setup_django, world

    setup_django(url)
    from datetime import UTC, datetime, timedelta

    from django.db.models import Sum

    from quotas.models import AllocationBudget, LedgerEntry, UsageRecord
    from scheduler.metering import usage_ingest
    from scheduler.models import Job

    user, organisation, allocation, _ = world(1)
    jobs = Job.objects.bulk_create(
        Job(
            organisation=organisation,
            allocation=allocation,
            created_by=user,
            name=f"j{i}",
            kind="training",
            image="python:3.11",
            command=["true"],
            gpu_type="A100",
            gpus_per_pod=8,
            max_runtime_minutes=60,
            state="running",
            placement=[{"node": "sim-00000", "gpus": list(range(8))}],
        )
        for i in range(args.jobs)
    )
    base = datetime(2026, 11, 1, tzinfo=UTC)

    def records(round_number: int):
        out = []
        for n in range(args.records):
            job = jobs[n % len(jobs)]
            gpu, sequence = (n // len(jobs)) % 8, n // (len(jobs) * 8) + round_number * 10**6
            start = base + timedelta(seconds=10 * (sequence % 10**5))
            out.append(
                {
                    "id": f"{job.public_id}:GPU-{gpu}:0:{sequence}",
                    "job_id": str(job.public_id),
                    "gpu_uuid": f"GPU-{gpu}",
                    "epoch": 0,
                    "sequence": sequence,
                    "interval_start": start,
                    "interval_end": start + timedelta(seconds=10),
                    "gpu_seconds": 10,
                    "energy_mj": 3_000_000,
                    "avg_utilisation_pct": 75.0,
                    "avg_memory_bytes": 2**34,
                    "estimated": False,
                    "simulated": True,
                    "quarantined": False,
                }
            )
        return out

    rounds = []
    for number in range(args.rounds):
        batch_records = records(number)
        start = time.perf_counter()
        accepted = 0
        for i in range(0, len(batch_records), args.batch):
            accepted += usage_ingest(node="sim-00000", records=batch_records[i : i + args.batch]).accepted
        elapsed = time.perf_counter() - start
        replay_start = time.perf_counter()
        replay = usage_ingest(node="sim-00000", records=batch_records[: args.batch])
        replay_elapsed = time.perf_counter() - replay_start
        assert accepted == len(batch_records) and replay.accepted == 0

        bare = [
            UsageRecord(
                record_id=f"bare-{number}-{r['id']}",
                job=jobs[0],
                allocation=allocation,
                gpu_type="A100",
                node="sim-00000",
                gpu_uuid=r["gpu_uuid"],
                epoch=0,
                sequence=r["sequence"],
                interval_start=r["interval_start"],
                interval_end=r["interval_end"],
                gpu_seconds=0,
                energy_mj=0,
                avg_utilisation_pct=0,
                avg_memory_bytes=0,
            )
            for r in batch_records
        ]
        baseline_start = time.perf_counter()
        for i in range(0, len(bare), args.batch):
            UsageRecord.objects.bulk_create(bare[i : i + args.batch])
        baseline_elapsed = time.perf_counter() - baseline_start
        UsageRecord.objects.filter(record_id__startswith="bare-").delete()
        rounds.append(
            {
                "records": accepted,
                "seconds": round(elapsed, 3),
                "records_per_second": round(accepted / elapsed),
                "replay_records_per_second": round(args.batch / replay_elapsed),
                "baseline_bulk_insert_per_second": round(len(bare) / baseline_elapsed),
            }
        )
        print(json.dumps(rounds[-1]))
    usage = UsageRecord.objects.aggregate(s=Sum("gpu_seconds"))["s"]
    debits = LedgerEntry.objects.aggregate(s=Sum("gpu_seconds"))["s"]
    used = AllocationBudget.objects.aggregate(s=Sum("used_gpu_seconds"))["s"]
    assert usage == debits == used, (usage, debits, used)
    median = statistics.median(r["records_per_second"] for r in rounds)
    baseline = statistics.median(r["baseline_bulk_insert_per_second"] for r in rounds)
    report = {
        "rounds": rounds,
        "median_records_per_second": median,
        "median_baseline_per_second": baseline,
        "ratio_to_baseline": round(median / baseline, 2),
        "ledger_balanced": True,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "rounds"}))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
