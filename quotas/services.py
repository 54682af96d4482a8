"""Awarding GPU-hours from a call's pool into allocations, and changing an allocation's status.

Lock order (docs/concurrency.md): Application → CallPool rows by gpu_type → Allocation →
AllocationBudget rows by gpu_type. Every writer takes them in this order, so awards never deadlock
and two staff approving at once can never together exceed a pool.
"""

from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.applications.models import Application, ApplicationKind
from portal.applications.selectors import current_round_reviews
from portal.applications.services import application_send_back, change_request_draft, decision_check
from portal.applications.states import Action
from portal.applications.transitions import apply_transition, ensure_transition, lock_application
from portal.audit.services import audit_record
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.services import notify
from portal.organisations.selectors import owners_and_managers
from portal.state_names import state_name
from quotas.agreement_open import agreement_open
from quotas.models import (
    Allocation,
    AllocationBudget,
    AllocationStage,
    AllocationStatus,
    CallPool,
    StageState,
)
from quotas.rounds.stages import split_hours, stage_dates


def _awarded_amounts(application: Application, awarded_gpu_hours: dict | None) -> dict[str, int]:
    requested = {line.gpu_type: line.gpu_hours for line in application.gpu_requests.all()}
    if awarded_gpu_hours is None:
        return requested
    problems = []
    if not isinstance(awarded_gpu_hours, dict):
        raise InvalidInput(
            _("Invalid award."), fields={"awarded_gpu_hours": [_("Give GPU-hours per GPU type.")]}
        )
    for gpu_type, hours in awarded_gpu_hours.items():
        if gpu_type not in requested:
            problems.append(_("%(gpu_type)s: not requested by this application.") % {"gpu_type": gpu_type})
        elif not isinstance(hours, int) or isinstance(hours, bool) or hours < 0:
            problems.append(
                _("%(gpu_type)s: a whole, non-negative number of GPU-hours is required.")
                % {"gpu_type": gpu_type}
            )
        elif hours > requested[gpu_type]:
            problems.append(
                _("%(gpu_type)s: at most the %(requested)s GPU-hours requested.")
                % {"gpu_type": gpu_type, "requested": f"{requested[gpu_type]:,}"}
            )
    if problems:
        raise InvalidInput(_("Invalid award."), fields={"awarded_gpu_hours": problems})
    amounts = {gpu_type: awarded_gpu_hours.get(gpu_type, 0) for gpu_type in requested}
    return amounts


def allocation_award(
    *,
    application: Application,
    staff,
    reason: str,
    awarded_gpu_hours: dict | None = None,
    agreement_deadline=None,
    stage_months: list[int] | None = None,
) -> Application:
    """Approve ``application`` and move GPU-hours from the call's pools into an allocation.

    From a round (quotas/round.py): with ``agreement_deadline`` the allocation awaits its organisation
    owner's acceptance of the call's agreement until then; with ``stage_months`` of two or more stages
    only the first stage's GPU-hours go into the budget, the rest wait for their evaluation (the pool
    holds the whole award either way)."""
    with transaction.atomic():
        application = lock_application(application)
        ensure_transition(application, Action.APPROVE)
        if not application.organisation.verified:
            raise Conflict(
                _("%(organisation)s is not verified yet; verify its registration before awarding.")
                % {"organisation": application.organisation.name},
                code="organisation_unverified",
            )
        if not current_round_reviews(application).filter(submitted_at__isnull=False).exists():
            raise Conflict(_("At least one submitted review is needed before approval."), code="no_reviews")
        amounts = _awarded_amounts(application, awarded_gpu_hours)
        is_change = application.kind == ApplicationKind.CHANGE
        if not is_change and not any(amounts.values()):
            raise InvalidInput(
                _("Nothing to award."),
                fields={"awarded_gpu_hours": [_("Award GPU-hours for at least one GPU type, or reject.")]},
            )
        pools = {
            pool.gpu_type: pool
            for pool in CallPool.objects.select_for_update()
            .filter(call_id=application.call_id, gpu_type__in=[t for t, h in amounts.items() if h > 0])
            .order_by("gpu_type")
        }
        shortfalls = [
            _("%(gpu_type)s: %(asked)s GPU-hours asked, %(left)s left in the call's pool.")
            % {
                "gpu_type": gpu_type,
                "asked": f"{hours:,}",
                "left": f"{pools[gpu_type].available_gpu_hours:,}",
            }
            if gpu_type in pools
            else _("%(gpu_type)s: the call no longer offers this GPU type.") % {"gpu_type": gpu_type}
            for gpu_type, hours in amounts.items()
            if hours > 0 and (gpu_type not in pools or pools[gpu_type].available_gpu_hours < hours)
        ]
        if shortfalls:
            raise Conflict(
                _("The call's pool cannot cover this award."),
                fields={"awarded_gpu_hours": shortfalls},
                code="pool_exhausted",
            )
        for gpu_type, pool in pools.items():
            pool.awarded_gpu_hours += amounts[gpu_type]
            pool.save(update_fields=["awarded_gpu_hours"])

        if is_change:
            allocation = _apply_change(application, amounts, staff, reason)
        else:
            allocation = Allocation.objects.create(
                organisation=application.organisation,
                call=application.call,
                application=application,
                project_title=application.project_title,
                starts_on=application.requested_start,
                ends_on=application.requested_end,
                max_concurrent_gpus=application.max_concurrent_gpus,
                status=AllocationStatus.AWAITING_AGREEMENT if agreement_deadline else AllocationStatus.ACTIVE,
            )
            released = stages_open(allocation, amounts, stage_months or [])
            AllocationBudget.objects.bulk_create(
                AllocationBudget(
                    allocation=allocation, gpu_type=gpu_type, awarded_gpu_hours=released[gpu_type]
                )
                for gpu_type, hours in sorted(amounts.items())
                if hours > 0
            )
            if agreement_deadline:
                agreement_open(allocation, agreement_deadline)
            audit_record(
                actor=staff,
                target=allocation,
                action="allocation_created",
                to_state=allocation.status,
                reason=reason,
                data={
                    "awarded_gpu_hours": amounts,
                    **({"stage_months": stage_months} if stage_months else {}),
                },
            )
        for line in application.gpu_requests.all():
            line.awarded_gpu_hours = amounts.get(line.gpu_type, 0)
            line.save(update_fields=["awarded_gpu_hours"])
        application.decided_at = timezone.now()
        application.decided_by = staff
        application.decision_reason = reason
        apply_transition(
            application, Action.APPROVE, actor=staff, reason=reason, data={"awarded_gpu_hours": amounts}
        )
        award_parts = [
            format_lazy(gettext_lazy("{hours} {gpu_type} GPU-hours"), hours=f"{hours:,}", gpu_type=gpu_type)
            for gpu_type, hours in sorted(amounts.items())
            if hours
        ]
        award_text = (
            format_lazy("{}" + ", {}" * (len(award_parts) - 1), *award_parts)
            if award_parts
            else gettext_lazy("no additional GPU-hours")
        )
        body = format_lazy(
            gettext_lazy("'{title}' was approved: {award}, {start} – {end}.\n\nReason: {reason}"),
            title=application.project_title,
            award=award_text,
            start=allocation.starts_on,
            end=allocation.ends_on,
            reason=reason,
        )
        if agreement_deadline and not is_change:
            body = format_lazy(
                "{}\n\n{}",
                body,
                format_lazy(
                    gettext_lazy(
                        "The award becomes active once your organisation's owner accepts the agreement, "
                        "by {deadline}: {link}"
                    ),
                    deadline=timezone.localtime(agreement_deadline).strftime("%Y-%m-%d %H:%M"),
                    link=f"/allocations/{allocation.public_id}/agreement/",
                ),
            )
        notify(
            recipients=[application.created_by, *owners_and_managers(application.organisation)],
            subject=format_lazy(gettext_lazy("Approved: {title}"), title=application.project_title),
            body=body,
        )
    return application


def stages_open(allocation: Allocation, amounts: dict[str, int], months: list[int]) -> dict[str, int]:
    """The stages of a staged award (two or more), the first released; GPU-hours released per type."""
    if len(months) < 2:
        return dict(amounts)
    if sum(1 for hours in amounts.values() if hours) > 1:
        raise ValueError("a staged award is of one GPU type (a track application asks for one)")
    dates = stage_dates(allocation.starts_on, allocation.ends_on, months)
    released = {}
    for gpu_type, hours in amounts.items():
        parts = split_hours(hours, months)
        released[gpu_type] = parts[0]
        if hours:
            AllocationStage.objects.bulk_create(
                AllocationStage(
                    allocation=allocation,
                    number=number,
                    starts_on=first,
                    ends_on=last,
                    gpu_type=gpu_type,
                    gpu_hours=part,
                    state=StageState.RELEASED if number == 1 else StageState.PENDING,
                )
                for number, (part, (first, last)) in enumerate(zip(parts, dates, strict=True), start=1)
            )
    return released


def _apply_change(application: Application, amounts: dict[str, int], staff, reason: str) -> Allocation:
    allocation = Allocation.objects.select_for_update().get(pk=application.allocation_id)
    if allocation.status != AllocationStatus.ACTIVE:
        raise Conflict(
            _("The allocation is %(status)s; it cannot be changed.")
            % {"status": state_name(allocation.status)}
        )
    budgets = {
        budget.gpu_type: budget
        for budget in AllocationBudget.objects.select_for_update()
        .filter(allocation=allocation)
        .order_by("gpu_type")
    }
    for gpu_type, hours in sorted(amounts.items()):
        if hours <= 0:
            continue
        budget = budgets.get(gpu_type) or AllocationBudget(
            allocation=allocation, gpu_type=gpu_type, awarded_gpu_hours=0
        )
        budget.awarded_gpu_hours += hours
        budget.save()
    before = {"ends_on": str(allocation.ends_on), "max_concurrent_gpus": allocation.max_concurrent_gpus}
    allocation.ends_on = max(allocation.ends_on, application.requested_end)
    allocation.max_concurrent_gpus = application.max_concurrent_gpus
    allocation.save(update_fields=["ends_on", "max_concurrent_gpus"])
    audit_record(
        actor=staff,
        target=allocation,
        action="allocation_changed",
        reason=reason,  # application.decision_reason still holds the previous decision's reason here
        data={
            "application": str(application.public_id),
            "added_gpu_hours": amounts,
            "before": before,
            "after": {
                "ends_on": str(allocation.ends_on),
                "max_concurrent_gpus": allocation.max_concurrent_gpus,
            },
        },
    )
    return allocation


STATUS_CHANGES = {
    AllocationStatus.ACTIVE: {AllocationStatus.SUSPENDED},
    AllocationStatus.SUSPENDED: {AllocationStatus.ACTIVE},
    AllocationStatus.EXPIRED: set(),
    AllocationStatus.AWAITING_AGREEMENT: set(),  # becomes active when accepted (quotas.agreements)
    AllocationStatus.LAPSED: set(),
}


def allocation_set_status(*, allocation: Allocation, staff, status: str, reason: str) -> Allocation:
    """Suspend or reactivate an allocation (staff). Expiry happens by date, not by hand."""
    if not staff.is_staff:
        raise NotAllowed(_("Only staff change an allocation's status."))
    errors = {}
    if status not in (AllocationStatus.ACTIVE, AllocationStatus.SUSPENDED):
        errors["status"] = [_("Choose active or suspended.")]
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = [_("Give a reason; the organisation sees it.")]
    if errors:
        raise InvalidInput(_("The status could not be changed."), fields=errors)
    with transaction.atomic():
        allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
        if status not in STATUS_CHANGES[AllocationStatus(allocation.status)]:
            raise Conflict(
                _("An allocation that is %(status)s cannot become %(target)s.")
                % {"status": state_name(allocation.status), "target": state_name(status)},
                code="illegal_transition",
            )
        if status == AllocationStatus.ACTIVE and allocation.ends_on < timezone.localdate():
            raise Conflict(
                _("The allocation's period has ended; approve an extension instead."), code="expired"
            )
        source = allocation.status
        allocation.status = status
        allocation.save(update_fields=["status"])
        audit_record(
            actor=staff,
            target=allocation,
            action=f"allocation_{status}",
            from_state=source,
            to_state=status,
            reason=reason,
        )
        notify(
            recipients=owners_and_managers(allocation.organisation),
            subject=format_lazy(
                gettext_lazy("Allocation suspended: {title}")
                if status == AllocationStatus.SUSPENDED
                else gettext_lazy("Allocation active: {title}"),
                title=allocation.project_title,
            ),
            body=format_lazy(
                gettext_lazy("Programme staff set '{title}' to {status}.\n\nReason: {reason}"),
                title=allocation.project_title,
                status=AllocationStatus(status).label,
                reason=reason,
            ),
        )
    return allocation


def allocations_expire_due(*, today: date | None = None) -> int:
    """Mark allocations whose period has ended as expired. Idempotent."""
    today = today or timezone.localdate()
    expired = 0
    for allocation_id in (
        Allocation.objects.filter(ends_on__lt=today)
        .exclude(status__in=[AllocationStatus.EXPIRED, AllocationStatus.LAPSED])
        .values_list("pk", flat=True)
    ):
        with transaction.atomic():
            # stages never released go back to the pool: lock the pools first (the lock order)
            unreleased = AllocationStage.objects.filter(
                allocation_id=allocation_id, state__in=[StageState.PENDING, StageState.REPORTED]
            )
            pools = {
                p.gpu_type: p
                for p in CallPool.objects.select_for_update()
                .filter(
                    call__allocations__pk=allocation_id,
                    gpu_type__in=list(unreleased.values_list("gpu_type", flat=True)),
                )
                .order_by("gpu_type")
            }
            allocation = Allocation.objects.select_for_update().get(pk=allocation_id)
            if (
                allocation.status in (AllocationStatus.EXPIRED, AllocationStatus.LAPSED)
                or allocation.ends_on >= today
            ):
                continue
            returned: dict[str, int] = {}
            for stage in unreleased.select_for_update():
                pool = pools[stage.gpu_type]
                pool.awarded_gpu_hours -= min(pool.awarded_gpu_hours, stage.gpu_hours)
                pool.save(update_fields=["awarded_gpu_hours"])
                stage.state = StageState.RETURNED
                stage.save(update_fields=["state"])
                returned[stage.gpu_type] = returned.get(stage.gpu_type, 0) + stage.gpu_hours
            source = allocation.status
            allocation.status = AllocationStatus.EXPIRED
            allocation.save(update_fields=["status"])
            audit_record(
                actor=None,
                target=allocation,
                action="allocation_expired",
                from_state=source,
                to_state=AllocationStatus.EXPIRED,
                reason=f"period ended {allocation.ends_on}",
                data={"unreleased_stages_returned_gpu_hours": returned} if returned else None,
            )
            expired += 1
    return expired


@transaction.atomic
def allocation_set_custom_images(*, allocation: Allocation, staff, allowed: bool) -> Allocation:
    """Let an allocation's jobs give their own image instead of a catalogue environment (staff), or stop it."""
    if not staff.is_staff:
        raise NotAllowed(_("Only staff decide whether an allocation may run its own images."))
    before = allocation.allow_custom_images
    Allocation.objects.filter(pk=allocation.pk).update(allow_custom_images=allowed)
    allocation.allow_custom_images = allowed
    if before != allowed:
        audit_record(
            actor=staff,
            target=allocation,
            action="allocation_custom_images_allowed" if allowed else "allocation_custom_images_refused",
            data={"allow_custom_images": [before, allowed]},
        )
    return allocation


def change_request_create(
    *,
    user,
    allocation: Allocation,
    requested_end: date,
    max_concurrent_gpus: int,
    justification: str,
    gpu_requests: dict[str, int],
) -> Application:
    """A draft change request (extension and/or more GPU-hours) for an active allocation."""
    if allocation.status != AllocationStatus.ACTIVE:
        raise Conflict(
            _("The allocation is %(status)s; only active allocations can be changed.")
            % {"status": state_name(allocation.status)}
        )
    return change_request_draft(
        user=user,
        allocation=allocation,
        requested_end=requested_end,
        max_concurrent_gpus=max_concurrent_gpus,
        justification=justification,
        gpu_requests=gpu_requests,
    )


def application_decide(
    *,
    application: Application,
    staff,
    decision: str,
    reason: str,
    awarded_gpu_hours: dict[str, int] | None = None,
) -> Application:
    """Staff decision. Approval awards GPU-hours from the call's pool (allocation_award); a rejection or
    a request for revision goes back to the applicant (portal.applications.services)."""
    decision_check(application=application, staff=staff, decision=decision, reason=reason)
    if decision == "approve":
        return allocation_award(
            application=application, staff=staff, reason=reason, awarded_gpu_hours=awarded_gpu_hours
        )
    return application_send_back(application=application, staff=staff, decision=decision, reason=reason)
