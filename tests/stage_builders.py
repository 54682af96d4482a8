"""Staged awards for tests, made the way an approved round makes them (quotas' round approval on main):
the award's GPU-hours of one type split over stages in proportion to their months (the remainder to the
last), stage 1 released and the rest pending; the budget holds stage 1's hours, the pool the whole award."""

from dateutil.relativedelta import relativedelta

from quotas.models import AllocationBudget, AllocationStage, StageState


def stage_split(gpu_hours: int, months: list[int]) -> list[int]:
    shares = [gpu_hours * m // sum(months) for m in months]
    shares[-1] += gpu_hours - sum(shares)
    return shares


def staged(allocation, months: list[int], gpu_type: str = "A100") -> list[AllocationStage]:
    """Split ``allocation``'s awarded ``gpu_type`` GPU-hours into stages of ``months``."""
    budget = AllocationBudget.objects.get(allocation=allocation, gpu_type=gpu_type)
    hours = stage_split(budget.awarded_gpu_hours, months)
    stages, starts_on = [], allocation.starts_on
    for number, (length, stage_hours) in enumerate(zip(months, hours, strict=True), start=1):
        ends_on = starts_on + relativedelta(months=length) - relativedelta(days=1)
        stages.append(
            AllocationStage.objects.create(
                allocation=allocation,
                number=number,
                starts_on=starts_on,
                ends_on=ends_on,
                gpu_type=gpu_type,
                gpu_hours=stage_hours,
                state=StageState.RELEASED if number == 1 else StageState.PENDING,
            )
        )
        starts_on = ends_on + relativedelta(days=1)
    budget.awarded_gpu_hours = hours[0]
    budget.save(update_fields=["awarded_gpu_hours"])
    type(allocation).objects.filter(pk=allocation.pk).update(ends_on=stages[-1].ends_on)
    allocation.ends_on = stages[-1].ends_on
    return stages
