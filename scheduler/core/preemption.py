"""Choosing running jobs to preempt for a within-share job that has waited too long.

Candidates are running jobs of the same GPU type that are ``low`` priority, or that belong to an
allocation running beyond its fair share (never ``high``). A ``low`` job preempts only ``low`` jobs of
other allocations running beyond their share (it reclaims its share; it never displaces normal work). Cheapest first: low before normal, then the
most recently started (least work lost), then by id. Victims are added until the waiting job fits,
then any victim the fit does not need is dropped again.
"""

from scheduler.core.model import Priority, QueuedJob, RunningJob


def _fits(free: dict[str, int], gpus_per_pod: int, pods: int) -> bool:
    return sum(max(0, f) // gpus_per_pod for f in free.values()) >= pods


def choose_victims(
    job: QueuedJob,
    free_now: dict[str, int],
    candidates: list[RunningJob],
    excess: dict[str, float] | None = None,
) -> list[RunningJob] | None:
    """The victims whose GPUs, with the free ones, let ``job`` fit; None if no choice does.

    ``excess`` (allocation → GPUs it runs beyond its share), where given, limits the normal victims
    taken from each allocation: together they never take more than its excess.
    """
    chosen: list[RunningJob] = []
    left = dict(excess) if excess is not None else None

    def free_with(victims: list[RunningJob]) -> dict[str, int]:
        free = dict(free_now)
        for victim in victims:
            for pod in victim.pods:
                if pod.node in free:
                    free[pod.node] += len(pod.gpu_indices)
        return free

    for victim in candidates:
        if left is not None and victim.priority != Priority.LOW:
            if victim.gpus > left.get(victim.allocation_id, 0.0):
                continue
            left[victim.allocation_id] -= victim.gpus
        chosen.append(victim)
        if _fits(free_with(chosen), job.gpus_per_pod, job.pods):
            break
    else:
        return None
    for victim in list(reversed(chosen[:-1])):
        trial = [v for v in chosen if v is not victim]
        if _fits(free_with(trial), job.gpus_per_pod, job.pods):
            chosen = trial
    return chosen


def candidate_order(victim: RunningJob, over_share: bool) -> tuple:
    return (int(victim.priority), 0 if over_share else 1, -victim.started_at, victim.job_id)


def preemptible(victim: RunningJob, over_share: bool, for_priority: Priority = Priority.NORMAL) -> bool:
    if for_priority == Priority.LOW:
        # a low job only reclaims its share from other allocations' low jobs running beyond theirs
        return victim.priority == Priority.LOW and over_share
    return victim.priority == Priority.LOW or (victim.priority == Priority.NORMAL and over_share)
