"""The application state machine as data: who may move an application from which state to which.

Pure: no Django. Services consult ``transition_allowed`` before writing, so every path (web form,
API, admin action, task) obeys the same table.
"""

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVISION_REQUESTED = "revision_requested"
    RESUBMITTED = "resubmitted"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    START_REVIEW = "start_review"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_REVISION = "request_revision"
    RESUBMIT = "resubmit"


@dataclass(frozen=True)
class Transition:
    action: Action
    source: State
    target: State
    actor: str  # "applicant" or "staff"


TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.SUBMIT, State.DRAFT, State.SUBMITTED, "applicant"),
    Transition(Action.START_REVIEW, State.SUBMITTED, State.UNDER_REVIEW, "staff"),
    Transition(Action.START_REVIEW, State.RESUBMITTED, State.UNDER_REVIEW, "staff"),
    Transition(Action.APPROVE, State.UNDER_REVIEW, State.APPROVED, "staff"),
    Transition(Action.REJECT, State.UNDER_REVIEW, State.REJECTED, "staff"),
    Transition(Action.REQUEST_REVISION, State.UNDER_REVIEW, State.REVISION_REQUESTED, "staff"),
    Transition(Action.RESUBMIT, State.REVISION_REQUESTED, State.RESUBMITTED, "applicant"),
    *(
        Transition(Action.WITHDRAW, source, State.WITHDRAWN, "applicant")
        for source in (
            State.DRAFT,
            State.SUBMITTED,
            State.UNDER_REVIEW,
            State.REVISION_REQUESTED,
            State.RESUBMITTED,
        )
    ),
)

TERMINAL_STATES = frozenset({State.APPROVED, State.REJECTED, State.WITHDRAWN})
EDITABLE_STATES = frozenset({State.DRAFT, State.REVISION_REQUESTED})

_BY_ACTION_AND_SOURCE = {(t.action, t.source): t for t in TRANSITIONS}


def find_transition(action: Action | str, source: State | str) -> Transition | None:
    return _BY_ACTION_AND_SOURCE.get((Action(action), State(source)))


def allowed_actions(source: State | str) -> list[Action]:
    return [t.action for t in TRANSITIONS if t.source == State(source)]
