"""ASGI entry point: one process serves the portal and its interactive sessions.

Run with `uvicorn portal.asgi:application` (docs/sessions.md). Paths under /sessions/ go to the
sessions' authenticating proxy (HTTP and WebSockets); everything else to Django.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from portal.sessions_proxy.app import SessionsProxy  # noqa: E402  (needs the settings loaded above)

if settings.DEBUG:
    # Static files from the apps' folders, as runserver serves them in development and the demo;
    # production serves the collected ones through WhiteNoise instead.
    django_application = ASGIStaticFilesHandler(django_application)

SESSIONS_PREFIX = "/sessions/"
sessions_proxy = SessionsProxy()


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)  # Django's handler knows only HTTP
    elif scope["path"].startswith(SESSIONS_PREFIX) or scope["path"] == SESSIONS_PREFIX.rstrip("/"):
        await sessions_proxy(scope, receive, send)
    elif scope["type"] == "websocket":
        await receive()  # the connect; the portal itself serves no WebSockets
        await send({"type": "websocket.close", "code": 1000})
    else:
        await django_application(scope, receive, send)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
