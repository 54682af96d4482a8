"""kill -9 of a node agent in the middle of a report, again and again, while one job runs.

The portal's usage endpoint is live (pytest-django's live server, PostgreSQL). On the chosen POST the agent
is killed either before the portal applies the batch (the request then fails, nothing applied) or after the
portal committed it but before the agent reads the answer (the batch is in the ledger; the agent's spool
still holds it). A new agent on the same spool sends it again. At the end each GPU's records follow one
another without gap or overlap from the bind on, add up to its edges to the second, each once, and the
ledger equals the usage.
"""

import sys
import textwrap
import threading

import pytest
from django.db import OperationalError

from quotas.models import UsageRecord
from scheduler.cycle import run_cycle
from scheduler.models import Job
from tests.reliability.conftest import sample
from tests.reliability.invariants import assert_invariants
from tests.reliability.stack import wait_until
from tests.scheduler.helpers import submit
from tests.workers.agent.helpers import local_agent_arguments, node_key_file, start_module, stop_process
from workers.metering.meter import bound_gpu_seconds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NODE = "local-a100"


def busy_until(release) -> list[str]:
    code = f"""
        import pathlib, time
        release = pathlib.Path({str(release)!r})
        while not release.exists():
            time.sleep(0.05)
    """
    return [sys.executable, "-c", textwrap.dedent(code)]


class KillOnReport:
    """Wraps the usage endpoint's ingest: on the armed POST, kill the agent before or after applying it."""

    def __init__(self, ingest):
        self.ingest = ingest
        self.agent = None
        self.mode = None
        self.fired = threading.Event()

    def arm(self, agent, mode: str) -> None:
        self.agent, self.mode = agent, mode
        self.fired.clear()

    def __call__(self, *, node, records):
        mode, self.mode = self.mode, None
        if mode == "before":
            self.agent.kill()
            self.fired.set()
            raise OperationalError("the portal lost its database before applying the batch")
        result = self.ingest(node=node, records=records)
        if mode == "after":
            self.agent.kill()  # committed; the agent never reads the answer
            self.fired.set()
        return result


def test_it_applies_every_record_once_when_the_agent_dies_mid_report(
    tmp_path, settings, live_server, stack, local_backend, no_eager_cycles, monkeypatch, owner, allocation
):
    settings.GPUGRANT_METERING = "agent"
    import portal.api.views.usage as usage_view

    hook = KillOnReport(usage_view.usage_ingest)
    monkeypatch.setattr(usage_view, "usage_ingest", hook)
    key_file = node_key_file(tmp_path, NODE)
    arguments = local_agent_arguments(
        node=NODE,
        portal_url=live_server.url,
        key_file=key_file,
        spool=tmp_path / "spool",
        local_state=local_backend.root,
        report_interval=0.5,
    )
    agents = []

    def start_agent():
        log = tmp_path / f"agent-{len(agents)}.log"
        agents.append(start_module("workers.agent", *arguments, log=log, GPUGRANT_LOCAL_GPUS="A100:4,H100:4"))
        wait_until(lambda: "node agent for" in log.read_text(), "the agent to start", process=agents[-1])
        return agents[-1]

    job = submit(owner, allocation, gpus_per_pod=2, minutes=10, name="metered")
    Job.objects.filter(pk=job.pk).update(command=busy_until(tmp_path / "never"))
    run_cycle(backend=local_backend)
    records = UsageRecord.objects.filter(job=job)
    tried = []
    try:
        agent = start_agent()
        wait_until(lambda: records.exists(), "the first usage", process=agent)
        for mode in sample(["before", "after"] * 6, ci=4):
            hook.arm(agent, mode)
            assert hook.fired.wait(timeout=60), "no report came"
            agent.wait(timeout=10)
            applied = records.count()
            agent = start_agent()
            wait_until(lambda n=applied: records.count() > n, "usage from the new agent", process=agent)
            tried.append(mode)
        agent.terminate()  # SIGTERM: it spools its current interval and stops
        assert agent.wait(timeout=20) == 0
    finally:
        for process in agents:
            stop_process(process)

    ids = list(records.values_list("record_id", flat=True))
    assert len(ids) == len(set(ids))
    bound_at = (local_backend.root / str(job.public_id) / "run-1" / "runner-0.json").stat().st_mtime
    for gpu in ("SIMULATED-local-a100-0", "SIMULATED-local-a100-1"):
        intervals = list(records.filter(gpu_uuid=gpu).order_by("interval_start"))
        assert intervals[0].interval_start.timestamp() == pytest.approx(bound_at, abs=1e-5)
        for before, after in zip(intervals, intervals[1:], strict=False):
            assert after.interval_start == before.interval_end  # no gap, no overlap across the kills
        end = intervals[-1].interval_end.timestamp()
        assert sum(r.gpu_seconds for r in intervals) == bound_gpu_seconds(bound_at, end, bound_at, None)
    assert_invariants()
    print(f"agent kill -9 mid-report tried: {tried}")
