"""Which headers cross the proxy, and whether a browser's Origin is the portal's own."""

from urllib.parse import urlsplit

from django.conf import settings

# RFC 9110 §7.6.1: they describe one connection, not the message, so they never cross a proxy.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

Headers = list[tuple[bytes, bytes]]


def _connection_named(headers: Headers) -> set[bytes]:
    named = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named |= {token.strip().lower() for token in value.split(b",") if token.strip()}
    return named


def end_to_end(headers: Headers) -> Headers:
    """The headers without the hop-by-hop ones, including those the Connection header names."""
    dropped = HOP_BY_HOP | _connection_named(headers)
    return [(name, value) for name, value in headers if name.lower() not in dropped]


def _portal_cookie_names() -> set[str]:
    return {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME}


def without_portal_cookies(cookie_header: bytes) -> bytes:
    """The Cookie header less the portal's own cookies: JupyterLab's (its _xsrf) still reach it."""
    portal = _portal_cookie_names()
    kept = [
        part.strip()
        for part in cookie_header.decode("latin-1").split(";")
        if part.strip() and part.split("=", 1)[0].strip() not in portal
    ]
    return "; ".join(kept).encode("latin-1")


def sets_portal_cookie(set_cookie_value: bytes) -> bool:
    """A session's server must not overwrite the portal's login or CSRF cookie on the shared origin."""
    name = set_cookie_value.decode("latin-1").split("=", 1)[0].strip()
    return name in _portal_cookie_names()


def header(headers: Headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def origin_allowed(origin: bytes | None, host: bytes | None) -> bool:
    """Is the browser's Origin the portal itself (the Host it asked for) or one settings trust?

    No Origin at all is not a browser's cross-site request (browsers always send it on WebSockets
    and cross-origin writes); the session cookie still has to admit the caller.
    """
    if origin is None:
        return True
    origin_text = origin.decode("latin-1").strip().lower()
    parts = urlsplit(origin_text)
    if not parts.scheme or not parts.netloc:
        return False  # "null" (sandboxed frames, file:) and anything malformed
    if host is not None and parts.netloc == host.decode("latin-1").strip().lower():
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        trusted = trusted.lower()
        if trusted == origin_text:
            return True
        scheme, _, pattern = trusted.partition("://")
        # Django's form for subdomains: https://*.example.org
        if pattern.startswith("*.") and parts.scheme == scheme and parts.netloc.endswith(pattern[1:]):
            return True
    return False
