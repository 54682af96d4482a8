"""One HTTP request forwarded to a session's JupyterLab, the answer streamed back: over its UNIX socket
(the local backend), or to its Service's address (``http://host:port``, Kubernetes)."""

from urllib.parse import urlsplit

import httpx

from portal.sessions_proxy.headers import end_to_end, sets_portal_cookie, without_portal_cookies
from scheduler.session_access import Upstream

# Reads may wait long (kernels' long polls, big downloads); a socket that does not answer at once is dead.
TIMEOUT = httpx.Timeout(10.0, read=300.0, write=300.0)


class ClientGone(Exception):
    """The browser went away while its request body was still coming."""


def upstream_request_headers(scope_headers, upstream: Upstream) -> list[tuple[bytes, bytes]]:
    headers = []
    for name, value in end_to_end(scope_headers):
        name = name.lower()
        if name == b"authorization":
            continue  # the portal's own credentials are not the session's business
        if name == b"host":
            continue  # JupyterLab admits local names only (check_host); the URL's localhost stands in
        if name == b"cookie":
            value = without_portal_cookies(value)
            if not value:
                continue
        headers.append((name, value))
    # The second lock: JupyterLab's own token, in a header, never in a URL that might be logged.
    headers.append((b"authorization", f"token {upstream.token}".encode()))
    if over_tcp(upstream):
        headers.append((b"host", b"localhost"))  # JupyterLab admits local names only, whatever address
    return headers


def over_tcp(upstream: Upstream) -> bool:
    return upstream.socket_path.startswith("http://")


def tcp_address(upstream: Upstream) -> tuple[str, int]:
    parts = urlsplit(upstream.socket_path)
    return parts.hostname or "", parts.port or 80


def _response_headers(headers) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower(), value)
        for name, value in end_to_end(headers)
        if not (name.lower() == b"set-cookie" and sets_portal_cookie(value))
    ]


async def _request_body(receive):
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def upstream_url(scope) -> str:
    # The raw path as the browser sent it (percent-escapes kept): JupyterLab's base_url is the same path.
    path = scope.get("raw_path") or scope["path"].encode()
    url = "http://localhost" + path.decode("latin-1")
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    return url


async def forward_http(scope, receive, send, upstream: Upstream) -> int:
    """Forward the request; returns the status sent to the browser (502 when the session is unreachable)."""
    if over_tcp(upstream):
        host, port = tcp_address(upstream)
        transport, url = (
            httpx.AsyncHTTPTransport(),
            upstream_url(scope).replace("localhost", f"{host}:{port}", 1),
        )
    else:
        transport, url = httpx.AsyncHTTPTransport(uds=upstream.socket_path), upstream_url(scope)
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        has_body = scope["method"] not in ("GET", "HEAD", "OPTIONS")
        request = client.build_request(
            scope["method"],
            url,
            headers=upstream_request_headers(scope["headers"], upstream),
            content=_request_body(receive) if has_body else None,
        )
        try:
            response = await client.send(request, stream=True)
        except (httpx.TransportError, ClientGone):
            await _send_bad_gateway(send)
            return 502
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _response_headers(response.headers.raw),
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()
        return response.status_code


async def _send_bad_gateway(send) -> None:
    body = b'{"code": "session_unreachable", "message": "The session does not answer."}'
    await send(
        {
            "type": "http.response.start",
            "status": 502,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
