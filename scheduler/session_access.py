"""Where a session's JupyterLab listens, for the one user asking: the contract the sessions' proxy uses.

A placeholder: the session work (issue 18) fills in session_upstream. Its contract:
- returns the Upstream of a running session the user may enter;
- raises django.http.Http404 when the session does not exist or the user may not see it;
- raises django.core.exceptions.PermissionDenied when the user sees it but may not enter;
- raises portal.errors.Conflict(code="session_not_ready") when it is not running yet.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Upstream:
    socket_path: str  # JupyterLab's UNIX socket, in a folder bind-mounted from the host
    token: str  # JupyterLab's own token: the second lock, sent as a header, never in a URL
    base_path: str  # f"/sessions/{public_id}/", JupyterLab's base_url


def session_upstream(user, public_id) -> Upstream:
    raise NotImplementedError("filled in by the session work (issue 18)")
