"""Why a job is in its state, or why an event happened, as data: a code and its named parameters.

Each code has one English format, marked for translation. Jobs and events store the code, its parameters
and the English text (the API returns that text; it is the audit trail); pages render the code in the
reader's language. Words from a backend or a person are the code ``text``, shown as they came.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, gettext_noop

# Marked with gettext_noop: the msgid itself is the English text that is stored, whatever language is active.
FORMATS: dict[str, str] = {
    "accepted": gettext_noop("accepted; waiting for GPUs"),
    "placed": gettext_noop("placed on %(where)s"),
    "running": gettext_noop("running"),
    "succeeded": gettext_noop("finished successfully (exit code %(exit_code)s)"),
    "failed": gettext_noop("failed (exit code %(exit_code)s)"),
    "failed_with_detail": gettext_noop("failed (exit code %(exit_code)s): %(detail)s"),
    "failed_no_exit_code": gettext_noop("failed (no exit code)"),
    "failed_no_exit_code_with_detail": gettext_noop("failed (no exit code): %(detail)s"),
    "timed_out": gettext_noop("stopped after its max_runtime of %(minutes)s minutes"),
    "ran_past_max_runtime": gettext_noop("stopped: it ran past its max_runtime"),
    "cancelled": gettext_noop("cancelled; its pods were stopped"),
    "session_idle_stopping": gettext_noop(
        "stopped: the session sat idle (no kernel, terminal or page activity) for %(minutes)s minutes; stopping"
    ),
    "session_idle_stopped": gettext_noop(
        "stopped after sitting idle; its notebooks are kept in the workspace"
    ),
    "session_idle_warning": gettext_noop(
        "idle for %(minutes)s minutes: it will be stopped after %(limit)s minutes without activity"
    ),
    "cancelled_before_start": gettext_noop("cancelled by %(email)s before it started"),
    "cancel_requested": gettext_noop("cancel requested by %(email)s; stopping"),
    "preempted": gettext_noop("preempted for a job that waited longer"),
    "preempting_low_priority": gettext_noop("preempted (low priority) for a job waiting longer"),
    "preempting_low_priority_stopping": gettext_noop(
        "preempted (low priority) for a job waiting longer; stopping"
    ),
    "preempting_over_share": gettext_noop(
        "preempted (its allocation runs beyond its fair share) for a job waiting longer"
    ),
    "preempting_over_share_stopping": gettext_noop(
        "preempted (its allocation runs beyond its fair share) for a job waiting longer; stopping"
    ),
    "requeued_after_preemption": gettext_noop(
        "requeued after preemption; keeps its place by submission time"
    ),
    "requeued_after_lost": gettext_noop("requeued after its node was lost (attempt %(attempt)s)"),
    "exhausted": gettext_noop("stopped: the allocation's GPU-hours ran out"),
    "exhausting": gettext_noop("stopping: the allocation's %(gpu_type)s GPU-hours are used up"),
    "idle_stopped": gettext_noop("stopped by gpugrant: its GPUs stayed idle (allocation policy)"),
    "idle_warning": gettext_noop("warning: its GPUs have been idle for %(minutes)s minutes"),
    "idle_stopping": gettext_noop("stopping: its GPUs were idle for %(minutes)s minutes"),
    "inactive_stopped": gettext_noop("stopped: its allocation is no longer active"),
    "inactive_stopping": gettext_noop("stopping: its allocation is no longer active"),
    "allocation_ended": gettext_noop("its allocation's period has ended"),
    "lost": gettext_noop("lost: %(detail)s"),
    "lost_node_or_pods_vanished": gettext_noop("lost: its node or pods vanished"),
    "lost_pods_vanished": gettext_noop("lost: its pods vanished"),
    "lost_stopped_outside": gettext_noop("lost: stopped outside gpugrant"),
    "lost_node_gone": gettext_noop("lost: its node is no longer reported by the cluster"),
    "lost_too_often": gettext_noop("lost %(times)s times; giving up"),
    "start_failed_requeued": gettext_noop("could not be started (%(detail)s); requeued"),
    "start_failed_gave_up": gettext_noop("could not be started %(times)s times; last error: %(detail)s"),
}
TEXT = "text"  # someone else's words, {"text": …}: never translated
MAX_DETAIL = 500  # what the text columns hold; longer words from a backend are cut
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def placeholders(code: str) -> frozenset[str]:
    """The parameters ``code`` takes."""
    return frozenset({"text"} if code == TEXT else _PLACEHOLDER.findall(FORMATS[code]))


@dataclass(frozen=True)
class Reason:
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A typo in a code or a parameter would otherwise be stored, and show the English text forever.
        if self.code != TEXT and self.code not in FORMATS:
            raise ValueError(f"unknown reason code {self.code!r}")
        if set(self.params) != placeholders(self.code):
            raise ValueError(
                f"reason {self.code!r} takes {sorted(placeholders(self.code))}, not {sorted(self.params)}"
            )

    def english(self) -> str:
        """The text stored beside the code and returned by the API."""
        return self.params["text"] if self.code == TEXT else FORMATS[self.code] % self.params

    def text(self) -> str:
        """The text in the active language, for pages."""
        return render(self.code, self.params, self.english())


def render(code: str, params: Mapping[str, Any] | None, stored: str = "") -> str:
    """A stored reason in the active language; ``stored`` (its English text) where the code is unknown."""
    if code == TEXT:
        return str((params or {}).get("text", stored))
    if code not in FORMATS:
        return stored
    try:
        return gettext(FORMATS[code]) % dict(params or {})
    except (KeyError, TypeError, ValueError):  # parameters that do not fit the format: what was stored
        return stored


def verbatim(words: str) -> Reason:
    """A backend's or a person's own words."""
    return Reason(TEXT, {"text": words[:MAX_DETAIL]})


def _detail(words: str) -> str:
    return words[:MAX_DETAIL]


def accepted() -> Reason:
    return Reason("accepted")


def placed(where: str) -> Reason:
    return Reason("placed", {"where": _detail(where)})


def running() -> Reason:
    return Reason("running")


def succeeded(exit_code: int) -> Reason:
    return Reason("succeeded", {"exit_code": exit_code})


def failed(exit_code: int | None, detail: str = "") -> Reason:
    """A run that failed, with its exit code where there is one and the backend's words where it gave any."""
    if exit_code is None:
        return (
            Reason("failed_no_exit_code_with_detail", {"detail": _detail(detail)})
            if detail
            else Reason("failed_no_exit_code")
        )
    if detail:
        return Reason("failed_with_detail", {"exit_code": exit_code, "detail": _detail(detail)})
    return Reason("failed", {"exit_code": exit_code})


def timed_out(minutes: int) -> Reason:
    return Reason("timed_out", {"minutes": minutes})


def ran_past_max_runtime() -> Reason:
    return Reason("ran_past_max_runtime")


def cancelled() -> Reason:
    return Reason("cancelled")


def cancelled_before_start(email: str) -> Reason:
    return Reason("cancelled_before_start", {"email": email})


def cancel_requested(email: str) -> Reason:
    return Reason("cancel_requested", {"email": email})


def preempted() -> Reason:
    return Reason("preempted")


def preempting(why: str, *, stopping: bool = False) -> Reason:
    """A running job chosen to make room; ``why`` is the plan's PreemptionReason value."""
    base = {"low_priority": "preempting_low_priority", "over_fair_share": "preempting_over_share"}[why]
    return Reason(f"{base}_stopping" if stopping else base)


def requeued_after_preemption() -> Reason:
    return Reason("requeued_after_preemption")


def requeued_after_lost(attempt: int) -> Reason:
    return Reason("requeued_after_lost", {"attempt": attempt})


def exhausted() -> Reason:
    return Reason("exhausted")


def exhausting(gpu_type: str) -> Reason:
    return Reason("exhausting", {"gpu_type": gpu_type})


def idle_stopped() -> Reason:
    return Reason("idle_stopped")


def idle_warning(minutes: int) -> Reason:
    return Reason("idle_warning", {"minutes": minutes})


def idle_stopping(minutes: int) -> Reason:
    return Reason("idle_stopping", {"minutes": minutes})


def session_idle_stopping(minutes: int) -> Reason:
    return Reason("session_idle_stopping", {"minutes": minutes})


def session_idle_stopped() -> Reason:
    return Reason("session_idle_stopped")


def session_idle_warning(minutes: int, limit: int) -> Reason:
    return Reason("session_idle_warning", {"minutes": minutes, "limit": limit})


def inactive_stopped() -> Reason:
    return Reason("inactive_stopped")


def inactive_stopping() -> Reason:
    return Reason("inactive_stopping")


def allocation_ended() -> Reason:
    return Reason("allocation_ended")


def lost(detail: str) -> Reason:
    """Lost, in the backend's words; without any, that its node or pods vanished."""
    return Reason("lost", {"detail": _detail(detail)}) if detail else Reason("lost_node_or_pods_vanished")


def lost_pods_vanished() -> Reason:
    return Reason("lost_pods_vanished")


def lost_stopped_outside() -> Reason:
    return Reason("lost_stopped_outside")


def lost_node_gone() -> Reason:
    return Reason("lost_node_gone")


def lost_too_often(times: int) -> Reason:
    return Reason("lost_too_often", {"times": times})


def start_failed_requeued(detail: str) -> Reason:
    return Reason("start_failed_requeued", {"detail": _detail(detail)})


def start_failed_gave_up(times: int, detail: str) -> Reason:
    return Reason("start_failed_gave_up", {"times": times, "detail": _detail(detail)})
