"""The portal's pages for what follows an award: stages, checks, outcomes, misuse, reclaims, exports."""

import io
from datetime import date, timedelta

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from quotas.models import (
    AllocationBudget,
    AllocationStatus,
    CallPool,
    MisuseReport,
    OutcomeReport,
    Reclaim,
    StageState,
    UsageCheck,
)
from tests.stage_builders import staged
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


def _url(name, obj):
    return reverse(f"web:{name}", kwargs={"public_id": obj.public_id})


@pytest.fixture
def stages(allocation):
    """1,500 A100 GPU-hours over two one-month stages from a month ago: stage 2 starts today."""
    type(allocation).objects.filter(pk=allocation.pk).update(starts_on=date.today() - timedelta(days=31))
    allocation.refresh_from_db()
    first, second = staged(allocation, [1, 1])
    second.starts_on = date.today()
    second.save()
    return first, second


def test_the_owner_submits_the_mid_term_report_from_the_page(client, owner, allocation, stages):
    page = login(client, owner).get(_url("allocation_detail", allocation))
    assert shows(page, "Mid-term report for stage 2")
    response = client.post(_url("stage_report", allocation), {"number": 2, "report": "Halfway there."})
    assert response.status_code == 302
    assert allocation.stages.get(number=2).state == StageState.REPORTED


def test_an_empty_report_is_shown_again_with_its_error(client, owner, allocation, stages):
    response = login(client, owner).post(_url("stage_report", allocation), {"number": 2, "report": ""})
    assert response.status_code == 200 and shows(response, "This field is required.")


def test_a_member_sees_the_stages_but_may_not_report(client, teammate, allocation, stages):
    page = login(client, teammate).get(_url("allocation_detail", allocation))
    assert shows(page, "Stages") and not shows(page, "Mid-term report for stage 2")
    refused = client.post(_url("stage_report", allocation), {"number": 2, "report": "Me too."})
    assert refused.status_code == 403
    assert allocation.stages.get(number=2).state == StageState.PENDING


def test_staff_evaluate_a_reported_stage(client, owner, staff, allocation, stages, call):
    login(client, owner).post(_url("stage_report", allocation), {"number": 2, "report": "Halfway there."})
    page = login(client, staff).get(_url("allocation_detail", allocation))
    assert shows(page, "Evaluate stage 2") and shows(page, "Halfway there.")
    response = client.post(
        _url("stage_evaluation", allocation), {"number": 2, "decision": "return", "evaluation": "Too slow."}
    )
    assert response.status_code == 302
    assert CallPool.objects.get(call=call, gpu_type="A100").awarded_gpu_hours == 750
    conflict = client.post(
        _url("stage_evaluation", allocation), {"number": 2, "decision": "return", "evaluation": "Again."}
    )
    assert conflict.status_code == 200 and shows(
        conflict, "Stage 2 has no mid-term report awaiting evaluation."
    )


def test_only_staff_post_evaluations_and_misuse_reports(client, owner, allocation, stages):
    login(client, owner)
    assert client.post(_url("stage_evaluation", allocation), {"number": 2}).status_code == 403
    assert client.post(_url("misuse_report_create", allocation), {"kind": "other"}).status_code == 403


def test_the_page_lists_usage_checks(client, teammate, allocation):
    UsageCheck.objects.create(
        allocation=allocation,
        month=date(2026, 10, 1),
        planned_gpu_hours=400,
        used_gpu_hours=50,
        action="warned",
    )
    page = login(client, teammate).get(_url("allocation_detail", allocation))
    assert shows(page, "Monthly checks against the plan") and shows(page, "2026-10") and shows(page, "Warned")


def test_the_owner_reports_outcomes_from_the_page(client, owner, allocation):
    type(allocation).objects.filter(pk=allocation.pk).update(ends_on=date.today() + timedelta(days=5))
    data = {"stage": "", "publications": "2", "patents": "0", "products": "1", "models_released": "0",
            "datasets_released": "0", "follow_on_investment_krw": "300000000", "hires": "1", "satisfaction": "5",
            "would_apply_again": "yes", "comment": "Thanks"}  # fmt: skip
    response = login(client, owner).post(_url("outcome_report_create", allocation), data)
    assert response.status_code == 302
    report = OutcomeReport.objects.get(allocation=allocation)
    assert (report.stage, report.would_apply_again, report.follow_on_investment_krw) == (
        None,
        True,
        300_000_000,
    )
    again = client.post(_url("outcome_report_create", allocation), data)
    assert again.status_code == 200 and shows(again, "These outcomes have already been reported.")
    assert OutcomeReport.objects.count() == 1


def test_an_early_outcome_report_is_refused_on_the_page(client, owner, allocation):
    data = {"stage": "", "satisfaction": "3", "would_apply_again": "no"}
    response = login(client, owner).post(_url("outcome_report_create", allocation), data)
    assert response.status_code == 200 and shows(response, "This outcome report opens on")


def test_staff_file_a_misuse_report_which_suspends(client, staff, allocation):
    page = login(client, staff).get(_url("allocation_detail", allocation))
    assert shows(page, "Report misuse")
    response = client.post(
        _url("misuse_report_create", allocation), {"kind": "off_purpose", "description": "Mining coins."}
    )
    assert response.status_code == 302
    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.SUSPENDED and MisuseReport.objects.count() == 1
    empty = client.post(_url("misuse_report_create", allocation), {"kind": "other", "description": ""})
    assert empty.status_code == 200 and MisuseReport.objects.count() == 1


def test_staff_accept_and_dismiss_reclaims(client, staff, allocation, call):
    taken = Reclaim.objects.create(allocation=allocation, gpu_type="A100", gpu_hours=500)
    kept = Reclaim.objects.create(allocation=allocation, gpu_type="A100", gpu_hours=100)
    page = login(client, staff).get(reverse("web:staff_reclaim_list"))
    assert shows(page, "Approved LLM project") and shows(page, "Accept: return the GPU-hours")
    assert client.post(_url("staff_reclaim_decide", taken), {"decision": "accept"}).status_code == 302
    assert AllocationBudget.objects.get(allocation=allocation, gpu_type="A100").awarded_gpu_hours == 1000
    assert CallPool.objects.get(call=call, gpu_type="A100").awarded_gpu_hours == 1000
    no_reason = client.post(_url("staff_reclaim_decide", kept), {"decision": "dismiss", "reason": ""})
    assert no_reason.status_code == 200 and shows(no_reason, "Say why the GPU-hours stay with the award.")
    client.post(_url("staff_reclaim_decide", kept), {"decision": "dismiss", "reason": "Maintenance."})
    assert list(Reclaim.objects.order_by("pk").values_list("state", flat=True)) == ["accepted", "dismissed"]


def test_staff_download_a_calls_outcomes(client, staff, owner, allocation, call):
    OutcomeReport.objects.create(
        allocation=allocation, submitted_by=owner, satisfaction=4, would_apply_again=True, comment="@risky"
    )
    login(client, staff)
    assert shows(client.get(_url("call_detail", call)), "Outcome reports (Excel)")
    as_csv = client.get(_url("staff_call_outcomes_csv", call))
    assert as_csv.status_code == 200 and "'@risky" in as_csv.content.decode()
    as_xlsx = client.get(_url("staff_call_outcomes_xlsx", call))
    rows = list(load_workbook(io.BytesIO(as_xlsx.content)).active.iter_rows(values_only=True))
    assert len(rows) == 2 and "@risky" in rows[1]


def test_the_stages_read_in_korean(client, owner, allocation, stages):
    page = login(client, owner).get(_url("allocation_detail", allocation), HTTP_ACCEPT_LANGUAGE="ko")
    text = page.content.decode()
    assert "2단계 중간 보고서" in text and "보고서 제출" in text
