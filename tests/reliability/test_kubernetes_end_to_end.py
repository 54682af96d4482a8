"""The normal flow on Kubernetes, end to end, with every part real except the containers.

gunicorn serves the API, a Celery worker with beat runs the scheduling cycles and `manage.py
scheduler_watch` follows the pods, all as separate processes on PostgreSQL and RabbitMQ with
GPUGRANT_BACKEND=kubernetes. They reach the local control plane (tests/cluster) through KUBECONFIG with
the token of deploy/'s `gpugrant-scheduler` service account. gpugrant binds its pods to the nodes it
chose, kwok reports them Running and then, when the test says the containers exited, Succeeded. No
container runs (no runtime, no images here), so GPU time is charged from the bind and release edges
(GPUGRANT_METERING=edges), as it is wherever no node agent meters.
"""

import json
import urllib.request

import pytest

from portal.accounts.services import api_key_create
from quotas.models import AllocationBudget
from scheduler.backends.kubernetes import KubernetesBackend
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from tests.reliability.stack import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.rabbitmq,
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
]
SCHEDULER_USER = "system:serviceaccount:gpugrant:gpugrant-scheduler"


def _api(url: str, key: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def running_stack(stack, cluster, no_eager_cycles):
    """Web, worker + beat and the watch, configured for the Kubernetes backend on the test's control plane."""
    kubeconfig = cluster.kubeconfig_for_service_account("gpugrant", "gpugrant-scheduler")
    env = {
        "GPUGRANT_BACKEND": "kubernetes",
        "KUBECONFIG": str(kubeconfig),
        "GPUGRANT_K8S_NAMESPACE_PREFIX": cluster.prefix,
    }
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    # Admission checks a job against the nodes the inventory last saw; the worker's first cycle would
    # record them too, but the submission may come first.
    inventory_sync(backend=KubernetesBackend(api_client=cluster.api_client(), qps=0))
    _, url = stack.start_web(**env)
    stack.start_worker(beat=True, **env)
    watch = stack.start_manage("scheduler_watch", ready="watching", **env)
    return url, watch


def test_a_job_submitted_through_the_api_runs_on_kwok_nodes_succeeds_and_is_charged(
    running_stack, cluster, owner, allocation
):
    url, _ = running_stack
    _, key = api_key_create(user=owner)
    offset = cluster.audit_offset()

    job = _api(
        f"{url}/api/v1/jobs",
        key,
        "POST",
        {
            "allocation": str(allocation.public_id),
            "name": "gang-on-kwok",
            "kind": "training",
            "image": "registry.example.kr/team/train:1.2",
            "command": ["python", "train.py"],
            "gpu_type": "H100",
            "gpus_per_pod": 8,
            "pods": 2,
            "max_runtime_minutes": 60,
        },
    )
    assert job["state"] == "queued"

    # A cycle in the worker binds both pods; kube-scheduler places them; kwok runs them; the watch sees it.
    wait_until(
        lambda: _api(f"{url}/api/v1/jobs/{job['id']}", key)["state"] == "running", "the job to run", 90
    )
    pods = [pod for pod in cluster.pods() if pod["metadata"]["labels"]["gpugrant.io/job"] == job["id"]]
    placement = Job.objects.get(public_id=job["id"]).placement
    assert sorted(pod["spec"]["nodeName"] for pod in pods) == sorted(p["node"] for p in placement)
    assert sorted(p["node"] for p in placement) == ["gpu-a", "gpu-b"]  # a gang: one 8-GPU pod per node
    assert all(pod["status"]["phase"] == "Running" for pod in pods)

    for pod in pods:  # the training script ends well on both ranks, a few seconds from now
        cluster.exit_pod(pod["metadata"]["namespace"], pod["metadata"]["name"], 0, after="3s")
    wait_until(
        lambda: _api(f"{url}/api/v1/jobs/{job['id']}", key)["state"] == "succeeded", "the job to succeed", 90
    )

    finished = Job.objects.get(public_id=job["id"])
    run_seconds = (finished.finished_at - finished.scheduled_at).total_seconds()
    assert run_seconds >= 3
    # 16 GPUs from bind to release, whole seconds; the hold is released.
    assert finished.used_gpu_seconds == 16 * int(run_seconds) and finished.hold_gpu_seconds == 0
    budget = AllocationBudget.objects.get(allocation=allocation, gpu_type="H100")
    assert budget.used_gpu_seconds == finished.used_gpu_seconds and budget.held_gpu_seconds == 0
    assert _api(f"{url}/api/v1/jobs/{job['id']}", key)["used_gpu_hours"] == round(
        finished.used_gpu_seconds / 3600, 4
    )
    # gpugrant created the pods, bound to their nodes, as the scheduler's own service account; kube-scheduler
    # had nothing to do (no Binding of its own).
    events, _ = cluster.audit_events(offset)
    in_test = [e for e in events if e.get("objectRef", {}).get("namespace", "").startswith(cluster.prefix)]
    creators = {
        (e["objectRef"].get("subresource", ""), e["user"]["username"])
        for e in in_test
        if e["verb"] == "create" and e["objectRef"]["resource"] == "pods"
    }
    assert creators == {("", SCHEDULER_USER)}
