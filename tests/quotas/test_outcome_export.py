"""Staff's export of outcome reports: rows, the workbook, and text that must never run as a formula."""

import io

import pytest
from openpyxl import load_workbook

from quotas.models import OutcomeReport
from quotas.outcome_export import (
    EXPORT_COLUMNS,
    csv_safe_rows,
    outcome_reports,
    outcome_rows,
    outcome_workbook,
    spreadsheet_safe,
)
from tests import builders

pytestmark = pytest.mark.django_db


def _report(allocation, user, stage=None, **fields):
    values = {"satisfaction": 4, "would_apply_again": True, "publications": 2, **fields}
    return OutcomeReport.objects.create(allocation=allocation, stage=stage, submitted_by=user, **values)


@pytest.fixture
def reports(allocation, other_allocation, owner, outsider, staff):
    other_call = builders.make_call(staff, title="Another call")
    elsewhere = builders.approved(
        outsider, other_allocation.organisation, other_call, staff, builders.make_user(reviewer=True)
    )
    return [
        _report(allocation, owner, comment='=HYPERLINK("http://evil")'),
        _report(other_allocation, outsider, follow_on_investment_krw=2_000_000_000),
        _report(elsewhere, outsider, hires=7),
    ]


def test_it_exports_a_calls_reports_or_all(reports, call):
    assert set(outcome_reports(call)) == set(reports[:2])
    assert set(outcome_reports()) == set(reports)


def test_each_row_names_the_award_and_its_figures(reports, call, allocation):
    rows = {row["allocation"]: row for row in outcome_rows(outcome_reports(call))}
    row = rows[str(allocation.public_id)]
    assert set(row) == set(EXPORT_COLUMNS)
    assert (row["stage"], row["publications"], row["satisfaction"], row["would_apply_again"]) == (
        "final",
        2,
        4,
        True,
    )
    assert row["call_title"] == call.title and row["submitted_by"] == "owner@example.test"


def test_text_that_would_run_as_a_formula_gets_an_apostrophe_in_the_csv():
    assert spreadsheet_safe("=1+1") == "'=1+1"
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("-2") == "'-2"
    assert spreadsheet_safe("fine") == "fine"
    assert spreadsheet_safe(-2) == -2  # numbers are numbers
    assert csv_safe_rows([{"comment": "+cmd"}]) == [{"comment": "'+cmd"}]


def test_the_workbook_opens_and_holds_the_rows(reports, call):
    rows = outcome_rows(outcome_reports(call))
    sheet = load_workbook(io.BytesIO(outcome_workbook(rows))).active
    lines = list(sheet.iter_rows(values_only=True))
    assert list(lines[0]) == EXPORT_COLUMNS
    assert len(lines) == 3
    by_allocation = {line[EXPORT_COLUMNS.index("allocation")]: line for line in lines[1:]}
    first = by_allocation[rows[0]["allocation"]]
    # Stored as text, exactly as typed: no formula.
    assert first[EXPORT_COLUMNS.index("comment")] == '=HYPERLINK("http://evil")'
    assert sheet.cell(row=2, column=EXPORT_COLUMNS.index("comment") + 1).data_type == "s"
    investments = sorted(line[EXPORT_COLUMNS.index("follow_on_investment_krw")] for line in lines[1:])
    assert investments == [0, 2_000_000_000]


def test_the_workbook_drops_control_characters_it_cannot_hold(allocation, owner):
    _report(allocation, owner, comment="bell\x07 here")
    sheet = load_workbook(io.BytesIO(outcome_workbook(outcome_rows(outcome_reports())))).active
    assert sheet.cell(row=2, column=EXPORT_COLUMNS.index("comment") + 1).value == "bell here"
