"""A round's staged award after approval: a stage returned, or unused hours reclaimed, goes back to the
track pool and is offered at once to the next on the waitlist (main's waitlist_offer, run on commit)."""

import pytest

from quotas.agreements import agreement_accept
from quotas.models import Allocation, AllocationStage, CallPool, LineOutcome, Reclaim, RoundLine
from quotas.reclaims import reclaim_decide
from quotas.round import round_approve, round_propose
from quotas.round_selectors import track_pools_left
from quotas.stages import stage_evaluate, stage_report_opens_on, stage_report_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved_round(round_call, applicants, staff):
    """Ranks 1 and 2 awarded 2,500 A100 GPU-hours each (stages of 1,250), both signed; rank 3 (1,500
    asked) waits: only 1,000 are left in the small track's 6,000."""
    for app, hours in zip(applicants[:3], (2_500, 2_500, 1_500), strict=True):
        app.gpu_requests.update(gpu_hours=hours)
    round_propose(staff=staff, call=round_call)
    round_approve(staff=staff, call=round_call)
    for app in applicants[:2]:
        agreement_accept(
            user=app.created_by,
            agreement=app.resulting_allocation.agreement,
            terms_version="2026-1",
            address=None,
        )
    assert RoundLine.objects.get(application=applicants[2]).outcome == LineOutcome.WAITLISTED
    assert track_pools_left(round_call)[("small", "A100")] == 1_000
    return [Allocation.objects.get(application=app) for app in applicants[:2]]


def test_a_returned_stage_is_offered_down_the_waitlist(
    approved_round, applicants, round_call, staff, django_capture_on_commit_callbacks
):
    first = approved_round[0]
    stage = AllocationStage.objects.get(allocation=first, number=2)
    stage_report_submit(
        allocation=first,
        user=applicants[0].created_by,
        number=2,
        report="Little done.",
        today=stage_report_opens_on(stage),
    )
    with django_capture_on_commit_callbacks(execute=True):
        stage_evaluate(allocation=first, staff=staff, number=2, decision="return", evaluation="Not enough.")
    # 1,250 back: 2,250 left, enough for rank 3's 1,500, which is offered at once.
    assert RoundLine.objects.get(application=applicants[2]).outcome == LineOutcome.OFFERED
    assert CallPool.objects.get(call=round_call, gpu_type="A100").awarded_gpu_hours == 5_000 - 1_250 + 1_500
    assert track_pools_left(round_call)[("small", "A100")] == 750


def test_an_accepted_reclaim_is_offered_down_the_waitlist(
    approved_round, applicants, round_call, staff, django_capture_on_commit_callbacks
):
    reclaim = Reclaim.objects.create(allocation=approved_round[1], gpu_type="A100", gpu_hours=500)
    with django_capture_on_commit_callbacks(execute=True):
        reclaim_decide(reclaim=reclaim, staff=staff, decision="accept")
    assert RoundLine.objects.get(application=applicants[2]).outcome == LineOutcome.OFFERED
    assert track_pools_left(round_call)[("small", "A100")] == 0
    assert CallPool.objects.get(call=round_call, gpu_type="A100").awarded_gpu_hours == 6_000
