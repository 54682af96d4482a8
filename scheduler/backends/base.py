"""What every backend offers the scheduler. Backends never touch the database: they take plain data."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class NodeInfo:
    name: str
    gpu_type: str
    gpu_count: int
    schedulable: bool = True
    unschedulable_reason: str = ""
    foreign_gpus: tuple[int, ...] = ()  # GPUs held by workloads gpugrant does not own
    gpu_uuids: tuple[str, ...] = ()
    cluster: str = ""  # the registered cluster it belongs to, where a backend knows (federated.py)


@dataclass(frozen=True)
class PodSpec:
    node: str
    gpu_indices: tuple[int, ...]
    rank: int


@dataclass(frozen=True)
class JobSpec:
    """Everything a backend needs to run a job; ``job_id`` is the job's public id."""

    job_id: str
    name: str
    organisation_id: str
    allocation_id: str
    kind: str
    image: str
    command: tuple[str, ...]
    environment: dict[str, str]
    gpu_type: str
    gpus_per_pod: int
    pods: tuple[PodSpec, ...]
    max_runtime_seconds: int
    labels: dict[str, str] = field(default_factory=dict)
    # An interactive session's: environment the job gets but that is never stored with it (its
    # JupyterLab token), and the key of the persistent workspace its notebooks live in (docs/sessions.md).
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    workspace: str = ""


# Where a session's JupyterLab listens: a UNIX socket (the job runs in a network namespace of its own; a
# folder is shared with the host). Its command names it by this placeholder, which the backend replaces
# with the path the job sees; the host's path stays short, as a socket's path must (108 bytes).
SESSION_SOCKET = "{session_socket}"
SESSION_SOCKET_FILE = "jupyter.sock"


class Phase(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    STOPPED = "stopped"  # stopped at gpugrant's request (cancel, preempt, exhausted)
    LOST = "lost"  # the node or the pods vanished
    UNKNOWN = "unknown"  # the backend cannot say now (its cluster does not answer): leave the job as it is


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    phase: Phase
    reason: str = ""
    exit_code: int | None = None


class BindError(Exception):
    """The backend refused or failed to start the job; the scheduler undoes the claim and requeues."""

    counts_as_requeue = True  # towards GPUGRANT_MAX_REQUEUES


class LeftoverFromEarlierRun(BindError):
    """Objects of the job's earlier run were in the way; they are removed and the next bind can succeed.

    Not the job's fault, so it does not use up one of its requeues (a job lost with its node would
    otherwise pay twice for one loss).
    """

    counts_as_requeue = False


class Backend(ABC):
    name: str
    # How many bind() calls the cycle may run at once. A backend raises it where binds are independent
    # network calls and the backend is thread-safe (Kubernetes); one at a time otherwise.
    bind_concurrency: int = 1

    @abstractmethod
    def inventory(self) -> list[NodeInfo]:
        """The GPU nodes as the cluster sees them now."""

    @abstractmethod
    def bind(self, spec: JobSpec) -> None:
        """Start the job's pods on the given nodes and GPUs. Idempotent for the same job id."""

    @abstractmethod
    def stop(self, job_id: str, reason: str) -> None:
        """Stop the job's pods (cancel, timeout, preemption, exhaustion). Idempotent."""

    @abstractmethod
    def statuses(self, job_ids: list[str]) -> list[JobStatus]:
        """The current phase of each given job that the backend knows."""

    @abstractmethod
    def logs(self, job_id: str, limit_bytes: int) -> str:
        """The last ``limit_bytes`` of the job's output."""

    def session_endpoint(self, job_id: str) -> str | None:
        """Where a running session's JupyterLab answers (a UNIX socket's path), or None while it does not
        yet, or where this backend runs no sessions."""
        return None

    def owned_job_ids(self) -> set[str]:
        """Every job gpugrant started here that may still hold something (pods, processes), whatever the
        database says: what cleaning a cluster after an outage stops."""
        raise NotImplementedError(f"{type(self).__name__} cannot list what it started")
