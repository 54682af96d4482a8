"""An agent driven by hand: scripted GPUs, a scripted assignment source, a fake clock, a real spool."""

from pathlib import Path

from workers.agent import Agent
from workers.agent_reporter import Reporter
from workers.agent_sender import Sender
from workers.assignments import Binding
from workers.metering.device import GpuInfo, GpuReading
from workers.metering.fake import ScriptedDevices
from workers.portal_client import Backoff, PortalClient
from workers.spool import Spool

SAMPLE = 2.0
REPORT = 10.0
START = 1_000_000.0


def readings(
    uuid: str, *, start: float = START, count: int = 400, power_w: float = 300.0, energy0: int = 10**9
):
    """A GPU read every SAMPLE s from ``start`` at constant power: its counter grows power × SAMPLE per read."""
    step_mj = round(power_w * 1000 * SAMPLE)
    return [
        GpuReading(
            uuid, start + k * SAMPLE, energy0 + k * step_mj, round(power_w * 1000), 80.0, 1 << 30, 400_000
        )
        for k in range(count)
    ]


class ScriptedSource:
    def __init__(self, bindings: list[Binding] | None = None):
        self.current = list(bindings or [])

    def bindings(self, now: float) -> list[Binding]:
        return list(self.current)


class Rig:
    """``tick(t)`` is one agent loop turn at time t (wall and reading clock alike)."""

    def __init__(
        self,
        spool_dir: Path,
        script: dict[str, list],
        source: ScriptedSource,
        *,
        portal=None,
        gpus: list[GpuInfo] | None = None,
        spool_created: float = START - 100,
    ):
        self.now = spool_created  # when the spool is created, if it is new
        self.spool = Spool(spool_dir, clock=lambda: self.now)
        self.now = START
        self.devices = ScriptedDevices(script, gpus=gpus)
        self.source = source
        self.reporter = Reporter(
            devices=self.devices,
            source=source,
            spool=self.spool,
            clock=lambda: self.now,
            monotonic=lambda: self.now,
        )
        self.sender = None
        if portal is not None:
            client = PortalClient(portal.url, portal.key, retries=0, timeout=5)
            self.sender = Sender(
                self.spool, client, backoff=Backoff(base=SAMPLE, cap=4 * REPORT, random=lambda: 0.0)
            )
        self.agent = Agent(
            reporter=self.reporter, sender=self.sender, sample_interval=SAMPLE, report_interval=REPORT
        )
        self.records = []

    def tick(self, t: float):
        self.now = t
        made = self.agent.run_once(now=t, at=t)
        self.records.extend(made)
        return made

    def run(self, start: float, end: float):
        """Ticks every SAMPLE s from ``start`` up to and including ``end``."""
        t = start
        while t <= end + 1e-9:
            self.tick(t)
            t += SAMPLE
        return self.records

    def close(self):
        self.spool.close()
