"""Staff's report of an award's misuse, which suspends the award in the same transaction.

The organisation is told the kind of misuse reported, not the description (it may name whoever raised
it); staff reactivate the award by hand (quotas.services.allocation_set_status) once they have decided.
An award that is not active (already suspended, expired) keeps its status; the report is still filed.
"""

from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.audit.services import audit_record
from portal.errors import InvalidInput, NotAllowed
from portal.notifications.services import notify
from portal.organisations.selectors import owners_and_managers
from quotas.models import Allocation, AllocationStatus, MisuseKind, MisuseReport

DESCRIPTION_MAX_LENGTH = MisuseReport._meta.get_field("description").max_length


def misuse_report_file(*, allocation: Allocation, staff, kind: str, description: str) -> MisuseReport:
    """File a misuse report on ``allocation`` (staff) and suspend it if it is active."""
    if not getattr(staff, "is_staff", False):
        raise NotAllowed(_("Only programme staff file misuse reports."))
    errors: dict[str, list[str]] = {}
    if kind not in MisuseKind.values:
        errors["kind"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(MisuseKind.values)}]
    if not isinstance(description, str) or not description.strip():
        errors["description"] = [_("Describe what was reported.")]
    elif len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [_("At most %(most)s characters.") % {"most": f"{DESCRIPTION_MAX_LENGTH:,}"}]
    if errors:
        raise InvalidInput(_("The report could not be filed."), fields=errors)
    with transaction.atomic():
        allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
        report = MisuseReport.objects.create(
            allocation=allocation, kind=kind, description=description.strip(), reported_by=staff
        )
        audit_record(
            actor=staff,
            target=allocation,
            action="misuse_reported",
            data={"report": str(report.public_id), "kind": kind},
        )
        if allocation.status == AllocationStatus.ACTIVE:
            allocation.status = AllocationStatus.SUSPENDED
            allocation.save(update_fields=["status"])
            audit_record(
                actor=staff,
                target=allocation,
                action="allocation_suspended",
                from_state=AllocationStatus.ACTIVE,
                to_state=AllocationStatus.SUSPENDED,
                reason=f"misuse report {report.public_id}",
            )
            notify(
                recipients=owners_and_managers(allocation.organisation),
                subject=format_lazy(
                    gettext_lazy("Allocation suspended: {title}"), title=allocation.project_title
                ),
                body=format_lazy(
                    gettext_lazy(
                        "Programme staff received a report of misuse of '{title}' ({kind}) and suspended it "
                        "while they look into it. No new jobs start until it is reactivated."
                    ),
                    title=allocation.project_title,
                    kind=MisuseKind(kind).label,
                ),
            )
    return report
