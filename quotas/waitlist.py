"""Offering freed GPU-hours down a round's waitlist (docs/programme.md).

GPU-hours come back to a call's track pools when an award lapses unsigned, a stage is not released or
unused hours are reclaimed. They go to the waitlisted applications in ranking order: each that fits what
its track pool has left, and that the concentration caps still allow, is offered its award (with the
agreement to accept, as in the round). The sector and regional shares were settled in the round; the
waitlist is already the ranking's order after them. Applications staff decided otherwise meanwhile, or
whose organisation is still unverified, are passed over.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.applications.states import State
from portal.calls.models import Call
from portal.errors import Conflict
from portal.providers.models import Region
from quotas.models import AllocationRound, LineOutcome, RoundLine, RoundState
from quotas.round import award_line
from quotas.round_selectors import org_active_awards, track_pools_left
from quotas.rounds.proposal import AWARD, Candidate, Levers, propose


def waitlist_offer(*, call: Call, actor=None) -> list[RoundLine]:
    """Offer what the call's track pools have left down its round's waitlist; the lines offered."""
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call.pk)
        the_round = AllocationRound.objects.filter(call=call, state=RoundState.APPROVED).first()
        if the_round is None:
            return []
        waiting = [
            line
            for line in the_round.lines.select_related("application__organisation", "application__track")
            .filter(outcome=LineOutcome.WAITLISTED, application__state=State.UNDER_REVIEW)
            .order_by("position", "id")
            if line.application.organisation.verified and line.application.track_id and line.gpu_type
        ]
        if not waiting:
            return []
        by_id = {str(line.pk): line for line in waiting}
        existing = org_active_awards({line.application.organisation for line in waiting})
        levers = Levers(
            pools={key: hours for key, hours in track_pools_left(call).items()},
            max_hours_per_org=call.max_gpu_hours_per_org,
            max_awards_per_org=call.max_awards_per_org,
            existing={str(org): totals for org, totals in existing.items()},
        )
        candidates = [
            Candidate(
                application=str(line.pk),
                organisation=str(line.application.organisation_id),
                sector=line.application.organisation.org_type,
                capital=line.application.organisation.region != Region.NON_CAPITAL,
                track=line.application.track.code,
                gpu_type=line.gpu_type,
                gpu_hours=line.asked_gpu_hours,
                position=line.position,
            )
            for line in waiting
        ]
        deadline = (
            timezone.now() + timedelta(days=call.agreement_days) if call.agreement_terms.strip() else None
        )
        offered = []
        for decided in propose(candidates, levers):
            if decided.decision != AWARD:
                continue
            line = by_id[decided.application]
            line.gpu_hours = decided.gpu_hours
            line.save(update_fields=["gpu_hours"])
            try:
                with transaction.atomic():
                    award_line(
                        line,
                        staff=actor,
                        deadline=deadline,
                        outcome=LineOutcome.OFFERED,
                        reason=_("Offered from the waitlist of the allocation round: rank %(rank)s.")
                        % {"rank": line.position},
                    )
            except Conflict:
                continue  # the call's own pool is short (an award outside the tracks took it): not offered
            offered.append(line)
    return offered
