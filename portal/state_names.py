"""Names for the state and action codes that error messages quote, in the reader's language.

English names are the codes written as words (``under_review`` → "under review"), as messages always
showed them; other languages translate them.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, pgettext_lazy


@dataclass(frozen=True)
class StateWords:
    name: Promise  # within a sentence, as a code in words: "The job already ended (timed out)."
    label: Promise  # standing alone, in plain words: a badge, a filter's choice


# A job's states in words, the one list of them (scheduler.states.JobState's codes, in its order): messages
# and a job's event list name them, the portal's badges and job filter label them.
JOB_STATE_WORDS = {
    "queued": StateWords(pgettext_lazy("state", "queued"), gettext_lazy("Waiting in the queue")),
    "scheduled": StateWords(pgettext_lazy("state", "scheduled"), gettext_lazy("Starting (GPUs assigned)")),
    "running": StateWords(pgettext_lazy("state", "running"), gettext_lazy("Running")),
    "succeeded": StateWords(pgettext_lazy("state", "succeeded"), gettext_lazy("Finished successfully")),
    "failed": StateWords(pgettext_lazy("state", "failed"), gettext_lazy("Failed")),
    "cancelled": StateWords(pgettext_lazy("state", "cancelled"), gettext_lazy("Cancelled")),
    "preempted": StateWords(
        pgettext_lazy("state", "preempted"), gettext_lazy("Preempted, going back to the queue")
    ),
    "timed_out": StateWords(
        pgettext_lazy("state", "timed out"), gettext_lazy("Stopped: ran past its time limit")
    ),
    "exhausted": StateWords(
        pgettext_lazy("state", "exhausted"), gettext_lazy("Stopped: the allocation's GPU-hours ran out")
    ),
    "lost": StateWords(pgettext_lazy("state", "lost"), gettext_lazy("Lost: its node vanished")),
}

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
    **{code: words.name for code, words in JOB_STATE_WORDS.items()},
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
