"""Periodic quota housekeeping (thin: the work is in quotas.services and quotas.monitoring)."""

from celery import shared_task

from quotas import agreements, monitoring, services


@shared_task
def allocations_expire_due() -> int:
    return services.allocations_expire_due()


@shared_task
def agreements_lapse_due() -> int:
    return agreements.agreements_lapse_due()


# Idempotent (one check per award and month), so a redelivered task does no harm.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def usage_checks_run() -> int:
    return monitoring.usage_checks_run()
