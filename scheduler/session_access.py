"""Who may enter a session, and where the proxy finds it (docs/sessions.md).

Its owner (the member who launched it) may; the organisation's owners and managers may where the
allocation allowed it at launch; other members of the organisation may not (403); anyone else cannot
see it (404). A session not running yet, or not listening yet, answers 503 through the proxy.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from portal.errors import Conflict
from portal.organisations.models import Membership, MembershipRole
from portal.organisations.selectors import organisation_ids_of
from portal.providers.credentials import decrypt
from scheduler.backends import get_backend
from scheduler.models import InteractiveSession
from scheduler.states import TERMINAL, JobState


@dataclass(frozen=True)
class Upstream:
    socket_path: str
    token: str
    base_path: str


def may_enter(user, session: InteractiveSession) -> bool:
    job = session.job
    if job.created_by_id == user.pk:
        return True
    return (
        session.managers_may_enter
        and Membership.objects.filter(
            user=user,
            organisation_id=job.organisation_id,
            role__in=[MembershipRole.OWNER, MembershipRole.MANAGER],
        ).exists()
    )


def session_upstream(user, public_id) -> Upstream:
    if not getattr(user, "is_authenticated", False):
        raise Http404
    session = (
        InteractiveSession.objects.select_related("job")
        .filter(job__public_id=public_id, job__organisation_id__in=organisation_ids_of(user))
        .first()
    )
    if session is None:
        raise Http404  # another organisation's, or none: the same answer
    if not may_enter(user, session):
        raise PermissionDenied
    if session.job.state in TERMINAL:
        raise Conflict(_("The session has ended."), code="session_ended")
    if session.job.state != JobState.RUNNING:
        raise Conflict(_("The session is not running yet."), code="session_not_ready")
    if not session.socket_path:
        # asked of the backend until JupyterLab listens, then kept (it does not move while the job runs)
        endpoint = get_backend().session_endpoint(str(public_id))
        if endpoint is None:
            raise Conflict(_("The session is starting."), code="session_not_ready")
        InteractiveSession.objects.filter(pk=session.pk).update(socket_path=endpoint)
        session.socket_path = endpoint
    return Upstream(session.socket_path, decrypt(session.token_ciphertext), f"/sessions/{public_id}/")
