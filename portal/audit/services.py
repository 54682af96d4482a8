"""Writing audit events. Call inside the transaction of the change being recorded."""

from typing import Any

from portal.audit.models import AuditEvent

TARGET_TYPES = {
    "Application": "application",
    "Allocation": "allocation",
    "Organisation": "organisation",
    "Call": "call",
    "Review": "review",
    "ApiKey": "api_key",
    "User": "user",
    "Membership": "membership",
    "Environment": "environment",
    "Provider": "provider",
    "Cluster": "cluster",
    "Contract": "contract",
}


def target_type_of(obj: Any) -> str:
    return TARGET_TYPES[type(obj).__name__]


def audit_record(
    *,
    actor,
    target,
    action: str,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    data: dict | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        target_type=target_type_of(target),
        target_id=target.public_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data or {},
    )
