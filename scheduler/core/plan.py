"""One scheduling decision. The steps, in order:

1. order the queue (fairshare.ordered_queue);
   jobs that an earlier plan preempted for go first: each starts if it fits, or keeps its nodes held;
2. for each other job: skip if it can never fit or its allocation is at its concurrency cap;
3. place it best-fit on its GPU type, all pods or none, honouring reservations (backfill rule);
4. if it does not fit: give it a reservation while its GPU type has fewer than ``reservation_depth``;
5. if it is within its allocation's fair share, has waited ``preemption_wait_s`` and its allocation has
   spent its ``preemption_wait_budget`` (preemption.wait_budget_left): preempt the
   cheapest set of low / over-share jobs (none younger than ``preemption_grace_s``, no normal one that has
   run ``preemption_max_run_s`` where that is set) that frees enough GPUs, and hold those nodes for it, in
   this plan and (through ``Plan.preemption_holds``) the next ones until it starts or
   ``preemption_hold_s`` passes;
6. everything that did not start gets a wait reason.
"""

from collections import defaultdict

from scheduler.core import preemption
from scheduler.core.cluster import Cluster
from scheduler.core.fairshare import gpu_shares, ordered_queue
from scheduler.core.model import (
    Plan,
    PodPlacement,
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
from scheduler.core.reservations import Hold, Releases, Reservations, earliest_fit


def _place(
    job: QueuedJob, cluster: Cluster, reservations: Reservations, now: float
) -> tuple[PodPlacement, ...] | None:
    """All pods of ``job`` in one pool of its GPU type (the preferred cluster where several fit), fullest
    nodes first; None, taking nothing, if they fit in none."""
    if cluster.total_free[job.gpu_type] < job.gpus:
        return None
    for pool in cluster.pools_to_fill(job.gpu_type, job.clusters):
        pods = _place_in(job, pool, cluster, reservations, now)
        if pods is not None:
            return pods
    return None


def _place_in(
    job: QueuedJob, pool: str, cluster: Cluster, reservations: Reservations, now: float
) -> tuple[PodPlacement, ...] | None:
    if (
        cluster.pool_free[(job.gpu_type, pool)] < job.gpus
        or cluster.slots(job.gpu_type, job.gpus_per_pod, pool) < job.pods
    ):
        return None
    ends_at = now + job.max_runtime_s
    g = job.gpus_per_pod
    taken: list[PodPlacement] = []
    for _ in range(job.pods):
        node = cluster.best_fit(job.gpu_type, g, lambda n: reservations.allows(n, g, ends_at), pool)
        if node is None:
            for pod in taken:
                cluster.give_back(pod.node, pod.gpu_indices)
                reservations.unconsume(pod.node, g, ends_at)
            return None
        taken.append(PodPlacement(node=node, gpu_indices=cluster.take(node, g)))
        # Each pod uses up the spare GPUs it relies on before the next pod looks.
        reservations.consume(node, g, ends_at)
    return tuple(taken)


def plan(snapshot: Snapshot) -> Plan:
    policy, now = snapshot.policy, snapshot.now
    cluster = Cluster(snapshot.nodes)
    reservations = Reservations()
    shares = gpu_shares(snapshot, guaranteed=policy.preemption_shares == "guaranteed")
    caps = {a.allocation_id: a.max_concurrent_gpus for a in snapshot.allocations}
    allocations = {a.allocation_id: a for a in snapshot.allocations}
    session_reserve = dict(policy.session_reserve)

    running: list[RunningJob] = list(snapshot.running)
    releases = Releases(snapshot.running, now)
    running_gpus: dict[str, int] = defaultdict(int)  # allocation → GPUs, all types (concurrency cap)
    running_by_type: dict[tuple[str, str], int] = defaultdict(int)  # (allocation, type) → GPUs (share)
    for job in running:
        running_gpus[job.allocation_id] += job.gpus
        running_by_type[(job.allocation_id, job.gpu_type)] += job.gpus
    started_now: set[str] = set()
    victims: set[str] = set()
    reserved_per_type: dict[str, int] = defaultdict(int)
    preemption_tries: dict[str, int] = defaultdict(int)
    # Within one plan the cluster only fills up and reservations only tighten, so once a shape fails to
    # place, every later job of that shape with at least as long a runtime fails too: skip the search.
    failed_runtime: dict[tuple, float] = {}

    order = ordered_queue(snapshot)
    preemption_due: dict[str, float] = {}
    budget_due: dict[str, float] = {}
    starts: list[Start] = []
    preemptions: list[Preemption] = []
    waiting: dict[str, WaitReason] = {}
    holds_out: list[PreemptionHold] = []

    def start(job: QueuedJob, pods: tuple[PodPlacement, ...]) -> None:
        starts.append(Start(job_id=job.job_id, pods=pods))
        started = RunningJob(
            job.job_id, job.allocation_id, job.gpu_type, pods, now, job.max_runtime_s, job.priority
        )
        running.append(started)
        releases.add(started)
        started_now.add(job.job_id)
        running_gpus[job.allocation_id] += job.gpus
        running_by_type[(job.allocation_id, job.gpu_type)] += job.gpus

    # Jobs others were preempted for come first: the GPUs freed for them are theirs, whatever ranks
    # ahead of them now; otherwise the next plan hands those GPUs to someone else and preempts again.
    handled: set[str] = set()
    for job in order:
        if not job.held_nodes or job.held_since is None or now - job.held_since >= policy.preemption_hold_s:
            continue
        cap = caps.get(job.allocation_id)
        if cap is not None and running_gpus[job.allocation_id] + job.gpus > cap:
            continue
        pods = _place(job, cluster, reservations, now)
        if pods is not None:
            start(job, pods)
            handled.add(job.job_id)
            continue
        hold = _hold_nodes(job, cluster, now)
        if hold is not None:
            reservations.add(hold)
            reserved_per_type[job.gpu_type] += 1
            holds_out.append(PreemptionHold(job.job_id, tuple(sorted(hold.need)), job.held_since))
            waiting[job.job_id] = WaitReason.WAITING_FOR_PREEMPTION
            handled.add(job.job_id)

    for job in order:
        if job.job_id in handled:
            continue
        if (
            job.gpus_per_pod <= 0
            or job.pods <= 0
            or not cluster.could_ever_fit(job.gpu_type, job.gpus_per_pod, job.pods, job.clusters)
        ):
            waiting[job.job_id] = WaitReason.NEVER_FITS
            continue
        cap = caps.get(job.allocation_id)
        if cap is not None and running_gpus[job.allocation_id] + job.gpus > cap:
            waiting[job.job_id] = WaitReason.CONCURRENCY_CAP
            continue
        held_back = session_reserve.get(job.gpu_type, 0)
        if held_back and not job.interactive and cluster.total_free[job.gpu_type] - job.gpus < held_back:
            # no start, no reservation, no preemption: it starts once more GPUs are free than are held back
            waiting[job.job_id] = WaitReason.SESSION_RESERVE
            continue

        shape = (job.gpu_type, job.gpus_per_pod, job.pods, job.clusters)
        if job.max_runtime_s >= failed_runtime.get(shape, float("inf")):
            pods = None
        else:
            pods = _place(job, cluster, reservations, now)
            if pods is None:
                failed_runtime[shape] = job.max_runtime_s
        if pods is not None:
            start(job, pods)
            continue

        within_share = running_by_type[(job.allocation_id, job.gpu_type)] + job.gpus <= shares.get(
            (job.allocation_id, job.gpu_type), 0.0
        )
        if (
            within_share
            and now - job.submitted_at >= policy.preemption_wait_s
            and preemption_tries[job.gpu_type] < policy.preemption_attempts
        ):
            # A job its allocation's wait budget still holds back uses up its turn all the same: jobs
            # behind it in the queue must not preempt for GPUs it is waiting for.
            preemption_tries[job.gpu_type] += 1
            budget_left = preemption.wait_budget_left(job, allocations.get(job.allocation_id), now, policy)
            if budget_left > 0:
                budget_due[job.job_id] = now + budget_left
                hold = None
            else:
                hold = _preempt_for(
                    job,
                    now,
                    policy,
                    cluster,
                    reservations,
                    running,
                    started_now,
                    victims,
                    running_by_type,
                    shares,
                    preemptions,
                    preemption_due,
                )
            if hold is not None:
                reservations.add(hold)
                reserved_per_type[job.gpu_type] += 1
                holds_out.append(PreemptionHold(job.job_id, tuple(sorted(hold.need)), now))
                waiting[job.job_id] = WaitReason.WAITING_FOR_PREEMPTION
                continue

        if reserved_per_type[job.gpu_type] < policy.reservation_depth:
            hold = earliest_fit(job, cluster, releases, reservations, now, excluded=victims)
            if hold is not None:
                reservations.add(hold)
                reserved_per_type[job.gpu_type] += 1
                waiting[job.job_id] = WaitReason.RESERVED
                continue

        free_here = cluster.slots(job.gpu_type, job.gpus_per_pod) >= job.pods
        waiting[job.job_id] = WaitReason.BEHIND_RESERVATION if free_here else WaitReason.NO_FREE_GPUS

    return Plan(
        starts=tuple(starts),
        preemptions=tuple(preemptions),
        reservations=tuple(
            Reservation(job_id=h.job_id, start_at=h.start_at, nodes=tuple(sorted(h.need)))
            for h in reservations.holds
        ),
        order=tuple(job.job_id for job in order),
        waiting=waiting,
        preemption_holds=tuple(holds_out),
        preemption_due=preemption_due,
        budget_due=budget_due,
    )


def _hold_nodes(job: QueuedJob, cluster: Cluster, now: float) -> Hold | None:
    """Keep ``job``'s held nodes for it now; None if they can no longer take all its pods.

    GPUs still busy there (victims still stopping) make the spare negative, so nobody else fits in.
    """
    g = job.gpus_per_pod
    need: dict[str, int] = {}
    remaining = job.pods
    for node in sorted(job.held_nodes):
        if cluster.gpu_type.get(node) != job.gpu_type or remaining == 0:
            continue
        fit = min(remaining, cluster.size[node] // g)
        if fit:
            need[node] = fit * g
            remaining -= fit
    if remaining:
        return None
    spare = {node: len(cluster.free[node]) - gpus for node, gpus in need.items()}
    return Hold(job_id=job.job_id, start_at=now, ends_at=now + job.max_runtime_s, need=need, spare=spare)


def _victims_in_one_pool(job, cluster, reservations, candidates, excess):
    """(free GPUs per node, victims) in the first pool where victims let ``job`` fit; None if none do.
    The freed GPUs must all be in one pool: a gang never spans clusters."""
    for pool in cluster.pools(job.gpu_type, job.clusters):
        nodes = cluster.nodes_of(job.gpu_type, pool)
        free_now = {n: len(cluster.free[n]) - reservations.held_on(n) for n in nodes}
        here = [victim for _, victim in candidates if victim.pods and victim.pods[0].node in free_now]
        chosen = preemption.choose_victims(job, free_now, here, excess)
        if chosen is not None:
            return free_now, chosen
    return None


def _preempt_for(
    job,
    now,
    policy,
    cluster,
    reservations,
    running,
    started_now,
    victims,
    running_by_type,
    shares,
    preemptions,
    due,
) -> Hold | None:
    """Preempt for ``job`` and hold the freed nodes for it; None if no victims let it fit now, and then,
    where victims still in their grace would, when the last of them leaves it (in ``due``, job id →
    time)."""
    candidates, in_grace = [], []
    grace_until = now - policy.preemption_grace_s
    for other in running:
        if other.gpu_type != job.gpu_type or other.job_id in started_now or other.job_id in victims:
            continue
        if policy.max_preemptions and other.preemptions >= policy.max_preemptions:
            continue  # preempted enough: restarting it again and again would waste all its runs
        if (
            policy.preemption_max_run_s
            and other.priority != Priority.LOW
            and now - other.started_at >= policy.preemption_max_run_s
        ):
            continue  # it has run long: a restart would throw all of that run away
        over = running_by_type[(other.allocation_id, other.gpu_type)] > shares.get(
            (other.allocation_id, other.gpu_type), 0.0
        )
        if other.allocation_id == job.allocation_id and (
            other.priority != Priority.LOW or job.priority == Priority.LOW
        ):
            continue
        if preemption.preemptible(other, over, for_priority=job.priority):
            # restarting a job that just started wastes the most and invites churn: not until its grace ends
            (in_grace if other.started_at > grace_until else candidates).append(
                (preemption.candidate_order(other, over), other)
            )
    excess = None
    if policy.keep_victims_share:
        excess = {
            other.allocation_id: running_by_type[(other.allocation_id, job.gpu_type)]
            - shares.get((other.allocation_id, job.gpu_type), 0.0)
            for _, other in (*candidates, *in_grace)
        }
    found = _victims_in_one_pool(
        job, cluster, reservations, sorted(candidates, key=lambda pair: pair[0]), excess
    )
    if found is None:
        if in_grace:  # when could it preempt? Once the victims it would need have left their grace.
            later = _victims_in_one_pool(
                job, cluster, reservations, sorted((*candidates, *in_grace), key=lambda pair: pair[0]), excess
            )
            if later is not None:
                due[job.job_id] = max(now, *(v.started_at + policy.preemption_grace_s for v in later[1]))
        return None
    free_now, chosen = found
    free_after = dict(free_now)
    for victim in chosen:
        victims.add(victim.job_id)
        running_by_type[(victim.allocation_id, victim.gpu_type)] -= victim.gpus
        reason = (
            PreemptionReason.LOW_PRIORITY
            if victim.priority == Priority.LOW
            else PreemptionReason.OVER_FAIR_SHARE
        )
        preemptions.append(Preemption(job_id=victim.job_id, for_job_id=job.job_id, reason=reason))
        for pod in victim.pods:
            free_after[pod.node] += len(pod.gpu_indices)
    need: dict[str, int] = {}
    remaining = job.pods
    for node in sorted(
        (n for n, f in free_after.items() if f >= job.gpus_per_pod), key=lambda n: (free_after[n], n)
    ):
        fit = min(remaining, free_after[node] // job.gpus_per_pod)
        need[node] = fit * job.gpus_per_pod
        remaining -= fit
        if remaining == 0:
            break
    return Hold(
        job_id=job.job_id,
        start_at=now,
        ends_at=now + job.max_runtime_s,
        need=need,
        spare={n: free_after[n] - g for n, g in need.items()},
    )
