"""A job's utilisation and power over its run: the series from its usage records and the page."""

# ruff: noqa: F811 - the fixtures imported from test_usage are parameters by the same names

import re
from datetime import timedelta

import pytest

from portal.web.run_selectors import job_run_series
from tests.web.test_usage import (  # noqa: F401 - fixtures used by name
    HOUR_OF_1000_W,
    MARCH,
    allocation,
    ingest,
    page,
    prices,
    running_job,
    start_running,
    table_rows,
)

pytestmark = pytest.mark.django_db


def test_it_gives_one_row_per_interval_with_utilisation_and_power(running_job):
    ingest(running_job, MARCH, MARCH + timedelta(hours=1), utils=[40.0, 80.0])
    ingest(running_job, MARCH + timedelta(hours=2), energy=HOUR_OF_1000_W // 2, utils=[10.0])
    rows = job_run_series(running_job)["rows"]
    assert [(row["elapsed_seconds"], row["utilisation_pct"], row["power_w"]) for row in rows] == [
        (3600.0, 40.0, 1000.0),
        (7200.0, 80.0, 1000.0),
        (10800.0, 10.0, 500.0),
    ]


def test_a_job_without_records_has_no_run_chart(running_job):
    assert job_run_series(running_job) is None


def test_the_job_page_draws_both_charts_with_the_table(
    client, running_job, owner, other_allocation, outsider, backend
):
    theirs = start_running(backend, outsider, other_allocation, name="their-job")
    ingest(theirs, MARCH, utils=[99.0])
    ingest(running_job, MARCH, MARCH + timedelta(hours=1), utils=[40.0, 80.0])
    content = page(client, owner, "job_detail", running_job)
    charts = re.findall(r'<svg class="line-chart".*?</svg>', content, flags=re.S)
    assert len(charts) == 2
    assert all("<title" in chart and "<desc" in chart and "style=" not in chart for chart in charts)
    assert "GPU utilisation over the run" in charts[0] and "Power over the run" in charts[1]
    assert [row[1:] for row in table_rows(content, "run-table")] == [["40.0", "1,000.0"], ["80.0", "1,000.0"]]
    assert "99.0" not in content  # the outsider's job is not mixed in


def test_the_job_page_without_usage_has_no_run_chart(client, running_job, owner):
    assert 'class="line-chart"' not in page(client, owner, "job_detail", running_job)
