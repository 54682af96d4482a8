"""Periodic quota housekeeping (thin: the work is in quotas.services)."""

from celery import shared_task

from quotas import services


@shared_task
def allocations_expire_due() -> int:
    return services.allocations_expire_due()
