"""Reading the audit log (staff only; callers check that)."""

from django.db.models import QuerySet

from portal.audit.models import AuditEvent


def audit_events_for(*, target_type: str, target_id) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(target_type=target_type, target_id=target_id).select_related("actor")
