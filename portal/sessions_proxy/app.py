"""The ASGI application at /sessions/: the checks, in order, then the forwarding, then one log line.

1. The path names a session: /sessions/<public id>/... (else 404), on a Host the portal serves (else 400).
2. A browser's Origin is the portal's own, for WebSockets and for writes (else 403): a page on another
   site must not use the visitor's login to drive their kernels.
3. The portal's session cookie names an active user (else 302 to the login page for a page, 401 otherwise).
4. session_upstream admits this user to this session (404, 403, or 503 while it starts).
5. Forward, adding JupyterLab's token; strip hop-by-hop headers and the portal's credentials.
"""

import json
import logging
import re
import time
import uuid

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http.request import split_domain_port, validate_host

from portal.sessions_proxy import access
from portal.sessions_proxy.forward_http import forward_http
from portal.sessions_proxy.forward_websocket import forward_websocket
from portal.sessions_proxy.headers import header, origin_allowed
from workers import logs

access_log = logging.getLogger("gpugrant.access")

SESSION_PATH = re.compile(r"/sessions/(?P<public_id>[0-9a-f-]{36})(?P<rest>/.*)?", re.DOTALL)
# The route in log lines: a template, never the path (ids, file names) or the query (tokens).
ROUTE = "sessions/<public_id>/<path>"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

MESSAGES = {
    "login_required": "Log in to the portal to open this session.",
    "permission_denied": "You may not open this session.",
    "not_found": "There is no such session.",
    "cross_origin": "This request came from another site.",
    "session_not_ready": "The session is starting; this page will be ready in a moment.",
    "session_ended": "The session has ended; its notebooks are kept in your workspace for the next one.",
    "session_unreachable": "The session does not answer.",
    "bad_host": "This address is not served here.",
}


class SessionsProxy:
    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            raise ValueError(f"the sessions' proxy serves HTTP and WebSockets, not {scope['type']}")
        started = time.perf_counter()
        token = logs.request_id.set(uuid.uuid4().hex)
        status = None
        try:
            # As Django's ASGI handler does: this request's database work gets its own thread instead
            # of queueing behind every other request's in the one shared thread.
            async with ThreadSensitiveContext():
                if scope["type"] == "http":
                    status = await self._http(scope, receive, send)
                else:
                    status = await self._websocket(scope, receive, send)
        finally:
            self._log(scope, status, time.perf_counter() - started)
            logs.request_id.reset(token)

    async def _http(self, scope, receive, send) -> int:
        match = SESSION_PATH.fullmatch(scope["path"])
        public_id = _public_id(match)
        if public_id is None:
            return await _send_refusal(send, scope, 404, "not_found")
        if not match["rest"]:
            # JupyterLab's base_url ends in a slash; the bare address is a friendly link to it.
            location = f"/sessions/{public_id}/".encode()
            await send({"type": "http.response.start", "status": 302, "headers": [(b"location", location)]})
            await send({"type": "http.response.body", "body": b""})
            return 302
        if not _host_allowed(scope):
            return await _send_refusal(send, scope, 400, "bad_host")
        if scope["method"] not in SAFE_METHODS and not _same_origin(scope):
            return await _send_refusal(send, scope, 403, "cross_origin")
        decision = await access.resolve(header(scope["headers"], b"cookie"), public_id)
        if isinstance(decision, access.Refusal):
            return await _send_refusal(send, scope, decision.status, decision.code)
        return await forward_http(scope, receive, send, decision)

    async def _websocket(self, scope, receive, send) -> int:
        message = await receive()
        if message["type"] != "websocket.connect":
            return 499  # gone before the handshake

        async def refuse(status: int, code: str) -> None:
            await _refuse_handshake(scope, send, status, code)

        match = SESSION_PATH.fullmatch(scope["path"])
        public_id = _public_id(match)
        if public_id is None or not match["rest"]:
            await refuse(404, "not_found")
            return 404
        if not _host_allowed(scope):
            await refuse(400, "bad_host")
            return 400
        if not _same_origin(scope):
            await refuse(403, "cross_origin")
            return 403
        decision = await access.resolve(header(scope["headers"], b"cookie"), public_id)
        if isinstance(decision, access.Refusal):
            await refuse(decision.status, decision.code)
            return decision.status
        refused = await forward_websocket(scope, receive, send, decision, refuse=refuse)
        return refused or 101

    @staticmethod
    def _log(scope, status: int | None, seconds: float) -> None:
        if not settings.GPUGRANT_ACCESS_LOG:
            return
        method = scope.get("method", "WEBSOCKET")
        status = status if status is not None else 500
        access_log.info(
            "%s %s %s %.1f ms",
            method,
            ROUTE,
            status,
            seconds * 1000,
            extra={
                "method": method,
                "route": ROUTE,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


def _public_id(match) -> uuid.UUID | None:
    """The session's id when the path is a session's, spelled as its base_url is; else None."""
    if match is None or any(segment in (".", "..") for segment in (match["rest"] or "").split("/")):
        return None  # dot segments would be resolved by the client library, away from what was checked
    try:
        public_id = uuid.UUID(match["public_id"])
    except ValueError:
        return None
    # JupyterLab's base_url is the canonical spelling; another one would only find its 404.
    return public_id if str(public_id) == match["public_id"] else None


def _host_allowed(scope) -> bool:
    # As Django checks every request's Host: the origin check below trusts it.
    host = (header(scope["headers"], b"host") or b"").decode("latin-1")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _same_origin(scope) -> bool:
    return origin_allowed(header(scope["headers"], b"origin"), header(scope["headers"], b"host"))


RETRY_S = 1  # a starting session's page looks again after this long


def _wants_page(scope) -> bool:
    accept = header(scope["headers"], b"accept") or b""
    return scope.get("method") == "GET" and b"text/html" in accept


async def _send_refusal(send, scope, status: int, code: str) -> int:
    message = MESSAGES.get(code, "The session cannot be opened.")
    headers = [(b"cache-control", b"no-store")]
    if status == 401 and _wants_page(scope):
        # The path only, not the query: it goes into a URL the login page may log.
        location = redirect_to_login(scope["path"]).url
        status, body = 302, b""
        headers.append((b"location", location.encode()))
    elif _wants_page(scope):
        # JupyterLab listens a second or two after its job starts: look again soon.
        refresh = f'<meta http-equiv="refresh" content="{RETRY_S}">' if code == "session_not_ready" else ""
        body = (
            f'<!doctype html><html><head><meta charset="utf-8">{refresh}<title>{message}</title></head>'
            f"<body><p>{message}</p></body></html>"
        ).encode()
        headers.append((b"content-type", b"text/html; charset=utf-8"))
    else:
        body = json.dumps({"code": code, "message": message}).encode()
        headers.append((b"content-type", b"application/json"))
    if code == "session_not_ready":
        headers.append((b"retry-after", str(RETRY_S).encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def _refuse_handshake(scope, send, status: int, code: str) -> None:
    if "websocket.http.response" in scope.get("extensions", {}):
        # The server lets us answer the handshake with a real status: 401, 403, 404, 503.
        body = json.dumps({"code": code, "message": MESSAGES.get(code, "")}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        # Closing before accepting makes the server refuse the handshake with 403.
        await send({"type": "websocket.close", "code": 4401 if status == 401 else 4403})
