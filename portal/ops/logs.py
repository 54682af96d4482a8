"""Request and task ids for log lines: taking or making a request's id, and a Celery task's."""

import re
import uuid

from workers import logs

# What an upstream proxy or client may hand us; anything else is replaced, so a log line never
# carries attacker-chosen text or unbounded length in its id.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_id_for(incoming: str | None) -> str:
    if incoming and _WELL_FORMED.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def connect_celery_signals() -> None:
    """Each task's log lines carry its task id as their request id."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="gpugrant-log-task-started")
    task_postrun.connect(_task_ended, weak=False, dispatch_uid="gpugrant-log-task-ended")


# Tokens by task id, so that a task run eagerly inside a request gives the request its ids back.
_tokens: dict[str, tuple] = {}


def _task_started(task_id=None, **_):
    _tokens[task_id] = (logs.request_id.set(task_id or ""), logs.job_id.set(""))


def _task_ended(task_id=None, **_):
    tokens = _tokens.pop(task_id, None)
    if tokens is not None:
        logs.request_id.reset(tokens[0])
        logs.job_id.reset(tokens[1])
