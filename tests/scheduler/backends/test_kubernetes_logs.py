"""KubernetesBackend.logs() against the real control plane: rank 0's log, bounded by limitBytes and tailLines,
which the apiserver passes on to the node's kubelet (kwok, reading the log with the kubelet's own reader).

kwok shows one log for every container (``write_pod_log``): which pod was asked is read from the audit log.
"""

import pytest

from scheduler.backends.kubernetes import KubernetesBackend
from tests.scheduler.backends import k8s_builders as b

pytestmark = pytest.mark.cluster

RANK0, RANK1 = "job-3f2a9c1e7b4d-0", "job-3f2a9c1e7b4d-1"


@pytest.fixture
def pod_log(cluster):
    """``pod_log(lines)`` sets what every container has printed; emptied again afterwards."""
    yield cluster.write_pod_log
    cluster.write_pod_log([])


@pytest.fixture
def running(cluster, cluster_backend, org_namespace):
    """Bind the job on kwok's nodes and wait until its containers run (and so have a log)."""

    def run(placement: list[tuple[str, tuple[int, ...]]]) -> None:
        cluster.add_gpu_nodes(*dict.fromkeys(node for node, _ in placement))
        cluster_backend.bind(b.spec(placement))
        for rank in range(len(placement)):
            cluster.wait_pod_phase(org_namespace, f"job-3f2a9c1e7b4d-{rank}", "Running")

    return run


def test_it_returns_the_end_of_rank_zeros_log_within_the_limit(cluster_backend, running, pod_log, audit):
    running([("gpu-a", (0, 1)), ("gpu-b", (0, 1))])
    lines = [f"step {step:05d} loss {1 / (step + 1):.6f}" for step in range(5000)]  # ~130 KB
    pod_log(lines)

    text = cluster_backend.logs(b.JOB_ID, 1000)

    assert 0 < len(text.encode()) <= 1000
    assert text.endswith("step 04999 loss 0.000200\n")
    assert text.splitlines() == lines[-len(text.splitlines()) :]
    reads = audit.calls("get", "pods/log")
    assert reads and {call.name for call in reads} == {RANK0}
    assert all(call.query["limitBytes"] == "1000" and int(call.query["tailLines"]) >= 1 for call in reads)


def test_very_long_lines_narrow_the_tail_until_it_ends_at_the_logs_end(
    cluster_backend, running, pod_log, audit
):
    running([("gpu-a", (0, 1))])
    pod_log(f"{'x' * 300} {n}" for n in range(100))

    text = cluster_backend.logs(b.JOB_ID, 1000)

    assert len(text.encode()) <= 1000 and text.endswith(" 99\n")
    tails = [int(call.query["tailLines"]) for call in audit.calls("get", "pods/log")]
    assert tails == sorted(tails, reverse=True) and len(tails) > 1


def test_a_single_line_longer_than_the_limit_is_cut(cluster_backend, running, pod_log):
    running([("gpu-a", (0, 1))])
    pod_log(["y" * 5000])  # a progress bar without newlines

    assert cluster_backend.logs(b.JOB_ID, 100) == "y" * 100


def test_it_returns_nothing_for_an_unknown_job_or_an_empty_log(cluster_backend, running, pod_log, audit):
    assert cluster_backend.logs(b.JOB_ID, 1000) == ""
    running([("gpu-a", (0, 1))])
    pod_log([])
    assert cluster_backend.logs(b.JOB_ID, 1000) == ""
    audit.restart()
    assert cluster_backend.logs(b.JOB_ID, 0) == ""
    assert audit.calls() == []  # nothing to ask for


@pytest.mark.parametrize(
    ("binding", "code"),
    [
        ("kube-scheduler", 204),  # not placed yet (no node): the apiserver has no kubelet to ask
        ("gpugrant", 404),  # bound to a node that does not exist (yet, or any more)
    ],
)
def test_a_pod_not_yet_on_a_real_node_has_no_log_yet(cluster, audit, settings, binding, code):
    settings.GPUGRANT_K8S_BINDING = binding
    backend = KubernetesBackend(api_client=cluster.api_client(), qps=0, burst=10)
    backend.bind(b.spec())  # no node for it

    assert backend.logs(b.JOB_ID, 1000) == ""
    assert [call.code for call in audit.calls("get", "pods/log")] == [code]


def test_a_container_the_kubelet_has_no_log_for_yet_has_no_log(
    cluster, cluster_backend, running, pod_log, audit
):
    running([("gpu-a", (0, 1))])
    cluster.pod_log.unlink()  # the kubelet answers 400, as for a container that has not started

    assert cluster_backend.logs(b.JOB_ID, 1000) == ""
    assert [call.code for call in audit.calls("get", "pods/log")] == [400]
