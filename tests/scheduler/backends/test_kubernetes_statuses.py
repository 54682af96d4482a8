"""KubernetesBackend.statuses(): pod phases → job phases, over real HTTP against the loopback API server."""

import pytest

from scheduler.backends.base import JobStatus, Phase
from tests.scheduler.backends import k8s_builders as b

NAMESPACE = f"gpugrant-{b.ORGANISATION_ID}"
RANK0, RANK1 = "job-3f2a9c1e7b4d-0", "job-3f2a9c1e7b4d-1"


def _terminated(exit_code: int, reason: str, message: str = "") -> dict:
    state = {
        "terminated": {"exitCode": exit_code, "reason": reason, **({"message": message} if message else {})}
    }
    return {
        "containerStatuses": [
            {"name": "job", "ready": False, "restartCount": 0, "image": "x", "imageID": "", "state": state}
        ]
    }


def _waiting(reason: str, message: str) -> dict:
    return {
        "containerStatuses": [
            {
                "name": "job",
                "ready": False,
                "restartCount": 0,
                "image": "x",
                "imageID": "",
                "state": {"waiting": {"reason": reason, "message": message}},
            }
        ]
    }


def _running(api, name, node):
    api.set_pod_status(NAMESPACE, name, phase="Running", node_name=node)


# Each case: what the cluster does to the 2-pod job (rank 0 on gpu-a, rank 1 on gpu-b), and what statuses() says.
CASES = {
    "both pending": (lambda api: None, JobStatus(b.JOB_ID, Phase.PENDING)),
    "one running, one still pending": (
        lambda api: _running(api, RANK0, "gpu-a"),
        JobStatus(b.JOB_ID, Phase.RUNNING),
    ),
    "both running": (
        lambda api: (_running(api, RANK0, "gpu-a"), _running(api, RANK1, "gpu-b")),
        JobStatus(b.JOB_ID, Phase.RUNNING),
    ),
    "one succeeded, one running": (
        lambda api: (
            api.set_pod_status(NAMESPACE, RANK0, phase="Succeeded", node_name="gpu-a"),
            _running(api, RANK1, "gpu-b"),
        ),
        JobStatus(b.JOB_ID, Phase.RUNNING),
    ),
    "all succeeded": (
        lambda api: [
            api.set_pod_status(NAMESPACE, name, phase="Succeeded", **_terminated(0, "Completed"))
            for name in (RANK0, RANK1)
        ],
        JobStatus(b.JOB_ID, Phase.SUCCEEDED, "", 0),
    ),
    "a pod ran past its deadline": (
        lambda api: api.set_pod_status(
            NAMESPACE,
            RANK1,
            phase="Failed",
            reason="DeadlineExceeded",
            message="Pod was active on the node longer than the specified deadline",
        ),
        JobStatus(b.JOB_ID, Phase.TIMED_OUT, f"pod {RANK1} ran past its activeDeadlineSeconds"),
    ),
    "a container was OOM-killed": (
        lambda api: api.set_pod_status(NAMESPACE, RANK1, phase="Failed", **_terminated(137, "OOMKilled")),
        JobStatus(b.JOB_ID, Phase.FAILED, f"pod {RANK1}: OOMKilled", 137),
    ),
    "a container exited non-zero with a message": (
        lambda api: api.set_pod_status(
            NAMESPACE, RANK0, phase="Failed", **_terminated(3, "Error", "CUDA error: out of memory")
        ),
        JobStatus(b.JOB_ID, Phase.FAILED, f"pod {RANK0}: Error: CUDA error: out of memory", 3),
    ),
    "a pod was evicted": (
        lambda api: api.set_pod_status(
            NAMESPACE,
            RANK0,
            phase="Failed",
            reason="Evicted",
            message="The node was low on resource: memory.",
        ),
        JobStatus(b.JOB_ID, Phase.FAILED, f"pod {RANK0}: Evicted: The node was low on resource: memory."),
    ),
    "an image that cannot be pulled yet": (
        lambda api: api.set_pod_status(
            NAMESPACE, RANK0, **_waiting("ImagePullBackOff", "Back-off pulling image")
        ),
        JobStatus(b.JOB_ID, Phase.PENDING, f"pod {RANK0}: ImagePullBackOff: Back-off pulling image"),
    ),
    "an image name that can never be pulled": (
        lambda api: api.set_pod_status(NAMESPACE, RANK1, **_waiting("InvalidImageName", "bad image")),
        JobStatus(b.JOB_ID, Phase.FAILED, f"pod {RANK1}: InvalidImageName: bad image"),
    ),
    "the node of a running pod vanished": (
        lambda api: (
            _running(api, RANK0, "gpu-a"),
            _running(api, RANK1, "gpu-b"),
            api.remove("nodes", "gpu-b"),
        ),
        JobStatus(b.JOB_ID, Phase.LOST, f"node 'gpu-b' of pod {RANK1} no longer exists"),
    ),
    "the node a pending pod is pinned to vanished": (
        lambda api: api.remove("nodes", "gpu-a"),
        JobStatus(b.JOB_ID, Phase.LOST, f"node 'gpu-a' of pod {RANK0} no longer exists"),
    ),
    "a pod that finished before its node left": (
        lambda api: (
            api.set_pod_status(NAMESPACE, RANK0, phase="Succeeded", node_name="gpu-a"),
            api.set_pod_status(NAMESPACE, RANK1, phase="Succeeded", node_name="gpu-b"),
            api.remove("nodes", "gpu-b"),
        ),
        JobStatus(b.JOB_ID, Phase.SUCCEEDED, "", 0),
    ),
    "a rank's pod was deleted while the other runs": (
        lambda api: (_running(api, RANK0, "gpu-a"), api.remove("pods", RANK1, NAMESPACE)),
        JobStatus(b.JOB_ID, Phase.LOST, "only ranks [0] of 2 pods exist"),
    ),
    "a later rank is missing while nothing has started (a bind in flight)": (
        lambda api: api.remove("pods", RANK1, NAMESPACE),
        JobStatus(b.JOB_ID, Phase.PENDING, "only ranks [0] of 2 pods exist so far"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_it_maps_pod_phases_to_a_job_phase(fake_api, k8s_backend, case):
    fake_api.put(b.node("gpu-a"))
    fake_api.put(b.node("gpu-b"))
    k8s_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))
    happen, expected = CASES[case]
    happen(fake_api)

    assert k8s_backend.statuses([b.JOB_ID]) == [expected]


def test_pods_being_deleted_report_stopped_until_they_are_gone(fake_api, k8s_backend):
    fake_api.put(b.node("gpu-a"))
    k8s_backend.bind(b.spec())
    _running(fake_api, RANK0, "gpu-a")
    fake_api.graceful_deletion = True

    k8s_backend.stop(b.JOB_ID, "cancelled")

    assert k8s_backend.statuses([b.JOB_ID]) == [
        JobStatus(b.JOB_ID, Phase.STOPPED, f"pod {RANK0} is being deleted")
    ]
    fake_api.finish_deletions()
    assert k8s_backend.statuses([b.JOB_ID]) == []  # gone: no longer a job the backend knows


def test_a_job_without_pods_is_not_reported_since_its_bind_may_still_be_running(fake_api, k8s_backend):
    fake_api.put(b.node("gpu-a"))
    k8s_backend.bind(b.spec())
    never_bound = b.other_job_id()

    statuses = k8s_backend.statuses([never_bound, b.JOB_ID])

    assert [status.job_id for status in statuses] == [b.JOB_ID]


def test_it_answers_for_many_jobs_in_few_requests(fake_api, k8s_backend):
    fake_api.put(b.node("gpu-a"))
    job_ids = [b.other_job_id() for _ in range(60)]
    for job_id in job_ids[:3]:
        k8s_backend.bind(b.spec(job_id=job_id))
    _running(fake_api, f"job-{job_ids[1].replace('-', '')[:12]}-0", "gpu-a")
    fake_api.requests.clear()

    statuses = k8s_backend.statuses(job_ids)

    assert [status.job_id for status in statuses] == job_ids[:3]  # the other 57 have no pods
    assert [status.phase for status in statuses] == [Phase.PENDING, Phase.RUNNING, Phase.PENDING]
    assert sorted((r.verb, r.resource) for r in fake_api.requests) == [
        ("list", "nodes"),
        ("list", "pods"),
        ("list", "pods"),  # 60 ids: two selectors of at most 50
    ]


def test_it_asks_nothing_for_no_jobs(fake_api, k8s_backend):
    assert k8s_backend.statuses([]) == []
    assert fake_api.requests == []
