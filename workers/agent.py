"""The node agent: meters this node's GPUs and reports usage per job to the portal, at least once.

    python -m workers.agent --node NAME --portal URL --key-file PATH --spool DIR \\
        --source local|podresources [--local-state DIR] [--devices auto|simulated] \\
        [--sample-interval 2] [--report-interval 10]

Every sample interval each GPU is read into its meter (workers/agent_reporter.py); every report
interval each GPU's interval is closed and turned into usage records for the jobs bound to it
(workers/assignments.py), spooled with the state behind them in one transaction (workers/spool.py).
A sender thread drains the spool to ``POST /api/v1/usage`` (workers/agent_sender.py). The portal may be
down for any length of time: the spool only grows. SIGTERM (or SIGINT) finishes the current interval,
writes it to the spool and exits 0; whatever is unsent goes after the next start.

It runs outside the users' containers (next to the local executor, or as a node DaemonSet on
Kubernetes) and talks to the portal over HTTP only: nothing here imports Django.
"""

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from workers import logs
from workers.agent_activity import ProcessActivity
from workers.agent_reporter import Reporter
from workers.agent_sender import Sender, SendOutcome
from workers.assignments import LocalAssignments, PodResourcesAssignments
from workers.metering import devices_for_this_machine
from workers.metering.device import GpuDevices, GpuInfo
from workers.metering.simulated import SimulatedDevices, simulated_gpus
from workers.podresources import DEFAULT_SOCKET
from workers.portal_client import Backoff, PortalClient
from workers.records import UsageRecord
from workers.spool import Spool

log = logging.getLogger("workers.agent")

DEFAULT_SIMULATED_GPUS = 4


class Agent:
    """The loop's parts, steppable for tests: ``run_once(now)`` samples, reports when due, sends."""

    def __init__(
        self,
        *,
        reporter: Reporter,
        sender: Sender | None,
        sample_interval: float = 2.0,
        report_interval: float = 10.0,
    ):
        self.reporter = reporter
        self.sender = sender
        self.sample_interval = sample_interval
        self.report_interval = report_interval
        self.next_report_at: float | None = None  # on the monotonic clock

    def run_once(self, now: float | None = None, at: float | None = None) -> list[UsageRecord]:
        """One tick at wall time ``now`` (reading clock ``at``): the records it spooled, if it reported."""
        now = self.reporter.clock() if now is None else now
        at = self.reporter.monotonic() if at is None else at
        self.reporter.sample()
        records: list[UsageRecord] = []
        if self.next_report_at is None:
            self.next_report_at = at + self.report_interval
        elif at >= self.next_report_at:
            records = self.report(now, at)
        if self.sender is not None:
            self.sender.drain(at)
        return records

    def report(self, now: float | None = None, at: float | None = None) -> list[UsageRecord]:
        at = self.reporter.monotonic() if at is None else at
        # Due again one interval later, even if this report fails (a full disk is retried, not hammered);
        # after a stall the schedule restarts from now instead of reporting back to back.
        self.next_report_at = (self.next_report_at or at) + self.report_interval
        if self.next_report_at <= at:
            self.next_report_at = at + self.report_interval
        return self.reporter.report(now, at)

    def run_forever(self, stop: threading.Event, wake_sender: threading.Event | None = None) -> None:
        """Sample and report until ``stop`` is set; then finish the current interval into the spool."""
        monotonic = self.reporter.monotonic
        next_sample = monotonic()
        self.next_report_at = next_sample + self.report_interval
        while not stop.is_set():
            self._guarded(self.reporter.sample)
            if monotonic() >= self.next_report_at:
                if self._guarded(self.report) is not None and wake_sender is not None:
                    wake_sender.set()
            next_sample = max(next_sample + self.sample_interval, monotonic())
            stop.wait(max(0.0, min(next_sample, self.next_report_at) - monotonic()))
        self._guarded(self.reporter.sample)
        records = self._guarded(self.report)
        log.info("stopping: the last interval is spooled (%d records)", len(records or []))

    @staticmethod
    def _guarded(step: Callable[[], object]) -> object:
        """A failing step (a disk error, a bug for one odd binding) is logged; the next one tries again."""
        try:
            return step()
        except Exception:  # noqa: BLE001 - the agent must keep metering
            log.exception("%s failed", getattr(step, "__name__", step))
            return None


class SenderThread(threading.Thread):
    """Drains the spool with its own connection, so that a slow portal never delays sampling."""

    def __init__(self, spool_dir: Path, client: PortalClient, *, idle_wait: float, stop: threading.Event):
        super().__init__(name="usage-sender", daemon=True)
        self.spool_dir = spool_dir
        self.client = client
        self.idle_wait = idle_wait
        self.stop = stop
        self.wake = threading.Event()

    def run(self) -> None:
        spool = Spool(self.spool_dir)
        sender = Sender(spool, self.client)
        last_backlog_log = 0.0
        try:
            while not self.stop.is_set():
                try:
                    outcome = sender.drain()
                except Exception:  # noqa: BLE001 - keep trying; the records stay in the spool
                    log.exception("sending usage failed unexpectedly")
                    outcome = SendOutcome.FAILED
                    sender.next_attempt_at = time.monotonic() + sender.backoff.failure()
                if time.monotonic() - last_backlog_log > 60:
                    backlog = spool.backlog()
                    if backlog.count:
                        log.info(
                            "spool: %d records waiting, oldest %.0f s",
                            backlog.count,
                            backlog.oldest_age_seconds,
                        )
                    last_backlog_log = time.monotonic()
                wait = self.idle_wait
                if outcome in (SendOutcome.WAITING, SendOutcome.FAILED):
                    wait = max(0.05, sender.next_attempt_at - time.monotonic())
                self.wake.wait(wait)
                self.wake.clear()
        finally:
            spool.close()


# --- command line -------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workers.agent", description=__doc__.split("\n\n")[0])
    parser.add_argument("--node", required=True, help="this node's name, as the portal knows it")
    parser.add_argument(
        "--portal", required=True, help="the portal's base URL, e.g. https://gpugrant.example"
    )
    parser.add_argument("--key-file", required=True, type=Path, help="file holding the node key")
    parser.add_argument("--spool", required=True, type=Path, help="directory of the local spool")
    parser.add_argument("--source", required=True, choices=["local", "podresources"])
    parser.add_argument("--local-state", type=Path, help="the local backend's folder (VAR_DIR/local-backend)")
    parser.add_argument("--podresources-socket", default=DEFAULT_SOCKET)
    parser.add_argument("--devices", choices=["auto", "simulated"], default="auto")
    parser.add_argument(
        "--simulated-gpus", type=int, help="how many simulated GPUs (default: from GPUGRANT_LOCAL_GPUS)"
    )
    parser.add_argument("--simulated-gpu-name", help="their product name (default: from GPUGRANT_LOCAL_GPUS)")
    parser.add_argument("--sample-interval", type=float, default=2.0)
    parser.add_argument("--report-interval", type=float, default=10.0)
    parser.add_argument("--log-level", default=os.environ.get("GPUGRANT_AGENT_LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("GPUGRANT_LOG_FORMAT") or "text",
        help="json: one object per line with the job id where there is one",
    )
    arguments = parser.parse_args(argv)
    if arguments.source == "local" and arguments.local_state is None:
        parser.error("--source local needs --local-state")
    if not 0 < arguments.sample_interval <= arguments.report_interval:
        parser.error("need 0 < --sample-interval <= --report-interval")
    return arguments


def simulated_gpu_shape(node: str, local_gpus: str | None) -> tuple[str, int]:
    """(product name, count) of simulated GPUs for ``node``: the local backend's ``local-<type>`` nodes
    come from GPUGRANT_LOCAL_GPUS ("A100:4,H100:4"), as scheduler/backends/local.simulated_nodes reads it."""
    for item in (local_gpus or "").split(","):
        gpu_type, _, count = item.strip().partition(":")
        if gpu_type and count.strip().isdigit() and node == f"local-{gpu_type.strip().lower()}":
            return f"NVIDIA {gpu_type.strip()}", int(count)
    return "NVIDIA A100-SXM4-80GB", DEFAULT_SIMULATED_GPUS


def build_devices(arguments, activity: Callable[[str], float]) -> GpuDevices:
    name, count = simulated_gpu_shape(arguments.node, os.environ.get("GPUGRANT_LOCAL_GPUS"))
    gpus: list[GpuInfo] = simulated_gpus(
        arguments.simulated_gpu_name or name, arguments.simulated_gpus or count, host=arguments.node
    )
    if arguments.devices == "simulated":
        return SimulatedDevices(gpus, activity)
    return devices_for_this_machine(simulated_gpus=gpus, activity=activity)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logs.configure(arguments.log_level, arguments.log_format)
    node_key = arguments.key_file.read_text().strip()
    if not node_key:
        log.error("the key file %s is empty", arguments.key_file)
        return 2

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    activity_of: list[Callable[[str], float]] = [lambda uuid: 0.0]
    devices = build_devices(arguments, lambda uuid: activity_of[0](uuid))
    gpus = devices.gpus()
    if arguments.source == "local":
        source = LocalAssignments(
            arguments.local_state, arguments.node, {gpu.index: gpu.uuid for gpu in gpus}
        )
        activity_of[0] = ProcessActivity(source.process_groups)
    else:
        source = PodResourcesAssignments(
            arguments.podresources_socket, PortalClient(arguments.portal, node_key, retries=0), gpus=gpus
        )

    spool = Spool(arguments.spool)
    reporter = Reporter(devices=devices, source=source, spool=spool)
    if isinstance(source, PodResourcesAssignments):
        source.restore((state.job_id, state.gpu_uuid, state.bound_at) for state in reporter.open_bindings())
    sender_thread = SenderThread(
        arguments.spool,
        PortalClient(arguments.portal, node_key, retries=0, backoff=Backoff()),
        idle_wait=arguments.report_interval,
        stop=stop,
    )
    agent = Agent(
        reporter=reporter,
        sender=None,
        sample_interval=arguments.sample_interval,
        report_interval=arguments.report_interval,
    )
    log.info(
        "node agent for %s: %d GPUs (%s), source %s, spool %s, portal %s",
        arguments.node,
        len(gpus),
        "simulated" if all(gpu.simulated for gpu in gpus) else "NVML",
        arguments.source,
        spool.path,
        arguments.portal,
    )
    sender_thread.start()
    try:
        agent.run_forever(stop, sender_thread.wake)
    finally:
        spool.close()
        sender_thread.wake.set()
        sender_thread.join(timeout=1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
