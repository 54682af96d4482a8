"""One WebSocket joined to a session's JupyterLab (its UNIX socket, or its Service's address): messages
both ways until either closes."""

import asyncio

from websockets.asyncio.client import connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from portal.sessions_proxy.forward_http import over_tcp, tcp_address, upstream_url
from scheduler.session_access import Upstream

# Kernels send whole outputs (images, tables) in one message; the browser's side has uvicorn's own limit.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
OPEN_TIMEOUT_S = 10


def _closing_code(code: int | None) -> int:
    # 1005 (no code) and 1006 (dropped) describe a close but may not be sent in one.
    return code if code is not None and (code in (1000, 1001, 1011) or 3000 <= code <= 4999) else 1000


def _options(scope, upstream: Upstream) -> dict:
    return {
        "subprotocols": scope.get("subprotocols") or None,
        # The second lock, as for HTTP; no Origin: the proxy checked the browser's already.
        "additional_headers": {"Authorization": f"token {upstream.token}"},
        "max_size": MAX_MESSAGE_BYTES,
        "open_timeout": OPEN_TIMEOUT_S,
        "compression": None,
    }


async def forward_websocket(scope, receive, send, upstream: Upstream, *, refuse) -> int | None:
    """After the proxy's checks: open the session's side, accept the browser's, then relay.

    Returns None when joined and relayed to the end, or the status the handshake was refused with.
    """
    uri = "ws" + upstream_url(scope)[len("http") :]
    if over_tcp(upstream):
        # the handshake names localhost (JupyterLab admits local names only); the connection goes to
        # the Service's address
        host, port = tcp_address(upstream)
        opening = connect(uri, host=host, port=port, **_options(scope, upstream))
    else:
        opening = unix_connect(upstream.socket_path, uri, **_options(scope, upstream))
    try:
        session_side = await opening
    except (OSError, InvalidHandshake, TimeoutError):
        await refuse(502, "session_unreachable")
        return 502
    async with session_side:
        await send({"type": "websocket.accept", "subprotocol": session_side.subprotocol})
        to_session = asyncio.create_task(_browser_to_session(receive, session_side))
        to_browser = asyncio.create_task(_session_to_browser(session_side, send))
        done, pending = await asyncio.wait({to_session, to_browser}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()
    return None


async def _browser_to_session(receive, session_side) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await session_side.close(_closing_code(message.get("code")))
            return
        if message["type"] == "websocket.receive":
            text = message.get("text")
            try:
                await session_side.send(text if text is not None else message.get("bytes") or b"")
            except ConnectionClosed:
                return  # the other direction sees the close and tells the browser


async def _session_to_browser(session_side, send) -> None:
    try:
        async for message in session_side:
            if isinstance(message, str):
                await send({"type": "websocket.send", "text": message})
            else:
                await send({"type": "websocket.send", "bytes": message})
    except ConnectionClosed:
        pass
    except OSError:  # uvicorn's ClientDisconnected: the browser left first; the other direction ends
        return
    try:
        await send({"type": "websocket.close", "code": _closing_code(session_side.close_code)})
    except OSError:
        pass
