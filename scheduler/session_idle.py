"""Stopping sessions that sit idle (docs/sessions.md): each running session's JupyterLab says when it was
last used (``GET /api/status``: its kernels', terminals' and pages' last activity); a session idle for
its limit (the allocation's, 30 minutes by default) is stopped and its GPUs freed, with a warning to its
owner WARN_BEFORE_MINUTES before. Its notebooks stay in the workspace for the next session.

JupyterLab is asked directly (its UNIX socket, or its Service's address on Kubernetes) with the session's
token in a header, from this process: no page of the portal is involved, and the check itself counts as
no activity (``/api/status`` is not tracked as activity by Jupyter Server).
"""

import http.client
import json
import logging
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from portal.notifications.services import notify
from portal.providers.credentials import decrypt
from scheduler import reasons
from scheduler.backends import get_backend
from scheduler.models import InteractiveSession, JobEvent, JobKind
from scheduler.states import JobState
from scheduler.stopping import job_request_stop

logger = logging.getLogger(__name__)
WARN_BEFORE_MINUTES = 5
STATUS_TIMEOUT_S = 5.0


class _UnixConnection(http.client.HTTPConnection):
    """http.client over a UNIX socket (the standard library's HTTP, on another transport)."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def last_activity(endpoint: str, base_path: str, token: str) -> datetime | None:
    """The session's last activity, as its JupyterLab reports it; None where it cannot say."""
    if endpoint.startswith("http://"):
        parts = urlsplit(endpoint)
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=STATUS_TIMEOUT_S)
    else:
        connection = _UnixConnection(endpoint, STATUS_TIMEOUT_S)
    try:
        connection.request("GET", f"{base_path}api/status", headers={"Authorization": f"token {token}"})
        response = connection.getresponse()
        if response.status != 200:
            return None
        stamp = json.loads(response.read()).get("last_activity")
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
    except (AttributeError, ValueError):
        return None


def sessions_check_idle(*, now: datetime | None = None, activity=last_activity) -> dict[str, int]:
    """Warn or stop each running session by its idleness. Returns counts by what was done."""
    now = now or timezone.now()
    done = {"active": 0, "warned": 0, "stopped": 0, "unknown": 0}
    backend = get_backend()
    running = InteractiveSession.objects.select_related("job", "job__created_by").filter(
        job__kind=JobKind.INTERACTIVE, job__state=JobState.RUNNING, job__stop_requested=""
    )
    for session in running:
        job = session.job
        endpoint = session.socket_path or backend.session_endpoint(str(job.public_id))
        seen = (
            activity(endpoint, f"/sessions/{job.public_id}/", decrypt(session.token_ciphertext))
            if endpoint
            else None
        )
        if seen is None:
            done["unknown"] += 1  # not listening yet, or not answering: judged by what was last seen
            seen = session.last_activity_at or job.started_at or session.created_at
        else:
            InteractiveSession.objects.filter(pk=session.pk).update(last_activity_at=seen)
        idle_minutes = int((now - seen).total_seconds() // 60)
        limit = session.idle_limit_minutes
        if idle_minutes >= limit:
            if job_request_stop(
                job_pk=job.pk, stop="session_idle", reason=reasons.session_idle_stopping(idle_minutes)
            ):
                done["stopped"] += 1
        elif idle_minutes >= limit - WARN_BEFORE_MINUTES:
            if session.warned_at is None or session.warned_at < seen:
                _warn(session, idle_minutes, limit, now)
                done["warned"] += 1
        else:
            done["active"] += 1
    return done


def _warn(session: InteractiveSession, idle_minutes: int, limit: int, now: datetime) -> None:
    job = session.job
    with transaction.atomic():
        InteractiveSession.objects.filter(pk=session.pk).update(warned_at=now)
        JobEvent.objects.record(
            job=job,
            from_state=job.state,
            to_state=job.state,
            reason=reasons.session_idle_warning(idle_minutes, limit),
        )
        notify(
            recipients=[job.created_by],
            subject=gettext_lazy("Your session will be stopped soon"),
            body=format_lazy(
                gettext_lazy(
                    "Your session has been idle for {minutes} minutes and will be stopped after {limit} "
                    "minutes without activity, at about {when}. Your notebooks are kept. Use it to keep it.\n{link}"
                ),
                minutes=idle_minutes,
                limit=limit,
                when=timezone.localtime(now + timedelta(minutes=limit - idle_minutes)).strftime("%H:%M"),
                link=f"/my-sessions/{job.public_id}/",
            ),
        )
