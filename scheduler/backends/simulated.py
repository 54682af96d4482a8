"""The simulated backend: nodes and jobs in memory on a virtual clock, for benchmarks and scale tests.

Nothing runs and nothing sleeps: a bound job finishes when ``advance`` moves the clock past its true
duration (SUCCEEDED) or its max runtime (TIMED_OUT). Failures are injected by the caller
(``fail_bind``, ``remove_node``). Deterministic: the same calls give the same results.
"""

import heapq
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from scheduler.backends.base import Backend, BindError, JobSpec, JobStatus, NodeInfo, Phase
from scheduler.backends.local import simulated_nodes

Durations = dict[str, float] | Callable[[JobSpec], float | None]


@dataclass
class _SimulatedJob:
    spec: JobSpec
    phase: Phase
    started_at: float
    ends_at: float  # when it succeeds or times out, unless stopped or lost first
    ending: Phase  # SUCCEEDED or TIMED_OUT, whichever ends_at stands for
    bind_order: int  # tells this run's event from a previous run's
    finished_at: float | None = None
    reason: str = ""


class SimulatedBackend(Backend):
    name = "simulated"

    def __init__(
        self, nodes: list[NodeInfo] | None = None, durations: Durations | None = None, start_time: float = 0.0
    ):
        """``durations``: job id → true seconds, or a callable of the JobSpec (None: run to max runtime).

        A job whose true duration reaches its max runtime is TIMED_OUT at the max runtime. Without
        ``nodes``, the machine of settings.GPUGRANT_LOCAL_GPUS is simulated (nodes local-a100, …).
        """
        if nodes is None:
            nodes = simulated_nodes(settings.GPUGRANT_LOCAL_GPUS)
        self._nodes: dict[str, NodeInfo] = {node.name: node for node in nodes}
        self._durations = durations if durations is not None else {}
        self._now = float(start_time)
        self._jobs: dict[str, _SimulatedJob] = {}
        self._gpu_holder: dict[tuple[str, int], str] = {}  # (node, GPU index) → running job id
        self._events: list[tuple[float, int, str]] = []  # (ends_at, bind order, job id); stale ones skipped
        self._binds = 0
        self._bind_failures: dict[str, str] = {}
        self.unreachable = ""  # while set, its "API server" does not answer (cut_off): every call raises

    # --- the virtual clock --------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self._now

    def advance(self, to_time: float) -> list[JobStatus]:
        """Move the clock to ``to_time``, ending every job due by then; returns those, in order of ending."""
        if to_time < self._now:
            raise ValueError(f"virtual time cannot go back from {self._now} to {to_time}")
        ended = []
        while self._events and self._events[0][0] <= to_time:
            ends_at, bind_order, job_id = heapq.heappop(self._events)
            job = self._jobs[job_id]
            if job.phase != Phase.RUNNING or job.bind_order != bind_order:
                continue  # stopped or lost meanwhile, or rebound since
            self._now = ends_at
            if job.ending == Phase.TIMED_OUT:
                limit = job.spec.max_runtime_seconds
                self._finish(job, Phase.TIMED_OUT, f"exceeded its max runtime of {limit} s")
            else:
                self._finish(job, Phase.SUCCEEDED, "")
            ended.append(self._status(job))
        self._now = to_time
        return ended

    def next_event_time(self) -> float | None:
        """When the next running job ends, or None if none is running."""
        while self._events:
            ends_at, bind_order, job_id = self._events[0]
            job = self._jobs[job_id]
            if job.phase == Phase.RUNNING and job.bind_order == bind_order:
                return ends_at
            heapq.heappop(self._events)
        return None

    # --- failure injection ------------------------------------------------------------------------

    def fail_bind(self, job_id: str, reason: str = "injected bind failure") -> None:
        """The next ``bind`` of this job raises BindError (once)."""
        self._bind_failures[job_id] = reason

    def remove_node(self, name: str, reason: str = "") -> list[str]:
        """The node vanishes; its running jobs become LOST. Returns their ids."""
        self._nodes.pop(name, None)
        lost = sorted(
            {job_id for (node, _index), job_id in self._gpu_holder.items() if node == name},
            key=lambda job_id: self._jobs[job_id].started_at,
        )
        for job_id in lost:
            self._finish(self._jobs[job_id], Phase.LOST, reason or f"node {name} was removed")
        return lost

    def add_node(self, node: NodeInfo) -> None:
        self._nodes[node.name] = node

    def cut_off(self, reason: str = "connection refused") -> None:
        """Its API server stops answering (every call raises ConnectionError); what runs keeps running, as
        in a network partition."""
        self.unreachable = reason

    def reconnect(self) -> None:
        self.unreachable = ""

    def _answer(self) -> None:
        if self.unreachable:
            raise ConnectionError(f"simulated cluster unreachable: {self.unreachable}")

    # --- Backend ----------------------------------------------------------------------------------

    def inventory(self) -> list[NodeInfo]:
        self._answer()
        return list(self._nodes.values())

    def bind(self, spec: JobSpec) -> None:
        self._answer()
        existing = self._jobs.get(spec.job_id)
        if existing is not None and existing.phase not in {Phase.STOPPED, Phase.LOST}:
            return  # already bound: binding again does nothing (a stopped or lost job may run again)
        if spec.job_id in self._bind_failures:
            raise BindError(self._bind_failures.pop(spec.job_id))
        if not spec.command:
            raise BindError("the job has no command to run")
        if not spec.pods:
            raise BindError("the job has no pods")
        gpus = []
        for pod in spec.pods:
            node = self._nodes.get(pod.node)
            if node is None:
                raise BindError(f"no node {pod.node!r}")
            if not node.schedulable:
                raise BindError(f"node {pod.node} is not schedulable: {node.unschedulable_reason}")
            if node.gpu_type != spec.gpu_type:
                raise BindError(f"node {pod.node} has {node.gpu_type} GPUs, the job wants {spec.gpu_type}")
            for index in pod.gpu_indices:
                if not 0 <= index < node.gpu_count or index in node.foreign_gpus:
                    raise BindError(f"GPU {index} of node {pod.node} is not available")
                holder = self._gpu_holder.get((pod.node, index))
                if holder is not None or (pod.node, index) in gpus:
                    user = holder or spec.job_id
                    raise BindError(f"GPU {index} of node {pod.node} is already in use by job {user}")
                gpus.append((pod.node, index))
        duration = self._true_duration(spec)
        limit = float(spec.max_runtime_seconds)
        ending = Phase.TIMED_OUT if duration >= limit else Phase.SUCCEEDED
        self._binds += 1
        ends_at = self._now + min(duration, limit)
        job = _SimulatedJob(spec, Phase.RUNNING, self._now, ends_at, ending, self._binds)
        self._jobs[spec.job_id] = job
        for gpu in gpus:
            self._gpu_holder[gpu] = spec.job_id
        heapq.heappush(self._events, (job.ends_at, job.bind_order, spec.job_id))

    def stop(self, job_id: str, reason: str) -> None:
        self._answer()
        job = self._jobs.get(job_id)
        if job is not None and job.phase == Phase.RUNNING:
            self._finish(job, Phase.STOPPED, reason)

    def owned_job_ids(self) -> set[str]:
        self._answer()
        return {job_id for job_id, job in self._jobs.items() if job.phase in (Phase.PENDING, Phase.RUNNING)}

    def statuses(self, job_ids: list[str]) -> list[JobStatus]:
        self._answer()
        return [self._status(self._jobs[job_id]) for job_id in job_ids if job_id in self._jobs]

    def logs(self, job_id: str, limit_bytes: int) -> str:
        self._answer()
        job = self._jobs.get(job_id)
        if job is None or limit_bytes <= 0:
            return ""
        nodes = ", ".join(pod.node for pod in job.spec.pods)
        lines = [f"[simulated] started at t={job.started_at:g} on {nodes}\n"]
        if job.finished_at is not None:
            lines.append(f"[simulated] {job.phase} at t={job.finished_at:g} {job.reason}".rstrip() + "\n")
        return "".join(lines).encode()[-limit_bytes:].decode(errors="ignore")

    # --- details ----------------------------------------------------------------------------------

    def finished_at(self, job_id: str) -> float | None:
        """The virtual time at which the job's current run ended, if it has."""
        job = self._jobs.get(job_id)
        return None if job is None else job.finished_at

    def _true_duration(self, spec: JobSpec) -> float:
        if callable(self._durations):
            duration = self._durations(spec)
        else:
            duration = self._durations.get(spec.job_id)
        return float(spec.max_runtime_seconds) if duration is None else max(0.0, float(duration))

    def _finish(self, job: _SimulatedJob, phase: Phase, reason: str) -> None:
        job.phase = phase
        job.reason = reason
        job.finished_at = self._now
        for pod in job.spec.pods:
            for index in pod.gpu_indices:
                if self._gpu_holder.get((pod.node, index)) == job.spec.job_id:
                    del self._gpu_holder[(pod.node, index)]

    def _status(self, job: _SimulatedJob) -> JobStatus:
        exit_code = 0 if job.phase == Phase.SUCCEEDED else None
        return JobStatus(job.spec.job_id, job.phase, job.reason, exit_code)
