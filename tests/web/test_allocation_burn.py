"""An allocation's GPU-hours-over-time charts: the series from its usage records, the page that draws
them with a table alternative, and that no other organisation's usage reaches them."""

# ruff: noqa: F811 - the fixtures imported from test_usage are parameters by the same names

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.web.burn_selectors import allocation_burn
from scheduler.inventory import inventory_sync
from tests.web.test_usage import (  # noqa: F401 - fixtures used by name
    APRIL,
    MARCH,
    allocation,
    ingest,
    page,
    prices,
    start_running,
    table_rows,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def a100_job(prices, backend, owner, allocation):
    inventory_sync(backend=backend)
    return start_running(backend, owner, allocation, name="a100-job")


def test_it_builds_a_running_total_per_gpu_type_and_projects_from_the_last_week(a100_job, allocation):
    april = [APRIL + timedelta(hours=hour) for hour in range(4)]
    ingest(a100_job, MARCH, *april, APRIL + timedelta(days=1))
    burns = {
        burn["gpu_type"]: burn for burn in allocation_burn(allocation, today=APRIL.date() + timedelta(days=1))
    }
    a100 = burns["A100"]
    assert [hours for _, hours in a100["cumulative"]] == [1.0, 5.0, 6.0]
    assert a100["used_hours"] == 6.0 and a100["awarded_hours"] == 2000
    assert a100["rate_per_day"] == pytest.approx(5 / 7, abs=0.01)  # March is outside the last 7 days
    assert a100["run_out_on"] == APRIL.date() + timedelta(days=1 + 2792)  # ceil(1994 / (5/7))
    assert burns["H100"]["cumulative"] == [] and burns["H100"]["run_out_on"] is None  # zero rate


def test_an_idle_week_does_not_run_out(a100_job, allocation):
    ingest(a100_job, MARCH)
    (a100, _h100) = allocation_burn(allocation, today=APRIL.date())
    assert a100["rate_per_day"] == 0 and a100["run_out_on"] is None and a100["chart"]["projection"] is None


def early_yesterday():
    """01:00 yesterday in the portal's time zone: five hours from then stay inside one of its days (the
    page groups usage by the portal's local day; an hour ending at local midnight counts for the next)."""
    return timezone.localtime().replace(hour=1, minute=0, second=0, microsecond=0) - timedelta(days=1)


def svgs(content: str) -> list[str]:
    return re.findall(r'<svg class="line-chart".*?</svg>', content, flags=re.S)


def test_the_allocation_page_draws_each_gpu_type_with_a_table_and_the_run_out_day(
    client,
    a100_job,
    owner,
    allocation,
    other_allocation,
    outsider,
    backend,
):
    theirs = start_running(backend, outsider, other_allocation, name="their-job")
    yesterday = early_yesterday()
    ingest(theirs, yesterday - timedelta(hours=5), yesterday - timedelta(hours=4))
    ingest(a100_job, *(yesterday + timedelta(hours=hour) for hour in range(5)))
    content = page(client, owner, "allocation_detail", allocation)
    charts = svgs(content)
    assert len(charts) == 2  # A100 and H100
    assert "<title" in charts[0] and "<desc" in charts[0] and "style=" not in charts[0]
    assert "<script" not in content.split("<main", 1)[-1]
    assert 'class="projection"' in charts[0] and 'class="projection"' not in charts[1]
    rows = table_rows(content, "burn-table")  # the first table: A100
    assert [hours for _day, hours in rows] == ["5.00"]  # the outsider's hours are not here
    caption = re.search(r'<figcaption class="help burn-projection">(.*?)</figcaption>', content, re.S).group(
        1
    )
    assert "5.00 of 2" in caption and "0.71 GPU-hours a day" in caption
    assert "At this rate it runs out on" in caption and "after the allocation ends" in caption
    h100_caption = re.findall(r'<figcaption class="help burn-projection">(.*?)</figcaption>', content, re.S)[
        1
    ]
    assert "At this rate the award does not run out." in h100_caption


def test_the_page_of_an_allocation_without_usage_draws_flat_lines(client, prices, owner, allocation):
    content = page(client, owner, "allocation_detail", allocation)
    assert len(svgs(content)) == 2 and "No usage yet." in content


def test_the_projection_reads_in_korean(client, a100_job, owner, allocation):
    yesterday = early_yesterday()
    ingest(a100_job, *(yesterday + timedelta(hours=hour) for hour in range(5)))
    client.force_login(owner)
    url = reverse("web:allocation_detail", kwargs={"public_id": allocation.public_id})
    content = client.get(url, HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9").content.decode()
    assert '<html lang="ko">' in content and "시간에 따른 GPU 시간 사용량" in content
    assert "에 소진됩니다." in content and "이 속도라면 배정량이 소진되지 않습니다." in content  # A100, H100
