"""The state machine through the services: each legal move succeeds and is audited; each illegal one
raises Conflict("illegal_transition") and writes nothing."""

import pytest

from portal.applications import services
from portal.applications.models import Application
from portal.applications.states import State
from portal.audit.models import AuditEvent
from portal.errors import Conflict
from quotas import services as quota_services
from tests import builders

REASONS = {
    "withdraw": "We found compute elsewhere.",
    "approve": "Strong proposal.",
    "reject": "Out of scope.",
    "request_revision": "Explain the data pipeline.",
}


def _perform(operation: str, application: Application, cast) -> None:
    if operation == "submit":
        services.application_submit(application=application, user=cast.owner)
    elif operation == "withdraw":
        services.application_withdraw(application=application, user=cast.owner, reason=REASONS["withdraw"])
    elif operation == "assign":
        services.review_assign(application=application, staff=cast.staff, reviewers=[cast.reviewer2])
    else:
        quota_services.application_decide(
            application=application, staff=cast.staff, decision=operation, reason=REASONS[operation]
        )


class Cast:
    def __init__(self, **people):
        self.__dict__.update(people)


@pytest.fixture
def cast(owner, organisation, call, staff, reviewer, reviewer2):
    return Cast(
        owner=owner, organisation=organisation, call=call, staff=staff, reviewer=reviewer, reviewer2=reviewer2
    )


def _in_state(state: str, cast) -> Application:
    application = builders.application_in_state(
        state,
        user=cast.owner,
        organisation=cast.organisation,
        call=cast.call,
        staff=cast.staff,
        reviewer=cast.reviewer,
    )
    if state == "under_review":
        builders.scored(application, cast.reviewer)  # so that approval is possible
    application.refresh_from_db()
    assert application.state == state
    return application


# operation → {source state: (target state, audited action, actor attribute, reason)}
LEGAL = {
    "submit": {
        "draft": ("submitted", "submit", "owner", ""),
        "revision_requested": ("resubmitted", "resubmit", "owner", ""),
    },
    "withdraw": {
        source: ("withdrawn", "withdraw", "owner", REASONS["withdraw"])
        for source in ("draft", "submitted", "under_review", "revision_requested", "resubmitted")
    },
    "assign": {
        "submitted": ("under_review", "start_review", "staff", ""),
        "resubmitted": ("under_review", "start_review", "staff", ""),
    },
    "approve": {"under_review": ("approved", "approve", "staff", REASONS["approve"])},
    "reject": {"under_review": ("rejected", "reject", "staff", REASONS["reject"])},
    "request_revision": {
        "under_review": ("revision_requested", "request_revision", "staff", REASONS["request_revision"])
    },
}
# Assigning more reviewers while under review is allowed but is not a transition.
NOT_A_TRANSITION = {("assign", "under_review")}

LEGAL_CASES = [(op, source) for op, sources in LEGAL.items() for source in sources]
ILLEGAL_CASES = [
    (op, state.value)
    for op in LEGAL
    for state in State
    if state.value not in LEGAL[op] and (op, state.value) not in NOT_A_TRANSITION
]


@pytest.mark.django_db
@pytest.mark.parametrize(("operation", "source"), LEGAL_CASES, ids=[f"{o}-from-{s}" for o, s in LEGAL_CASES])
def test_it_performs_every_legal_transition_and_audits_it(operation, source, cast):
    application = _in_state(source, cast)
    events_before = AuditEvent.objects.filter(target_id=application.public_id).count()

    _perform(operation, application, cast)

    target, audited_action, actor, reason = LEGAL[operation][source]
    application.refresh_from_db()
    assert application.state == target
    transition_events = AuditEvent.objects.filter(
        target_type="application", target_id=application.public_id, action=audited_action
    ).order_by("-id")
    event = transition_events.first()
    assert event is not None
    assert (event.actor, event.from_state, event.to_state, event.reason) == (
        getattr(cast, actor),
        source,
        target,
        reason,
    )
    assert AuditEvent.objects.filter(target_id=application.public_id).count() > events_before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("operation", "source"), ILLEGAL_CASES, ids=[f"{o}-from-{s}" for o, s in ILLEGAL_CASES]
)
def test_it_refuses_every_illegal_transition_and_writes_nothing(operation, source, cast):
    application = _in_state(source, cast)
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        _perform(operation, application, cast)

    assert excinfo.value.code == "illegal_transition"
    application.refresh_from_db()
    assert application.state == source
    assert builders.row_counts() == before


def test_it_covers_every_state_for_every_operation():
    for operation in LEGAL:
        covered = {s for o, s in LEGAL_CASES + ILLEGAL_CASES if o == operation}
        covered |= {s for o, s in NOT_A_TRANSITION if o == operation}
        assert covered == {s.value for s in State}, operation


@pytest.mark.django_db
def test_it_adds_reviewers_while_under_review_without_a_new_transition(cast):
    application = _in_state("under_review", cast)
    before = AuditEvent.objects.filter(target_id=application.public_id, action="start_review").count()

    created = services.review_assign(application=application, staff=cast.staff, reviewers=[cast.reviewer2])

    assert [r.reviewer for r in created] == [cast.reviewer2]
    application.refresh_from_db()
    assert application.state == "under_review"
    assert AuditEvent.objects.filter(target_id=application.public_id, action="start_review").count() == before


@pytest.mark.django_db
def test_it_records_who_decided_and_when(cast):
    rejected = _in_state("under_review", cast)
    quota_services.application_decide(
        application=rejected, staff=cast.staff, decision="reject", reason="Out of scope."
    )
    rejected.refresh_from_db()
    assert rejected.decided_by == cast.staff
    assert rejected.decided_at is not None
    assert rejected.decision_reason == "Out of scope."

    returned = _in_state("under_review", cast)
    quota_services.application_decide(
        application=returned, staff=cast.staff, decision="request_revision", reason="More detail."
    )
    returned.refresh_from_db()
    assert returned.decided_at is None  # not final
    assert returned.decision_reason == "More detail."


@pytest.mark.django_db
def test_it_refuses_to_withdraw_for_an_outsider(cast, outsider):
    from portal.errors import NotAllowed

    application = _in_state("submitted", cast)
    before = builders.row_counts()
    with pytest.raises(NotAllowed):
        services.application_withdraw(application=application, user=outsider)
    application.refresh_from_db()
    assert application.state == "submitted"
    assert builders.row_counts() == before
