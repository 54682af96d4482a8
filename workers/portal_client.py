"""The node agent's HTTP client for the portal (stdlib urllib): node-key auth, timeouts, retry with backoff.

Only two calls: ``POST /api/v1/usage`` and ``GET /api/v1/node/jobs``. Errors are sorted by what the
caller should do about them: ``PortalUnavailable`` (connection trouble, timeouts, 5xx, 429) — try again
later, nothing was decided; ``PortalAuthError`` (401/403) — the node key is wrong, retrying with it
will not help until someone fixes it; ``PortalRejected`` (other 4xx) — the request itself is wrong.
"""

import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

USER_AGENT = "gpugrant-node-agent/1"
MAX_RECORDS_PER_POST = 1000  # the portal's limit per request
SPOOL_BACKLOG_HEADER = "Gpugrant-Spool-Backlog"


class PortalError(Exception):
    def __init__(self, message: str, *, status: int | None = None, body: object = None):
        super().__init__(message)
        self.status = status
        self.body = body


class PortalUnavailable(PortalError):
    """Connection refused or reset, timeout, 5xx or 429: nothing was decided, try again later."""


class PortalAuthError(PortalError):
    """401/403: the node key was refused."""


class PortalRejected(PortalError):
    """Another 4xx: the request is malformed; sending it again unchanged gives the same answer."""


@dataclass(frozen=True)
class Rejection:
    id: str
    reason: str


@dataclass(frozen=True)
class UsageResponse:
    accepted: int
    duplicates: int
    rejected: list[Rejection]


class Backoff:
    """Exponential backoff with jitter: the n-th consecutive failure waits about base × 2ⁿ, at most ``cap``.

    "Equal jitter": half of the step is fixed and half random, so agents that failed together spread
    out, yet none retries immediately. ``random`` is injectable for tests.
    """

    def __init__(self, base: float = 1.0, cap: float = 300.0, *, random: Callable[[], float] = random.random):
        self.base = base
        self.cap = cap
        self.random = random
        self.failures = 0

    def failure(self) -> float:
        """Record a failure; the seconds to wait before the next try."""
        step = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return step / 2 + self.random() * step / 2

    def success(self) -> None:
        self.failures = 0


class PortalClient:
    def __init__(
        self,
        base_url: str,
        node_key: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        opener: urllib.request.OpenerDirector | None = None,
    ):
        """``retries``: extra attempts after a ``PortalUnavailable``, each after a backoff delay."""
        self.base_url = base_url.rstrip("/")
        self.node_key = node_key.strip()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff or Backoff(base=0.5, cap=10.0)
        self.sleep = sleep
        self.opener = opener or urllib.request.build_opener(_NoRedirect)

    def post_usage(
        self, records: list[dict], *, retries: int | None = None, spool_backlog: int | None = None
    ) -> UsageResponse:
        """Send 1–1000 wire records; the portal's answer per record.

        ``spool_backlog``: records still waiting in the spool after these, for the portal's metrics. A
        header rather than a body field, so that a portal which predates it simply ignores it.
        """
        if not 1 <= len(records) <= MAX_RECORDS_PER_POST:
            raise ValueError(f"send 1 to {MAX_RECORDS_PER_POST} records at a time, not {len(records)}")
        headers = {} if spool_backlog is None else {SPOOL_BACKLOG_HEADER: str(max(0, spool_backlog))}
        body = self._call("POST", "/api/v1/usage", {"records": records}, retries=retries, headers=headers)
        try:
            return UsageResponse(
                accepted=int(body.get("accepted", 0)),
                duplicates=int(body.get("duplicates", 0)),
                rejected=[
                    Rejection(str(item["id"]), str(item.get("reason", "")))
                    for item in body.get("rejected", [])
                ],
            )
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise PortalUnavailable(f"unexpected answer to POST /api/v1/usage: {body!r:.200}") from error

    def node_jobs(self, *, retries: int | None = None) -> list[dict]:
        """Jobs placed on this node that are active or ended in the last hour."""
        body = self._call("GET", "/api/v1/node/jobs", None, retries=retries)
        jobs = body.get("jobs") if isinstance(body, dict) else None
        if not isinstance(jobs, list):
            raise PortalUnavailable(f"unexpected answer to GET /api/v1/node/jobs: {body!r:.200}")
        return jobs

    # --- transport --------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, payload: object, *, retries: int | None, headers: dict | None = None
    ) -> dict:
        attempts_left = self.retries if retries is None else retries
        while True:
            try:
                result = self._once(method, path, payload, headers or {})
                self.backoff.success()
                return result
            except PortalUnavailable as error:
                if attempts_left <= 0:
                    raise
                attempts_left -= 1
                delay = self.backoff.failure()
                log.info("%s %s failed (%s); retrying in %.1f s", method, path, error, delay)
                self.sleep(delay)

    def _once(self, method: str, path: str, payload: object, headers: dict) -> dict:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        request.add_header("Authorization", f"Node {self.node_key}")
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", USER_AGENT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise _classify(method, path, error.code, _read_error_body(error)) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            raise PortalUnavailable(f"{method} {path}: {getattr(error, 'reason', error)}") from None
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            raise PortalUnavailable(f"{method} {path}: the answer is not JSON: {raw[:200]!r}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would drop the POST body or send the node key elsewhere: treat it as an error."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _read_error_body(error: urllib.error.HTTPError) -> object:
    try:
        raw = error.read()
    except OSError:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw[:500].decode(errors="replace")


def _classify(method: str, path: str, status: int, body: object) -> PortalError:
    message = body.get("message") if isinstance(body, dict) else None
    text = f"{method} {path}: HTTP {status}" + (f": {message}" if message else "")
    if status >= 500 or status in (408, 429):
        return PortalUnavailable(text, status=status, body=body)
    if status in (401, 403):
        return PortalAuthError(text, status=status, body=body)
    return PortalRejected(text, status=status, body=body)
