"""Staff's settlement page: idle reserved capacity first, per provider and per contract month, usage no
contract covers, the CSV, field errors for a bad period; staff only."""

# ruff: noqa: F811 - fixtures imported by name

import csv
import io
from datetime import datetime

import pytest
from django.urls import reverse

from tests.api.test_settlement_api import SEOUL, lab, used  # noqa: F401 - fixtures used by name
from tests.scheduler.helpers import submit
from tests.web.conftest import login
from tests.web.test_usage import table_rows

pytestmark = pytest.mark.django_db
URL = reverse("web:staff_settlement")


def test_idle_reserved_capacity_comes_first_with_each_provider_and_contract_month(
    client, lab, staff, owner, allocation
):
    job = submit(owner, allocation)
    used(job, "node-a", datetime(2026, 1, 10, 9, tzinfo=SEOUL), 10)
    used(job, "node-a", datetime(2026, 2, 1, 0, 30, tzinfo=SEOUL), 2, first_sequence=100)  # no contract
    response = login(client, staff).get(URL, {"from": "2026-01", "to": "2026-02"})
    assert response.status_code == 200
    content = response.content.decode()
    rented, idle = 8 * 31 * 24, 8 * 31 * 24 - 10
    owed = rented * 1000
    # the waste stands first: idle hours and what they cost (the idle share of the reserved amount)
    assert content.index("Idle reserved capacity") < content.index("By provider")
    assert f"{idle:,} GPU-hours paid for and left idle (₩{idle * 1000:,})" in content
    providers = table_rows(content, "settlement-providers")
    assert providers[0] == [
        "Provider A",
        f"{idle:,}",
        f"₩{idle * 1000:,}",
        f"{rented:,}",
        "10",
        "0.2 %",
        f"₩{owed:,}",
    ]
    assert providers[-1][0] == "All providers" and providers[-1][-1] == f"₩{owed:,}"
    assert table_rows(content, "settlement-lines") == [
        ["Provider A", "2026-01", "A100", "reserved", f"{idle:,}", f"{rented:,}", "10", "0.2 %", f"₩{owed:,}"]
    ]
    assert table_rows(content, "settlement-unmatched") == [["Provider A", "2026-02", "A100", "2"]]


def test_the_csv_holds_the_same_lines_as_the_api(client, lab, staff, owner, allocation):
    job = submit(owner, allocation)
    used(job, "node-a", datetime(2026, 1, 10, 9, tzinfo=SEOUL), 10)
    response = login(client, staff).get(URL, {"from": "2026-01", "to": "2026-01", "export": "csv"})
    assert (
        response["Content-Type"].startswith("text/csv") and response["Cache-Control"] == "private, no-store"
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["provider"], r["month"], r["used_gpu_hours"], r["owed_krw"]) for r in rows] == [
        ("Provider A", "2026-01", "10.000", "5952000")
    ]


@pytest.mark.parametrize(
    "query, field", [({"from": "2026-13"}, "from"), ({"from": "2026-03", "to": "2026-01"}, "to")]
)
def test_a_bad_period_says_which_field_and_shows_no_figures(client, staff, query, field):
    response = login(client, staff).get(URL, query)
    assert response.status_code == 400
    content = response.content.decode()
    assert f'id="id_{field}"' in content and 'class="error"' in content
    assert "settlement-lines" not in content


def test_it_opens_on_the_last_three_months_with_nothing_to_settle(client, staff):
    response = login(client, staff).get(URL)
    assert response.status_code == 200 and "No contract covers these months." in response.content.decode()


def test_members_may_not_open_it(client, owner):
    assert login(client, owner).get(URL).status_code == 403
