"""The portal's REST API over HTTP (stdlib urllib): bearer key, JSON, the error envelope, safe retries.

Only requests that cannot do anything twice are retried: reads, and submissions that carry an
Idempotency-Key (the server answers a repeat with the first response). Every failure becomes a
``CliError`` whose class says what the user can do about it.
"""

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlencode

from gpugrant_cli import __version__
from gpugrant_cli.config import Credentials
from gpugrant_cli.errors import AuthError, CliError, NotFoundError, Refused, Unavailable, UsageError

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 30.0


class ApiClient:
    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.credentials = credentials
        self.timeout_s = timeout_s
        self.retries = retries
        self.sleep = sleep

    def get(self, path: str, params: dict | None = None) -> dict:
        return self._request("GET", path, params=params, retry=True)

    def post(self, path: str, body: dict | None = None, *, idempotency_key: str | None = None) -> dict:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._request("POST", path, body=body, headers=headers, retry=bool(idempotency_key))

    def get_all(self, path: str, params: dict | None = None, *, limit: int | None = None) -> Iterator[dict]:
        """Every result of a paginated list, page by page (by number: ``next`` may name another host)."""
        page, seen = 1, 0
        while True:
            data = self.get(
                path, {**(params or {}), "page": page, "page_size": 200 if limit is None else min(limit, 200)}
            )
            for item in data.get("results", []):
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield item
            if not data.get("next"):
                return
            page += 1

    def _request(self, method, path, *, params=None, body=None, headers=None, retry: bool) -> dict:
        url = f"{self.credentials.server}/api/v1/{path.lstrip('/')}"
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            try:
                return self._once(method, url, body, headers or {})
            except _Retryable as failure:
                if attempt == attempts - 1:
                    raise failure.error from None
                self.sleep(failure.retry_after_s or min(0.5 * 2**attempt, MAX_RETRY_AFTER_S))
        raise AssertionError("unreachable")

    def _once(self, method: str, url: str, body: dict | None, headers: dict) -> dict:
        request = urllib.request.Request(url, method=method)
        request.add_header("Authorization", f"Bearer {self.credentials.api_key}")
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", f"gpugrant-cli/{__version__}")
        for name, value in headers.items():
            request.add_header(name, value)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, data=data, timeout=self.timeout_s) as response:
                return _json(response.read(), self.credentials.server)
        except urllib.error.HTTPError as response:
            status, raw = response.code, response.read()
            error = _error_for(status, _envelope(raw), self.credentials.server)
            if status in RETRYABLE_STATUSES:
                raise _Retryable(error, _retry_after(response.headers.get("Retry-After"))) from None
            raise error from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as problem:
            reason = getattr(problem, "reason", problem)
            raise _Retryable(
                Unavailable(
                    f"Cannot reach {self.credentials.server}: {reason}.",
                    hint="Check the server address (`gpugrant login`) and your network, then try again.",
                )
            ) from None


class _Retryable(Exception):
    def __init__(self, error: CliError, retry_after_s: float | None = None):
        super().__init__(error.message)
        self.error = error
        self.retry_after_s = retry_after_s


def job_path(job_id: str, *rest: str) -> str:
    # The id is user input: quoting keeps "../" or "?" from reaching another endpoint.
    return "/".join(["jobs", quote(job_id.strip(), safe=""), *rest])


def _json(raw: bytes, server: str) -> dict:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise Unavailable(
            f"{server} did not answer with JSON.", hint="Is this the gpugrant portal's address?"
        ) from None


def _envelope(raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error_for(status: int, envelope: dict, server: str) -> CliError:
    message = str(
        envelope.get("message") or ("Not found." if status == 404 else f"The server answered HTTP {status}.")
    )
    extra = envelope.get("extra") if isinstance(envelope.get("extra"), dict) else {}
    fields = extra.get("fields") if isinstance(extra.get("fields"), dict) else {}
    fields = {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in fields.items()}
    if status == 401:
        return AuthError(message, hint="The API key was refused: run `gpugrant login` with a valid key.")
    if status == 403:
        return AuthError(message, fields=fields)
    if status == 404:
        return NotFoundError(message, hint="It does not exist, or belongs to an organisation you are not in.")
    if status == 409:
        return Refused(message, fields=fields)
    if status == 429:
        return Unavailable(message, hint="The server is limiting requests; try again in a minute.")
    if status >= 500:
        return Unavailable(f"{server} failed: {message}", hint="Try again later.")
    return UsageError(message, fields=fields)


def _retry_after(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S) if value else None
    except ValueError:
        return None


def session_path(session_id: str, *rest: str) -> str:
    return "/".join(["sessions", quote(session_id.strip(), safe=""), *rest])
