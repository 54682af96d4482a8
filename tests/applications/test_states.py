"""The state machine as a table: every (action, state) pair, checked against an independent copy."""

import itertools

import pytest

from portal.applications.states import (
    EDITABLE_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    State,
    allowed_actions,
    find_transition,
)

# Written out by hand from the product rules, not derived from TRANSITIONS: (action, source) → target.
EXPECTED = {
    (Action.SUBMIT, State.DRAFT): (State.SUBMITTED, "applicant"),
    (Action.START_REVIEW, State.SUBMITTED): (State.UNDER_REVIEW, "staff"),
    (Action.START_REVIEW, State.RESUBMITTED): (State.UNDER_REVIEW, "staff"),
    (Action.APPROVE, State.UNDER_REVIEW): (State.APPROVED, "staff"),
    (Action.REJECT, State.UNDER_REVIEW): (State.REJECTED, "staff"),
    (Action.REQUEST_REVISION, State.UNDER_REVIEW): (State.REVISION_REQUESTED, "staff"),
    (Action.RESUBMIT, State.REVISION_REQUESTED): (State.RESUBMITTED, "applicant"),
    (Action.WITHDRAW, State.DRAFT): (State.WITHDRAWN, "applicant"),
    (Action.WITHDRAW, State.SUBMITTED): (State.WITHDRAWN, "applicant"),
    (Action.WITHDRAW, State.UNDER_REVIEW): (State.WITHDRAWN, "applicant"),
    (Action.WITHDRAW, State.REVISION_REQUESTED): (State.WITHDRAWN, "applicant"),
    (Action.WITHDRAW, State.RESUBMITTED): (State.WITHDRAWN, "applicant"),
}

ALL_PAIRS = list(itertools.product(Action, State))


def test_it_knows_every_state_and_action():
    assert {s.value for s in State} == {
        "draft",
        "submitted",
        "under_review",
        "approved",
        "rejected",
        "revision_requested",
        "resubmitted",
        "withdrawn",
    }
    assert {a.value for a in Action} == {
        "submit",
        "withdraw",
        "start_review",
        "approve",
        "reject",
        "request_revision",
        "resubmit",
    }


@pytest.mark.parametrize(("action", "source"), ALL_PAIRS, ids=[f"{a}-from-{s}" for a, s in ALL_PAIRS])
def test_it_allows_exactly_the_expected_pairs(action, source):
    transition = find_transition(action, source)
    if (action, source) in EXPECTED:
        target, actor = EXPECTED[(action, source)]
        assert transition is not None
        assert (transition.action, transition.source, transition.target, transition.actor) == (
            action,
            source,
            target,
            actor,
        )
    else:
        assert transition is None


@pytest.mark.parametrize(("action", "source"), ALL_PAIRS[:3])
def test_it_accepts_plain_strings(action, source):
    assert find_transition(action.value, source.value) == find_transition(action, source)


@pytest.mark.parametrize("bad", [("approve", "nonsense"), ("nonsense", "draft")])
def test_it_rejects_unknown_names(bad):
    with pytest.raises(ValueError):
        find_transition(*bad)


@pytest.mark.parametrize("source", list(State))
def test_it_lists_allowed_actions_per_state(source):
    expected = sorted(a.value for (a, s) in EXPECTED if s == source)
    assert sorted(a.value for a in allowed_actions(source)) == expected


def test_it_has_no_way_out_of_terminal_states():
    assert TERMINAL_STATES == {State.APPROVED, State.REJECTED, State.WITHDRAWN}
    for state in TERMINAL_STATES:
        assert allowed_actions(state) == []


def test_it_reaches_every_state_from_draft():
    reached, frontier = {State.DRAFT}, [State.DRAFT]
    while frontier:
        state = frontier.pop()
        for action in allowed_actions(state):
            target = find_transition(action, state).target
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(State)


def test_it_has_one_transition_per_action_and_source():
    pairs = [(t.action, t.source) for t in TRANSITIONS]
    assert len(pairs) == len(set(pairs)) == len(EXPECTED)


def test_it_lets_applicants_edit_only_drafts_and_revisions():
    assert EDITABLE_STATES == {State.DRAFT, State.REVISION_REQUESTED}
    assert not EDITABLE_STATES & TERMINAL_STATES
