"""Accepting an award's agreement, and lapsing those not accepted in time (docs/programme.md).

Only an owner of the award's organisation accepts, and only the exact terms offered (their version);
who, when and from which address are recorded. Past the deadline the award lapses: its GPU-hours return
to the call's pool and are offered down the round's waitlist.

Lock order (docs/concurrency.md): Application → CallPool rows by gpu_type → Allocation → budgets.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.applications.transitions import lock_application
from portal.audit.services import audit_record
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.services import notify
from portal.organisations.models import Membership, MembershipRole
from portal.organisations.selectors import owners_and_managers
from quotas.models import (
    Agreement,
    AgreementState,
    Allocation,
    AllocationStage,
    AllocationStatus,
    CallPool,
    StageState,
)
from quotas.waitlist import waitlist_offer


def is_owner(user, organisation) -> bool:
    return Membership.objects.filter(user=user, organisation=organisation, role=MembershipRole.OWNER).exists()


def agreement_accept(*, user, agreement: Agreement, terms_version: str, address: str | None) -> Agreement:
    """The organisation's owner accepts the terms of ``terms_version``; the award becomes active."""
    if not is_owner(user, agreement.allocation.organisation):
        raise NotAllowed(_("Only an owner of the organisation accepts its agreements."))
    with transaction.atomic():
        agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
        if agreement.state != AgreementState.PENDING:
            raise Conflict(
                _("This agreement is %(state)s already.") % {"state": agreement.get_state_display()},
                code="agreement_" + agreement.state,
            )
        if timezone.now() >= agreement.deadline:
            raise Conflict(
                _("The deadline to accept has passed; the award lapses."), code="agreement_deadline"
            )
        if terms_version != agreement.terms_version:
            raise InvalidInput(
                _("These are not the terms offered."),
                fields={
                    "terms_version": [
                        _("The terms offered are version %(version)s; read them and accept that version.")
                        % {"version": agreement.terms_version}
                    ]
                },
            )
        allocation = Allocation.objects.select_for_update().get(pk=agreement.allocation_id)
        agreement.state = AgreementState.ACCEPTED
        agreement.accepted_by, agreement.accepted_at, agreement.accepted_from = user, timezone.now(), address
        agreement.save()
        allocation.status = AllocationStatus.ACTIVE
        allocation.save(update_fields=["status"])
        audit_record(
            actor=user,
            target=allocation,
            action="agreement_accepted",
            from_state=AllocationStatus.AWAITING_AGREEMENT,
            to_state=AllocationStatus.ACTIVE,
            data={"terms_version": agreement.terms_version, "terms_sha256": agreement.terms_sha256,
                  "address": address},
        )  # fmt: skip
    return agreement


def agreements_lapse_due(*, now=None) -> int:
    """Lapse every pending agreement past its deadline, return its GPU-hours, offer them down the
    waitlist. Idempotent."""
    now = now or timezone.now()
    calls = {}
    lapsed = 0
    for agreement_id in Agreement.objects.filter(state=AgreementState.PENDING, deadline__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            agreement = Agreement.objects.select_related("allocation__application").get(pk=agreement_id)
            lock_application(agreement.allocation.application)
            agreement = Agreement.objects.select_for_update().get(pk=agreement_id)
            if agreement.state != AgreementState.PENDING or agreement.deadline > now:
                continue
            allocation = agreement.allocation
            budgets = list(allocation.budgets.all())
            pending_by_type: dict[str, int] = {}
            for s in AllocationStage.objects.filter(
                allocation=allocation, state__in=[StageState.PENDING, StageState.REPORTED]
            ):
                pending_by_type[s.gpu_type] = pending_by_type.get(s.gpu_type, 0) + s.gpu_hours
            returned = {b.gpu_type: b.awarded_gpu_hours + pending_by_type.get(b.gpu_type, 0) for b in budgets}
            for pool in (
                CallPool.objects.select_for_update()
                .filter(call_id=allocation.call_id, gpu_type__in=list(returned))
                .order_by("gpu_type")
            ):
                pool.awarded_gpu_hours -= min(pool.awarded_gpu_hours, returned[pool.gpu_type])
                pool.save(update_fields=["awarded_gpu_hours"])
            allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
            allocation.status = AllocationStatus.LAPSED
            allocation.save(update_fields=["status"])
            agreement.state = AgreementState.LAPSED
            agreement.save(update_fields=["state"])
            audit_record(
                actor=None,
                target=allocation,
                action="allocation_lapsed",
                from_state=AllocationStatus.AWAITING_AGREEMENT,
                to_state=AllocationStatus.LAPSED,
                reason=f"agreement not accepted by {agreement.deadline.isoformat()}",
                data={"returned_gpu_hours": returned},
            )
            notify(
                recipients=owners_and_managers(allocation.organisation),
                subject=format_lazy(gettext_lazy("Award lapsed: {title}"), title=allocation.project_title),
                body=format_lazy(
                    gettext_lazy(
                        "The agreement for '{title}' was not accepted by its deadline, so the award lapsed "
                        "and its GPU-hours went back to the programme."
                    ),
                    title=allocation.project_title,
                ),
            )
            calls[allocation.call_id] = allocation.call
            lapsed += 1
    for call in calls.values():
        waitlist_offer(call=call)
    return lapsed
