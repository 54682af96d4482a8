"""Guaranteed shares in the product: every usable allocation's awarded GPU types, idle ones included,
decide what preemption restores (docs/scheduling.md, "Preempt")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from quotas.models import Allocation, AllocationStatus
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.snapshot import build_snapshot
from tests import builders
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def idle_allocation(call, staff, reviewer):
    """A third organisation's active allocation, 2000 A100 GPU-hours, that submits nothing."""
    owner = builders.make_user()
    organisation = builders.make_org(owner)
    return builders.approved(owner, organisation, call, staff, reviewer, gpu_requests={"A100": 2000})


def entitled(snapshot):
    return {(e.allocation_id, e.gpu_type, e.weight) for e in snapshot.entitlements}


def test_the_snapshot_lists_every_usable_allocations_awarded_gpu_types(
    backend, allocation, other_allocation, idle_allocation
):
    inventory_sync(backend=backend)
    snapshot, _ = build_snapshot(backend_name=backend.name)
    hours = {
        (str(a.pk), b.gpu_type, float(b.awarded_gpu_hours))
        for a in (allocation, other_allocation, idle_allocation)
        for b in a.budgets.all()
    }
    assert entitled(snapshot) == hours and ("A100" in {e[1] for e in hours})
    assert not snapshot.queue and not snapshot.running  # idle, every one of them, and still entitled
    # Suspended, ended or not yet started allocations claim nothing.
    Allocation.objects.filter(pk=other_allocation.pk).update(status=AllocationStatus.SUSPENDED)
    yesterday = timezone.localdate() - timedelta(days=1)
    Allocation.objects.filter(pk=idle_allocation.pk).update(ends_on=yesterday)
    snapshot, _ = build_snapshot(backend_name=backend.name)
    assert {e[0] for e in entitled(snapshot)} == {str(allocation.pk)}
    Allocation.objects.filter(pk=idle_allocation.pk).update(
        starts_on=timezone.localdate() + timedelta(days=1), ends_on=timezone.localdate() + timedelta(days=30)
    )
    snapshot, _ = build_snapshot(backend_name=backend.name)
    assert {e[0] for e in entitled(snapshot)} == {str(allocation.pk)}


@pytest.mark.parametrize(
    "shares, gpus, preempted", [("demand", 4, 1), ("guaranteed", 4, 0), ("guaranteed", 2, 1)]
)
def test_an_idle_allocations_share_is_not_handed_to_a_preemptor(
    backend, owner, outsider, allocation, other_allocation, idle_allocation, settings, shares, gpus, preempted
):
    """theirs runs all 8 A100 GPUs (two jobs of 4); mine waits. By demand mine's share is 4 of 8 and theirs
    is over it; guaranteed, the idle allocation keeps its third: mine's share is 2.7, which 4 GPUs exceed
    and 2 do not (theirs, at 8, is beyond its own 2.7 either way)."""
    settings.GPUGRANT_PREEMPTION_SHARES = shares
    settings.GPUGRANT_PREEMPTION_WAIT_S = 0
    settings.GPUGRANT_PREEMPTION_GRACE_S = 0
    inventory_sync(backend=backend)
    theirs = [submit(outsider, other_allocation, gpus_per_pod=4, name=f"theirs {i}") for i in range(2)]
    run_cycle(backend=backend)
    for job in theirs:
        job.refresh_from_db()
        assert job.state == "scheduled"
    submit(owner, allocation, gpus_per_pod=gpus)
    assert run_cycle(backend=backend).preempted == preempted
