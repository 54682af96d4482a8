"""A round from the ranking to signed awards: proposed with reasons, adjusted, approved in one action,
agreements accepted or lapsed, freed GPU-hours offered down the waitlist."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.applications.models import Application
from portal.audit.models import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.models import Notification
from quotas.agreements import agreement_accept, agreements_lapse_due
from quotas.models import (
    Agreement,
    AgreementState,
    Allocation,
    AllocationStage,
    AllocationStatus,
    CallPool,
    LineOutcome,
    RoundLine,
)
from quotas.round import round_approve, round_line_adjust, round_propose
from quotas.round_selectors import track_pools_left
from tests import builders

pytestmark = pytest.mark.django_db


def lines(the_round):
    return {line.application.project_title: line for line in the_round.lines.select_related("application")}


def test_the_proposal_awards_down_the_ranking_and_says_why_for_the_rest(round_call, applicants, staff):
    the_round = round_propose(staff=staff, call=round_call)
    got = lines(the_round)
    assert [got[t].decision for t in ("P5", "P4", "P3", "P2")] == ["award", "award", "award", "waitlist"]
    assert got["P5"].reason == "awarded" and got["P5"].params == {"rank": 1}
    assert got["P2"].reason == "organisation_unverified"  # an award needs a verified registration
    assert [got[t].position for t in ("P5", "P4", "P3", "P2")] == [1, 2, 3, 4]


def test_a_full_pool_waitlists_with_what_is_left(round_call, applicants, staff):
    for app in applicants[:3]:
        app.gpu_requests.update(gpu_hours=2_500)
    got = lines(round_propose(staff=staff, call=round_call))
    assert got["P3"].decision == "waitlist" and got["P3"].reason == "pool_full"
    assert got["P3"].params["left"] == 1_000


def test_the_same_inputs_give_the_same_proposal(round_call, applicants, staff):
    first = round_propose(staff=staff, call=round_call)
    digest, decided = first.inputs_digest, [(x.position, x.decision, x.gpu_hours) for x in first.lines.all()]
    again = round_propose(staff=staff, call=round_call)
    assert again.inputs_digest == digest
    # the stored inputs alone give the stored lines (a reviewer of the round can recompute it)
    from quotas.round import proposal_lines

    recomputed = [(x["position"], x["decision"], x["proposed"]) for x in proposal_lines(again.inputs)]
    assert recomputed == decided
    assert [(x.position, x.decision, x.gpu_hours) for x in again.lines.all()] == decided


def test_a_regional_share_holds_hours_for_non_capital_applicants(round_call, applicants, staff):
    from quotas.round_setup import call_levers_set

    for app in applicants[:3]:
        app.gpu_requests.update(gpu_hours=2_500)
    # 50 % of the small pool (3,000 GPU-hours) held for organisations outside the capital area: P4 is one
    call_levers_set(staff=staff, call=round_call, levers={"regional_share": 0.5})
    got = lines(round_propose(staff=staff, call=round_call))
    assert got["P5"].decision == "award" and got["P4"].decision == "award"
    assert got["P3"].reason == "pool_full"


def test_the_concentration_cap_counts_existing_awards(round_call, applicants, staff, reviewer):
    from quotas.round_setup import call_levers_set

    rank1 = applicants[0]
    # the first-ranked organisation already holds an award from another call
    builders.approved(rank1.created_by, rank1.organisation, builders.make_call(staff), staff, reviewer)
    call_levers_set(staff=staff, call=round_call, levers={"max_awards_per_org": 1})
    got = lines(round_propose(staff=staff, call=round_call))
    assert got["P5"].reason == "org_awards_cap" and got["P5"].params == {"cap": 1, "has": 1}


def test_staff_adjust_a_line_within_the_pool_with_a_reason(round_call, applicants, staff):
    the_round = round_propose(staff=staff, call=round_call)
    got = lines(the_round)
    with pytest.raises(InvalidInput) as error:
        round_line_adjust(staff=staff, line=got["P3"], decision="award", gpu_hours=1_000, reason=" ")
    assert "reason" in error.value.fields
    with pytest.raises(InvalidInput) as error:
        round_line_adjust(staff=staff, line=got["P3"], decision="award", gpu_hours=2_001, reason="more")
    assert "gpu_hours" in error.value.fields
    with pytest.raises(Conflict) as error:
        round_line_adjust(staff=staff, line=got["P2"], decision="award", gpu_hours=10, reason="why not")
    assert error.value.code == "organisation_unverified"
    line = round_line_adjust(
        staff=staff, line=got["P3"], decision="award", gpu_hours=1_500, reason="smaller plan"
    )
    assert (line.decision, line.gpu_hours, line.adjusted_by) == ("award", 1_500, staff)
    event = AuditEvent.objects.get(action="round_line_adjusted")
    assert event.data == {
        "from": {"decision": "award", "gpu_hours": 2_000},
        "to": {"decision": "award", "gpu_hours": 1_500},
    }
    # the pool bounds adjustments: 2,000 + 2,000 + 1,500 of 6,000; 2,001 more does not fit
    got = lines(the_round)
    round_line_adjust(staff=staff, line=got["P3"], decision="waitlist", gpu_hours=0, reason="later")
    with pytest.raises(NotAllowed):
        round_line_adjust(
            staff=applicants[0].created_by, line=got["P3"], decision="award", gpu_hours=1, reason="x"
        )


def test_an_adjustment_beyond_the_pool_is_refused_and_nothing_changes(round_call, applicants, staff):
    for app in applicants[:3]:
        app.gpu_requests.update(gpu_hours=2_500)
    got = lines(round_propose(staff=staff, call=round_call))
    with pytest.raises(Conflict) as error:
        round_line_adjust(staff=staff, line=got["P3"], decision="award", gpu_hours=2_500, reason="please")
    assert error.value.code == "pool_exhausted"
    assert RoundLine.objects.get(pk=got["P3"].pk).decision == "waitlist"


def test_approval_awards_every_line_at_once_each_awaiting_its_agreement(round_call, applicants, staff):
    round_propose(staff=staff, call=round_call)
    Notification.objects.all().delete()
    the_round = round_approve(staff=staff, call=round_call)
    assert the_round.state == "approved"
    awarded = Allocation.objects.filter(call=round_call)
    assert awarded.count() == 3
    assert set(awarded.values_list("status", flat=True)) == {AllocationStatus.AWAITING_AGREEMENT}
    # staged 5 + 5 months: the first half released, the second waits for the evaluation
    allocation = awarded.get(application=applicants[0])
    assert allocation.budgets.get().awarded_gpu_hours == 1_000
    stages = list(AllocationStage.objects.filter(allocation=allocation))
    assert [(s.number, s.gpu_hours, s.state) for s in stages] == [
        (1, 1_000, "released"),
        (2, 1_000, "pending"),
    ]
    assert CallPool.objects.get(call=round_call, gpu_type="A100").awarded_gpu_hours == 6_000
    assert track_pools_left(round_call)[("small", "A100")] == 0
    # one notification per line and recipient set: three awards, one waitlisted
    titles = sorted(n.subject for n in Notification.objects.all())
    assert (
        sum(t.startswith("Approved") for t in titles) == 3
        and sum(t.startswith("Waitlisted") for t in titles) == 1
    )
    assert AuditEvent.objects.filter(action="round_waitlisted").count() == 1
    assert RoundLine.objects.get(application=applicants[3]).outcome == LineOutcome.WAITLISTED
    with pytest.raises(Conflict):
        round_approve(staff=staff, call=round_call)
    with pytest.raises(Conflict):
        round_propose(staff=staff, call=round_call)


def test_jobs_wait_for_the_agreement_and_only_an_owner_accepts_the_version_offered(
    round_call, applicants, staff
):
    round_propose(staff=staff, call=round_call)
    round_approve(staff=staff, call=round_call)
    agreement = Agreement.objects.get(allocation__application=applicants[0])
    owner = applicants[0].created_by
    member = builders.make_user()
    builders.add_member(applicants[0].organisation, member, "manager")
    with pytest.raises(NotAllowed):
        agreement_accept(user=member, agreement=agreement, terms_version="2026-1", address="10.0.0.1")
    with pytest.raises(InvalidInput) as error:
        agreement_accept(user=owner, agreement=agreement, terms_version="2025-9", address="10.0.0.1")
    assert "terms_version" in error.value.fields
    agreement = agreement_accept(user=owner, agreement=agreement, terms_version="2026-1", address="10.0.0.1")
    assert (agreement.state, agreement.accepted_by, agreement.accepted_from) == (
        "accepted",
        owner,
        "10.0.0.1",
    )
    assert agreement.allocation.status == AllocationStatus.ACTIVE
    with pytest.raises(Conflict):
        agreement_accept(user=owner, agreement=agreement, terms_version="2026-1", address="10.0.0.1")


def test_an_unsigned_award_lapses_and_the_next_on_the_waitlist_is_offered_it(round_call, applicants, staff):
    for app in applicants[:3]:
        app.gpu_requests.update(gpu_hours=2_500)
    round_propose(staff=staff, call=round_call)
    round_approve(staff=staff, call=round_call)
    first, second = (Agreement.objects.get(allocation__application=a) for a in applicants[:2])
    agreement_accept(user=applicants[1].created_by, agreement=second, terms_version="2026-1", address=None)
    assert agreements_lapse_due() == 0  # not due yet
    Agreement.objects.filter(pk=first.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict) as error:  # too late to accept, even before the lapse runs
        agreement_accept(user=applicants[0].created_by, agreement=first, terms_version="2026-1", address=None)
    assert error.value.code == "agreement_deadline"
    assert agreements_lapse_due() == 1
    first.refresh_from_db()
    assert first.state == AgreementState.LAPSED and first.allocation.status == AllocationStatus.LAPSED
    # 2,500 returned to the pool: the third-ranked (2,500 asked) is offered it, with its own agreement
    offered = RoundLine.objects.get(application=applicants[2])
    assert offered.outcome == LineOutcome.OFFERED
    assert Application.objects.get(pk=applicants[2].pk).state == "approved"
    assert Agreement.objects.get(allocation__application=applicants[2]).state == AgreementState.PENDING
    assert CallPool.objects.get(call=round_call, gpu_type="A100").awarded_gpu_hours == 5_000
    assert agreements_lapse_due() == 0  # idempotent; the new offer has its own deadline ahead


def test_rounds_need_tracks_and_staff(staff, call, owner):
    with pytest.raises(Conflict) as error:
        round_propose(staff=staff, call=call)
    assert error.value.code == "no_tracks"
    with pytest.raises(NotAllowed):
        round_propose(staff=owner, call=call)


def test_the_regional_bonus_lifts_non_capital_applicants_in_the_ranking(round_call, applicants, staff):
    from quotas.ranking import call_ranking
    from quotas.round_setup import call_levers_set

    order = [r.application.project_title for r in call_ranking(round_call)]
    assert order[:2] == ["P5", "P4"]  # P4's organisation is outside the capital area
    call_levers_set(staff=staff, call=round_call, levers={"regional_bonus": 5})
    round_call.refresh_from_db()
    ranked = call_ranking(round_call)
    assert [r.application.project_title for r in ranked][0] == "P4"
    assert {r.application.project_title: r.bonus for r in ranked}["P4"] == 5.0


def test_an_expired_award_gives_its_unreleased_stages_back_to_the_pool(round_call, applicants, staff):
    from datetime import date

    from quotas.services import allocations_expire_due

    round_propose(staff=staff, call=round_call)
    round_approve(staff=staff, call=round_call)
    pool = CallPool.objects.get(call=round_call, gpu_type="A100")
    assert pool.awarded_gpu_hours == 6_000  # three awards of 2,000, each 1,000 released + 1,000 pending
    Allocation.objects.filter(call=round_call).update(ends_on=date(2020, 1, 1))
    assert allocations_expire_due() == 3
    pool.refresh_from_db()
    assert pool.awarded_gpu_hours == 3_000
    assert set(AllocationStage.objects.filter(number=2).values_list("state", flat=True)) == {"returned"}
    assert allocations_expire_due() == 0
