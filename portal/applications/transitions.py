"""Moving a locked application through the state machine, with its audit event."""

from django.utils import timezone
from django.utils.translation import gettext as _

from portal.applications.models import Application
from portal.applications.states import Action, find_transition
from portal.audit.services import audit_record
from portal.errors import Conflict
from portal.state_names import action_name, state_name


def lock_application(application: Application) -> Application:
    """Re-read the application under a row lock; every state change starts here (see docs/concurrency.md)."""
    return Application.objects.select_for_update().get(pk=application.pk)


def ensure_transition(application: Application, action: Action) -> None:
    if find_transition(action, application.state) is None:
        raise Conflict(
            _("Cannot %(action)s an application that is %(state)s.")
            % {"action": action_name(action), "state": state_name(application.state)},
            code="illegal_transition",
        )


def apply_transition(
    application: Application, action: Action, *, actor, reason: str = "", data=None
) -> Application:
    """Move a locked application along ``action``; raise Conflict if the table forbids it."""
    ensure_transition(application, action)
    transition = find_transition(action, application.state)
    source = application.state
    application.state = transition.target.value
    application.updated_at = timezone.now()
    application.save()
    audit_record(
        actor=actor,
        target=application,
        action=action.value,
        from_state=source,
        to_state=application.state,
        reason=reason,
        data=data,
    )
    return application
