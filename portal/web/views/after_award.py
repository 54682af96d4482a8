"""What follows an award, in the portal: the mid-term report and staff's evaluation of a stage, outcome
reports, staff's misuse reports, staff's reclaim list and decisions, and staff's outcome export."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.calls.selectors import calls_visible_to
from portal.csv_download import csv_download, xlsx_download
from portal.errors import ServiceError
from portal.web.access import staff_required, visible_or_404
from portal.web.after_award_context import outcome_stages_open
from portal.web.forms.after_award import (
    MisuseReportForm,
    OutcomeForm,
    ReclaimDecisionForm,
    StageEvaluationForm,
    StageReportForm,
)
from portal.web.views.allocations import render_detail
from quotas.misuse import misuse_report_file
from quotas.models import ReclaimState
from quotas.outcome_export import (
    EXPORT_COLUMNS,
    csv_safe_rows,
    outcome_reports,
    outcome_rows,
    outcome_workbook,
)
from quotas.outcomes import outcome_report_submit
from quotas.reclaims import reclaim_decide, reclaims_for_staff
from quotas.selectors import allocations_visible_to
from quotas.stages import stage_evaluate, stage_report_submit


def _back(allocation):
    return redirect("web:allocation_detail", public_id=allocation.public_id)


@login_required
@require_POST
def stage_report(request, public_id):
    allocation = visible_or_404(allocations_visible_to(request.user), public_id)
    form = StageReportForm(request.POST)
    if form.is_valid():
        try:
            stage = stage_report_submit(allocation=allocation, user=request.user, **form.cleaned_data)
        except ServiceError as error:
            if error.status_code == 403:
                raise PermissionDenied from error
            form.add_service_error(error)
        else:
            messages.success(
                request,
                _("The report for stage %(number)s is submitted for evaluation.") % {"number": stage.number},
            )
            return _back(allocation)
    return render_detail(request, allocation, stage_report_form=form)


@login_required
@require_POST
def stage_evaluation(request, public_id):
    if not request.user.is_staff:
        raise PermissionDenied
    allocation = visible_or_404(allocations_visible_to(request.user), public_id)
    form = StageEvaluationForm(request.POST)
    if form.is_valid():
        try:
            stage = stage_evaluate(allocation=allocation, staff=request.user, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                _("Stage %(number)s is now: %(state)s.")
                % {"number": stage.number, "state": stage.get_state_display()},
            )
            return _back(allocation)
    return render_detail(request, allocation, stage_evaluation_form=form)


@login_required
@require_POST
def outcome_report_create(request, public_id):
    allocation = visible_or_404(allocations_visible_to(request.user), public_id)
    form = OutcomeForm(request.POST, stage_numbers=outcome_stages_open(allocation))
    if form.is_valid():
        try:
            outcome_report_submit(
                allocation=allocation,
                user=request.user,
                stage=form.cleaned_data["stage"],
                values=form.values(),
            )
        except ServiceError as error:
            if error.status_code == 403:
                raise PermissionDenied from error
            form.add_service_error(error)
        else:
            messages.success(request, _("Thank you: the outcomes are reported."))
            return _back(allocation)
    return render_detail(request, allocation, outcome_form=form)


@login_required
@require_POST
def misuse_report_create(request, public_id):
    if not request.user.is_staff:
        raise PermissionDenied
    allocation = visible_or_404(allocations_visible_to(request.user), public_id)
    form = MisuseReportForm(request.POST)
    if form.is_valid():
        try:
            misuse_report_file(allocation=allocation, staff=request.user, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The misuse report is filed; an active allocation is now suspended."))
            return _back(allocation)
    return render_detail(request, allocation, misuse_form=form)


@staff_required
def staff_reclaim_list(request, *, bound=None):
    bound = bound or {}
    context = {
        "proposed": [
            (reclaim, bound.get(reclaim.pk) or ReclaimDecisionForm(auto_id=f"reclaim-{reclaim.public_id}-%s"))
            for reclaim in reclaims_for_staff(ReclaimState.PROPOSED)
        ],
        "decided": reclaims_for_staff().exclude(state=ReclaimState.PROPOSED)[:50],
    }
    return render(request, "web/staff/reclaims.html", context)


@staff_required
@require_POST
def staff_reclaim_decide(request, public_id):
    reclaim = visible_or_404(reclaims_for_staff(), public_id)
    form = ReclaimDecisionForm(request.POST, auto_id=f"reclaim-{reclaim.public_id}-%s")
    if form.is_valid():
        try:
            reclaim = reclaim_decide(reclaim=reclaim, staff=request.user, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                _("Reclaim of %(hours)s %(gpu_type)s GPU-hours: %(state)s.")
                % {
                    "hours": f"{reclaim.gpu_hours:,}",
                    "gpu_type": reclaim.gpu_type,
                    "state": reclaim.get_state_display(),
                },
            )
            return redirect("web:staff_reclaim_list")
    return staff_reclaim_list(request, bound={reclaim.pk: form})


def _outcome_rows(request, public_id):
    call = visible_or_404(calls_visible_to(request.user), public_id)
    return call, outcome_rows(outcome_reports(call))


@staff_required
def staff_call_outcomes_csv(request, public_id):
    call, rows = _outcome_rows(request, public_id)
    return csv_download(csv_safe_rows(rows), EXPORT_COLUMNS, f"outcomes-{call.public_id}.csv")


@staff_required
def staff_call_outcomes_xlsx(request, public_id):
    call, rows = _outcome_rows(request, public_id)
    return xlsx_download(outcome_workbook(rows), f"outcomes-{call.public_id}.xlsx")
