"""Choosing running jobs to preempt for a within-share job that has waited too long.

Candidates are running jobs of the same GPU type that are ``low`` priority, or that belong to an
allocation running beyond its fair share (never ``high``). A ``low`` job preempts only ``low`` jobs of
other allocations running beyond their share (it reclaims its share; it never displaces normal work).
Cheapest first: low before normal, then the most recently started (least work lost), then by id.

Victims are taken in that order until the waiting job fits. Where that finds no fit, they are taken node
by node instead, each time on the node where the fewest GPUs must stop to make room for one more pod: a
whole-node pod fits only where a node empties, and the cheapest victims are often scattered over nodes
that also run jobs nobody may preempt, using up their allocations' excess before any node empties.
Either way, any victim the fit does not need is dropped again.
"""

from scheduler.core.model import AllocationState, Policy, Priority, QueuedJob, RunningJob


class _Room:
    """Free GPUs per node as victims are added, and how many pods of ``gpus_per_pod`` fit in them, kept
    as each victim is added: recounting every node after each one made the search quadratic."""

    def __init__(self, free_now: dict[str, int], gpus_per_pod: int):
        self.free = dict(free_now)
        self.g = gpus_per_pod
        self.slots = sum(max(0, f) // gpus_per_pod for f in self.free.values())

    def add(self, victim: RunningJob, sign: int = 1) -> None:
        """Count ``victim``'s GPUs as freed (``sign`` -1: as busy again)."""
        for pod in victim.pods:
            before = self.free.get(pod.node)
            if before is not None:
                self.free[pod.node] = before + sign * len(pod.gpu_indices)
                self.slots += max(0, self.free[pod.node]) // self.g - max(0, before) // self.g


class _Budget:
    """What each allocation's normal victims may still take (its GPUs beyond its share); no limit without
    ``excess``."""

    def __init__(self, excess: dict[str, float] | None):
        self.left = dict(excess) if excess is not None else None

    def counted(self, victim: RunningJob) -> float:
        """The GPUs ``victim`` takes from its allocation's budget: none for low-priority jobs."""
        return 0.0 if self.left is None or victim.priority == Priority.LOW else float(victim.gpus)

    def allows(self, victim: RunningJob, pending: float = 0.0) -> bool:
        """Whether ``victim`` fits what its allocation has left, beyond ``pending`` GPUs not yet taken."""
        gpus = self.counted(victim)
        return not gpus or gpus + pending <= self.left.get(victim.allocation_id, 0.0)

    def take(self, victim: RunningJob) -> None:
        if self.counted(victim):
            self.left[victim.allocation_id] -= victim.gpus


def _in_order(job: QueuedJob, free_now, candidates, budget: _Budget) -> list[RunningJob] | None:
    room = _Room(free_now, job.gpus_per_pod)
    chosen: list[RunningJob] = []
    for victim in candidates:
        if not budget.allows(victim):
            continue
        budget.take(victim)
        chosen.append(victim)
        room.add(victim)
        if room.slots >= job.pods:
            return chosen
    return None


def _cheapest_room(node, here, free, g, chosen_ids, budget: _Budget):
    """(GPUs stopped, victims) that make room for one more pod on ``node``; None if its candidates
    cannot. ``here`` lists the node's candidates cheapest first."""
    goal = (max(0, free[node]) // g + 1) * g
    gained, stopped, victims, pending = free[node], 0, [], {}
    for victim in here:
        if gained >= goal:
            break
        owner = victim.allocation_id
        if victim.job_id in chosen_ids or not budget.allows(victim, pending.get(owner, 0.0)):
            continue
        pending[owner] = pending.get(owner, 0.0) + budget.counted(victim)
        victims.append(victim)
        stopped += victim.gpus
        gained += sum(len(pod.gpu_indices) for pod in victim.pods if pod.node == node)
    return (stopped, victims) if gained >= goal else None


def _node_by_node(job: QueuedJob, free_now, candidates, budget: _Budget) -> list[RunningJob] | None:
    g = job.gpus_per_pod
    on_node: dict[str, list[RunningJob]] = {}
    for victim in candidates:  # cheapest first, so each node's list is too
        for node in dict.fromkeys(pod.node for pod in victim.pods):
            if node in free_now:
                on_node.setdefault(node, []).append(victim)
    room = _Room(free_now, g)
    chosen: list[RunningJob] = []
    chosen_ids: set[str] = set()
    while room.slots < job.pods:
        best = None  # (GPUs stopped, victims stopped, node, victims)
        for node, here in on_node.items():
            found = _cheapest_room(node, here, room.free, g, chosen_ids, budget)
            if found is not None and (best is None or (found[0], len(found[1]), node) < best[:3]):
                best = (found[0], len(found[1]), node, found[1])
        if best is None:
            return None
        for victim in best[3]:
            budget.take(victim)
            chosen_ids.add(victim.job_id)
            chosen.append(victim)
            room.add(victim)
    return chosen


def choose_victims(
    job: QueuedJob,
    free_now: dict[str, int],
    candidates: list[RunningJob],
    excess: dict[str, float] | None = None,
) -> list[RunningJob] | None:
    """The victims whose GPUs, with the free ones, let ``job`` fit; None if no choice does.

    ``candidates`` come cheapest first. ``excess`` (allocation → GPUs it runs beyond its share), where
    given, limits the normal victims taken from each allocation: together they never take more than its
    excess.
    """
    chosen = _in_order(job, free_now, candidates, _Budget(excess))
    if chosen is None:
        chosen = _node_by_node(job, free_now, candidates, _Budget(excess))
    if chosen is None:
        return None
    room = _Room(free_now, job.gpus_per_pod)
    for victim in chosen:
        room.add(victim)
    for victim in list(reversed(chosen[:-1])):  # the most expensive chosen are dropped first
        room.add(victim, sign=-1)
        if room.slots >= job.pods:
            chosen = [v for v in chosen if v is not victim]
        else:
            room.add(victim)
    return chosen


def candidate_order(victim: RunningJob, over_share: bool) -> tuple:
    return (int(victim.priority), 0 if over_share else 1, -victim.started_at, victim.job_id)


def preemptible(victim: RunningJob, over_share: bool, for_priority: Priority = Priority.NORMAL) -> bool:
    if for_priority == Priority.LOW:
        # a low job only reclaims its share from other allocations' low jobs running beyond theirs
        return victim.priority == Priority.LOW and over_share
    return victim.priority == Priority.LOW or (victim.priority == Priority.NORMAL and over_share)


def wait_budget_left(job: QueuedJob, allocation: AllocationState | None, now: float, policy: Policy) -> float:
    """Seconds ``job`` still waits before it may preempt under ``policy.preemption_wait_budget``; 0 or less:
    it may now. Its allocation's recent waiting plus this job's wait so far, against the budget's fraction
    of their recent running plus this job's expected runtime (both grow as it waits, so this is a lower
    bound: the plan asks again then)."""
    budget = policy.preemption_wait_budget
    if budget <= 0:
        return 0.0
    waited = max(0.0, now - job.submitted_at)
    ran = job.expected_runtime_s(policy.unknown_runtime)
    if allocation is not None:
        waited += allocation.waited_s
        ran += allocation.ran_s
    return budget * ran - waited
