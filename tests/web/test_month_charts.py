"""Energy (kWh) and cost (KRW) per month on the allocation and organisation pages, with their tables."""

# ruff: noqa: F811 - the fixtures imported from test_usage are parameters by the same names

import re

import pytest

from tests.web.test_usage import (  # noqa: F401 - fixtures used by name
    APRIL,
    MARCH,
    allocation,
    april_and_march,
    ingest,
    page,
    prices,
    start_running,
    table_rows,
)

pytestmark = pytest.mark.django_db

ENERGY = [["2026-03", "1"], ["2026-04", "2.5"]]  # April: 2 kWh on A100 and 0.5 on H100
COST = [["2026-03", "3,500"], ["2026-04", "13,000"]]  # ₩3,500 and ₩6,000 a GPU-hour


def month_svg(content: str, chart_id: str) -> str:
    return re.search(
        rf'<svg class="bar-chart"[^>]*aria-labelledby="{chart_id}-title.*?</svg>', content, re.S
    ).group(0)


def test_the_allocation_page_draws_energy_and_cost_per_month_with_tables(
    client, april_and_march, owner, allocation
):
    content = page(client, owner, "allocation_detail", allocation)
    assert table_rows(content, "energy-months-table") == ENERGY
    assert table_rows(content, "cost-months-table") == COST
    energy = month_svg(content, "energy-months")
    assert "<title" in energy and "<desc" in energy and "style=" not in energy
    assert "2026-04: 2.5" in energy
    heights = [float(h) for h in re.findall(r'<rect class="bar"[^>]*height="([\d.]+)"', energy)]
    assert heights[1] == pytest.approx(2.5 * heights[0], abs=0.1)


def test_the_organisation_page_draws_its_own_months_only(
    client, april_and_march, backend, owner, staff, outsider, organisation, other_allocation
):
    theirs = start_running(backend, outsider, other_allocation, name="their-job")
    ingest(theirs, MARCH, APRIL)
    for user in (owner, staff):
        content = page(client, user, "organisation_detail", organisation)
        assert table_rows(content, "energy-months-table") == ENERGY
        assert table_rows(content, "cost-months-table") == COST


def test_no_usage_draws_no_month_charts(client, prices, owner, allocation, organisation):
    for name, obj in (("allocation_detail", allocation), ("organisation_detail", organisation)):
        assert "energy-months" not in page(client, owner, name, obj)
