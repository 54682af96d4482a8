"""Keeps sessions' paths and query strings out of the ASGI server's own log lines."""

import logging

SESSIONS_PREFIX = "/sessions/"


class HideSessionPaths(logging.Filter):
    """Drops uvicorn's lines that name a session's path (its WebSocket "[accepted]" line has the query).

    The proxy writes its own line for each request, with the path template only (app.py).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        texts = [str(record.msg), *(arg for arg in args if isinstance(arg, str))]
        return not any(SESSIONS_PREFIX in text for text in texts)
