"""The API of what follows an award: stages, usage checks, reclaims, misuse reports, outcomes and their
export. Access by role for each write beyond the matrix's one row per route."""

import csv
import io

import pytest
from openpyxl import load_workbook

from quotas.models import AllocationBudget, AllocationStatus, CallPool, OutcomeReport, Reclaim, UsageCheck
from tests import builders

pytestmark = pytest.mark.django_db

OUTCOME = {"stage": 1, "publications": 3, "satisfaction": 5, "would_apply_again": True, "comment": "=1+2"}


def _url(world, tail):
    return f"/api/v1/allocations/{world['allocation'].public_id}/{tail}"


def test_the_owner_reports_and_staff_release_the_stage(client_for, api_world):
    owner, staff = api_world["users"]["owner"], api_world["users"]["staff"]
    stages = client_for(owner).get(_url(api_world, "stages")).json()["results"]
    assert [(s["number"], s["state"], s["gpu_hours"]) for s in stages] == [
        (1, "released", 666),
        (2, "pending", 666),
        (3, "reported", 668),
    ]
    reported = client_for(owner).post(
        _url(api_world, "stage-report"), {"number": 2, "report": "Model trained."}, format="json"
    )
    assert reported.status_code == 200 and reported.json()["state"] == "reported"
    released = client_for(staff).post(
        _url(api_world, "stage-evaluation"),
        {"number": 2, "decision": "release", "evaluation": "Good."},
        format="json",
    )
    assert released.status_code == 200 and released.json()["state"] == "released"
    budget = AllocationBudget.objects.get(allocation=api_world["allocation"], gpu_type="A100")
    assert budget.awarded_gpu_hours == 1332


def test_it_answers_refusals_in_the_envelope(client_for, api_world):
    owner = client_for(api_world["users"]["owner"])
    empty = owner.post(_url(api_world, "stage-report"), {"number": 2, "report": ""}, format="json")
    assert empty.status_code == 400 and "report" in empty.json()["extra"]["fields"]
    wrong = owner.post(_url(api_world, "stage-report"), {"number": 3, "report": "x"}, format="json")
    assert wrong.status_code == 409 and wrong.json()["code"] == "not_next_stage"
    typed = owner.post(_url(api_world, "stage-report"), {"number": "2", "report": "x"}, format="json")
    assert typed.status_code == 400 and typed.json()["extra"]["fields"] == {
        "number": ["Must be a whole number."]
    }


def test_staff_return_a_stage_and_the_pool_gets_it_back(client_for, api_world):
    pool = CallPool.objects.get(call=api_world["call"], gpu_type="A100")
    before = pool.awarded_gpu_hours
    response = client_for(api_world["users"]["staff"]).post(
        _url(api_world, "stage-evaluation"),
        {"number": 3, "decision": "return", "evaluation": "No."},
        format="json",
    )
    assert response.status_code == 200
    pool.refresh_from_db()
    assert pool.awarded_gpu_hours == before - 668


def test_usage_checks_are_listed_for_the_organisation(client_for, api_world):
    UsageCheck.objects.create(
        allocation=api_world["allocation"],
        month="2026-11-01",
        planned_gpu_hours=100.0,
        used_gpu_hours=10.0,
        action="warned",
    )
    rows = client_for(api_world["users"]["member"]).get(_url(api_world, "usage-checks")).json()["results"]
    assert [(r["month"], r["action"]) for r in rows] == [("2026-11-01", "warned")]


def test_staff_list_and_decide_reclaims(client_for, api_world):
    staff = client_for(api_world["users"]["staff"])
    listed = staff.get("/api/v1/reclaims?state=proposed").json()["results"]
    assert [r["id"] for r in listed] == [str(api_world["reclaim"].public_id)]
    assert staff.get("/api/v1/reclaims?state=maybe").status_code == 400
    url = f"/api/v1/reclaims/{api_world['reclaim'].public_id}/decision"
    accepted = staff.post(url, {"decision": "accept"}, format="json")
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    again = staff.post(url, {"decision": "dismiss", "reason": "x"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_decided"
    assert not staff.get("/api/v1/reclaims?state=proposed").json()["results"]


MISUSE = {"kind": "account_sharing", "description": "Shared the key with another company."}


@pytest.mark.parametrize(
    ("role", "expected"),
    [("owner", 403), ("manager", 403), ("member", 403), ("outsider", 403), ("reviewer", 403), ("staff", 201)],
)
def test_only_staff_file_misuse_reports(client_for, api_world, role, expected):
    response = client_for(api_world["users"][role]).post(
        _url(api_world, "misuse-reports"), MISUSE, format="json"
    )
    assert response.status_code == expected
    api_world["allocation"].refresh_from_db()
    suspended = api_world["allocation"].status == AllocationStatus.SUSPENDED
    assert suspended == (expected == 201)


def test_a_bad_misuse_report_is_a_field_error(client_for, api_world):
    response = client_for(api_world["users"]["staff"]).post(
        _url(api_world, "misuse-reports"), {"kind": "spam", "description": ""}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"kind", "description"}


@pytest.mark.parametrize(
    ("role", "expected"),
    [("owner", 201), ("manager", 201), ("member", 403), ("outsider", 404), ("reviewer", 404), ("staff", 403)],
)
def test_only_owners_and_managers_report_outcomes(client_for, api_world, role, expected):
    response = client_for(api_world["users"][role]).post(_url(api_world, "outcomes"), OUTCOME, format="json")
    assert response.status_code == expected, response.content
    assert OutcomeReport.objects.count() == (1 if expected == 201 else 0)


def test_outcome_refusals(client_for, api_world):
    owner = client_for(api_world["users"]["owner"])
    bad = owner.post(_url(api_world, "outcomes"), {**OUTCOME, "satisfaction": 9, "hires": -1}, format="json")
    assert bad.status_code == 400 and set(bad.json()["extra"]["fields"]) == {"satisfaction", "hires"}
    assert owner.post(_url(api_world, "outcomes"), OUTCOME, format="json").status_code == 201
    second = owner.post(_url(api_world, "outcomes"), OUTCOME, format="json")
    assert second.status_code == 409 and second.json()["code"] == "already_reported"
    listed = owner.get(_url(api_world, "outcomes")).json()["results"]
    assert [(r["stage"], r["publications"]) for r in listed] == [(1, 3)]


def test_staff_export_a_calls_outcomes_as_csv_and_xlsx(client_for, api_world):
    owner = client_for(api_world["users"]["owner"])
    assert owner.post(_url(api_world, "outcomes"), OUTCOME, format="json").status_code == 201
    staff = client_for(api_world["users"]["staff"])
    base = f"/api/v1/calls/{api_world['call'].public_id}/outcomes"

    as_csv = staff.get(f"{base}?export=csv")
    assert as_csv["Content-Type"].startswith("text/csv") and as_csv["Cache-Control"] == "private, no-store"
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert [(r["stage"], r["publications"], r["comment"]) for r in rows] == [("1", "3", "'=1+2")]

    as_xlsx = staff.get(f"{base}?export=xlsx")
    assert (
        as_xlsx["Content-Disposition"]
        == f'attachment; filename="outcomes-{api_world["call"].public_id}.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    lines = list(sheet.iter_rows(values_only=True))
    assert len(lines) == 2 and "=1+2" in lines[1]

    assert staff.get(f"{base}?export=pdf").status_code == 400
    assert staff.get(base).json()["count"] == 1
    assert staff.get("/api/v1/outcomes?export=csv").status_code == 200


def test_another_calls_outcomes_stay_out_of_a_calls_export(
    client_for, api_world, outsider, other_organisation
):
    staff_user = api_world["users"]["staff"]
    other_call = builders.make_call(staff_user, title="Elsewhere")
    elsewhere = builders.approved(
        outsider, other_organisation, other_call, staff_user, api_world["reviewer2"]
    )
    OutcomeReport.objects.create(
        allocation=elsewhere, submitted_by=outsider, satisfaction=3, would_apply_again=False
    )
    staff = client_for(staff_user)
    assert staff.get(f"/api/v1/calls/{api_world['call'].public_id}/outcomes").json()["count"] == 0
    assert staff.get("/api/v1/outcomes").json()["count"] == 1
    assert Reclaim.objects.count() == 1
