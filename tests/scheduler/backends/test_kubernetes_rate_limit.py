"""The token bucket in front of every Kubernetes API call (GPUGRANT_K8S_QPS / GPUGRANT_K8S_BURST).

Time is an injected clock whose sleep advances it: no test here waits on the real clock. Which requests
the backend made is read from the real control plane's audit log.
"""

import threading

import pytest

from scheduler.backends.kubernetes import KubernetesBackend, TokenBucket
from tests.scheduler.backends import k8s_builders as b


class FakeClock:
    def __init__(self, *, advance_on_sleep: bool = True):
        self.now = 1000.0
        self.slept: list[float] = []
        self.advance_on_sleep = advance_on_sleep
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            if self.advance_on_sleep:
                self.now += seconds


def test_a_burst_passes_at_once_then_calls_are_spaced_by_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(5, 3, clock=clock, sleep=clock.sleep)

    waits = [bucket.acquire() for _ in range(7)]

    assert waits == pytest.approx([0, 0, 0, 0.2, 0.2, 0.2, 0.2])
    assert clock.now == pytest.approx(1000.8)


def test_many_calls_never_exceed_burst_plus_rate_times_elapsed():
    clock = FakeClock()
    bucket = TokenBucket(10, 3, clock=clock, sleep=clock.sleep)

    for _ in range(103):
        bucket.acquire()

    assert clock.now - 1000 == pytest.approx(10.0)  # (103 − 3) / 10 QPS


def test_idle_time_refills_only_up_to_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(10, 3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        bucket.acquire()
    clock.now += 3600  # an idle hour

    waits = [bucket.acquire() for _ in range(5)]

    assert waits == pytest.approx([0, 0, 0, 0.1, 0.1])


def test_concurrent_callers_queue_for_successive_tokens():
    clock = FakeClock(advance_on_sleep=False)  # everyone arrives at the same instant
    bucket = TokenBucket(10, 2, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=bucket.acquire) for _ in range(6)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert sorted(clock.slept) == pytest.approx([0.1, 0.2, 0.3, 0.4])  # two from the burst slept not at all


def test_a_rate_of_zero_means_no_limit():
    clock = FakeClock()
    bucket = TokenBucket(0, 1, clock=clock, sleep=clock.sleep)

    assert [bucket.acquire() for _ in range(1000)] == [0.0] * 1000
    assert clock.slept == []


class CountingBucket(TokenBucket):
    def __init__(self):
        super().__init__(0, 1)
        self.taken = 0

    def acquire(self) -> float:
        self.taken += 1
        return 0.0


@pytest.mark.cluster
def test_every_api_call_of_the_backend_takes_a_token(cluster, audit):
    bucket = CountingBucket()
    backend = KubernetesBackend(api_client=cluster.api_client(), bucket=bucket, burst=10)
    cluster.add_gpu_nodes("gpu-a")

    backend.inventory()
    backend.bind(b.spec([("gpu-a", (0,)), ("gpu-a", (1,))]))
    backend.bind(b.spec([("gpu-a", (0,)), ("gpu-a", (1,))]))
    backend.statuses([b.JOB_ID])
    backend.logs(b.JOB_ID, 100)
    backend.stop(b.JOB_ID, "cancelled")

    assert bucket.taken == len(audit.calls()) > 10  # every request the apiserver saw
