"""A scripted backend for cycle and API tests: records what it was asked, answers what the test says."""

from scheduler.backends.base import Backend, BindError, JobStatus, NodeInfo, Phase


class ScriptedBackend(Backend):
    name = "scripted"

    def __init__(self, nodes: list[NodeInfo] | None = None):
        self.nodes = (
            nodes if nodes is not None else [NodeInfo("node-a", "A100", 8), NodeInfo("node-h", "H100", 8)]
        )
        self.bound: dict[str, object] = {}
        self.stopped: list[tuple[str, str]] = []
        self.phases: dict[str, JobStatus] = {}
        self.fail_binds: set[str] = set()
        self.log_text: dict[str, str] = {}

    def inventory(self):
        return list(self.nodes)

    def bind(self, spec):
        if spec.job_id in self.fail_binds:
            raise BindError("scripted bind failure")
        self.bound[spec.job_id] = spec
        self.phases.setdefault(spec.job_id, JobStatus(spec.job_id, Phase.PENDING))

    def stop(self, job_id, reason):
        self.stopped.append((job_id, reason))
        if job_id in self.bound:
            self.phases[job_id] = JobStatus(job_id, Phase.STOPPED, reason)

    def owned_job_ids(self):
        return {j for j, s in self.phases.items() if s.phase in (Phase.PENDING, Phase.RUNNING)}

    def statuses(self, job_ids):
        return [self.phases[j] for j in job_ids if j in self.phases]

    def logs(self, job_id, limit_bytes):
        return self.log_text.get(job_id, "")[-limit_bytes:]

    def set_phase(self, job_id: str, phase: Phase, *, exit_code=None, reason: str = "") -> None:
        self.phases[job_id] = JobStatus(job_id, phase, reason, exit_code)
