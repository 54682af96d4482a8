"""Where jobs may run: allocation pins narrowed by the job's own, checked at submission (field errors),
and honoured by the cycle with each node's cluster state and cost (docs/providers.md, "Pins")."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from portal.providers import services as providers
from portal.providers.selectors import ClusterRow, allowed_clusters, cluster_costs
from scheduler.backends.base import NodeInfo
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import GpuNode, Job
from scheduler.services import job_submit
from tests.builders import allowing_custom_images
from tests.scheduler.fakes import ScriptedBackend
from tests.scheduler.helpers import assert_no_gpu_double_booked, submit

CLUSTERS = [
    ClusterRow(1, "seoul-a", 10, "capital", "active"),
    ClusterRow(2, "gwangju-a", 20, "non_capital", "active"),
    ClusterRow(3, "seoul-b", 20, "capital", "draining"),
]


@pytest.mark.parametrize(
    "pins, expected",
    [
        (dict(), None),  # nothing pinned: anywhere, a cluster's node or not
        (dict(providers=frozenset({20})), {"gwangju-a", "seoul-b"}),
        (dict(region="capital"), {"seoul-a", "seoul-b"}),
        (dict(providers=frozenset({20}), region="capital"), {"seoul-b"}),
        (dict(job_provider=10), {"seoul-a"}),
        (dict(job_region="non_capital"), {"gwangju-a"}),
        # a job narrows its allocation's pins and never widens them
        (dict(providers=frozenset({20}), job_provider=10), set()),
        (dict(region="capital", job_region="non_capital"), set()),
        (dict(providers=frozenset({10, 20}), job_region="capital"), {"seoul-a", "seoul-b"}),
    ],
)
def test_allowed_clusters_are_the_allocations_pins_narrowed_by_the_jobs(pins, expected):
    got = allowed_clusters(CLUSTERS, **pins)
    assert got == (None if expected is None else frozenset(expected))


# -- with the database ---------------------------------------------------------------------------------


def contract(staff, provider, gpu_type, kind, price):
    today = timezone.localdate()
    return providers.contract_create(
        staff=staff,
        provider=provider,
        gpu_type=gpu_type,
        gpus=8,
        starts_on=today - timedelta(days=30),
        ends_on=today + timedelta(days=30),
        price_krw_per_gpu_hour=price,
        kind=kind,
    )


@pytest.fixture
def federation(staff, settings):
    """Two providers: north (capital, A100 on demand at 3,000 won) and south (outside, A100 reserved);
    the scripted backend's four A100 nodes tied two to each provider's cluster."""
    from scheduler import backends

    north = providers.provider_create(staff=staff, name="North Cloud")
    south = providers.provider_create(staff=staff, name="South Cloud")
    seoul = providers.cluster_create(
        staff=staff, provider=north, name="seoul-a", backend="simulated", region="capital", gpus={"A100": 16}
    )
    gwangju = providers.cluster_create(
        staff=staff,
        provider=south,
        name="gwangju-a",
        backend="simulated",
        region="non_capital",
        gpus={"A100": 16},
    )
    contract(staff, north, "A100", "on_demand", "3000")
    contract(staff, south, "A100", "reserved", "2500")
    fake = ScriptedBackend([NodeInfo(f"node-{i}", "A100", 8) for i in range(4)])
    settings.GPUGRANT_BACKEND = fake.name
    backends._instances[fake.name] = fake  # noqa: SLF001
    inventory_sync(backend=fake)
    GpuNode.objects.filter(name__in=["node-0", "node-1"]).update(cluster=seoul)
    GpuNode.objects.filter(name__in=["node-2", "node-3"]).update(cluster=gwangju)
    yield {"north": north, "south": south, "seoul": seoul, "gwangju": gwangju, "backend": fake}
    backends.reset_backends()


def cycle(federation):
    # Without the inventory sync, which ties every node of the one configured backend to
    # GPUGRANT_CLUSTER: here the ties made by hand stand for a backend per cluster (not built yet).
    return run_cycle(backend=federation["backend"], sync_inventory=False)


def submit_pinned(user, allocation, **pins):
    return job_submit(
        user=user,
        allocation=allowing_custom_images(allocation),
        name="pinned",
        kind="training",
        image="python:3.11",
        command=["python", "-c", "print(1)"],
        gpu_type="A100",
        gpus_per_pod=8,
        max_runtime_minutes=60,
        **pins,
    )


def field_errors(call) -> dict:
    from portal.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value.fields


@pytest.mark.django_db
def test_costs_put_reserved_capacity_first_then_on_demand_by_price(staff, federation):
    costs = cluster_costs(timezone.localdate())
    assert costs[(federation["south"].pk, "A100")] == 0.0  # reserved: already paid for
    assert costs[(federation["north"].pk, "A100")] == 3001.0
    assert cluster_costs(date(1999, 1, 1)) == {}  # no contract covers that day


@pytest.mark.django_db
def test_unpinned_jobs_fill_reserved_capacity_before_on_demand_and_record_their_cluster(
    owner, allocation, federation
):
    allocation.max_concurrent_gpus = 32  # the fixture's cap of 16 would keep the third job waiting
    allocation.save(update_fields=["max_concurrent_gpus"])
    jobs = [submit(owner, allocation, gpus_per_pod=8, name=f"job-{i}") for i in range(3)]
    cycle(federation)
    placed = {job.name: Job.objects.select_related("cluster").get(pk=job.pk) for job in jobs}
    clusters = sorted(job.cluster.name for job in placed.values())
    # both reserved (south) nodes first; only the third job goes on demand (north)
    assert clusters == ["gwangju-a", "gwangju-a", "seoul-a"]
    for job in placed.values():
        tied = GpuNode.objects.get(name=job.placement[0]["node"]).cluster_id
        assert job.cluster_id == tied
    assert_no_gpu_double_booked()


@pytest.mark.django_db
def test_a_job_pinned_to_a_provider_or_region_runs_only_there(owner, allocation, federation):
    by_provider = submit_pinned(owner, allocation, provider="North Cloud")
    by_region = submit_pinned(owner, allocation, region="capital")
    cycle(federation)
    for job in (by_provider, by_region):
        job.refresh_from_db()
        assert job.state == "scheduled" and job.cluster_id == federation["seoul"].pk
        assert job.provider_id == (federation["north"].pk if job is by_provider else None)


@pytest.mark.django_db
def test_an_allocation_pin_holds_for_jobs_that_name_none(owner, allocation, federation):
    allocation.providers.set([federation["north"]])
    jobs = [submit(owner, allocation, gpus_per_pod=8, name=f"job-{i}") for i in range(3)]
    cycle(federation)
    states = sorted((Job.objects.get(pk=j.pk).state, Job.objects.get(pk=j.pk).cluster_id) for j in jobs)
    # north has two 8-GPU nodes: two run there, the third waits rather than use south's free nodes
    assert states == sorted(
        [("scheduled", federation["seoul"].pk), ("scheduled", federation["seoul"].pk), ("queued", None)]
    )


@pytest.mark.django_db
def test_a_draining_or_offline_cluster_takes_no_new_jobs(staff, owner, allocation, federation):
    providers.cluster_set_state(staff=staff, cluster=federation["gwangju"], state="draining")
    providers.cluster_set_state(staff=staff, cluster=federation["seoul"], state="offline")
    job = submit(owner, allocation, gpus_per_pod=1)
    cycle(federation)
    job.refresh_from_db()
    assert job.state == "queued"
    providers.cluster_set_state(staff=staff, cluster=federation["gwangju"], state="active")
    cycle(federation)
    job.refresh_from_db()
    assert job.state == "scheduled" and job.cluster_id == federation["gwangju"].pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "allocation_pins, pins, field, words",
    [
        ({}, dict(provider="Nowhere Cloud"), "provider", "No such provider"),
        ({}, dict(region="jeju"), "region", "One of"),
        ({"providers": ["north"]}, dict(provider="South Cloud"), "provider", "runs only on: North Cloud"),
        ({"region": "non_capital"}, dict(region="capital"), "region", "runs only in the region"),
        ({}, dict(provider="North Cloud", region="non_capital"), "provider", "No cluster"),
        ({"region": "capital", "providers": ["south"]}, {}, "gpu_type", "No cluster"),
    ],
)
def test_pins_a_job_cannot_have_are_refused_by_field_and_nothing_is_written(
    owner, allocation, federation, allocation_pins, pins, field, words
):
    if "providers" in allocation_pins:
        allocation.providers.set([federation[name] for name in allocation_pins["providers"]])
    if "region" in allocation_pins:
        allocation.region = allocation_pins["region"]
        allocation.save(update_fields=["region"])
    errors = field_errors(lambda: submit_pinned(owner, allocation, **pins))
    assert words in " ".join(errors[field]), errors
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_gpu_type_no_allowed_cluster_offers_is_refused(owner, allocation, federation):
    # H100 is awarded, but neither cluster offers it
    errors = field_errors(
        lambda: job_submit(
            user=owner,
            allocation=allowing_custom_images(allocation),
            name="h",
            kind="training",
            image="python:3.11",
            command=["true"],
            gpu_type="H100",
            gpus_per_pod=1,
            max_runtime_minutes=60,
            region="capital",
        )
    )
    assert "No cluster where this job may run offers H100" in errors["region"][0]


@pytest.mark.django_db
def test_the_api_takes_pins_and_shows_where_the_job_runs(owner, allocation, federation):
    from django.test import Client
    from rest_framework.test import APIClient

    from portal.accounts.services import api_key_create
    from tests.api.test_jobs_api import body

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=owner)[1]}")
    allowing_custom_images(allocation)
    refused = api.post("/api/v1/jobs", body(allocation, provider="Nowhere Cloud"), format="json")
    assert refused.status_code == 400 and "provider" in refused.json()["extra"]["fields"]
    refused = api.post("/api/v1/jobs", body(allocation, region="moon"), format="json")
    assert refused.status_code == 400 and "region" in refused.json()["extra"]["fields"]
    made = api.post("/api/v1/jobs", body(allocation, provider="South Cloud"), format="json")
    assert made.status_code == 201, made.json()
    job = made.json()
    assert (job["provider"], job["region"], job["cluster"]) == ("South Cloud", "", None)
    cycle(federation)
    shown = api.get(f"/api/v1/jobs/{job['id']}").json()
    assert shown["cluster"] == {"name": "gwangju-a", "provider": "South Cloud", "region": "non_capital"}
    listed = api.get("/api/v1/jobs").json()["results"]
    assert listed[0]["cluster"]["name"] == "gwangju-a"
    web = Client()
    web.force_login(owner)
    page = web.get(f"/jobs/{job['id']}/").content.decode()
    assert "gwangju-a" in page and "South Cloud" in page
