"""Staff's fleet page: GPUs by state per node, the queue per GPU type, awarded hours used per
organisation and jobs with idle GPUs, each drawn with its table; only staff open it."""

# ruff: noqa: F811 - the fixtures imported from test_usage are parameters by the same names

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.web.fleet_selectors import awarded_hours_used_by_organisation, fleet_gpus, queue_by_gpu_type
from scheduler.models import Job
from tests.scheduler.helpers import submit
from tests.web.conftest import login
from tests.web.test_usage import (  # noqa: F401 - fixtures used by name
    MARCH,
    allocation,
    ingest,
    prices,
    running_job,
    start_running,
    table_rows,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(running_job, backend, owner, allocation, outsider, other_allocation):
    """node-a: the owner's job (idle) and the outsider's job (busy) on A100s; one A100 job queued for
    30 minutes; 2 GPU-hours used of the owner's 2,000 A100 and 500 H100."""
    start_running(backend, outsider, other_allocation, name="their-job")
    ingest(running_job, MARCH, MARCH + timedelta(hours=1))
    Job.objects.filter(pk=running_job.pk).update(idle_since=timezone.now() - timedelta(minutes=20))
    queued = submit(owner, allocation, gpus_per_pod=2, gpu_type="A100", name="waiting-job")
    Job.objects.filter(pk=queued.pk).update(queued_at=timezone.now() - timedelta(minutes=30))
    return running_job


def test_it_counts_gpus_by_node_and_state(fleet):
    rows = {row["node"]: row["counts"] for row in fleet_gpus()["rows"]}
    assert rows["node-a"] == {"busy": 1, "idle": 1, "reserved": 0, "free": 6, "external": 0}
    assert rows["node-h"] == {"busy": 0, "idle": 0, "reserved": 0, "free": 8, "external": 0}


def test_free_gpus_on_a_node_held_for_a_queued_job_are_reserved(fleet):
    Job.objects.filter(state="queued").update(held_nodes=["node-h"])
    rows = {row["node"]: row["counts"] for row in fleet_gpus()["rows"]}
    assert rows["node-h"]["reserved"] == 8 and rows["node-a"]["reserved"] == 0


def test_it_gives_queue_depth_and_waits_by_gpu_type(fleet):
    (a100,) = queue_by_gpu_type(now=timezone.now())["rows"]
    assert (a100["gpu_type"], a100["jobs"], a100["gpus"], a100["mean_wait_minutes"]) == ("A100", 1, 2, 30)


def test_it_gives_the_share_of_awarded_hours_used_per_organisation(fleet, organisation):
    rows = {row["organisation"]: row for row in awarded_hours_used_by_organisation()["rows"]}
    assert rows[organisation.name]["awarded_hours"] == 2500
    assert rows[organisation.name]["used_hours"] == 2.0 and rows[organisation.name]["used_pct"] == 0.1


def test_the_page_draws_each_chart_with_its_table(client, fleet, staff, organisation):
    response = login(client, staff).get(reverse("web:staff_fleet"))
    assert response.status_code == 200
    content = response.content.decode()
    svgs = re.findall(r"<svg.*?</svg>", content, flags=re.S)
    assert len(svgs) == 4  # GPUs by node, queue depth, mean wait, organisations
    assert all("<title" in svg and "<desc" in svg and "style=" not in svg for svg in svgs)
    assert table_rows(content, "fleet-gpus")[0] == ["–", "–", "node-a", "A100", "1", "1", "0", "6", "0"]
    assert table_rows(content, "fleet-queue") == [["A100", "1", "2", "30", "30"]]
    assert ["2,500", "2.00", "0.1"] in [row[1:] for row in table_rows(content, "fleet-organisations")]
    idle = table_rows(content, "fleet-idle")
    assert [row[0] for row in idle] == ["bert-finetune"]  # the busy job of the outsider is no offender


def test_nodes_are_grouped_by_provider_and_cluster_with_sums(client, fleet, staff):
    from portal.providers import services as providers
    from scheduler.models import GpuNode

    south = providers.provider_create(staff=staff, name="South Cloud")
    gwangju = providers.cluster_create(
        staff=staff,
        provider=south,
        name="gwangju-a",
        backend="simulated",
        region="non_capital",
        gpus={"H100": 8},
    )
    providers.cluster_set_state(staff=staff, cluster=gwangju, state="draining")
    GpuNode.objects.filter(name="node-h").update(cluster=gwangju)
    gpus = fleet_gpus()
    assert [(row["cluster"], row["node"]) for row in gpus["rows"]] == [
        ("gwangju-a", "node-h"),
        ("", "node-a"),
    ]
    assert [
        (g["provider"], g["cluster"], g["nodes"], g["total"], g["counts"]["free"]) for g in gpus["clusters"]
    ] == [
        ("South Cloud", "gwangju-a", 1, 8, 8),
        ("", "", 1, 8, 6),
    ]
    content = login(client, staff).get(reverse("web:staff_fleet")).content.decode()
    groups = table_rows(content, "fleet-clusters")
    assert groups[0][:5] == [
        "South Cloud",
        "gwangju-a",
        "Outside the capital area",
        "Draining: no new placements",
        "1",
    ]
    assert groups[1][1] == "no registered cluster"
    assert table_rows(content, "fleet-gpus")[0][:3] == ["South Cloud", "gwangju-a", "node-h"]


def test_members_may_not_open_it(client, owner):
    assert login(client, owner).get(reverse("web:staff_fleet")).status_code == 403
