"""End to end on PostgreSQL: a job that would overrun its award is stopped `exhausted` through the local
backend, and the award is overdrawn by at most one metering interval.

The story (docs/usage.md, "Holds and settlement" and "When an award runs out"): an allocation is awarded
1 A100 GPU-hour. Job A (1 GPU, 60 min) is admitted, holding the whole hour, runs on the real local
backend and ends before any of its usage has arrived (its node's agent is down), so its hold is released
and job B (1 GPU, 60 min) is admitted into the freed budget and bound. A's late usage record then
arrives (POST /api/v1/usage with the node's key, 3,590 GPU-seconds), leaving only seconds of the award.
A real node agent (subprocess, simulated GPUs, 1 s report interval) meters B; the batch that brings the
budget's used GPU-seconds to the award must stop B through the local backend, and B must be reconciled
to `exhausted`, with its runner gone, the owners told once that the award is used up, and the budget
overdrawn by no more than one report interval of B's GPUs (+1 s for rounding).
"""

import io
import signal
import sys
import textwrap

import pytest
from django.core import mail
from django.core.management import call_command
from django.db.models import Max, Sum

from portal.errors import Conflict
from portal.organisations.selectors import owners_and_managers
from quotas.models import AllocationBudget, UsageRecord
from scheduler import backends
from scheduler.backends import local_runner
from scheduler.backends.base import Phase
from scheduler.backends.local import LocalBackend
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from scheduler.services import job_submit
from tests.workers.agent.helpers import start_module, stop_process, wait_for
from workers.metering.meter import bound_gpu_seconds
from workers.portal_client import PortalClient
from workers.records import UsageRecord as WireRecord
from workers.spool import Spool

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NODE = "local-a100"
REPORT_INTERVAL = 1.0
AWARD_GPU_HOURS = 1
AWARD = AWARD_GPU_HOURS * 3600
A_LATE_GPU_SECONDS = 3590  # what A's agent reports after the outage: 10 s of the award are left
B_GPUS = 1
USED_UP = "GPU-hours used up"  # quotas/ledger._notify_threshold's subject at 100 %


def sleeps_until(release, *, at_most: float) -> list[str]:
    """A command that sleeps in small steps until ``release`` exists, or ``at_most`` s have passed."""
    code = f"""
        import pathlib, time
        release = pathlib.Path({str(release)!r})
        give_up = time.monotonic() + {at_most}
        while time.monotonic() < give_up and not release.exists():
            time.sleep(0.05)
    """
    return [sys.executable, "-c", textwrap.dedent(code)]


def submit(owner, allocation, name: str, command: list[str]) -> Job:
    return job_submit(
        user=owner,
        allocation=allocation,
        name=name,
        kind="training",
        image="python:3.11",
        command=command,
        gpu_type="A100",
        gpus_per_pod=B_GPUS,
        pods=1,
        max_runtime_minutes=60,
        priority="normal",
    )


def bind(backend: LocalBackend, job: Job) -> Job:
    run_cycle(backend=backend)  # the submission's own cycle may have bound it already
    job.refresh_from_db()
    assert job.state in ("scheduled", "running"), job.state_reason
    assert job.placement[0]["node"] == NODE
    return job


def runner_gone(backend: LocalBackend, job: Job) -> bool:
    """The job's runner and every process of its command have exited."""
    run = backend.root / str(job.public_id) / "run-1"
    runner = local_runner.read_json(run / "runner-0.json")
    child = local_runner.read_json(run / "child-0.json")
    assert runner is not None and child is not None
    return not local_runner.process_alive(
        runner["pid"], runner["identity"]
    ) and not local_runner.group_exists(child)


def test_a_job_that_would_overrun_its_award_is_stopped_exhausted_within_one_interval(
    tmp_path, settings, live_server, owner, allocation
):
    settings.GPUGRANT_METERING = "agent"  # usage comes from node agents; run ends charge nothing
    settings.GPUGRANT_LOCAL_GPUS = "A100:4"
    backend = LocalBackend(tmp_path / "local-backend", nvidia_smi=None, stop_grace_seconds=1.0)
    # The cycles and stops that submissions, usage and reconciles trigger (eagerly, in this process and in
    # the live server's thread) must use this backend too.
    settings.GPUGRANT_BACKEND = backend.name
    backends._instances[backend.name] = backend  # noqa: SLF001
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(
        awarded_gpu_hours=AWARD_GPU_HOURS
    )

    def budget() -> AllocationBudget:
        return AllocationBudget.objects.get(allocation=allocation, gpu_type="A100")

    output = io.StringIO()
    call_command("create_node_key", "--node", NODE, stdout=output, stderr=io.StringIO())
    node_key = output.getvalue().strip().splitlines()[-1]
    key_file = tmp_path / "node.key"
    key_file.write_text(node_key)
    spool_dir = tmp_path / "spool"
    log = tmp_path / "agent.log"
    agent = None
    inventory_sync(backend=backend)
    try:
        # --- A: admitted with the whole hour held, runs, ends before any of its usage arrives --------
        # Its release file is in its workspace: the sandbox shows it no other host folder.
        job_a = bind(backend, submit(owner, allocation, "a", sleeps_until("release", at_most=120)))
        release_a = backend.root / str(job_a.public_id) / "run-1" / "work" / "release"
        assert (budget().held_gpu_seconds, budget().used_gpu_seconds) == (AWARD, 0)
        with pytest.raises(Conflict) as refused:
            submit(owner, allocation, "b-too-early", sleeps_until(tmp_path / "never", at_most=1))
        assert refused.value.code == "budget_exceeded"
        release_a.touch()

        def a_succeeded():
            reconcile_jobs(backend=backend)
            return Job.objects.get(pk=job_a.pk).state == "succeeded"

        wait_for(a_succeeded, "A to end and be reconciled", timeout=30)
        assert (budget().held_gpu_seconds, budget().used_gpu_seconds) == (0, 0)  # A's hold released
        job_a.refresh_from_db()

        # --- the node's agent comes up (A ended before its spool existed: not its to report) ----------
        arguments = [
            "--node", NODE, "--portal", live_server.url, "--key-file", str(key_file), "--spool", str(spool_dir),
            "--source", "local", "--local-state", str(backend.root), "--devices", "simulated",
            "--sample-interval", "0.2", "--report-interval", str(REPORT_INTERVAL),
        ]  # fmt: skip
        agent = start_module("workers.agent", *arguments, log=log, GPUGRANT_LOCAL_GPUS="A100:4")
        wait_for(lambda: "node agent for" in log.read_text(), "the agent to start", process=agent)

        # --- B: admitted into the freed hour, bound by the local backend, metered by the agent -------
        job_b = bind(backend, submit(owner, allocation, "b", sleeps_until(tmp_path / "never", at_most=300)))
        assert budget().held_gpu_seconds == B_GPUS * 3600
        records_b = UsageRecord.objects.filter(job=job_b)
        wait_for(records_b.exists, "B's first usage record", timeout=30, process=agent)

        # --- A's late record arrives: the budget is seconds from its award ---------------------------
        gpu = job_a.placement[0]["gpus"][0]
        a_ended = job_a.finished_at.timestamp()
        late = WireRecord(
            job_id=str(job_a.public_id),
            gpu_uuid=f"SIMULATED-{NODE}-{gpu}",
            epoch=1,
            sequence=0,
            interval_start=a_ended - A_LATE_GPU_SECONDS,
            interval_end=a_ended,
            gpu_seconds=A_LATE_GPU_SECONDS,
            energy_mj=A_LATE_GPU_SECONDS * 300_000,  # 300 W
            avg_utilisation_pct=90.0,
            avg_memory_bytes=40 * 2**30,
            simulated=True,
        )
        answer = PortalClient(live_server.url, node_key, retries=0).post_usage([late.to_wire()])
        assert (answer.accepted, answer.rejected) == (1, [])
        used_then = budget().used_gpu_seconds
        assert A_LATE_GPU_SECONDS <= used_then < AWARD, "B must cross the award through its agent's records"
        assert Job.objects.get(pk=job_b.pk).state in ("scheduled", "running")
        assert budget().notified_percent == 80  # A's record alone: the 80 % notice, not the 100 % one
        assert not [message for message in mail.outbox if USED_UP in message.subject]

        # --- B's own records use up the award: stopped by the local backend, reconciled exhausted ----
        def b_exhausted():
            reconcile_jobs(backend=backend)
            return Job.objects.get(pk=job_b.pk).state == "exhausted"

        # B's records need AWARD - used_then more seconds to use the award up; then one interval at most.
        wait_for(b_exhausted, "B to be stopped as exhausted", timeout=AWARD - used_then + 20, process=agent)
        status = backend.statuses([str(job_b.public_id)])[0]
        assert (status.phase, status.reason) == (Phase.STOPPED, "exhausted")
        wait_for(lambda: runner_gone(backend, job_b), "B's runner and command to exit", timeout=10)
        run_b = backend.root / str(job_b.public_id) / "run-1"
        exit_b = local_runner.read_json(run_b / "exit-0.json")
        assert exit_b["outcome"] == "stopped"

        # --- the agent reports B up to its release edge; then it is stopped cleanly ------------------
        def drained():
            last = records_b.aggregate(end=Max("interval_end"))["end"]
            with Spool(spool_dir) as spool:
                empty = spool.backlog().count == 0
            return empty and abs(last.timestamp() - exit_b["finished_at"]) < 1e-5

        wait_for(drained, "B's final record to reach the portal", timeout=30, process=agent)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=20) == 0
    finally:
        if agent is not None:
            stop_process(agent)
        release_a.touch()
        for job_dir in backend.root.glob("*"):
            backend.stop(job_dir.name, "test over")
        backends.reset_backends()

    # Every process this test started is gone.
    assert runner_gone(backend, job_a) and runner_gone(backend, job_b)

    job_b.refresh_from_db()
    final = budget()
    b_total = records_b.aggregate(total=Sum("gpu_seconds"))["total"]
    bound_at = (run_b / "runner-0.json").stat().st_mtime
    assert b_total == B_GPUS * bound_gpu_seconds(
        bound_at, exit_b["finished_at"], bound_at, exit_b["finished_at"]
    )
    assert job_b.used_gpu_seconds == b_total and job_b.hold_gpu_seconds == 0
    assert final.used_gpu_seconds == A_LATE_GPU_SECONDS + b_total
    assert (
        UsageRecord.objects.filter(job=job_a).count() == 1
    )  # only the late record: the agent started after A
    assert final.held_gpu_seconds == 0
    overdraft = final.used_gpu_seconds - AWARD
    assert 0 <= overdraft <= REPORT_INTERVAL * B_GPUS + 1, f"overdrawn by {overdraft} GPU-s"
    assert "GPU-hours ran out" in job_b.state_reason
    assert job_b.events.filter(reason__contains="GPU-hours are used up").count() == 1

    # The owners and managers were told once at 80 % (A's record) and once at 100 % (B's crossing).
    recipients = sorted(user.email for user in owners_and_managers(allocation.organisation))
    assert owner.email in recipients
    used_up = sorted(to for message in mail.outbox if USED_UP in message.subject for to in message.to)
    assert used_up == recipients
    eighty = sorted(
        to for message in mail.outbox if "A100 GPU-hours 80 % used" in message.subject for to in message.to
    )
    assert eighty == recipients
    assert final.notified_percent == 100
