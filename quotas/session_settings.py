"""Staff set an allocation's rules for interactive sessions (docs/sessions.md): the GPUs its sessions may
hold at once, how long a session may sit idle, and whether its organisation's managers may enter."""

from django.db import transaction
from django.utils.translation import gettext as _

from portal.audit.services import audit_record
from portal.errors import InvalidInput, NotAllowed
from quotas.models import Allocation

GPU_CAP_MOST = 64
IDLE_MINUTES_LEAST = 5
IDLE_MINUTES_MOST = 24 * 60

SETTINGS_FIELDS = {
    "gpu_cap": "session_gpu_cap",
    "idle_minutes": "session_idle_minutes",
    "managers_may_enter": "session_managers_may_enter",
}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def allocation_session_settings_set(
    *, staff, allocation: Allocation, gpu_cap: int, idle_minutes: int, managers_may_enter: bool
) -> Allocation:
    """Change the session rules; field errors name ``gpu_cap`` and ``idle_minutes``. New sessions take
    them at launch; a session already launched keeps the idle limit and entry rule it was given."""
    if not staff.is_staff:
        raise NotAllowed(_("Only staff change an allocation's session settings."))
    errors: dict[str, list[str]] = {}
    if not _whole(gpu_cap) or not 0 <= gpu_cap <= GPU_CAP_MOST:
        errors["gpu_cap"] = [_("From 0 to %(most)s GPUs.") % {"most": GPU_CAP_MOST}]
    if not _whole(idle_minutes) or not IDLE_MINUTES_LEAST <= idle_minutes <= IDLE_MINUTES_MOST:
        errors["idle_minutes"] = [
            _("From %(least)s to %(most)s minutes.")
            % {"least": IDLE_MINUTES_LEAST, "most": IDLE_MINUTES_MOST}
        ]
    if errors:
        raise InvalidInput(_("The session settings were not changed."), fields=errors)
    wanted = {
        "gpu_cap": gpu_cap,
        "idle_minutes": idle_minutes,
        "managers_may_enter": bool(managers_may_enter),
    }
    with transaction.atomic():
        locked = Allocation.objects.select_for_update().get(pk=allocation.pk)
        changes = {
            name: [getattr(locked, column), wanted[name]]
            for name, column in SETTINGS_FIELDS.items()
            if getattr(locked, column) != wanted[name]
        }
        if changes:
            Allocation.objects.filter(pk=locked.pk).update(
                **{SETTINGS_FIELDS[name]: new for name, (_old, new) in changes.items()}
            )
            audit_record(actor=staff, target=locked, action="allocation_session_settings_set", data=changes)
    for name, column in SETTINGS_FIELDS.items():
        setattr(allocation, column, wanted[name])
    return allocation
