"""A staged award's later stages: the organisation's mid-term report, staff's release or return.

A round's award from a track with several stages (docs/programme.md) starts with stage 1 released and
the others pending; their GPU-hours stay reserved in the call's pool. Each later stage is unlocked in
turn: its owner or manager reports on the work so far (from ``REPORT_OPENS_DAYS`` before the stage
starts), then staff release the stage (its GPU-hours join the budget) or return it (it and every later
stage go back to the call's pool, which is then offered down the waitlist).

Lock order (docs/concurrency.md): CallPool → Allocation → AllocationBudget → the stage rows.
"""

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.audit.services import audit_record
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.services import notify
from portal.organisations.selectors import can_manage, owners_and_managers
from quotas.models import (
    Allocation,
    AllocationBudget,
    AllocationStage,
    AllocationStatus,
    CallPool,
    StageState,
)
from quotas.pool_returns import offer_after_commit, pool_give_back

REPORT_OPENS_DAYS = 30
REPORT_MAX_LENGTH = AllocationStage._meta.get_field("report").max_length
EVALUATION_MAX_LENGTH = AllocationStage._meta.get_field("evaluation").max_length
OPEN_STATES = (StageState.PENDING, StageState.REPORTED)


class StageDecision:
    RELEASE = "release"
    RETURN = "return"
    CHOICES = (RELEASE, RETURN)


def stage_report_opens_on(stage: AllocationStage) -> date:
    return stage.starts_on - timedelta(days=REPORT_OPENS_DAYS)


def stage_next_to_report(allocation: Allocation) -> AllocationStage | None:
    """The first pending stage if every stage before it is released; else None."""
    for stage in allocation.stages.order_by("number"):
        if stage.state == StageState.RELEASED:
            continue
        return stage if stage.state == StageState.PENDING else None
    return None


def _text_errors(name: str, value, max_length: int, empty_message: str) -> dict[str, list[str]]:
    if not isinstance(value, str) or not value.strip():
        return {name: [empty_message]}
    if len(value) > max_length:
        return {name: [_("At most %(most)s characters.") % {"most": f"{max_length:,}"}]}
    return {}


def stage_report_submit(
    *, allocation: Allocation, user, number: int, report: str, today: date | None = None
) -> AllocationStage:
    """The mid-term report that asks for stage ``number`` (the organisation's owner or a manager)."""
    if not can_manage(user, allocation.organisation):
        raise NotAllowed(_("Only the organisation's owner or a manager reports on its awards."))
    errors = _text_errors("report", report, REPORT_MAX_LENGTH, _("Write the mid-term report."))
    if errors:
        raise InvalidInput(_("The report could not be submitted."), fields=errors)
    today = today or timezone.localdate()
    with transaction.atomic():
        allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
        if allocation.status != AllocationStatus.ACTIVE:
            raise Conflict(
                _("Only an active allocation's stages are reported on."), code="allocation_not_active"
            )
        stage = stage_next_to_report(allocation)
        if stage is None:
            raise Conflict(
                _("No stage of this allocation awaits a mid-term report."), code="no_pending_stage"
            )
        if stage.number != number:
            raise Conflict(
                _("Stage %(next)s is the next to report on, not stage %(number)s.")
                % {"next": stage.number, "number": number},
                code="not_next_stage",
            )
        if today < stage_report_opens_on(stage):
            raise Conflict(
                _("The report for stage %(number)s opens on %(opens)s.")
                % {"number": stage.number, "opens": stage_report_opens_on(stage).isoformat()},
                code="too_early",
            )
        stage.report = report.strip()
        stage.reported_by = user
        stage.reported_at = timezone.now()
        stage.state = StageState.REPORTED
        stage.save(update_fields=["report", "reported_by", "reported_at", "state"])
        audit_record(
            actor=user,
            target=allocation,
            action="stage_reported",
            from_state=StageState.PENDING,
            to_state=StageState.REPORTED,
            data={"stage": stage.number},
        )
        notify(
            recipients=owners_and_managers(allocation.organisation),
            subject=format_lazy(
                gettext_lazy("Mid-term report received: {title}"), title=allocation.project_title
            ),
            body=format_lazy(
                gettext_lazy(
                    "The mid-term report for stage {number} of '{title}' was submitted. Programme staff "
                    "will now decide whether to release the stage's {hours} GPU-hours."
                ),
                number=stage.number,
                title=allocation.project_title,
                hours=f"{stage.gpu_hours:,}",
            ),
        )
    return stage


def stage_evaluate(
    *, allocation: Allocation, staff, number: int, decision: str, evaluation: str
) -> AllocationStage:
    """Staff release a reported stage into the budget, or return it and every later stage to the pool."""
    if not getattr(staff, "is_staff", False):
        raise NotAllowed(_("Only programme staff evaluate a stage."))
    errors = _text_errors(
        "evaluation", evaluation, EVALUATION_MAX_LENGTH, _("Give the evaluation; the organisation sees it.")
    )
    if decision not in StageDecision.CHOICES:
        errors["decision"] = [_("Choose release or return.")]
    if errors:
        raise InvalidInput(_("The evaluation could not be recorded."), fields=errors)
    stage = allocation.stages.filter(number=number).first()
    if stage is None:
        raise Conflict(_("This allocation has no stage %(number)s.") % {"number": number}, code="no_stage")
    later = allocation.stages.filter(number__gte=number, state__in=OPEN_STATES)
    gpu_types = sorted({stage.gpu_type, *later.values_list("gpu_type", flat=True)})
    with transaction.atomic():
        pools = {
            pool.gpu_type: pool
            for pool in CallPool.objects.select_for_update()
            .filter(call_id=allocation.call_id, gpu_type__in=gpu_types)
            .order_by("gpu_type")
        }
        allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
        budget = (
            AllocationBudget.objects.select_for_update()
            .filter(allocation=allocation, gpu_type=stage.gpu_type)
            .first()
        )
        stage = AllocationStage.objects.select_for_update().get(pk=stage.pk)
        if stage.state != StageState.REPORTED:
            raise Conflict(
                _("Stage %(number)s has no mid-term report awaiting evaluation.") % {"number": stage.number},
                code="not_reported",
            )
        if decision == StageDecision.RELEASE:
            if allocation.status != AllocationStatus.ACTIVE:
                raise Conflict(
                    _("Only an active allocation's stages are released."), code="allocation_not_active"
                )
            if budget is None:
                budget = AllocationBudget(allocation=allocation, gpu_type=stage.gpu_type, awarded_gpu_hours=0)
            budget.awarded_gpu_hours += stage.gpu_hours
            budget.save()
            closing = [stage]
            target = StageState.RELEASED
        else:
            closing = list(
                AllocationStage.objects.select_for_update()
                .filter(allocation=allocation, number__gte=stage.number, state__in=OPEN_STATES)
                .order_by("number")
            )
            target = StageState.RETURNED
            returned: dict[str, int] = {}
            for returning in closing:
                returned[returning.gpu_type] = returned.get(returning.gpu_type, 0) + returning.gpu_hours
            for gpu_type, hours in sorted(returned.items()):
                if gpu_type not in pools:
                    raise Conflict(
                        _("The call has no %(gpu_type)s pool to return GPU-hours to.")
                        % {"gpu_type": gpu_type},
                        code="no_pool",
                    )
                pool_give_back(pool=pools[gpu_type], gpu_hours=hours)
        now = timezone.now()
        for closed in closing:
            closed.state = target
            if closed.pk == stage.pk:
                closed.evaluation = evaluation.strip()
                closed.evaluated_by = staff
                closed.evaluated_at = now
            closed.save(update_fields=["state", "evaluation", "evaluated_by", "evaluated_at"])
        audit_record(
            actor=staff,
            target=allocation,
            action=f"stage_{target}",
            from_state=StageState.REPORTED,
            to_state=target,
            reason=evaluation.strip(),
            data={
                "stage": stage.number,
                "stages": [closed.number for closed in closing],
                "gpu_hours": {closed.number: closed.gpu_hours for closed in closing},
            },
        )
        notify(
            recipients=owners_and_managers(allocation.organisation),
            subject=format_lazy(
                gettext_lazy("Stage {number} released: {title}")
                if target == StageState.RELEASED
                else gettext_lazy("Stage {number} not released: {title}"),
                number=stage.number,
                title=allocation.project_title,
            ),
            body=format_lazy(
                gettext_lazy(
                    "Stage {number} of '{title}' adds {hours} GPU-hours.\n\nEvaluation: {evaluation}"
                )
                if target == StageState.RELEASED
                else gettext_lazy(
                    "Stage {number} of '{title}' and any later stages go back to the call's pool.\n\n"
                    "Evaluation: {evaluation}"
                ),
                number=stage.number,
                title=allocation.project_title,
                hours=f"{stage.gpu_hours:,}",
                evaluation=evaluation.strip(),
            ),
        )
        if target == StageState.RETURNED:
            offer_after_commit(call_id=allocation.call_id, actor=staff)
    stage.refresh_from_db()
    return stage
