"""Failover through the whole service (GPUGRANT_BACKEND=federated): two simulated providers' clusters
under one plan; one stops answering, is marked offline, its jobs are lost, requeued and run in the other;
it comes back, is cleaned before reuse and returns to service; the old run's late usage is charged once.

The clusters are simulated (scheduler/backends/simulated.py: ``cut_off`` is its simulated network
partition); the same failover against real Kubernetes API servers is not built yet (docs/providers.md)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.providers import services as providers
from portal.providers.models import Cluster
from quotas.models import AllocationBudget
from scheduler.backends.base import Phase
from scheduler.backends.federated import FederatedBackend
from scheduler.cycle import run_cycle
from scheduler.federation import members_sync, simulated_cluster_nodes
from scheduler.inventory import inventory_sync
from scheduler.metering import usage_ingest
from scheduler.models import GpuNode
from scheduler.reconcile import reconcile_jobs
from scheduler.sweep import sweep
from tests.quotas.test_usage_ingest import record
from tests.scheduler.helpers import assert_no_gpu_double_booked, submit

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def federation(staff, settings):
    """north (capital, on demand) and south (outside, reserved: preferred), 16 A100 each."""
    settings.GPUGRANT_BACKEND = "federated"
    today = timezone.localdate()
    for name, cluster, region, kind in (
        ("North Cloud", "seoul-a", "capital", "on_demand"),
        ("South Cloud", "gwangju-a", "non_capital", "reserved"),
    ):
        provider = providers.provider_create(staff=staff, name=name)
        providers.cluster_create(
            staff=staff,
            provider=provider,
            name=cluster,
            backend="simulated",
            region=region,
            gpus={"A100": 16},
        )
        providers.contract_create(
            staff=staff,
            provider=provider,
            gpu_type="A100",
            gpus=16,
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=30),
            price_krw_per_gpu_hour="2000",
            kind=kind,
        )
    clock = Clock()
    backend = FederatedBackend(offline_after_s=120, clock=clock)
    members_sync(backend)
    inventory_sync(backend=backend)  # admission checks jobs against the nodes known
    return backend, clock


def test_simulated_clusters_are_their_gpus_in_nodes_of_eight():
    nodes = simulated_cluster_nodes([("H100", 20), ("A100", 8)])
    assert [(n.name, n.gpu_type, n.gpu_count) for n in nodes] == [
        ("a100-01", "A100", 8),
        ("h100-01", "H100", 8),
        ("h100-02", "H100", 8),
        ("h100-03", "H100", 4),
    ]


def step(backend):
    """One round of what beat runs: a cycle (inventory, failover states, plan, binds), then reconcile
    and the sweep."""
    result = run_cycle(backend=backend)
    reconcile_jobs(backend=backend)
    sweep(backend=backend)
    return result


def test_a_silent_cluster_fails_over_is_cleaned_on_return_and_its_late_usage_is_charged_once(
    federation, owner, allocation, settings
):
    settings.GPUGRANT_METERING = "agent"  # GPU time from the node agents' records
    backend, clock = federation
    south, north = backend.member("gwangju-a"), backend.member("seoul-a")
    job = submit(owner, allocation, gpus_per_pod=8)
    step(backend)
    job.refresh_from_db()
    assert job.state == "running" and job.cluster.name == "gwangju-a"  # reserved capacity first
    old_node = job.placement[0]["node"]
    assert old_node.startswith("gwangju-a/")
    assert set(GpuNode.objects.values_list("name", "cluster__name")) >= {(old_node, "gwangju-a")}

    # south stops answering: within the grace its job is left running, and nothing new goes there
    south.cut_off("no route to host")
    clock.now += 60
    step(backend)
    job.refresh_from_db()
    assert job.state == "running" and Cluster.objects.get(name="gwangju-a").state == "active"
    assert not GpuNode.objects.get(name=old_node).schedulable

    # past the limit: offline (by the service, audited), its job lost and requeued, placed in north
    clock.now += 60
    step(backend)
    step(backend)
    south_row = Cluster.objects.get(name="gwangju-a")
    assert south_row.state == "offline" and south_row.state_set_by_service
    audit = AuditEvent.objects.filter(action="cluster_state", to_state="offline").get()
    assert audit.actor is None and "has not answered for 120 s" in audit.reason
    job.refresh_from_db()
    assert job.state == "running" and job.cluster.name == "seoul-a" and job.requeues == 1
    states = [(e.to_state, e.reason_code) for e in job.events.order_by("created_at", "id")]
    assert states[-4:-1] == [
        ("lost", "lost_pods_vanished"),
        ("queued", "requeued_after_lost"),
        ("scheduled", "placed"),
    ], states
    assert_no_gpu_double_booked()
    # the partition: south's pods still run there, unseen; gpugrant shows the job in one cluster only
    assert south._jobs[str(job.public_id)].phase == Phase.RUNNING  # noqa: SLF001
    assert north.statuses([str(job.public_id)])[0].phase == Phase.RUNNING

    # the old run's last records arrive late from south's node: charged once, never twice
    used_before = AllocationBudget.objects.get(allocation=allocation, gpu_type="A100").used_gpu_seconds
    late = [record(job, gpu="GPU-S0", sequence=s, seconds=30) for s in range(2)]
    assert usage_ingest(node=old_node, records=late).accepted == 2
    again = usage_ingest(node=old_node, records=late)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 2, [])
    used_after = AllocationBudget.objects.get(allocation=allocation, gpu_type="A100").used_gpu_seconds
    assert used_after - used_before == 60
    # ... and settled with the provider whose cluster ran it, once (records count in their interval's month)
    from portal.providers.settlement import month_start
    from scheduler.settlement import settlement

    month = month_start(timezone.localtime(late[0]["interval_start"]).date())
    lines, unmatched = settlement(month, month)
    used = {line.provider: line.used_gpu_hours for line in lines}
    assert used["South Cloud"] * 3600 == pytest.approx(60) and used["North Cloud"] == 0

    # south answers again: what gpugrant left there is stopped before anything is placed on it
    south.reconnect()
    other = submit(owner, allocation, gpus_per_pod=8, name="after")
    step(backend)
    assert south._jobs[str(job.public_id)].phase == Phase.STOPPED  # noqa: SLF001
    assert north.statuses([str(job.public_id)])[0].phase == Phase.RUNNING
    assert Cluster.objects.get(name="gwangju-a").state == "active"
    job.refresh_from_db()
    assert job.state == "running" and job.cluster.name == "seoul-a"  # never shown in two clusters
    other.refresh_from_db()
    assert other.state == "running" and other.cluster.name == "gwangju-a"  # reserved, and clean
    assert_no_gpu_double_booked()


def test_a_cluster_staff_took_offline_stays_offline_when_it_answers(federation, staff):
    backend, clock = federation
    row = Cluster.objects.get(name="gwangju-a")
    providers.cluster_set_state(staff=staff, cluster=row, state="offline", reason="maintenance")
    step(backend)
    assert Cluster.objects.get(name="gwangju-a").state == "offline"


def test_a_cluster_registered_later_joins_the_next_cycle(federation, staff, owner, allocation):
    backend, _ = federation
    kept = backend.member("seoul-a")
    provider = providers.provider_create(staff=staff, name="East Cloud")
    providers.cluster_create(
        staff=staff,
        provider=provider,
        name="gangneung-a",
        backend="simulated",
        region="non_capital",
        gpus={"H100": 8},
    )
    step(backend)  # the new cluster's nodes join the inventory, as they would before anyone submits
    job = submit(owner, allocation, gpus_per_pod=8, gpu_type="H100")
    step(backend)
    job.refresh_from_db()
    assert job.state == "running" and job.placement[0]["node"] == "gangneung-a/h100-01"
    assert backend.member("seoul-a") is kept  # an unchanged cluster keeps its connection
    south = Cluster.objects.get(name="gwangju-a")
    before = backend.member("gwangju-a")
    providers.cluster_update(staff=staff, cluster=south, gpus={"A100": 24})
    step(backend)
    assert backend.member("gwangju-a") is not before  # a changed one is connected anew
    assert GpuNode.objects.filter(cluster__name="gwangju-a", schedulable=True).count() == 3


def test_node_keys_are_scoped_to_their_cluster(federation, owner, allocation, settings):
    """Two clusters both have a node called a100-01; each agent's key speaks for its own cluster's only."""
    from rest_framework.test import APIClient

    from scheduler.node_keys import node_key_create
    from tests.api.test_usage_api import wire

    settings.GPUGRANT_METERING = "agent"
    backend, _ = federation
    job = submit(owner, allocation, gpus_per_pod=8)
    step(backend)
    job.refresh_from_db()
    assert job.placement[0]["node"] == "gwangju-a/a100-01"

    def agent(cluster):
        client = APIClient()
        key, plaintext = node_key_create(node="a100-01", cluster=Cluster.objects.get(name=cluster))
        client.credentials(HTTP_AUTHORIZATION=f"Node {plaintext}")
        return client, key

    ours, key = agent("gwangju-a")
    assert str(key).startswith("gwangju-a/a100-01 (")
    answer = ours.post("/api/v1/usage", {"records": [wire(job, 0)]}, format="json").json()
    assert answer == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert [j["id"] for j in ours.get("/api/v1/node/jobs").json()["jobs"]] == [str(job.public_id)]
    theirs, _ = agent("seoul-a")  # the same node name in the other provider's cluster
    refused = theirs.post("/api/v1/usage", {"records": [wire(job, 1)]}, format="json").json()
    assert (
        refused["accepted"] == 0 and refused["rejected"][0]["reason"] == "the job was not placed on this node"
    )
    assert theirs.get("/api/v1/node/jobs").json()["jobs"] == []


def test_create_node_key_names_its_cluster_or_refuses(federation, capsys):
    from django.core.management import CommandError, call_command

    call_command("create_node_key", "--node", "a100-01", "--cluster", "seoul-a")
    assert capsys.readouterr().out.strip().startswith("ggnode_")
    with pytest.raises(CommandError, match="no registered cluster"):
        call_command("create_node_key", "--node", "a100-01", "--cluster", "jeju-a")
    with pytest.raises(CommandError, match="no /"):
        call_command("create_node_key", "--node", "seoul-a/a100-01")


def test_a_scheduler_restarted_during_an_outage_does_not_give_up_the_silent_clusters_jobs(
    federation, owner, allocation
):
    backend, clock = federation
    job = submit(owner, allocation, gpus_per_pod=8)
    step(backend)
    job.refresh_from_db()
    assert job.state == "running" and job.cluster.name == "gwangju-a"
    south = backend.member("gwangju-a")
    south.cut_off()
    # a new scheduler process: the same clusters, but it never saw south's nodes
    restarted = FederatedBackend(offline_after_s=120, clock=clock)
    names = ("gwangju-a", "seoul-a")  # connected to the same (simulated) clusters as their rows say
    restarted.set_members({n: backend.member(n) for n in names}, {n: backend.source(n) for n in names})
    step(restarted)
    job.refresh_from_db()
    nodes = dict(
        GpuNode.objects.filter(cluster__name="gwangju-a").values_list("schedulable", "unschedulable_reason")
    )
    assert job.state == "running" and nodes == {False: "its cluster does not answer"}
    # once it has not answered for the limit, the job is given up and requeued as before
    clock.now += 121
    step(restarted)
    step(restarted)
    job.refresh_from_db()
    assert job.state == "running" and job.cluster.name == "seoul-a"
    assert set(
        GpuNode.objects.filter(cluster__name="gwangju-a").values_list("unschedulable_reason", flat=True)
    ) == {"node no longer reported"}
