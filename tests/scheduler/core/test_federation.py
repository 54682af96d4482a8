"""One plan over several clusters (issue 16): a gang never spans clusters, preferred capacity first,
pins respected, and reservations and preemption each within one cluster."""

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.core import Node, Policy, Priority, QueuedJob, Snapshot, WaitReason, plan
from tests.scheduler.core.builders import HOUR, allocation, node, queued, running, snapshot

RESERVED, ON_DEMAND = 0.0, 5000.0


def in_cluster(n: Node, cluster: str, cost: float = 0.0) -> Node:
    return replace(n, cluster=cluster, cost=cost)


def clusters_of(result, snap) -> dict[str, set[str]]:
    where = {n.name: n.cluster for n in snap.nodes}
    return {s.job_id: {where[p.node] for p in s.pods} for s in result.starts}


def test_a_gang_never_spans_clusters_even_where_their_gpus_together_would_hold_it():
    snap = snapshot(
        [in_cluster(node("a1"), "a"), in_cluster(node("b1"), "b")],
        [queued("gang", 8, pods=2)],
    )
    result = plan(snap)
    assert result.starts == () and result.waiting["gang"] == WaitReason.NEVER_FITS


def test_a_gang_goes_whole_into_the_one_cluster_that_holds_it():
    snap = snapshot(
        [
            in_cluster(node("a1"), "a"),
            in_cluster(node("a2", free=0), "a"),
            in_cluster(node("b1"), "b", ON_DEMAND),
            in_cluster(node("b2"), "b", ON_DEMAND),
        ],
        [queued("gang", 8, pods=2)],
        [running("busy", "a2", 8, ends_at=10 * HOUR)],
    )
    result = plan(snap)
    assert clusters_of(result, snap) == {"gang": {"b"}}


def test_among_equal_fits_reserved_capacity_comes_before_on_demand_then_the_cheaper_then_by_name():
    nodes = [
        in_cluster(node("z-reserved"), "z", RESERVED),
        in_cluster(node("a-dear"), "a", 9000.0),
        in_cluster(node("m-cheap"), "m", ON_DEMAND),
    ]
    jobs = [queued(f"j{i}", 8, submitted_at=i) for i in range(3)]
    snap = snapshot(nodes, jobs)
    assert clusters_of(plan(snap), snap) == {"j0": {"z"}, "j1": {"m"}, "j2": {"a"}}
    tie = [in_cluster(node("y1"), "y"), in_cluster(node("x1"), "x")]
    snap = snapshot(tie, [queued("one", 1)])
    assert clusters_of(plan(snap), snap) == {"one": {"x"}}


def test_a_job_runs_only_in_the_clusters_it_may_use():
    nodes = [in_cluster(node("a1"), "a", RESERVED), in_cluster(node("b1"), "b", ON_DEMAND)]
    pinned = replace(queued("pinned", 2), clusters=frozenset({"b"}))
    snap = snapshot(nodes, [pinned])
    assert clusters_of(plan(snap), snap) == {"pinned": {"b"}}
    nowhere = replace(queued("nowhere", 2), clusters=frozenset({"c"}))
    assert plan(snapshot(nodes, [nowhere])).waiting["nowhere"] == WaitReason.NEVER_FITS


def test_a_reservation_is_the_earliest_time_one_cluster_holds_the_whole_gang():
    # a1 frees at 1 h and b1 at 2 h: together they would hold the gang at 2 h, but across clusters;
    # cluster b's two nodes are both free at 3 h, cluster a's second node only at 5 h.
    snap = snapshot(
        [
            in_cluster(node("a1", free=0), "a"),
            in_cluster(node("a2", free=0), "a"),
            in_cluster(node("b1", free=0), "b"),
            in_cluster(node("b2", free=0), "b"),
        ],
        [queued("gang", 8, pods=2)],
        [
            running("ra1", "a1", 8, ends_at=1 * HOUR),
            running("ra2", "a2", 8, ends_at=5 * HOUR),
            running("rb1", "b1", 8, ends_at=2 * HOUR),
            running("rb2", "b2", 8, ends_at=3 * HOUR),
        ],
    )
    (reservation,) = plan(snap).reservations
    assert (reservation.start_at, reservation.nodes) == (3 * HOUR, ("b1", "b2"))


def test_preemption_frees_a_gang_its_gpus_inside_one_cluster():
    # Cluster a has two nodes, cluster b one; an over-share allocation fills all three. The waiting
    # gang of two nodes can only be freed a place in cluster a: both victims are there.
    snap = snapshot(
        [
            in_cluster(node("a1", free=0), "a"),
            in_cluster(node("a2", free=0), "a"),
            in_cluster(node("b1", free=0), "b"),
        ],
        [queued("gang", 8, pods=2, allocation="light", submitted_at=0)],
        [
            running("ha1", "a1", 8, ends_at=100 * HOUR, allocation="heavy", started_at=0),
            running("ha2", "a2", 8, ends_at=100 * HOUR, allocation="heavy", started_at=0),
            # the most recently started: the cheapest victim, were clusters ignored
            running("hb1", "b1", 8, ends_at=100 * HOUR, allocation="heavy", started_at=HOUR / 2),
        ],
        allocations=[allocation("light", weight=3), allocation("heavy")],  # light: 18 of 24 GPUs
        now=2 * HOUR,
        policy=Policy(preemption_wait_s=HOUR),
    )
    result = plan(snap)
    assert sorted(p.job_id for p in result.preemptions) == ["ha1", "ha2"]
    assert result.waiting["gang"] == WaitReason.WAITING_FOR_PREEMPTION


@st.composite
def federated(draw):
    clusters = ["a", "b", "c"][: draw(st.integers(min_value=1, max_value=3))]
    nodes = []
    for index in range(draw(st.integers(min_value=1, max_value=7))):
        gpus = draw(st.sampled_from([4, 8]))
        free = draw(st.integers(min_value=0, max_value=gpus))
        nodes.append(
            Node(
                f"n{index}",
                "H100",
                gpus,
                frozenset(range(gpus - free, gpus)),
                cluster=draw(st.sampled_from(clusters)),
                cost=draw(st.sampled_from([RESERVED, ON_DEMAND])),
            )
        )
    queue = []
    for i in range(draw(st.integers(min_value=1, max_value=8))):
        pins = draw(st.none() | st.frozensets(st.sampled_from(clusters), min_size=1))
        queue.append(
            QueuedJob(
                f"q{i}",
                draw(st.sampled_from(["x", "y"])),
                "H100",
                draw(st.sampled_from([1, 2, 4, 8])),
                draw(st.integers(min_value=1, max_value=3)),
                HOUR,
                float(i),
                Priority.NORMAL,
                clusters=pins,
            )
        )
    return snapshot(nodes, queue)


@settings(max_examples=300, deadline=None)
@given(federated())
def test_every_start_lies_in_one_allowed_cluster_and_no_gpu_is_given_twice(snap: Snapshot):
    result = plan(snap)
    where = {n.name: n for n in snap.nodes}
    jobs = {j.job_id: j for j in snap.queue}
    taken = set()
    for start in result.starts:
        clusters = {where[p.node].cluster for p in start.pods}
        assert len(clusters) == 1, start
        allowed = jobs[start.job_id].clusters
        assert allowed is None or clusters <= allowed
        for pod in start.pods:
            assert set(pod.gpu_indices) <= where[pod.node].free
            for gpu in pod.gpu_indices:
                assert (pod.node, gpu) not in taken
                taken.add((pod.node, gpu))
    for reservation in result.reservations:
        assert len({where[n].cluster for n in reservation.nodes}) == 1


def test_among_equal_costs_the_fullest_cluster_that_fits_is_filled_first():
    # a has 8 free GPUs on one node, b 4 free (its node half used): a 2-GPU job goes to b, keeping a's
    # whole node free for an 8-GPU job; a job that does not fit in b goes to a.
    nodes = [in_cluster(node("a1"), "a"), in_cluster(node("b1", free=4), "b")]
    snap = snapshot(nodes, [queued("small", 2)], [running("half", "b1", 4, ends_at=10 * HOUR)])
    assert clusters_of(plan(snap), snap) == {"small": {"b"}}
    snap = snapshot(nodes, [queued("six", 6)], [running("half", "b1", 4, ends_at=10 * HOUR)])
    assert clusters_of(plan(snap), snap) == {"six": {"a"}}
