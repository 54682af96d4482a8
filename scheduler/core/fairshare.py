"""Fair-share priority (Slurm-style, with decayed usage) plus queue age.

    F = 2 ** (-U / S)       U: the allocation's share of all decayed usage; S: its share of all weight
    A = min(1, wait / max_age)
    R = min(1, sqrt(short_job_reference / expected))        shortness by the predicted runtime (never the
                                                            truth); without history, attained service
    score = fairshare_weight * F + age_weight * A + short_job_weight * R

Jobs are ordered by priority class (high, normal, low), then jobs that have waited max_age ahead of the
rest, then score, then submission time, then id.
"""

import math
from collections import defaultdict

from scheduler.core.model import AllocationState, Priority, QueuedJob, Snapshot


def decay(usage: float, elapsed_s: float, half_life_s: float) -> float:
    """Usage ``elapsed_s`` seconds later, halving every ``half_life_s``."""
    if half_life_s <= 0:
        return 0.0
    return usage * 0.5 ** (max(0.0, elapsed_s) / half_life_s)


def fairshare_factors(allocations: tuple[AllocationState, ...]) -> dict[str, float]:
    total_weight = sum(max(0.0, a.weight) for a in allocations)
    total_usage = sum(max(0.0, a.decayed_usage) for a in allocations)
    factors = {}
    for allocation in allocations:
        share = max(0.0, allocation.weight) / total_weight if total_weight else 0.0
        usage = max(0.0, allocation.decayed_usage) / total_usage if total_usage else 0.0
        factors[allocation.allocation_id] = 2.0 ** (-usage / share) if share > 0 else 0.0
    return factors


def shortness(runtime_s: float, reference_s: float) -> float:
    """1 for jobs expected to run ``reference_s`` or less, falling as the square root beyond it."""
    if runtime_s <= reference_s:
        return 1.0
    return math.sqrt(reference_s / runtime_s)


def ordered_queue(snapshot: Snapshot) -> list[QueuedJob]:
    policy = snapshot.policy
    factors = fairshare_factors(snapshot.allocations)
    now = snapshot.now

    def key(job: QueuedJob):
        age = min(1.0, max(0.0, now - job.submitted_at) / policy.max_age_s) if policy.max_age_s > 0 else 1.0
        score = (
            policy.fairshare_weight * factors.get(job.allocation_id, 0.0)
            + policy.age_weight * age
            + policy.short_job_weight
            * shortness(job.expected_runtime_s(policy.unknown_runtime), policy.short_job_reference_s)
        )
        # A job that has waited max_age goes ahead of every job of its class that has not: nothing starves,
        # however the weights trade shortness against age.
        starving = policy.max_age_s > 0 and now - job.submitted_at >= policy.max_age_s
        return (-int(job.priority), not starving, -score, job.submitted_at, job.job_id)

    return sorted(snapshot.queue, key=key)


def gpu_shares(snapshot: Snapshot, guaranteed: bool = False) -> dict[tuple[str, str], float]:
    """(allocation, GPU type) → the GPUs of that type it is entitled to now.

    GPUs of a type are divided by weight among the allocations with demand for that type (running or
    queued there); an allocation without demand leaves its share to the others. ``guaranteed`` divides
    them among every entitled allocation instead (``Snapshot.entitlements``), demand or not, so a share
    does not move as other allocations come and go.
    """
    capacity: dict[str, int] = defaultdict(int)
    for node in snapshot.nodes:
        if node.schedulable:
            capacity[node.gpu_type] += node.gpus
    weights = {a.allocation_id: max(0.0, a.weight) for a in snapshot.allocations}
    demand: dict[str, set[str]] = defaultdict(set)
    for job in (*snapshot.running, *snapshot.queue):
        demand[job.gpu_type].add(job.allocation_id)
    claims: dict[str, dict[str, float]]  # GPU type → allocation → weight
    if guaranteed and snapshot.entitlements:
        claims = defaultdict(dict)
        for entitlement in snapshot.entitlements:
            claims[entitlement.gpu_type][entitlement.allocation_id] = max(0.0, entitlement.weight)
    elif guaranteed:
        claims = {gpu_type: dict(weights) for gpu_type in demand}
    else:
        claims = {gpu_type: {a: weights.get(a, 0.0) for a in ids} for gpu_type, ids in demand.items()}
    shares = {}
    for gpu_type, weight_of in claims.items():
        total = sum(weight_of.values())
        for allocation_id, weight in weight_of.items():
            shares[(allocation_id, gpu_type)] = capacity[gpu_type] * weight / total if total else 0.0
    return shares


def is_preemptible_class(priority: Priority) -> bool:
    return priority == Priority.LOW
