"""The simulated backend: virtual time, injected failures, determinism and scale."""

import pytest

from scheduler.backends.base import BindError, JobSpec, NodeInfo, Phase, PodSpec
from scheduler.backends.simulated import SimulatedBackend

HOUR = 3600


def nodes(count: int = 2, gpus: int = 8, gpu_type: str = "A100") -> list[NodeInfo]:
    return [NodeInfo(f"node-{index}", gpu_type, gpus) for index in range(count)]


def job(
    job_id: str,
    *,
    node: str = "node-0",
    gpus: tuple[int, ...] = (0,),
    max_runtime: int = HOUR,
    gpu_type: str = "A100",
) -> JobSpec:
    return JobSpec(
        job_id=job_id,
        name=job_id,
        organisation_id="org",
        allocation_id="alloc",
        kind="training",
        image="train:latest",
        command=("python", "train.py"),
        environment={},
        gpu_type=gpu_type,
        gpus_per_pod=len(gpus),
        pods=(PodSpec(node, gpus, 0),),
        max_runtime_seconds=max_runtime,
    )


def phases(backend: SimulatedBackend, *job_ids: str) -> dict[str, Phase]:
    return {status.job_id: status.phase for status in backend.statuses(list(job_ids))}


def test_jobs_finish_when_virtual_time_reaches_their_duration():
    backend = SimulatedBackend(nodes(), durations={"long": 100, "short": 50})
    backend.bind(job("long", gpus=(0,)))
    backend.bind(job("short", gpus=(1,)))

    assert backend.next_event_time() == 50
    ended = backend.advance(60)

    assert [(status.job_id, status.phase, status.exit_code) for status in ended] == [
        ("short", Phase.SUCCEEDED, 0)
    ]
    assert backend.now == 60
    assert phases(backend, "long", "short") == {"long": Phase.RUNNING, "short": Phase.SUCCEEDED}
    assert backend.finished_at("short") == 50
    assert backend.next_event_time() == 100

    backend.advance(100)

    assert phases(backend, "long") == {"long": Phase.SUCCEEDED}
    assert backend.next_event_time() is None


def test_a_job_that_would_run_past_its_max_runtime_times_out():
    backend = SimulatedBackend(nodes(), durations={"too-long": 2 * HOUR})
    backend.bind(job("too-long", max_runtime=HOUR))
    backend.bind(job("no-duration", gpus=(1,), max_runtime=2 * HOUR))

    backend.advance(HOUR - 1)
    assert phases(backend, "too-long") == {"too-long": Phase.RUNNING}

    backend.advance(HOUR)
    [status] = backend.statuses(["too-long"])
    assert (status.phase, status.exit_code) == (Phase.TIMED_OUT, None)
    assert "max runtime" in status.reason

    backend.advance(2 * HOUR)
    assert phases(backend, "no-duration") == {"no-duration": Phase.TIMED_OUT}  # default: runs to its limit


def test_durations_may_come_from_a_callable():
    backend = SimulatedBackend(nodes(), durations=lambda spec: 10 * int(spec.job_id.split("-")[1]))
    for index in (1, 2, 3):
        backend.bind(job(f"job-{index}", gpus=(index,)))

    ended = backend.advance(25)

    assert [status.job_id for status in ended] == ["job-1", "job-2"]


def test_an_injected_bind_failure_raises_once():
    backend = SimulatedBackend(nodes(), durations={"flaky": 10})
    backend.fail_bind("flaky", "image pull failed")

    with pytest.raises(BindError, match="image pull failed"):
        backend.bind(job("flaky"))
    assert backend.statuses(["flaky"]) == []

    backend.bind(job("flaky"))
    assert phases(backend, "flaky") == {"flaky": Phase.RUNNING}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (job("elsewhere", node="node-9"), "no node"),
        (job("out-of-range", gpus=(8,)), "not available"),
        (job("wrong-type", gpu_type="H100"), "has A100 GPUs"),
    ],
)
def test_it_refuses_placements_the_cluster_cannot_honour(spec, message):
    backend = SimulatedBackend(nodes())

    with pytest.raises(BindError, match=message):
        backend.bind(spec)


def test_a_gpu_is_never_given_to_two_running_jobs():
    backend = SimulatedBackend(nodes(), durations={"first": 10, "second": 10})
    backend.bind(job("first", gpus=(0, 1)))

    with pytest.raises(BindError, match="already in use by job first"):
        backend.bind(job("second", gpus=(1, 2)))

    backend.advance(10)
    backend.bind(job("second", gpus=(1, 2)))
    assert phases(backend, "second") == {"second": Phase.RUNNING}


def test_removing_a_node_loses_its_jobs_only():
    backend = SimulatedBackend(nodes(), durations={"on-0": 100, "on-1": 100})
    backend.bind(job("on-0", node="node-0"))
    backend.bind(job("on-1", node="node-1"))
    backend.advance(30)

    lost = backend.remove_node("node-0")

    assert lost == ["on-0"]
    [status] = backend.statuses(["on-0"])
    assert (status.phase, status.reason) == (Phase.LOST, "node node-0 was removed")
    assert backend.finished_at("on-0") == 30
    assert [node.name for node in backend.inventory()] == ["node-1"]
    assert backend.advance(100) == [backend.statuses(["on-1"])[0]]  # the lost job's end never comes
    with pytest.raises(BindError):
        backend.bind(job("late", node="node-0"))


def test_stop_frees_the_gpus_and_a_stopped_job_can_run_again():
    backend = SimulatedBackend(nodes(), durations={"preempted": 100, "urgent": 10})
    backend.bind(job("preempted", gpus=(0,)))
    backend.advance(20)

    backend.stop("preempted", "preempted for urgent")
    backend.stop("preempted", "again")  # idempotent
    backend.bind(job("urgent", gpus=(0,)))

    [status] = backend.statuses(["preempted"])
    assert (status.phase, status.reason) == (Phase.STOPPED, "preempted for urgent")
    backend.advance(30)
    backend.bind(job("preempted", gpus=(0,)))
    assert backend.next_event_time() == 130  # the new run takes its full duration from now
    assert backend.advance(130)[0].job_id == "preempted"


def test_binding_a_running_job_again_does_nothing():
    backend = SimulatedBackend(nodes(), durations={"once": 10})
    backend.bind(job("once"))
    backend.advance(5)

    backend.bind(job("once"))

    assert [status.job_id for status in backend.advance(20)] == ["once"]
    assert backend.finished_at("once") == 10


def test_time_does_not_go_back():
    backend = SimulatedBackend(nodes(), start_time=100)

    with pytest.raises(ValueError, match="cannot go back"):
        backend.advance(99)


def test_logs_say_what_happened_within_the_limit():
    backend = SimulatedBackend(nodes(), durations={"logged": 10})
    backend.bind(job("logged"))
    backend.advance(10)

    assert "succeeded at t=10" in backend.logs("logged", 1000)
    assert len(backend.logs("logged", 20).encode()) <= 20
    assert backend.logs("unknown", 1000) == ""


def test_without_nodes_it_simulates_the_local_gpus(settings):
    settings.GPUGRANT_LOCAL_GPUS = "A100:4,H100:2"

    backend = SimulatedBackend()

    assert [(node.name, node.gpu_count) for node in backend.inventory()] == [
        ("local-a100", 4),
        ("local-h100", 2),
    ]


def _scripted_run(job_count: int, node_count: int) -> list[tuple[str, Phase, float | None]]:
    """Bind ``job_count`` one-GPU jobs in waves as GPUs free up; return each job's ending, in order."""
    backend = SimulatedBackend(
        nodes(node_count), durations=lambda spec: (int(spec.job_id.removeprefix("job-")) * 7919) % 5000 + 1
    )
    free = [(f"node-{n}", gpu) for n in range(node_count) for gpu in range(8)]
    holders: dict[str, tuple[str, int]] = {}
    waiting = [f"job-{index}" for index in range(job_count)]
    ended = []
    while waiting or holders:
        while waiting and free:
            job_id = waiting.pop(0)
            node, gpu = free.pop()
            backend.bind(job(job_id, node=node, gpus=(gpu,), max_runtime=4000))
            holders[job_id] = (node, gpu)
        for status in backend.advance(backend.next_event_time()):
            free.append(holders.pop(status.job_id))
            ended.append((status.job_id, status.phase, backend.finished_at(status.job_id)))
    return ended


def test_the_same_calls_give_the_same_results():
    assert _scripted_run(300, 4) == _scripted_run(300, 4)


def test_ten_thousand_jobs_run_to_their_end():
    job_count = 10_000
    backend = SimulatedBackend(
        nodes(job_count // 8),
        durations=lambda spec: (int(spec.job_id.removeprefix("job-")) * 7919) % 5000 + 1,
    )
    for index in range(job_count):
        backend.bind(job(f"job-{index}", node=f"node-{index // 8}", gpus=(index % 8,), max_runtime=4000))

    ended = backend.advance(5000)

    job_ids = [f"job-{index}" for index in range(job_count)]
    expected_timeouts = sum(1 for index in range(job_count) if (index * 7919) % 5000 + 1 >= 4000)
    assert len(ended) == job_count
    assert sum(status.phase == Phase.TIMED_OUT for status in ended) == expected_timeouts
    assert sum(status.phase == Phase.SUCCEEDED for status in ended) == job_count - expected_timeouts
    assert [backend.finished_at(status.job_id) for status in ended] == sorted(
        backend.finished_at(job_id) for job_id in job_ids
    )
    assert backend.next_event_time() is None
    assert len(backend.statuses(job_ids)) == job_count
