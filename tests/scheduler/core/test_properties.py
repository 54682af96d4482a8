"""Properties that must hold for every snapshot, checked on random ones (hypothesis)."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.core import (
    AllocationState,
    Node,
    PodPlacement,
    Policy,
    Priority,
    QueuedJob,
    RunningJob,
    Snapshot,
    plan,
)
from scheduler.core.cluster import Cluster
from scheduler.core.reservations import Releases, Reservations, earliest_fit

TYPES = ("A100", "H100")
ALLOCATIONS = ("a", "b", "c")


@st.composite
def snapshots(draw):
    now = draw(st.floats(min_value=0, max_value=1e5))
    nodes, running = [], []
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        gpus = draw(st.sampled_from([1, 2, 4, 8]))
        gpu_type = draw(st.sampled_from(TYPES))
        name = f"n{index}"
        used = draw(st.integers(min_value=0, max_value=gpus))
        cursor = 0
        while cursor < used:  # split the used GPUs into running jobs
            size = draw(st.integers(min_value=1, max_value=used - cursor))
            started = draw(st.floats(min_value=0, max_value=now))
            running.append(
                RunningJob(
                    f"r{index}-{cursor}",
                    draw(st.sampled_from(ALLOCATIONS)),
                    gpu_type,
                    (PodPlacement(name, tuple(range(cursor, cursor + size))),),
                    started,
                    draw(st.floats(min_value=60, max_value=1e5)),
                    draw(st.sampled_from(list(Priority))),
                )
            )
            cursor += size
        nodes.append(
            Node(name, gpu_type, gpus, frozenset(range(used, gpus)), draw(st.booleans()) or index == 0)
        )
    queue = [
        QueuedJob(
            f"q{i}",
            draw(st.sampled_from(ALLOCATIONS)),
            draw(st.sampled_from(TYPES)),
            draw(st.sampled_from([1, 2, 4, 8])),
            draw(st.integers(min_value=1, max_value=3)),
            draw(st.floats(min_value=60, max_value=1e5)),
            draw(st.floats(min_value=0, max_value=now)),
            draw(st.sampled_from(list(Priority))),
        )
        for i in range(draw(st.integers(min_value=0, max_value=12)))
    ]
    allocations = [
        AllocationState(
            a,
            draw(st.floats(min_value=0, max_value=10)),
            draw(st.floats(min_value=0, max_value=1e6)),
            draw(st.integers(min_value=1, max_value=64)),
        )
        for a in ALLOCATIONS
    ]
    policy = Policy(
        preemption_wait_s=draw(st.sampled_from([0.0, 600.0, 1e9])), reservation_depth=draw(st.integers(0, 3))
    )
    return Snapshot(now, tuple(nodes), tuple(running), tuple(queue), tuple(allocations), policy)


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_no_gpu_is_given_twice_and_every_start_fits_its_job(snapshot):
    result = plan(snapshot)
    nodes = {n.name: n for n in snapshot.nodes}
    jobs = {j.job_id: j for j in snapshot.queue}
    busy = Counter((pod.node, gpu) for job in snapshot.running for pod in job.pods for gpu in pod.gpu_indices)
    for start in result.starts:
        job = jobs[start.job_id]
        assert len(start.pods) == job.pods  # a gang is placed whole or not at all
        for pod in start.pods:
            node = nodes[pod.node]
            assert node.schedulable and node.gpu_type == job.gpu_type
            assert len(pod.gpu_indices) == job.gpus_per_pod
            assert set(pod.gpu_indices) <= node.free
            busy.update((pod.node, gpu) for gpu in pod.gpu_indices)
    assert all(count == 1 for count in busy.values()), "a GPU was given to two jobs"


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_every_queued_job_starts_or_has_a_reason_and_caps_hold(snapshot):
    result = plan(snapshot)
    started = {s.job_id for s in result.starts}
    assert started.isdisjoint(result.waiting)
    assert started | set(result.waiting) == {j.job_id for j in snapshot.queue}
    assert sorted(result.order) == sorted(j.job_id for j in snapshot.queue)
    caps = {a.allocation_id: a.max_concurrent_gpus for a in snapshot.allocations}
    jobs = {j.job_id: j for j in snapshot.queue}
    before = Counter()
    for job in snapshot.running:
        before[job.allocation_id] += job.gpus
    added = Counter()
    for job_id in started:
        added[jobs[job_id].allocation_id] += jobs[job_id].gpus
    for allocation_id, gpus in added.items():
        assert before[allocation_id] + gpus <= caps[allocation_id]
    victims = {p.job_id for p in result.preemptions}
    running = {j.job_id: j for j in snapshot.running}
    assert victims <= set(running)
    assert all(running[v].priority != Priority.HIGH for v in victims)


@settings(max_examples=200, deadline=None)
@given(snapshots(), st.randoms(use_true_random=False))
def test_the_plan_is_deterministic_and_ignores_input_order(snapshot, rng):
    first = plan(snapshot)
    assert plan(snapshot) == first
    shuffled = [
        list(snapshot.nodes),
        list(snapshot.running),
        list(snapshot.queue),
        list(snapshot.allocations),
    ]
    for items in shuffled:
        rng.shuffle(items)
    again = Snapshot(snapshot.now, *map(tuple, shuffled), snapshot.policy)
    assert plan(again) == first


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_backfill_never_delays_the_first_reservation_of_a_type(snapshot):
    """Apply the plan's starts; the first reserved job of each type must still fit by its reserved time."""
    result = plan(snapshot)
    if result.preemptions:
        return  # preempted GPUs free up only when the victims stop; covered by the preemption cases
    jobs = {j.job_id: j for j in snapshot.queue}
    started = []
    for start in result.starts:
        job = jobs[start.job_id]
        started.append(
            RunningJob(
                job.job_id,
                job.allocation_id,
                job.gpu_type,
                start.pods,
                snapshot.now,
                job.max_runtime_s,
                job.priority,
            )
        )
    taken = {(pod.node, gpu) for job in started for pod in job.pods for gpu in pod.gpu_indices}
    nodes = tuple(
        Node(
            n.name,
            n.gpu_type,
            n.gpus,
            frozenset(g for g in n.free if (n.name, g) not in taken),
            n.schedulable,
        )
        for n in snapshot.nodes
    )
    seen_types = set()
    for reservation in result.reservations:
        job = jobs[reservation.job_id]
        if job.gpu_type in seen_types:
            continue
        seen_types.add(job.gpu_type)
        hold = earliest_fit(
            job,
            Cluster(nodes),
            Releases([*snapshot.running, *started], snapshot.now),
            Reservations(),
            snapshot.now,
        )
        assert hold is not None and hold.start_at <= reservation.start_at
