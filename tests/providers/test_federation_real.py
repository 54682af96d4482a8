"""Federation against three real Kubernetes API servers on loopback, one per provider, each with its own
kwok GPU nodes (tests/cluster): jobs spread over them by cost, a gang stays on one API server, one API
server is killed mid-run and its jobs finish elsewhere, it comes back and is cleaned before reuse, the
old run's late usage is charged once, and the service-account tokens never show in a page, an API
answer, an audit event or a log.

Only the containers are not real (kwok runs no container), so the late usage is the records a node
agent of the old node would send, given to the ingest directly.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create
from portal.audit.models import AuditEvent
from portal.providers import services as providers
from portal.providers.models import Cluster
from quotas.models import AllocationBudget
from scheduler.backends.federated import FederatedBackend
from scheduler.cycle import run_cycle
from scheduler.federation import members_sync
from scheduler.inventory import inventory_sync
from scheduler.metering import usage_ingest
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from tests.cluster.controlplane import ControlPlane, ControlPlaneError, missing_reason
from tests.cluster.fixtures import RBAC_FILES, ROOT, SCHEDULER_ACCOUNT
from tests.quotas.test_usage_ingest import record
from tests.reliability.stack import wait_until
from tests.scheduler.helpers import assert_no_gpu_double_booked, submit

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]
PROVIDERS = (  # name, cluster, contract kind, price: reserved first, then the cheaper on-demand one
    ("Provider A", "prov-a", "reserved", "3000"),
    ("Provider B", "prov-b", "on_demand", "1000"),
    ("Provider C", "prov-c", "on_demand", "2000"),
)
OFFLINE_AFTER_S = 3


@pytest.fixture(scope="module")
def planes():
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    started = []
    try:
        for _ in PROVIDERS:
            plane = ControlPlane(audit=False)
            started.append(plane)
            plane.start()
            for name in RBAC_FILES:
                plane.kubectl("apply", "--server-side", "-f", str(ROOT / "deploy" / "base" / name))
            plane.add_gpu_nodes(["gpu-1", "gpu-2"])  # the same names on every API server
            plane.wait_nodes_ready(["gpu-1", "gpu-2"])
    except ControlPlaneError as error:
        for plane in started:
            plane.stop()
        pytest.fail(f"a test control plane did not start: {error}")
    yield dict(zip((cluster for _, cluster, _, _ in PROVIDERS), started, strict=True))
    for plane in started:
        plane.stop()


@pytest.fixture
def federation(planes, staff, settings, allocation):
    settings.GPUGRANT_BACKEND = "federated"
    settings.GPUGRANT_METERING = "agent"
    settings.GPUGRANT_K8S_NAMESPACE_PREFIX = "fed-"
    allocation.max_concurrent_gpus = 64
    allocation.save(update_fields=["max_concurrent_gpus"])
    today = timezone.localdate()
    tokens = {}
    for name, cluster, kind, price in PROVIDERS:
        plane = planes[cluster]
        tokens[cluster] = plane.service_account_token(*SCHEDULER_ACCOUNT)
        provider = providers.provider_create(staff=staff, name=name)
        providers.cluster_create(
            staff=staff,
            provider=provider,
            name=cluster,
            backend="kubernetes",
            region="capital",
            gpus={"H100": 16},
            api_url=plane.server,
            ca_certificate=plane.pki.ca.read_text(),
            token=tokens[cluster],
        )
        providers.contract_create(
            staff=staff,
            provider=provider,
            gpu_type="H100",
            gpus=16,
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=30),
            price_krw_per_gpu_hour=price,
            kind=kind,
        )
    backend = FederatedBackend(offline_after_s=OFFLINE_AFTER_S)
    members_sync(backend)
    inventory_sync(backend=backend)
    return backend, tokens


def step(backend):
    run_cycle(backend=backend)
    reconcile_jobs(backend=backend)


def pods_of(plane, job) -> list[dict]:
    status, body = plane.request("GET", f"/api/v1/pods?labelSelector=gpugrant.io/job%3D{job.public_id}")
    assert status == 200, body
    return [pod for pod in body["items"] if not pod["metadata"].get("deletionTimestamp")]


def running(job) -> bool:
    job.refresh_from_db()
    return job.state == "running"


def test_three_api_servers_one_plan_failover_cleanup_and_no_leaked_token(
    planes, federation, owner, allocation, staff, caplog
):
    caplog.set_level("DEBUG")
    backend, tokens = federation
    # a gang of two 8-GPU pods and two single-node jobs: reserved A first, then the cheaper B
    gang = submit(owner, allocation, gpu_type="H100", gpus_per_pod=8, pods=2, name="gang")
    singles = [
        submit(owner, allocation, gpu_type="H100", gpus_per_pod=8, name=f"single-{i}") for i in range(2)
    ]
    wait_until(lambda: step(backend) or all(running(j) for j in (gang, *singles)), "all three to run", 60)
    where = {job.name: job.cluster.name for job in (gang, *singles)}
    assert where == {"gang": "prov-a", "single-0": "prov-b", "single-1": "prov-b"}, where
    # the gang's two pods are both on A's API server, on its own nodes by their own names
    assert sorted(p["spec"]["nodeName"] for p in pods_of(planes["prov-a"], gang)) == ["gpu-1", "gpu-2"]
    assert not pods_of(planes["prov-b"], gang) and not pods_of(planes["prov-c"], gang)
    assert_no_gpu_double_booked()

    # A's API server dies mid-run: after OFFLINE_AFTER_S without an answer A is offline and the gang,
    # lost there, runs on C (B is full)
    planes["prov-a"]._end("kube-apiserver")  # noqa: SLF001
    wait_until(
        lambda: step(backend) or (running(gang) and gang.cluster.name == "prov-c"), "the gang on C", 60
    )
    assert Cluster.objects.get(name="prov-a").state == "offline"
    assert gang.requeues == 1 and len(pods_of(planes["prov-c"], gang)) == 2
    assert_no_gpu_double_booked()

    # the old run's last records from A's node arrive late: charged once
    old_node = "prov-a/gpu-1"
    before = AllocationBudget.objects.get(allocation=allocation, gpu_type="H100").used_gpu_seconds
    late = [record(gang, gpu="GPU-A1", sequence=s, seconds=20) for s in range(3)]
    assert usage_ingest(node=old_node, records=late).accepted == 3
    assert usage_ingest(node=old_node, records=late).duplicates == 3
    assert (
        AllocationBudget.objects.get(allocation=allocation, gpu_type="H100").used_gpu_seconds == before + 60
    )

    # it finishes elsewhere
    for pod in pods_of(planes["prov-c"], gang):
        planes["prov-c"].request(
            "PATCH",
            f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}",
            {"metadata": {"annotations": {"gpugrant.test/exit-code": "0"}}},
            content_type="application/merge-patch+json",
        )
    wait_until(
        lambda: step(backend) or Job.objects.get(pk=gang.pk).state == "succeeded", "the gang to end", 60
    )

    # A comes back: the old gang's pods it still holds are removed before anything is placed there
    planes["prov-a"]._start_apiserver(planes["prov-a"].port)  # noqa: SLF001
    after = submit(owner, allocation, gpu_type="H100", gpus_per_pod=8, name="after-return")
    wait_until(lambda: step(backend) or running(after), "a job on the cleaned A", 90)
    assert after.cluster.name == "prov-a"  # reserved capacity again, once clean
    assert pods_of(planes["prov-a"], gang) == []
    assert Cluster.objects.get(name="prov-a").state == "active"
    assert_no_gpu_double_booked()

    # the tokens: not in an API answer, a page, an audit event or any log line of the whole test
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=owner)[1]}")
    answers = [api.get("/api/v1/providers").content.decode(), api.get("/api/v1/jobs").content.decode()]
    web = Client()
    web.force_login(staff)
    row = Cluster.objects.get(name="prov-a")
    pages = [
        web.get(f"/admin/providers/cluster/{row.pk}/change/").content.decode(),
        web.get("/staff/fleet/").content.decode(),
    ]
    audit = [str(event.__dict__) for event in AuditEvent.objects.all()]
    for token in tokens.values():
        for text in (*answers, *pages, *audit, caplog.text):
            assert token not in text
