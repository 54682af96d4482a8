"""Benchmark: dispatch across three real API servers, one per provider (docs/benchmarks.md, section 8).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gpugrant \\
        .venv/bin/python -m bench.federated_dispatch [--nodes 30] [--runs 3] [--json OUT]

Three control planes from tests/cluster (each: etcd, kube-apiserver, controller manager, kube-scheduler,
kwok), ``--nodes`` kwok GPU nodes of 8 H100 on each, registered as three providers' clusters (Kubernetes
backend, each with its API server's address, CA and the gpugrant-scheduler service account's token),
driven at once by GPUGRANT_BACKEND=federated. The jobs are bench.k8s_placement's seeded mix (single-GPU
jobs, 2-node and 4-node gangs of 8 GPUs per pod, together exactly the three clusters' GPUs), queued in
gpugrant's database on an empty fleet each run; gpugrant's scheduling cycles (inventory of all three, one
plan, claims in PostgreSQL, binds routed to each job's API server) run until nothing is left queued.

"Placements per second" is pods bound (seen by a watch on each API server) divided by the time from the
first cycle to the last binding; "jobs per second" counts jobs with every pod bound. A gang is split when
its pods are bound on more than one API server (the target is none). Every client runs at 500 requests
per second, burst 1000, as in section 7. Figures are medians over ``--runs``. Rules that give the policy
information a user would not have: none.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import timedelta

from bench.k8s_placement import (
    CLIENT_QPS,
    MANAGED_SELECTOR,
    ROOT,
    Bindings,
    _admin_clients,
    _delete_namespace,
    _gpugrant_world,
    setup_django_on_postgres,
    workload,
)
from tests.cluster.controlplane import ControlPlane

CLUSTERS = ("prov-a", "prov-b", "prov-c")
TARGET_PER_SECOND = 100.0


def register_clusters(planes: dict[str, ControlPlane], nodes: int) -> None:
    from django.utils import timezone

    from portal.accounts.models import User
    from portal.providers import services as providers

    staff = User.objects.create_user(email="bench-staff@example.test", password="x", is_staff=True)
    today = timezone.localdate()
    for number, (name, plane) in enumerate(planes.items()):
        provider = providers.provider_create(staff=staff, name=f"Provider {name[-1].upper()}")
        providers.cluster_create(
            staff=staff,
            provider=provider,
            name=name,
            backend="kubernetes",
            region="capital" if number % 2 == 0 else "non_capital",
            gpus={"H100": nodes * 8},
            api_url=plane.server,
            ca_certificate=plane.pki.ca.read_text(),
            token=plane.service_account_token("gpugrant", "gpugrant-scheduler"),
        )
        providers.contract_create(
            staff=staff,
            provider=provider,
            gpu_type="H100",
            gpus=nodes * 8,
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=30),
            price_krw_per_gpu_hour=str(1000 * (number + 1)),
            kind="reserved" if number == 0 else "on_demand",
        )


def run_once(planes, cores, backend, jobs, stall: float) -> dict:
    from scheduler.cycle import run_cycle
    from scheduler.models import Job

    watches = {name: Bindings(cores[name], MANAGED_SELECTOR).start() for name in planes}
    start = time.monotonic()
    cycles = 0
    while Job.objects.filter(state="queued").exists() and cycles < 20:
        result = run_cycle(backend=backend, estimate=False)
        cycles += 1
        if not result.claimed:
            break
    pods = sum(job.pods for job in jobs)
    for watch in watches.values():  # each stops once nothing new was bound for ``stall`` s
        watch.wait(pods, stall)
    bound = {name: dict(watch.bound) for name, watch in watches.items()}
    last = max((t for seen in bound.values() for t, _ in seen.values()), default=start)
    where: dict[str, set[str]] = {}
    per_job: dict[str, int] = {}
    for job in Job.objects.all():
        prefix = f"job-{str(job.public_id).replace('-', '')[:12]}-"
        for name, seen in bound.items():
            hits = [pod for pod in seen if pod.startswith(prefix)]
            if hits:
                where.setdefault(job.name, set()).add(name)
                per_job[job.name] = per_job.get(job.name, 0) + len(hits)
    shapes = {job.name: job.pods for job in jobs}
    placed = sum(len(seen) for seen in bound.values())
    complete = sum(1 for name, count in per_job.items() if count == shapes[name])
    seconds = last - start
    run = {
        "pods": pods,
        "placed": placed,
        "jobs_placed": complete,
        "seconds_to_last_binding": round(seconds, 3),
        "pods_per_second": round(placed / seconds, 1) if seconds else 0.0,
        "jobs_per_second": round(complete / seconds, 1) if seconds else 0.0,
        "split_gangs": sum(1 for name, clusters in where.items() if shapes[name] > 1 and len(clusters) > 1),
        "pods_per_cluster": {name: len(seen) for name, seen in bound.items()},
        "cycles": cycles,
        "queued_left": Job.objects.filter(state="queued").count(),
    }
    for name, plane in planes.items():  # an empty fleet for the next run
        pods_left = cores[name].list_pod_for_all_namespaces(label_selector=MANAGED_SELECTOR).items
        for namespace in {pod.metadata.namespace for pod in pods_left}:
            _delete_namespace(plane, cores[name], namespace, MANAGED_SELECTOR)
    return run


def summarise(runs: list[dict]) -> dict:
    def median(key):
        return round(statistics.median(run[key] for run in runs), 2)

    return {
        "runs": len(runs),
        "median_pods_per_second": median("pods_per_second"),
        "median_jobs_per_second": median("jobs_per_second"),
        "median_seconds_to_last_binding": median("seconds_to_last_binding"),
        "median_pods_placed": median("placed"),
        "runs_all_placed": sum(run["placed"] == run["pods"] for run in runs),
        "max_split_gangs": max(run["split_gangs"] for run in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=30, help="kwok GPU nodes on each API server")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stall", type=float, default=10.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    from bench.report import load_average, machine

    setup_django_on_postgres()
    os.environ["GPUGRANT_BACKEND"] = "federated"
    planes: dict[str, ControlPlane] = {}
    try:
        for name in CLUSTERS:
            plane = ControlPlane(audit=False, client_qps=CLIENT_QPS)
            planes[name] = plane
            plane.start()
            nodes = [f"gpu-{i:04d}" for i in range(args.nodes)]  # the same names on every API server
            plane.add_gpu_nodes(nodes)
            plane.wait_nodes_ready(nodes, timeout=300)
            for manifest in ("namespaces.yaml", "scheduler-serviceaccount.yaml", "scheduler-clusterrole.yaml",
                             "scheduler-clusterrolebinding.yaml"):  # fmt: skip
                plane.kubectl("apply", "--server-side", "-f", str(ROOT / "deploy" / "base" / manifest))
        cores = {name: _admin_clients(plane)[0] for name, plane in planes.items()}
        jobs = workload(args.nodes * len(planes))
        runs = []
        for number in range(args.runs):
            allocation = _gpugrant_world(jobs)  # an empty database, the jobs queued
            allocation.max_concurrent_gpus = 10**6
            allocation.save(update_fields=["max_concurrent_gpus"])
            register_clusters(planes, args.nodes)
            from scheduler.backends.federated import FederatedBackend
            from scheduler.federation import members_sync

            backend = FederatedBackend(offline_after_s=120)
            members_sync(backend)
            run = run_once(planes, cores, backend, jobs, args.stall)
            runs.append(run)
            print(json.dumps({"run": number, **run}), flush=True)
        report = {
            "command": "python -m bench.federated_dispatch " + f"--nodes {args.nodes} --runs {args.runs}",
            "clusters": len(planes),
            "nodes_per_cluster": args.nodes,
            "gpus": args.nodes * 8 * len(planes),
            "jobs": len(jobs),
            "pods": sum(job.pods for job in jobs),
            "shapes": {
                "single": sum(job.pods == 1 for job in jobs),
                "gang2": sum(job.pods == 2 for job in jobs),
                "gang4": sum(job.pods == 4 for job in jobs),
            },
            "client_qps": CLIENT_QPS,
            "target_pods_per_second": TARGET_PER_SECOND,
            "summary": summarise(runs),
            "runs": runs,
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "load_average_after": load_average(),
        }
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
        print(json.dumps(report["summary"]))
    finally:
        for plane in planes.values():
            plane.stop()


if __name__ == "__main__":
    main()
