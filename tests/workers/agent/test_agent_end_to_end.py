"""End to end on PostgreSQL: a job bound by the local backend, metered by a real agent process that posts to
the live portal with a node key, killed with -9 and restarted on the same spool half-way.

What must hold once the job has ended and the spool has drained: the portal's usage records for the job
add up to its edge GPU-seconds — exactly, against the edges the local backend recorded (runner start
record → exit record, rounded to the second per GPU); and within one report interval per GPU of the
portal's own scheduled_at → finished_at, which also contain the bind and the reconcile latency — with
no duplicate ids; and the allocation budget's used GPU-seconds equal the sum of the usage records.
"""

import json
import signal
import sys
import textwrap

import pytest
from django.db.models import Sum

from quotas.models import AllocationBudget, UsageRecord
from scheduler import backends
from scheduler.backends.base import Phase
from scheduler.backends.local import LocalBackend
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from scheduler.services import job_submit
from tests.workers.agent.helpers import (
    local_agent_arguments,
    node_key_file,
    start_module,
    stop_process,
    wait_for,
)
from workers.metering.meter import bound_gpu_seconds
from workers.spool import Spool

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NODE = "local-a100"
REPORT_INTERVAL = 1.0


def busy_until(release) -> list[str]:
    code = f"""
        import pathlib
        release = pathlib.Path({str(release)!r})
        n = 0
        while True:
            n += 1
            if n % 100000 == 0 and release.exists():
                break
    """
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_an_agent_killed_mid_run_reports_the_job_s_edges_exactly_once(
    tmp_path, settings, live_server, owner, allocation
):
    settings.GPUGRANT_METERING = "agent"  # usage comes from the agent; run ends charge nothing themselves
    settings.GPUGRANT_LOCAL_GPUS = "A100:4"
    backend = LocalBackend(tmp_path / "local-backend", nvidia_smi=None, stop_grace_seconds=1.0)
    # The cycles that submissions and reconciles trigger (eagerly, in tests) must use this backend too.
    settings.GPUGRANT_BACKEND = backend.name
    backends._instances[backend.name] = backend  # noqa: SLF001
    key_file = node_key_file(tmp_path, NODE)
    arguments = local_agent_arguments(
        node=NODE,
        portal_url=live_server.url,
        key_file=key_file,
        spool=tmp_path / "spool",
        local_state=backend.root,
        report_interval=REPORT_INTERVAL,
    )
    agents = []

    def start_agent():
        log = tmp_path / f"agent-{len(agents)}.log"
        agents.append(start_module("workers.agent", *arguments, log=log, GPUGRANT_LOCAL_GPUS="A100:4"))
        wait_for(lambda: "node agent for" in log.read_text(), "the agent to start", process=agents[-1])
        return agents[-1]

    try:
        first = start_agent()
        inventory_sync(backend=backend)
        job = job_submit(
            user=owner,
            allocation=allocation,
            name="metered",
            kind="training",
            image="python:3.11",
            command=busy_until("release"),  # in its workspace: the sandbox shows it no other host folder
            gpu_type="A100",
            gpus_per_pod=2,
            pods=1,
            max_runtime_minutes=5,
            priority="normal",
        )
        run_cycle(backend=backend)  # the submission's own cycle may have bound it already
        job.refresh_from_db()
        assert job.state in ("scheduled", "running") and job.placement[0]["node"] == NODE
        release = backend.root / str(job.public_id) / "run-1" / "work" / "release"

        records = UsageRecord.objects.filter(job=job)
        wait_for(lambda: records.count() >= 4, "usage from the first agent", timeout=30, process=first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second = start_agent()
        already = records.count()
        wait_for(
            lambda: records.count() >= already + 4, "usage after the restart", timeout=30, process=second
        )

        release.touch()

        def ended():
            reconcile_jobs(backend=backend)
            return Job.objects.get(pk=job.pk).state == "succeeded"

        wait_for(ended, "the job to end and be reconciled", timeout=30)
        assert backend.statuses([str(job.public_id)])[0].phase == Phase.SUCCEEDED
        run = backend.root / str(job.public_id) / "run-1"
        bound_at = (run / "runner-0.json").stat().st_mtime
        released_at = json.loads((run / "exit-0.json").read_text())["finished_at"]

        def drained():
            ends = {
                gpu: max(r.interval_end.timestamp() for r in records.filter(gpu_uuid=gpu))
                for gpu in records.values_list("gpu_uuid", flat=True).distinct()
            }
            with Spool(tmp_path / "spool") as spool:
                empty = spool.backlog().count == 0
            return empty and len(ends) == 2 and all(abs(end - released_at) < 1e-5 for end in ends.values())

        wait_for(drained, "the final records to reach the portal", timeout=30, process=second)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=20) == 0
    finally:
        for process in agents:
            stop_process(process)
        for job_dir in backend.root.glob("*"):
            backend.stop(job_dir.name, "test over")
        backends.reset_backends()

    job.refresh_from_db()
    ids = list(records.values_list("record_id", flat=True))
    assert len(ids) == len(set(ids))
    total = records.aggregate(total=Sum("gpu_seconds"))["total"]
    per_gpu = bound_gpu_seconds(bound_at, released_at, bound_at, released_at)
    assert total == 2 * per_gpu  # the local backend's edges, to the second, across the kill -9
    portal_edges = (job.finished_at - job.scheduled_at).total_seconds()
    assert abs(total - 2 * portal_edges) <= 2 * REPORT_INTERVAL
    assert job.used_gpu_seconds == total
    budget = AllocationBudget.objects.get(allocation=allocation, gpu_type="A100")
    assert budget.used_gpu_seconds == total
    assert all(record.energy_mj > 0 for record in records)
    assert set(records.values_list("node", flat=True)) == {NODE}
