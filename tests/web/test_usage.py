"""Usage in the portal: a job's figures and idle banner, an allocation's months and chart, an organisation's
summary, and CSV downloads of the monthly rows for members and staff only."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create
from portal.csv_download import csv_download
from portal.web.charts import bar_chart
from quotas import services as quota_services
from quotas.models import Allocation
from quotas.reports import CSV_COLUMNS
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.metering import usage_ingest
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from tests import builders
from tests.scheduler.helpers import submit
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

MARCH = datetime(2026, 3, 15, 3, 0, tzinfo=UTC)  # mid-month: no time zone moves it to another month
APRIL = datetime(2026, 4, 10, 3, 0, tzinfo=UTC)
HOUR_OF_1000_W = 3_600_000_000  # mJ: 1 kWh


@pytest.fixture
def allocation(owner, organisation, call, staff, reviewer):
    """The owner's organisation's allocation: 2,000 A100 and 500 H100 GPU-hours."""
    application = builders.ready_for_decision(
        owner,
        organisation,
        call,
        staff,
        reviewer,
        project_title="Approved LLM project",
        gpu_requests={"A100": 2000, "H100": 500},
        max_concurrent_gpus=16,
    )
    quota_services.application_decide(application=application, staff=staff, decision="approve", reason="ok")
    return Allocation.objects.get(application=application)


@pytest.fixture
def prices(settings):
    settings.GPUGRANT_METERING = "agent"  # usage arrives as records from node agents, as in production
    settings.GPUGRANT_PRICE_KRW_PER_GPU_HOUR = {"A100": 3500, "H100": 6000}
    settings.GPUGRANT_GRID_KG_CO2_PER_KWH = 0.5
    settings.GPUGRANT_IDLE_STOP_AFTER_S = 3600
    return settings


def start_running(backend, user, allocation, *, gpu_type="A100", name="job"):
    job = submit(user, allocation, gpus_per_pod=1, minutes=600, gpu_type=gpu_type, name=name)
    run_cycle(backend=backend)
    backend.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=backend)
    job.refresh_from_db()
    assert job.state == "running"
    return job


@pytest.fixture
def running_job(prices, backend, owner, allocation):
    inventory_sync(backend=backend)
    return start_running(backend, owner, allocation, name="bert-finetune")


def ingest(job, *starts, energy=HOUR_OF_1000_W, utils=None, **flags):
    """One 1-hour record per start on the job's first GPU, each applied through the ledger."""
    utils = utils or [50.0] * len(starts)
    records = []
    for start, util in zip(starts, utils, strict=True):
        sequence = int(start.timestamp())
        records.append(
            {
                "id": f"{job.public_id}:GPU-0:0:{sequence}",
                "job_id": str(job.public_id),
                "gpu_uuid": "GPU-0",
                "epoch": 0,
                "sequence": sequence,
                "interval_start": start,
                "interval_end": start + timedelta(hours=1),
                "gpu_seconds": 3600,
                "energy_mj": energy,
                "avg_utilisation_pct": util,
                "avg_memory_bytes": 2**30,
                "estimated": False,
                "simulated": False,
                "quarantined": False,
                **flags,
            }
        )
    result = usage_ingest(node=job.placement[0]["node"], records=records)
    assert result.accepted == len(records), result.rejected


def page(client, user, name, obj) -> str:
    response = login(client, user).get(reverse(f"web:{name}", kwargs={"public_id": obj.public_id}))
    assert response.status_code == 200
    return response.content.decode()


def figure(content: str, name: str) -> str:
    match = re.search(rf'<dd class="usage-{name}">(.*?)</dd>', content)
    assert match, f"no {name} figure on the page"
    return match.group(1)


def table_rows(content: str, css_class: str, part: str = "tbody") -> list[list[str]]:
    table = re.search(rf'<table class="{css_class}">(.*?)</table>', content, flags=re.S).group(1)
    body = re.search(rf"<{part}>(.*?)</{part}>", table, flags=re.S).group(1)
    return [
        [strip_tags(cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    ]


FLAG_TEXTS = {
    "simulated": "Simulated GPUs: energy is illustrative.",
    "estimated": "Partly estimated.",
    "quarantined": "Some readings are quarantined.",
}


# Jobs


def test_the_job_page_shows_usage_figures_from_the_records(client, running_job, owner):
    before = page(client, owner, "job_detail", running_job)
    assert "No usage recorded yet." in before and 'class="usage-gpu-hours"' not in before

    ingest(running_job, MARCH, MARCH + timedelta(hours=1), utils=[50.0, 70.0])
    content = page(client, owner, "job_detail", running_job)
    assert figure(content, "gpu-hours") == "2.00"
    assert figure(content, "energy") == "2.00 kWh"
    assert figure(content, "power") == "1,000 W"
    assert figure(content, "utilisation") == "60.0 %"
    assert figure(content, "cost") == "₩7,000"  # 2 GPU-hours at the overridden ₩3,500
    assert figure(content, "co2") == "1.00 kg"  # 2 kWh at 0.5 kg/kWh
    assert not any(text in content for text in FLAG_TEXTS.values()), "no record is marked"
    csv_url = reverse("web:job_usage_csv", kwargs={"public_id": running_job.public_id})
    assert f'href="{csv_url}"' in content


@pytest.mark.parametrize("flag", sorted(FLAG_TEXTS))
def test_the_job_page_labels_figures_only_as_the_records_are_marked(client, running_job, owner, flag):
    ingest(running_job, MARCH)
    ingest(running_job, APRIL, **{flag: True})
    content = page(client, owner, "job_detail", running_job)
    assert FLAG_TEXTS[flag] in content
    assert [text for other, text in FLAG_TEXTS.items() if other != flag and text in content] == []


def idle_banner(client, user, job) -> str:
    content = page(client, user, "job_detail", job)
    match = re.search(r'class="message warning idle-banner".*?</div>', content, flags=re.S)
    return match.group(0) if match else ""


def test_the_job_page_warns_of_idle_gpus_and_says_what_the_policy_will_do(
    client, running_job, owner, allocation
):
    assert idle_banner(client, owner, running_job) == ""

    since = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    Job.objects.filter(pk=running_job.pk).update(idle_since=since)
    banner = idle_banner(client, owner, running_job)
    shown = timezone.localtime(since).strftime("%Y-%m-%d %H:%M")  # in the portal's time zone
    stop_at = timezone.localtime(since + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    assert "Idle GPUs" in banner and f"since {shown}." in banner
    assert "warn, then stop" in banner and f"still idle at {stop_at} (60 minutes" in banner

    Job.objects.filter(pk=running_job.pk).update(idle_since=since - timedelta(hours=1))
    banner = idle_banner(client, owner, running_job)
    assert "idle for over 60 minutes" in banner and "still idle at their next report" in banner

    Allocation.objects.filter(pk=allocation.pk).update(idle_policy="warn")
    banner = idle_banner(client, owner, running_job)
    assert "warn only" in banner and "stops the job" not in banner


def test_the_idle_banner_is_only_for_running_jobs(client, running_job, owner):
    Job.objects.filter(pk=running_job.pk).update(idle_since=timezone.now(), state="succeeded")
    assert idle_banner(client, owner, running_job) == ""


def test_the_job_list_marks_idle_jobs(client, prices, backend, owner, allocation):
    inventory_sync(backend=backend)
    busy = start_running(backend, owner, allocation, name="busy-job")
    idle = start_running(backend, owner, allocation, name="idle-job")
    Job.objects.filter(pk=idle.pk).update(idle_since=datetime(2026, 3, 10, 1, 0, tzinfo=UTC))
    response = login(client, owner).get(reverse("web:job_list"))
    rows = {
        name: row
        for row in re.findall(r"<tr>(.*?)</tr>", response.content.decode(), flags=re.S)
        for name in (busy.name, idle.name)
        if f">{name}</a>" in row
    }
    assert 'class="badge idle"' in rows[idle.name] and 'class="badge idle"' not in rows[busy.name]


# Allocations


@pytest.fixture
def april_and_march(prices, backend, owner, allocation):
    """An A100 job: 1 GPU-hour in March and 2 in April; an H100 job: 1 GPU-hour in April."""
    inventory_sync(backend=backend)
    a100 = start_running(backend, owner, allocation, name="a100-job")
    h100 = start_running(backend, owner, allocation, gpu_type="H100", name="h100-job")
    ingest(a100, MARCH, APRIL, APRIL + timedelta(days=1))
    ingest(h100, APRIL + timedelta(days=2), energy=HOUR_OF_1000_W // 2)
    return a100, h100


def test_the_allocation_page_tables_usage_by_month_with_totals(client, april_and_march, teammate, allocation):
    content = page(client, teammate, "allocation_detail", allocation)
    assert table_rows(content, "usage-months") == [
        ["2026-03", "A100", "1", "1.00", "1.00", "₩3,500", "0.50", ""],
        ["2026-04", "A100", "1", "2.00", "2.00", "₩7,000", "1.00", ""],
        ["2026-04", "H100", "1", "1.00", "0.50", "₩6,000", "0.25", ""],
    ]
    assert table_rows(content, "usage-months", "tfoot") == [["Total", "4.00", "3.50", "₩16,500", "1.75", ""]]
    csv_url = reverse("web:allocation_usage_csv", kwargs={"public_id": allocation.public_id})
    assert f'href="{csv_url}"' in content
    assert "Warn, then stop" in content  # the idle policy


def test_the_allocation_page_draws_gpu_hours_per_month_as_an_accessible_svg(
    client, april_and_march, owner, allocation
):
    content = page(client, owner, "allocation_detail", allocation)
    svg = re.search(r'<svg class="bar-chart"[^>]*>.*?</svg>', content, flags=re.S).group(0)
    opening = svg.split(">", 1)[0]
    assert 'role="img"' in opening and 'aria-label="GPU-hours per month: 2026-03 1; 2026-04 3"' in opening
    assert "<title>" in svg and "<script" not in content
    heights = [float(h) for h in re.findall(r'<rect class="bar"[^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 2 and heights[1] == pytest.approx(3 * heights[0])  # all GPU types in April


def test_an_allocation_without_usage_says_so(client, prices, owner, allocation):
    content = page(client, owner, "allocation_detail", allocation)
    assert "No usage recorded yet." in content and 'class="bar-chart"' not in content
    assert "usage.csv" not in content


def test_the_allocation_page_shows_a_warn_only_policy(client, prices, owner, allocation):
    Allocation.objects.filter(pk=allocation.pk).update(idle_policy="warn")
    content = page(client, owner, "allocation_detail", allocation)
    policy = re.search(r'<dd class="idle-policy">(.*?)</dd>', content, flags=re.S).group(1)
    assert policy.startswith("Warn only") and "stopped" not in policy


# Organisations


def test_the_organisation_page_sums_usage_over_its_allocations_only(
    client, april_and_march, backend, owner, staff, outsider, organisation, other_allocation
):
    theirs = start_running(backend, outsider, other_allocation, name="their-job")
    ingest(theirs, MARCH, APRIL)
    for user in (owner, staff):
        content = page(client, user, "organisation_detail", organisation)
        assert figure(content, "gpu-hours") == "4.00" and figure(content, "cost") == "₩16,500"
        assert table_rows(content, "usage-allocations") == [
            ["Approved LLM project", "4.00", "3.50", "₩16,500", "1.75"]
        ]
        csv_url = reverse("web:organisation_usage_csv", kwargs={"public_id": organisation.public_id})
        assert f'href="{csv_url}"' in content


# CSV downloads


def csv_rows(response) -> list[dict]:
    reader = csv.DictReader(io.StringIO(response.content.decode()))
    assert reader.fieldnames == CSV_COLUMNS
    return list(reader)


@pytest.mark.parametrize(
    ("name", "target", "prefix"),
    [
        ("allocation_usage_csv", "allocation", "allocation"),
        ("organisation_usage_csv", "organisation", "organisation"),
    ],
)
def test_members_and_staff_download_the_monthly_rows_as_csv(
    client, request, april_and_march, teammate, staff, name, target, prefix
):
    obj = request.getfixturevalue(target)
    url = reverse(f"web:{name}", kwargs={"public_id": obj.public_id})
    for user in (teammate, staff):
        response = login(client, user).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == f'attachment; filename="{prefix}-{obj.public_id}-usage.csv"'
        rows = csv_rows(response)
        assert [(r["month"], r["gpu_type"], r["jobs"], r["gpu_hours"], r["cost_krw"]) for r in rows] == [
            ("2026-03", "A100", "1", "1.0", "3500"),
            ("2026-04", "A100", "1", "2.0", "7000"),
            ("2026-04", "H100", "1", "1.0", "6000"),
        ]
        assert rows[2]["energy_kwh"] == "0.5" and rows[2]["average_power_w"] == "500.0"
        assert rows[0]["simulated"] == "False"


def test_a_job_usage_csv_has_its_own_rows_only(client, april_and_march, owner):
    a100, _ = april_and_march
    response = login(client, owner).get(reverse("web:job_usage_csv", kwargs={"public_id": a100.public_id}))
    assert response["Content-Disposition"] == f'attachment; filename="job-{a100.public_id}-usage.csv"'
    assert [(r["month"], r["gpu_type"], r["gpu_hours"]) for r in csv_rows(response)] == [
        ("2026-03", "A100", "1.0"),
        ("2026-04", "A100", "2.0"),
    ]


@pytest.mark.parametrize("name", ["job_usage_csv", "allocation_usage_csv", "organisation_usage_csv"])
def test_outsiders_and_reviewers_get_404_and_anonymous_users_the_login_page(
    client, april_and_march, outsider, reviewer, allocation, organisation, name
):
    obj = {"job_usage_csv": april_and_march[0], "allocation_usage_csv": allocation}.get(name, organisation)
    url = reverse(f"web:{name}", kwargs={"public_id": obj.public_id})
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"{reverse('web:login')}?next={url}"
    for user in (outsider, reviewer):
        response = login(client, user).get(url)
        assert response.status_code == 404 and b"2026-04" not in response.content


def test_a_csv_of_no_usage_is_just_the_header(client, prices, owner, allocation):
    response = login(client, owner).get(
        reverse("web:allocation_usage_csv", kwargs={"public_id": allocation.public_id})
    )
    assert csv_rows(response) == []


@pytest.mark.parametrize("target", ["job", "allocation", "organisation"])
def test_the_api_and_the_portal_send_a_csv_with_the_same_headers_and_rows(
    client, april_and_march, owner, allocation, organisation, target
):
    """One download helper serves both edges: the API used to leave out Cache-Control."""
    obj = {"job": april_and_march[0], "allocation": allocation, "organisation": organisation}[target]
    web = login(client, owner).get(reverse(f"web:{target}_usage_csv", kwargs={"public_id": obj.public_id}))
    _, key = api_key_create(user=owner)
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}").get(
        f"/api/v1/{target}s/{obj.public_id}/usage?export=csv"
    )
    headers = ("Content-Type", "Content-Disposition", "Cache-Control")
    assert (
        [api[name] for name in headers]
        == [web[name] for name in headers]
        == [
            "text/csv; charset=utf-8",
            f'attachment; filename="{target}-{obj.public_id}-usage.csv"',
            "private, no-store",
        ]
    )
    assert api.content == web.content and csv_rows(api)


def test_a_download_refuses_a_filename_that_would_break_its_header():
    with pytest.raises(ValueError):
        csv_download([], CSV_COLUMNS, 'usage.csv"; x="')


# The chart's geometry


def test_the_chart_scales_to_a_round_top_and_thins_out_month_labels():
    chart = bar_chart([(f"m{i:02}", float(i)) for i in range(1, 25)])
    assert [line["value"] for line in chart["gridlines"]] == ["0", "25", "50"]
    assert [bar["label"] for bar in chart["bars"] if bar["show_label"]] == [
        f"m{i:02}" for i in range(1, 25, 2)
    ]
    tallest = max(chart["bars"], key=lambda bar: float(bar["height"]))
    assert tallest["label"] == "m24" and float(tallest["height"]) < float(chart["baseline"])
