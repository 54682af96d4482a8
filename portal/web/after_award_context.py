"""What an allocation's page shows of what follows the award: its stages with the mid-term report and
staff's evaluation forms, its monthly usage checks, its outcome reports and form, staff's misuse form."""

from portal.organisations.selectors import can_manage
from portal.web.forms.after_award import MisuseReportForm, OutcomeForm, StageEvaluationForm, StageReportForm
from quotas.models import Allocation, AllocationStatus, StageState
from quotas.outcomes import REPORTING_STATUSES, outcomes_of
from quotas.stages import stage_next_to_report, stage_report_opens_on


def outcome_stages_open(allocation: Allocation) -> list[int]:
    """Released stages whose outcome report is still to come."""
    reported = set(allocation.outcomes.values_list("stage", flat=True))
    return [
        number
        for number in allocation.stages.filter(state=StageState.RELEASED).values_list("number", flat=True)
        if number not in reported
    ]


def after_award_context(user, allocation: Allocation, forms: dict) -> dict:
    """``forms``: bound forms to show again with their errors, by context name."""
    stages = list(allocation.stages.order_by("number"))
    outcomes = list(outcomes_of(allocation))
    manages = can_manage(user, allocation.organisation)
    context = {
        "stages": stages,
        "usage_checks": allocation.usage_checks.order_by("-month")[:12],
        "outcomes": outcomes,
    }
    next_stage = stage_next_to_report(allocation) if stages else None
    # A bound form is always shown again, so that its errors (a refusal included) are seen.
    if "stage_report_form" in forms or (
        manages and next_stage is not None and allocation.status == AllocationStatus.ACTIVE
    ):
        context["next_stage"] = next_stage
        context["next_stage_opens_on"] = stage_report_opens_on(next_stage) if next_stage else None
        context["stage_report_form"] = forms.get("stage_report_form") or StageReportForm(
            initial={"number": next_stage.number}
        )
    reported = next((stage for stage in stages if stage.state == StageState.REPORTED), None)
    if "stage_evaluation_form" in forms or (user.is_staff and reported is not None):
        context["reported_stage"] = reported
        context["stage_evaluation_form"] = forms.get("stage_evaluation_form") or StageEvaluationForm(
            initial={"number": reported.number}
        )
    if manages and allocation.status in REPORTING_STATUSES:
        open_stages = outcome_stages_open(allocation)
        if "outcome_form" in forms or open_stages or not any(outcome.stage is None for outcome in outcomes):
            context["outcome_form"] = forms.get("outcome_form") or OutcomeForm(stage_numbers=open_stages)
    if user.is_staff:
        context["misuse_form"] = forms.get("misuse_form") or MisuseReportForm()
        context["misuse_reports"] = allocation.misuse_reports.select_related("reported_by")
    return context
