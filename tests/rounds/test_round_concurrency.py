"""Rounds under concurrency on real PostgreSQL: two staff approving one round at once award it once;
an owner accepting while the lapse runs leaves one outcome, never both. Each thread has its own
connection and transaction, all released by one barrier (tests/quotas/test_award_concurrency.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.errors import Conflict
from quotas.agreements import agreement_accept, agreements_lapse_due
from quotas.models import Agreement, Allocation, AllocationStatus, CallPool, RoundLine
from quotas.round import round_approve, round_propose
from tests.quotas.test_award_concurrency import _run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_staff_approving_one_round_at_once_award_it_once(round_call, applicants, staff):
    from tests import builders

    other = builders.make_user(staff=True)
    round_propose(staff=staff, call=round_call)
    awards = RoundLine.objects.filter(round__call=round_call, decision="award").count()
    results = _run_together(
        [
            lambda: round_approve(staff=staff, call=round_call),
            lambda: round_approve(staff=other, call=round_call),
        ]
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict) and refused[0].code == "round_approved", (
        results
    )
    assert Allocation.objects.filter(call=round_call).count() == awards == 3
    assert CallPool.objects.get(call=round_call, gpu_type="A100").awarded_gpu_hours == 6_000


def test_accepting_while_the_lapse_runs_leaves_one_outcome(round_call, applicants, staff):
    round_propose(staff=staff, call=round_call)
    round_approve(staff=staff, call=round_call)
    agreement = Agreement.objects.get(allocation__application=applicants[0])
    # the deadline a moment away: the owner's acceptance and the lapse race for it
    deadline = timezone.now() + timedelta(seconds=2)
    Agreement.objects.filter(pk=agreement.pk).update(deadline=deadline)
    agreement.refresh_from_db()
    owner = applicants[0].created_by
    results = _run_together(
        [
            lambda: agreement_accept(user=owner, agreement=agreement, terms_version="2026-1", address=None),
            lambda: agreements_lapse_due(now=deadline + timedelta(seconds=1)),
        ]
    )
    agreement.refresh_from_db()
    allocation = agreement.allocation
    allocation.refresh_from_db()
    pool = CallPool.objects.get(call=round_call, gpu_type="A100")
    if agreement.state == "accepted":
        assert results[1] == 0 and allocation.status == AllocationStatus.ACTIVE
        assert pool.awarded_gpu_hours == 6_000
    else:
        assert agreement.state == "lapsed" and results[1] == 1, results
        assert isinstance(results[0], Conflict) and allocation.status == AllocationStatus.LAPSED
        assert pool.awarded_gpu_hours == 4_000  # its 2,000 came back; nobody waiting could take them
