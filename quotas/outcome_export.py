"""Outcome reports as rows for staff's export, and those rows as an Excel workbook (the CSV form is
portal.csv_download's). One row per report; the columns are ``EXPORT_COLUMNS``.

Text that people typed (titles, names, comments) could start with ``=``, ``+``, ``-`` or ``@`` and run as
a formula when the file is opened in a spreadsheet: in the CSV such text gets a leading apostrophe
(``spreadsheet_safe``); in the workbook every text cell is stored as text, never as a formula.
"""

import io
from datetime import UTC, datetime

from django.db.models import QuerySet
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from portal.calls.models import Call
from quotas.models import OutcomeReport
from quotas.outcome_fields import OUTCOME_FIELD_NAMES

EXPORT_COLUMNS = [
    "call",
    "call_title",
    "organisation",
    "allocation",
    "project_title",
    "stage",
    *OUTCOME_FIELD_NAMES,
    "submitted_by",
    "submitted_at",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """``value``, with a leading apostrophe if it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def outcome_reports(call: Call | None = None) -> QuerySet[OutcomeReport]:
    """Every outcome report, or those of ``call``'s awards; by call, award and stage (final last)."""
    reports = OutcomeReport.objects.select_related(
        "allocation", "allocation__call", "allocation__organisation", "submitted_by"
    )
    if call is not None:
        reports = reports.filter(allocation__call=call)
    return reports.order_by("allocation__call__opens_at", "allocation__created_at", "allocation_id", "stage")


def outcome_rows(reports) -> list[dict]:
    """One plain row per report: text, whole numbers, booleans and an ISO time in UTC."""
    rows = []
    for report in reports:
        allocation = report.allocation
        row = {
            "call": str(allocation.call.public_id),
            "call_title": allocation.call.title,
            "organisation": allocation.organisation.name,
            "allocation": str(allocation.public_id),
            "project_title": allocation.project_title,
            "stage": "final" if report.stage is None else report.stage,
            **{name: getattr(report, name) for name in OUTCOME_FIELD_NAMES},
            "submitted_by": report.submitted_by.email,
            "submitted_at": _utc(report.submitted_at),
        }
        rows.append(row)
    return rows


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def csv_safe_rows(rows: list[dict]) -> list[dict]:
    return [{key: spreadsheet_safe(value) for key, value in row.items()} for row in rows]


def outcome_workbook(rows: list[dict]) -> bytes:
    """The rows as an .xlsx file: a header line of ``EXPORT_COLUMNS``, then one line per report."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "outcomes"
    sheet.append(EXPORT_COLUMNS)
    for index, row in enumerate(rows, start=2):
        for column, name in enumerate(EXPORT_COLUMNS, start=1):
            value = row.get(name)
            if isinstance(value, str):  # control characters have no place in the file's XML
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cell = sheet.cell(row=index, column=column, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text: openpyxl would take "=…" for a formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
