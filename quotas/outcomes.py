"""What an award produced, reported by its organisation's owner or a manager: once at the end of each
released stage (``stage``: its number) and once at the award's end (``stage``: None).

A report opens ``REPORT_OPENS_DAYS`` before the end it reports on and stays open after it (an expired
award still reports its outcomes). Example: a two-stage award of 1 March – 31 December 2026 whose stage 1
ends on 31 July takes stage 1's report from 1 July and its final report from 1 December.
"""

from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import audit_record
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.organisations.selectors import can_manage
from quotas.models import Allocation, AllocationStatus, OutcomeReport, StageState
from quotas.outcome_fields import OUTCOME_FIELDS, OutcomeKind

REPORT_OPENS_DAYS = 30
# Awaiting an agreement or lapsed: never started, so nothing to report.
REPORTING_STATUSES = (AllocationStatus.ACTIVE, AllocationStatus.SUSPENDED, AllocationStatus.EXPIRED)


def outcomes_of(allocation: Allocation) -> QuerySet[OutcomeReport]:
    return allocation.outcomes.select_related("submitted_by").order_by("stage")


def _value_problem(field, value) -> str | None:
    if field.kind == OutcomeKind.FLAG:
        return None if isinstance(value, bool) else _("Must be true or false.")
    if field.kind == OutcomeKind.TEXT:
        if not isinstance(value, str):
            return _("Must be text.")
        if len(value) > field.max_value:
            return _("At most %(most)s characters.") % {"most": f"{field.max_value:,}"}
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return _("Must be a whole number.")
    if not field.min_value <= value <= field.max_value:
        return _("From %(least)s to %(most)s.") % {
            "least": f"{field.min_value:,}",
            "most": f"{field.max_value:,}",
        }
    return None


def outcome_values_check(values: dict) -> dict:
    """The report's values with defaults filled in; field errors for anything unknown, missing or out of range."""
    errors: dict[str, list[str]] = {}
    for name in sorted(set(values) - {field.name for field in OUTCOME_FIELDS}):
        errors[str(name)[:40]] = [_("Not a field of an outcome report.")]
    clean = {}
    for field in OUTCOME_FIELDS:
        if field.name not in values or values[field.name] is None:
            if field.required:
                errors[field.name] = [_("This field is required.")]
            else:
                clean[field.name] = "" if field.kind == OutcomeKind.TEXT else 0
            continue
        problem = _value_problem(field, values[field.name])
        if problem:
            errors[field.name] = [problem]
        else:
            clean[field.name] = (
                values[field.name].strip() if field.kind == OutcomeKind.TEXT else values[field.name]
            )
    if errors:
        raise InvalidInput(_("The outcome report is not valid."), fields=errors)
    return clean


def outcome_report_opens_on(allocation: Allocation, stage: int | None) -> date:
    ends_on = allocation.ends_on if stage is None else allocation.stages.get(number=stage).ends_on
    return ends_on - timedelta(days=REPORT_OPENS_DAYS)


def outcome_report_submit(
    *, allocation: Allocation, user, stage: int | None, values: dict, today: date | None = None
) -> OutcomeReport:
    """The organisation's outcome report for stage ``stage`` of ``allocation``, or its final one (None)."""
    if not can_manage(user, allocation.organisation):
        raise NotAllowed(_("Only the organisation's owner or a manager reports an award's outcomes."))
    clean = outcome_values_check(values)
    if stage is not None:
        found = allocation.stages.filter(number=stage).first()
        if found is None:
            raise InvalidInput(
                _("The outcome report is not valid."),
                fields={"stage": [_("No such stage of this award; leave it blank for the final report.")]},
            )
        if found.state != StageState.RELEASED:
            raise Conflict(
                _("Stage %(number)s was never released; it has no outcomes to report.") % {"number": stage},
                code="stage_not_released",
            )
    if allocation.status not in REPORTING_STATUSES:
        raise Conflict(_("This award never started; it has no outcomes to report."), code="not_started")
    opens_on = outcome_report_opens_on(allocation, stage)
    if (today or timezone.localdate()) < opens_on:
        raise Conflict(
            _("This outcome report opens on %(opens)s.") % {"opens": opens_on.isoformat()}, code="too_early"
        )
    if allocation.outcomes.filter(stage=stage).exists():
        raise Conflict(_("These outcomes have already been reported."), code="already_reported")
    try:
        with transaction.atomic():
            report = OutcomeReport.objects.create(
                allocation=allocation, stage=stage, submitted_by=user, **clean
            )
            audit_record(
                actor=user,
                target=allocation,
                action="outcomes_reported",
                data={"stage": stage, **{k: v for k, v in clean.items() if k != "comment"}},
            )
    except IntegrityError:  # a concurrent submission of the same report won
        raise Conflict(_("These outcomes have already been reported."), code="already_reported") from None
    return report
