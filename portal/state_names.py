"""Names for the state and action codes that error messages quote, in the reader's language.

English names are the codes written as words (``under_review`` → "under review"), as messages always
showed them; other languages translate them.
"""

from django.utils.translation import pgettext_lazy

STATE_NAMES = {
    # applications
    "draft": pgettext_lazy("state", "draft"),
    "submitted": pgettext_lazy("state", "submitted"),
    "under_review": pgettext_lazy("state", "under review"),
    "approved": pgettext_lazy("state", "approved"),
    "rejected": pgettext_lazy("state", "rejected"),
    "revision_requested": pgettext_lazy("state", "revision requested"),
    "resubmitted": pgettext_lazy("state", "resubmitted"),
    "withdrawn": pgettext_lazy("state", "withdrawn"),
    # allocations and calls
    "active": pgettext_lazy("state", "active"),
    "suspended": pgettext_lazy("state", "suspended"),
    "expired": pgettext_lazy("state", "expired"),
    "upcoming": pgettext_lazy("state", "upcoming"),
    "open": pgettext_lazy("state", "open"),
    "closed": pgettext_lazy("state", "closed"),
    # jobs
    "queued": pgettext_lazy("state", "queued"),
    "scheduled": pgettext_lazy("state", "scheduled"),
    "running": pgettext_lazy("state", "running"),
    "succeeded": pgettext_lazy("state", "succeeded"),
    "failed": pgettext_lazy("state", "failed"),
    "cancelled": pgettext_lazy("state", "cancelled"),
    "preempted": pgettext_lazy("state", "preempted"),
    "timed_out": pgettext_lazy("state", "timed out"),
    "exhausted": pgettext_lazy("state", "exhausted"),
    "lost": pgettext_lazy("state", "lost"),
}

ACTION_NAMES = {
    "submit": pgettext_lazy("action", "submit"),
    "withdraw": pgettext_lazy("action", "withdraw"),
    "start_review": pgettext_lazy("action", "start review"),
    "approve": pgettext_lazy("action", "approve"),
    "reject": pgettext_lazy("action", "reject"),
    "request_revision": pgettext_lazy("action", "request revision"),
    "resubmit": pgettext_lazy("action", "resubmit"),
}


def state_name(code) -> str:
    code = str(code)
    return str(STATE_NAMES.get(code, code.replace("_", " ")))


def action_name(code) -> str:
    code = str(code)
    return str(ACTION_NAMES.get(code, code.replace("_", " ")))
