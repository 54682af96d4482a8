"""Plain-word labels and number formats for the portal's templates."""

from decimal import Decimal

from django import template
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.applications.states import State
from portal.organisations.models import OrganisationType
from portal.state_names import JOB_STATE_WORDS, state_name
from quotas.models import SECONDS_PER_HOUR, AllocationStatus
from scheduler.reasons import render

register = template.Library()

STATE_LABELS = {
    State.DRAFT: _("Draft (not submitted)"),
    State.SUBMITTED: _("Submitted, waiting for reviewers"),
    State.UNDER_REVIEW: _("Under review"),
    State.APPROVED: _("Approved"),
    State.REJECTED: _("Not approved"),
    State.REVISION_REQUESTED: _("Revision requested"),
    State.RESUBMITTED: _("Resubmitted, waiting for reviewers"),
    State.WITHDRAWN: _("Withdrawn"),
}

JOB_STATE_LABELS = {code: words.label for code, words in JOB_STATE_WORDS.items()}

STATUS_LABELS = {
    AllocationStatus.ACTIVE: _("Active"),
    AllocationStatus.SUSPENDED: _("Suspended"),
    AllocationStatus.EXPIRED: _("Expired"),
    AllocationStatus.AWAITING_AGREEMENT: _("Awaiting agreement"),
    AllocationStatus.LAPSED: _("Lapsed"),
    "upcoming": _("Not open yet"),
    "open": _("Open"),
    "closed": _("Closed"),
}


@register.filter
def state_label(state: str) -> str:
    """An application's state in plain words."""
    return STATE_LABELS.get(state, str(state).replace("_", " ").capitalize())


@register.filter
def state_reason_text(job) -> str:
    """Why a job is in its state, in the reader's language (its stored English where the code is unknown)."""
    return render(job.state_reason_code, job.state_reason_params, job.state_reason)


@register.filter
def event_reason_text(event) -> str:
    """Why a job event happened, in the reader's language (its stored English where the code is unknown)."""
    return render(event.reason_code, event.reason_params, event.reason)


@register.filter
def job_state_label(state: str) -> str:
    """A job's state in plain words."""
    return JOB_STATE_LABELS.get(state, str(state).replace("_", " ").capitalize())


@register.filter
def status_label(status: str) -> str:
    """An allocation's or call's status in plain words."""
    return STATUS_LABELS.get(status, str(status).replace("_", " ").capitalize())


# English shows these as they always did; the table exists so that Korean can name them too.
AUDIT_ACTION_LABELS = {
    "created": pgettext_lazy("audit log action", "Created"),
    "edited": pgettext_lazy("audit log action", "Edited"),
    "submit": pgettext_lazy("audit log action", "Submit"),
    "resubmit": pgettext_lazy("audit log action", "Resubmit"),
    "withdraw": pgettext_lazy("audit log action", "Withdraw"),
    "start_review": pgettext_lazy("audit log action", "Start review"),
    "approve": pgettext_lazy("audit log action", "Approve"),
    "reject": pgettext_lazy("audit log action", "Reject"),
    "request_revision": pgettext_lazy("audit log action", "Request revision"),
    "reviewer_assigned": pgettext_lazy("audit log action", "Reviewer assigned"),
    "review_submitted": pgettext_lazy("audit log action", "Review submitted"),
    "change_requested": pgettext_lazy("audit log action", "Change requested"),
    "allocation_created": pgettext_lazy("audit log action", "Allocation created"),
    "allocation_changed": pgettext_lazy("audit log action", "Allocation changed"),
    "allocation_active": pgettext_lazy("audit log action", "Allocation active"),
    "allocation_suspended": pgettext_lazy("audit log action", "Allocation suspended"),
    "allocation_expired": pgettext_lazy("audit log action", "Allocation expired"),
    "allocation_custom_images_allowed": pgettext_lazy("audit log action", "Own images allowed"),
    "allocation_custom_images_refused": pgettext_lazy("audit log action", "Catalogue environments only"),
    "environment_created": pgettext_lazy("audit log action", "Environment added"),
    "environment_updated": pgettext_lazy("audit log action", "Environment edited"),
    "environment_deactivated": pgettext_lazy("audit log action", "Environment deactivated"),
    "environment_reactivated": pgettext_lazy("audit log action", "Environment reactivated"),
    "organisation_created": pgettext_lazy("audit log action", "Organisation created"),
    "organisation_verified": pgettext_lazy("audit log action", "Organisation verified"),
    "organisation_unverified": pgettext_lazy("audit log action", "Organisation unverified"),
    "member_invited": pgettext_lazy("audit log action", "Member invited"),
    "member_added": pgettext_lazy("audit log action", "Member added"),
    "member_removed": pgettext_lazy("audit log action", "Member removed"),
    "call_created": pgettext_lazy("audit log action", "Call created"),
    "call_updated": pgettext_lazy("audit log action", "Call updated"),
}

# The audit log stores state codes; English shows the codes themselves, Korean their names.
AUDIT_STATE_LABELS = {
    "draft": pgettext_lazy("audit log state", "draft"),
    "submitted": pgettext_lazy("audit log state", "submitted"),
    "under_review": pgettext_lazy("audit log state", "under_review"),
    "approved": pgettext_lazy("audit log state", "approved"),
    "rejected": pgettext_lazy("audit log state", "rejected"),
    "revision_requested": pgettext_lazy("audit log state", "revision_requested"),
    "resubmitted": pgettext_lazy("audit log state", "resubmitted"),
    "withdrawn": pgettext_lazy("audit log state", "withdrawn"),
    "active": pgettext_lazy("audit log state", "active"),
    "suspended": pgettext_lazy("audit log state", "suspended"),
    "expired": pgettext_lazy("audit log state", "expired"),
    "verified": pgettext_lazy("audit log state", "verified"),
    "unverified": pgettext_lazy("audit log state", "unverified"),
}


@register.filter
def action_label(action: str) -> str:
    """An audit event's action, e.g. ``reviewer_assigned`` → ``Reviewer assigned``."""
    return AUDIT_ACTION_LABELS.get(action) or str(action).replace("_", " ").capitalize()


@register.filter
def audit_state_label(state: str) -> str:
    """A state code from the audit log, in the reader's language."""
    return AUDIT_STATE_LABELS.get(state, state)


@register.filter
def job_event_state_label(state: str) -> str:
    """A job state code from a job event, in the reader's language (as messages name it)."""
    return state_name(state) if state in JOB_STATE_WORDS else state


@register.filter
def org_type_labels(values) -> str:
    labels = dict(OrganisationType.choices)
    return ", ".join(str(labels.get(value, value)) for value in values or [])


@register.filter
def hours(value) -> str:
    """GPU-hours with thousands separators; whole numbers without decimals."""
    if value is None or value == "":
        return "–"
    number = Decimal(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.2f}"


@register.filter
def gpu_seconds_as_hours(seconds) -> Decimal:
    """GPU-seconds as GPU-hours, to two decimals (format with ``hours``)."""
    return (Decimal(seconds or 0) / SECONDS_PER_HOUR).quantize(Decimal("0.01"))


@register.filter
def gpu_months(gpu_hours) -> str:
    """GPU-hours expressed as GPU-months (GPUs × months)."""
    if not gpu_hours:
        return "0"
    months = Decimal(gpu_hours) / settings.GPUGRANT_HOURS_PER_MONTH
    return f"{months:,.1f}"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def fixed(value, places=2) -> str:
    """A figure with thousands separators and a fixed number of decimals: ``1234.5|fixed:1`` → ``1,234.5``."""
    if value is None or value == "":
        return "–"
    return f"{Decimal(str(value)):,.{int(places)}f}"


@register.filter
def krw(value) -> str:
    """Korean won, whole, with thousands separators: ``6000`` → ``₩6,000``."""
    if value is None or value == "":
        return "–"
    return f"₩{round(Decimal(str(value))):,}"


@register.filter
def minutes(seconds) -> str:
    """Seconds as whole minutes, for run times."""
    try:
        return f"{round(float(seconds) / 60):,}"
    except (TypeError, ValueError):
        return ""


@register.filter
def percent(share) -> str:
    """A share (0.877) as a percentage with one decimal: ``87.7 %``; none: ``–``."""
    if share is None or share == "":
        return "–"
    return f"{float(share) * 100:,.1f} %"
