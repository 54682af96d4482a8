"""Log lines that carry the request and job they belong to, as text or one JSON object per line.

Stdlib only, because the node agent shares it with the portal and the Celery workers and must not import
Django. Ids travel in context variables: set once where a request or a job is handled, every log call
below that point carries them, threads and Celery tasks included (each gets its own context).
"""

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
job_id: contextvars.ContextVar[str] = contextvars.ContextVar("job_id", default="")

_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id", "job_id"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [request=%(request_id)s job=%(job_id)s] %(message)s"


@contextmanager
def job_context(public_id: object) -> Iterator[None]:
    token = job_id.set(str(public_id))
    try:
        yield
    finally:
        job_id.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current ids onto each record; an id passed in ``extra=`` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id.get()
        if not getattr(record, "job_id", ""):
            record.job_id = job_id.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (Loki, Elasticsearch, Cloud Logging)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "job_id"):
            if getattr(record, name, ""):
                line[name] = getattr(record, name)
        # Fields passed with ``extra=``; objects (Django passes the request) are left out.
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name not in line and isinstance(value, str | int | float | bool):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str, log_format: str) -> None:
    """Root logging for a process that has no Django settings (the node agent)."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
