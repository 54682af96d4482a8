"""What must hold after any fault and its recovery (../shared/guide/architecture.md, invariants 1, 3, 4)."""

from django.db.models import Sum

from quotas.models import AllocationBudget, LedgerEntry, UsageRecord
from scheduler.models import Job
from scheduler.states import TERMINAL, JobState
from tests.scheduler.helpers import assert_no_gpu_double_booked


def assert_invariants() -> None:
    # 1. No GPU is assigned to two running jobs; every active job holds exactly its placement's GPUs.
    assert_no_gpu_double_booked()
    # 3. Every usage record has exactly one debit; the budgets' used GPU-seconds are the debits.
    usage = UsageRecord.objects.aggregate(s=Sum("gpu_seconds"))["s"] or 0
    debits = LedgerEntry.objects.aggregate(s=Sum("gpu_seconds"))["s"] or 0
    assert usage == debits, f"usage {usage} GPU-s ≠ debits {debits} GPU-s"
    assert UsageRecord.objects.count() == LedgerEntry.objects.count()
    for job in Job.objects.all():
        recorded = UsageRecord.objects.filter(job=job).aggregate(s=Sum("gpu_seconds"))["s"] or 0
        assert job.used_gpu_seconds == recorded, (
            f"job {job.pk} used {job.used_gpu_seconds} ≠ its records {recorded}"
        )
    # Holds: each budget holds exactly what its unfinished jobs hold; finished jobs hold nothing.
    terminal = [state.value for state in TERMINAL]
    assert not Job.objects.filter(state__in=terminal).exclude(hold_gpu_seconds=0).exists()
    for budget in AllocationBudget.objects.all():
        jobs = Job.objects.filter(allocation_id=budget.allocation_id, gpu_type=budget.gpu_type)
        held = jobs.exclude(state__in=terminal).aggregate(s=Sum("hold_gpu_seconds"))["s"] or 0
        assert budget.held_gpu_seconds == held, (
            f"budget {budget} holds {budget.held_gpu_seconds} ≠ jobs' {held}"
        )
        used = LedgerEntry.objects.filter(allocation_id=budget.allocation_id, gpu_type=budget.gpu_type)
        assert budget.used_gpu_seconds == (used.aggregate(s=Sum("gpu_seconds"))["s"] or 0)
    # 4. Nothing is lost: a job is queued, placed, or ended with a reason; LOST and PREEMPTED never stay.
    assert not Job.objects.filter(state__in=[JobState.LOST, JobState.PREEMPTED]).exists()
    assert not Job.objects.filter(state__in=terminal, state_reason="").exists()


def unfinished() -> list[tuple[int, str]]:
    return list(Job.objects.exclude(state__in=[s.value for s in TERMINAL]).values_list("pk", "state"))
