"""One organisation with one active allocation and a budget, inserted directly: what the benchmarks that
run scheduling cycles start from (submission is not what they measure)."""

from datetime import date, timedelta


def bench_allocation(gpu_type: str, *, held_gpu_seconds: int = 0):
    """A verified university with an owner, an open call, an approved application and its allocation
    (no concurrency cap to speak of) with a budget of ``gpu_type`` GPU-hours; returns (user, organisation,
    allocation)."""
    from django.utils import timezone

    from portal.accounts.models import User
    from portal.applications.models import Application
    from portal.calls.models import Call
    from portal.organisations.models import Membership, Organisation
    from quotas.models import Allocation, AllocationBudget

    user = User.objects.create_user(email="bench@example.test", password="x")
    organisation = Organisation.objects.create(
        name="Bench", org_type="university", registration_number="BENCH-1", verified=True
    )
    Membership.objects.create(organisation=organisation, user=user, role="owner")
    now = timezone.now()
    today = date.today()
    call = Call.objects.create(
        title="bench",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=1),
        eligible_org_types=["university"],
        allocation_start=today,
        allocation_end=today + timedelta(days=30),
    )
    application = Application.objects.create(
        call=call,
        organisation=organisation,
        created_by=user,
        project_title="bench",
        summary="s",
        field="other",
        requested_start=today,
        requested_end=today + timedelta(days=30),
        max_concurrent_gpus=100_000,
        justification="j",
        state="approved",
    )
    allocation = Allocation.objects.create(
        organisation=organisation,
        call=call,
        application=application,
        project_title="bench",
        starts_on=today,
        ends_on=today + timedelta(days=30),
        max_concurrent_gpus=100_000,
    )
    AllocationBudget.objects.create(
        allocation=allocation,
        gpu_type=gpu_type,
        awarded_gpu_hours=100_000_000,
        held_gpu_seconds=held_gpu_seconds,
    )
    return user, organisation, allocation
