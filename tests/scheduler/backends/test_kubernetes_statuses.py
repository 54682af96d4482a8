"""KubernetesBackend.statuses(): pod phases → job phases, against the real control plane.

Pods on kwok's nodes run, exit and time out as kwok, playing their kubelet, reports. What kwok never reports
(an OOM kill, an eviction, an image that cannot be pulled, a termination message) is written by the test
through the pod's status subresource, as the kubelet does, for pods on a "silent" node that no kubelet
looks after (k8s_cluster.silent_gpu_node).
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from scheduler.backends.base import JobStatus, Phase
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.k8s_cluster import kubelet_reports, silent_gpu_node, wait_gone, wait_scheduled

pytestmark = pytest.mark.cluster

RANK0, RANK1 = "job-3f2a9c1e7b4d-0", "job-3f2a9c1e7b4d-1"
KWOK, SILENT = "kwok", "silent"


def _container(state: dict) -> dict:
    return {
        "name": "job",
        "image": "registry.example/train:1.0",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": state,
    }


def _terminated(exit_code: int, reason: str, message: str = "") -> dict:
    terminated = {"exitCode": exit_code, "reason": reason, **({"message": message} if message else {})}
    return {"phase": "Failed", "containerStatuses": [_container({"terminated": terminated})]}


def _waiting(reason: str, message: str) -> dict:
    return {"containerStatuses": [_container({"waiting": {"reason": reason, "message": message}})]}


def _add_node(cluster, name: str, kind: str) -> None:
    if kind == KWOK:
        cluster.add_gpu_nodes(name)
    else:
        cluster.create_node(silent_gpu_node(name))


class Job:
    """The 2-pod job (rank 0 pinned to gpu-a, rank 1 to gpu-b) and what its cluster does to it."""

    def __init__(self, cluster, namespace: str):
        self.cluster, self.namespace = cluster, namespace

    def running(self, *pods: str) -> None:
        for pod in pods:
            self.cluster.wait_pod_phase(self.namespace, pod, "Running")

    def exits(self, pod: str, code: int) -> None:
        self.running(pod)
        self.cluster.exit_pod(self.namespace, pod, code)
        self.cluster.wait_pod_phase(self.namespace, pod, "Succeeded" if code == 0 else "Failed")

    def scheduled(self, *pods: str) -> None:
        for pod in pods:
            wait_scheduled(self.cluster, self.namespace, pod)

    def kubelet_reports(self, pod: str, status: dict) -> None:
        self.scheduled(pod)  # a kubelet reports only the pods bound to its node
        kubelet_reports(self.cluster, self.namespace, pod, status)

    def node_removed(self, node: str) -> None:
        self.cluster.request("DELETE", f"/api/v1/nodes/{node}")
        wait_gone(self.cluster, f"/api/v1/nodes/{node}")

    def pod_removed(self, pod: str) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods/{pod}"
        self.cluster.request("DELETE", f"{path}?gracePeriodSeconds=0")  # at once: no kubelet need confirm
        wait_gone(self.cluster, path)


@dataclass(frozen=True)
class Case:
    nodes: tuple[str, str]  # what looks after gpu-a and gpu-b
    happen: Callable[[Job], object]
    expected: JobStatus
    max_runtime_seconds: int = 7200


CASES = {
    "both pending": Case(
        (SILENT, SILENT), lambda job: job.scheduled(RANK0, RANK1), JobStatus(b.JOB_ID, Phase.PENDING)
    ),
    "one running, one still pending": Case(
        (KWOK, SILENT), lambda job: job.running(RANK0), JobStatus(b.JOB_ID, Phase.RUNNING)
    ),
    "both running": Case(
        (KWOK, KWOK), lambda job: job.running(RANK0, RANK1), JobStatus(b.JOB_ID, Phase.RUNNING)
    ),
    "one succeeded, one running": Case(
        (KWOK, KWOK),
        lambda job: (job.running(RANK1), job.exits(RANK0, 0)),
        JobStatus(b.JOB_ID, Phase.RUNNING),
    ),
    "all succeeded": Case(
        (KWOK, KWOK),
        lambda job: (job.exits(RANK0, 0), job.exits(RANK1, 0)),
        JobStatus(b.JOB_ID, Phase.SUCCEEDED, "", 0),
    ),
    "a pod ran past its deadline": Case(
        # Rank 0 never starts, so only rank 1's deadline (counted from its start) passes.
        (SILENT, KWOK),
        lambda job: job.cluster.wait_pod_phase(job.namespace, RANK1, "Failed"),
        JobStatus(b.JOB_ID, Phase.TIMED_OUT, f"pod {RANK1} ran past its activeDeadlineSeconds"),
        max_runtime_seconds=1,
    ),
    "a container exited non-zero": Case(
        (KWOK, KWOK),
        lambda job: job.exits(RANK0, 3),
        JobStatus(b.JOB_ID, Phase.FAILED, f"pod {RANK0}: Error", 3),
    ),
    "a container was OOM-killed": Case(
        (KWOK, SILENT),
        lambda job: job.kubelet_reports(RANK1, _terminated(137, "OOMKilled")),
        JobStatus(b.JOB_ID, Phase.FAILED, f"pod {RANK1}: OOMKilled", 137),
    ),
    "a container exited non-zero with a message": Case(
        (SILENT, KWOK),
        lambda job: job.kubelet_reports(RANK0, _terminated(3, "Error", "CUDA error: out of memory")),
        JobStatus(b.JOB_ID, Phase.FAILED, f"pod {RANK0}: Error: CUDA error: out of memory", 3),
    ),
    "a pod was evicted": Case(
        (SILENT, KWOK),
        lambda job: job.kubelet_reports(
            RANK0,
            {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."},
        ),
        JobStatus(b.JOB_ID, Phase.FAILED, f"pod {RANK0}: Evicted: The node was low on resource: memory."),
    ),
    "the kubelet refused a pod at admission": Case(
        (KWOK, SILENT),
        lambda job: job.kubelet_reports(
            RANK1,
            {
                "phase": "Failed",
                "reason": "OutOfnvidia.com/gpu",
                "message": "Pod was rejected: Node didn't have enough resource: nvidia.com/gpu, requested: 2, "
                "used: 8, capacity: 8",
            },
        ),
        # It never ran: lost, so the job is requeued rather than failed.
        JobStatus(
            b.JOB_ID,
            Phase.LOST,
            f"node 'gpu-b' refused pod {RANK1}: OutOfnvidia.com/gpu: Pod was rejected: Node didn't have "
            "enough resource: nvidia.com/gpu, requested: 2, used: 8, capacity: 8",
        ),
    ),
    "an image that cannot be pulled yet": Case(
        (SILENT, SILENT),
        lambda job: job.kubelet_reports(RANK0, _waiting("ImagePullBackOff", "Back-off pulling image")),
        JobStatus(b.JOB_ID, Phase.PENDING, f"pod {RANK0}: ImagePullBackOff: Back-off pulling image"),
    ),
    "an image name that can never be pulled": Case(
        (SILENT, SILENT),
        lambda job: job.kubelet_reports(RANK1, _waiting("InvalidImageName", "bad image")),
        JobStatus(b.JOB_ID, Phase.FAILED, f"pod {RANK1}: InvalidImageName: bad image"),
    ),
    "the node of a running pod vanished": Case(
        (KWOK, KWOK),
        lambda job: (job.running(RANK0, RANK1), job.node_removed("gpu-b")),
        JobStatus(b.JOB_ID, Phase.LOST, f"node 'gpu-b' of pod {RANK1} no longer exists"),
    ),
    "the node a pending pod is pinned to vanished": Case(
        (SILENT, SILENT),
        lambda job: job.node_removed("gpu-a"),
        JobStatus(b.JOB_ID, Phase.LOST, f"node 'gpu-a' of pod {RANK0} no longer exists"),
    ),
    "a pod that finished before its node left": Case(
        (KWOK, KWOK),
        lambda job: (job.exits(RANK0, 0), job.exits(RANK1, 0), job.node_removed("gpu-b")),
        JobStatus(b.JOB_ID, Phase.SUCCEEDED, "", 0),
    ),
    "a rank's pod was deleted while the other runs": Case(
        (KWOK, KWOK),
        lambda job: (job.running(RANK0), job.pod_removed(RANK1)),
        JobStatus(b.JOB_ID, Phase.LOST, "only ranks [0] of 2 pods exist"),
    ),
    "a later rank is missing while nothing has started (a bind in flight)": Case(
        (SILENT, SILENT),
        lambda job: job.pod_removed(RANK1),
        JobStatus(b.JOB_ID, Phase.PENDING, "only ranks [0] of 2 pods exist so far"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_it_maps_pod_phases_to_a_job_phase(cluster, cluster_backend, org_namespace, case):
    case = CASES[case]
    for node, kind in zip(("gpu-a", "gpu-b"), case.nodes, strict=True):
        _add_node(cluster, node, kind)
    cluster_backend.bind(
        b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))], max_runtime_seconds=case.max_runtime_seconds)
    )
    case.happen(Job(cluster, org_namespace))

    assert cluster_backend.statuses([b.JOB_ID]) == [case.expected]


def test_pods_being_deleted_report_stopped_until_they_are_gone(cluster, cluster_backend, org_namespace):
    _add_node(cluster, "gpu-a", SILENT)  # its kubelet (the test) confirms the deletion when the test says
    cluster_backend.bind(b.spec())
    job = Job(cluster, org_namespace)
    job.kubelet_reports(RANK0, {"phase": "Running", "containerStatuses": [_container({"running": {}})]})

    cluster_backend.stop(b.JOB_ID, "cancelled")

    assert cluster_backend.statuses([b.JOB_ID]) == [
        JobStatus(b.JOB_ID, Phase.STOPPED, f"pod {RANK0} is being deleted")
    ]
    job.pod_removed(RANK0)  # the kubelet has stopped the containers
    assert cluster_backend.statuses([b.JOB_ID]) == []  # gone: no longer a job the backend knows


def test_a_job_without_pods_is_not_reported_since_its_bind_may_still_be_running(cluster_backend):
    cluster_backend.bind(b.spec())
    never_bound = b.other_job_id()

    statuses = cluster_backend.statuses([never_bound, b.JOB_ID])

    assert [status.job_id for status in statuses] == [b.JOB_ID]


def test_it_answers_for_many_jobs_in_few_requests(cluster, cluster_backend, org_namespace, audit):
    _add_node(cluster, "gpu-a", KWOK)
    _add_node(cluster, "gpu-b", SILENT)
    job_ids = [b.other_job_id() for _ in range(60)]
    for index, job_id in enumerate(job_ids[:3]):
        cluster_backend.bind(b.spec([("gpu-a" if index == 1 else "gpu-b", (0, 1))], job_id=job_id))
    cluster.wait_pod_phase(org_namespace, f"job-{job_ids[1].replace('-', '')[:12]}-0", "Running")
    audit.restart()

    statuses = cluster_backend.statuses(job_ids)

    assert [status.job_id for status in statuses] == job_ids[:3]  # the other 57 have no pods
    assert [status.phase for status in statuses] == [Phase.PENDING, Phase.RUNNING, Phase.PENDING]
    assert sorted((call.verb, call.resource) for call in audit.calls()) == [
        ("list", "nodes"),
        ("list", "pods"),
        ("list", "pods"),  # 60 ids: two selectors of at most 50
    ]


def test_it_asks_nothing_for_no_jobs(cluster_backend, audit):
    assert cluster_backend.statuses([]) == []
    assert audit.calls() == []
