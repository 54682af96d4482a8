"""Periodic quota housekeeping (thin: the work is in quotas.services)."""

from celery import shared_task

from quotas import agreements, services


@shared_task
def allocations_expire_due() -> int:
    return services.allocations_expire_due()


@shared_task
def agreements_lapse_due() -> int:
    return agreements.agreements_lapse_due()
