"""The scheduler's vocabulary: frozen dataclasses in (snapshot) and out (plan)."""

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from scheduler.core.predict import Prediction


class Priority(IntEnum):
    LOW = 0  # preemptible; may run beyond its allocation's fair share
    NORMAL = 1
    HIGH = 2  # staff only


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    gpu_type: str
    gpus: int
    free: frozenset[int]  # indices of GPUs no running job holds
    schedulable: bool = True
    # Federation: the cluster it belongs to ("" where there is one), and what using it costs, lower first
    # among equal fits (the caller's rule: reserved capacity, already paid, before on-demand by price).
    cluster: str = ""
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class PodPlacement:
    node: str
    gpu_indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RunningJob:
    job_id: str
    allocation_id: str
    gpu_type: str
    pods: tuple[PodPlacement, ...]
    started_at: float
    max_runtime_s: float
    priority: Priority = Priority.NORMAL
    # How long this run will probably take, from history (predict.py); None: unknown. Estimates only:
    # reservations keep counting on max_runtime.
    prediction: Prediction | None = None
    preemptions: int = 0  # how often it was preempted before this run
    gpus: int = field(init=False, repr=False, compare=False)  # read for every running job in every plan

    def __post_init__(self):
        object.__setattr__(self, "gpus", sum(len(pod.gpu_indices) for pod in self.pods))

    @property
    def expected_end(self) -> float:
        return self.started_at + self.max_runtime_s


@dataclass(frozen=True, slots=True)
class QueuedJob:
    job_id: str
    allocation_id: str
    gpu_type: str
    gpus_per_pod: int
    pods: int
    max_runtime_s: float
    submitted_at: float  # first submission: a requeued job keeps its age
    priority: Priority = Priority.NORMAL
    # Nodes an earlier plan preempted jobs on for this job, and since when (Plan.preemption_holds, fed
    # back by the caller): they stay held for it across cycles, so others cannot take the freed GPUs.
    held_nodes: tuple[str, ...] = ()
    held_since: float | None = None
    # Its predicted runtime from history (predict.py), or None; and the GPU-seconds its earlier runs got.
    prediction: Prediction | None = None
    attained_gpu_s: float = 0.0
    # The clusters it may run in (its allocation's pins narrowed by its own), None: any. All its pods go
    # to one cluster: a gang never spans clusters.
    clusters: frozenset[str] | None = None
    # An interactive session (docs/sessions.md): it may use the GPUs held back for sessions.
    interactive: bool = False

    @property
    def gpus(self) -> int:
        return self.gpus_per_pod * self.pods

    def expected_runtime_s(self, unknown: str = "attained") -> float:
        """The runtime ordering goes by: the prediction; without one, by ``unknown``: the run time its
        earlier runs attained (least attained service first, as Tiresias does without estimates), or the
        user's max_runtime."""
        if self.prediction is not None:
            return self.prediction.runtime_s
        if unknown == "max_runtime":
            return self.max_runtime_s
        return self.attained_gpu_s / self.gpus if self.gpus > 0 else 0.0


@dataclass(frozen=True, slots=True)
class AllocationState:
    allocation_id: str
    weight: float  # its share of the programme, e.g. awarded GPU-hours
    decayed_usage: float  # GPU-seconds used, decayed by the policy's half-life
    max_concurrent_gpus: int
    # Its jobs running now or ended recently (the caller's window): the time they queued before their
    # first start, and the time from then to their end (or now). Policy.preemption_wait_budget weighs one
    # against the other: together they are those jobs' completion times.
    waited_s: float = 0.0
    ran_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Policy:
    fairshare_weight: float = 1000.0
    age_weight: float = 2000.0  # a job that waited max_age also goes ahead of all that did not (fairshare.py)
    max_age_s: float = 7 * 24 * 3600.0
    # Shorter estimated jobs rank higher, by at most this much (see fairshare.shortness): a job's
    # slowdown suffers most from waiting when it is short, and short jobs free their GPUs soon.
    short_job_weight: float = 4000.0
    short_job_reference_s: float = 3600.0  # an expected runtime at or below this counts as fully short
    # What ordering takes as the runtime of a job its history cannot predict (QueuedJob.expected_runtime_s).
    unknown_runtime: str = "attained"
    preemption_wait_s: float = 0.0  # a within-share job waiting this long may preempt (0: at once)
    reservation_depth: int = 4  # blocked jobs per GPU type that get a reserved start
    preemption_attempts: int = 8  # victim searches per GPU type per cycle (each costs O(running jobs))
    preemption_hold_s: float = 15 * 60.0  # how long nodes freed by preemption stay held for the preemptor
    preemption_grace_s: float = 10 * 60.0  # a job that started this recently is never preempted
    max_preemptions: int = 3  # a job preempted this often already is never preempted again (0: no limit)
    # A normal job that has run this long is never preempted (0: no limit): restarting it would discard
    # that much work. Off by default: it cuts the GPU-hours lost to preemption, but a light tenant's
    # whole-node jobs may then wait for heavy tenants' long jobs to end (docs/benchmarks.md §5).
    preemption_max_run_s: float = 0.0
    # A within-share job preempts only once its allocation's waiting outgrows this fraction of its running:
    # AllocationState.waited_s + this job's wait > budget × (AllocationState.ran_s + its expected runtime).
    # Until then it waits for GPUs to free up as others do. 0: no budget, it preempts at once. A tenant
    # whose jobs wait at most that fraction of their run time is at most that much slower than on a slice
    # of its own where none waits, and every restart a preemption spares keeps its GPU-hours (benchmarks §5).
    preemption_wait_budget: float = 0.0
    # Over-share victims only as far as their allocation stays at or above its share once they stop: a
    # victim that pushed it below would make its next job within share, which then preempts back (churn).
    keep_victims_share: bool = True
    # The shares preemption restores: "guaranteed" divides a type's GPUs among every entitled allocation,
    # idle or not (Snapshot.entitlements), so a share never moves as others come and go; "demand" among
    # the allocations with jobs of that type now.
    preemption_shares: str = "guaranteed"
    # GPUs of a type held back for interactive sessions, so they start quickly: a batch job is not started
    # where it would leave fewer free (GPU type → count; docs/sessions.md).
    session_reserve: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Entitlement:
    """An allocation's claim on a GPU type, demand or not: guaranteed shares divide the type by these."""

    allocation_id: str
    gpu_type: str
    weight: float  # e.g. the GPU-hours awarded of that type


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: float
    nodes: tuple[Node, ...]
    running: tuple[RunningJob, ...]
    queue: tuple[QueuedJob, ...]
    allocations: tuple[AllocationState, ...]
    policy: Policy = field(default_factory=Policy)
    # Every allocation entitled to each GPU type, idle ones too; empty: ``allocations``, to every type.
    entitlements: tuple[Entitlement, ...] = ()


class WaitReason(StrEnum):
    NO_FREE_GPUS = "no_free_gpus"  # every GPU of its type is busy; higher-priority jobs are ahead
    RESERVED = "reserved"  # it holds a reservation and starts when enough GPUs are released
    BEHIND_RESERVATION = "behind_reservation"  # free GPUs are held for an earlier, larger job
    CONCURRENCY_CAP = "concurrency_cap"  # its allocation already runs its maximum number of GPUs
    WAITING_FOR_PREEMPTION = "waiting_for_preemption"  # GPUs are being freed for it
    NEVER_FITS = "never_fits"  # no set of nodes of its type is large enough
    SESSION_RESERVE = "session_reserve"  # the free GPUs left are held back for interactive sessions


@dataclass(frozen=True, slots=True)
class Start:
    job_id: str
    pods: tuple[PodPlacement, ...]


class PreemptionReason(StrEnum):
    LOW_PRIORITY = "low_priority"
    OVER_FAIR_SHARE = "over_fair_share"  # its allocation runs beyond its fair share


@dataclass(frozen=True, slots=True)
class Preemption:
    job_id: str
    for_job_id: str
    reason: PreemptionReason


@dataclass(frozen=True, slots=True)
class Reservation:
    job_id: str
    start_at: float
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PreemptionHold:
    job_id: str
    nodes: tuple[str, ...]
    since: float


@dataclass(frozen=True, slots=True)
class Plan:
    starts: tuple[Start, ...]
    preemptions: tuple[Preemption, ...]
    reservations: tuple[Reservation, ...]
    order: tuple[str, ...]  # queued job ids, highest priority first
    waiting: dict[str, WaitReason]  # every queued job that does not start, and why
    # Every job that nodes are held for after preemption (new and continuing); the caller stores these
    # and passes them back as QueuedJob.held_nodes / held_since. A job not listed holds nothing.
    preemption_holds: tuple[PreemptionHold, ...] = ()
    # Waiting jobs that will preempt once running jobs leave their grace: job id → when (estimate.py).
    preemption_due: dict[str, float] = field(default_factory=dict)
    # Within-share jobs that Policy.preemption_wait_budget keeps from preempting yet: job id → when their
    # allocation's budget runs out. When to look again, not a promise: there may be no victims by then.
    budget_due: dict[str, float] = field(default_factory=dict)
