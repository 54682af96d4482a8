"""The pure scheduling decision: a snapshot goes in, decisions come out.

No Django, no Kubernetes, no clock reads (``Snapshot.now`` is the time), no randomness: the same
snapshot always gives the same plan. See docs/scheduling.md for the rules and formulas.
"""

from scheduler.core.model import (
    AllocationState,
    Entitlement,
    Node,
    Plan,
    PodPlacement,
    Policy,
    Preemption,
    PreemptionHold,
    PreemptionReason,
    Priority,
    QueuedJob,
    Reservation,
    RunningJob,
    Snapshot,
    Start,
    WaitReason,
)
from scheduler.core.plan import plan

__all__ = [
    "AllocationState",
    "Entitlement",
    "Node",
    "Plan",
    "PodPlacement",
    "Policy",
    "Preemption",
    "PreemptionReason",
    "PreemptionHold",
    "Priority",
    "QueuedJob",
    "Reservation",
    "RunningJob",
    "Snapshot",
    "Start",
    "WaitReason",
    "plan",
]
