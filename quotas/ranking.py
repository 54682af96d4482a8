"""The panel's ranking of a call (docs/programme.md): the submitted reviews of its applications, read
here and ranked by the pure core (quotas/rounds/ranking.py) with the call's criteria weights. The
reviews exist only where staff assigned a reviewer without a conflict of interest
(portal/applications/services.py), so the ranking rests on those alone."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from portal.applications.models import CRITERIA, Application, Review
from portal.applications.states import State
from portal.audit.services import audit_record
from portal.calls.models import Call
from portal.errors import InvalidInput, NotAllowed
from portal.providers.models import Region
from quotas.rounds.ranking import Score, rank

RANKED_STATES = (State.SUBMITTED, State.UNDER_REVIEW, State.RESUBMITTED, State.APPROVED, State.REJECTED)
MAX_WEIGHT = 100


def call_weights(call: Call) -> dict[str, float]:
    """The call's weights, every criterion named (1 where the call says nothing)."""
    return {c: float(call.criteria_weights.get(c, 1)) for c in CRITERIA}


@dataclass
class RankedApplication:
    position: int
    application: Application
    score: float
    raw: float
    reviewers: int
    bonus: float
    track_position: int | None = None  # within the application's track, where a caller numbers it


def call_ranking(call: Call) -> list[RankedApplication]:
    """Every application of ``call`` with a submitted review, best first."""
    reviews = Review.objects.filter(
        application__call=call, submitted_at__isnull=False, application__state__in=list(RANKED_STATES)
    ).values_list("reviewer_id", "application_id", *CRITERIA)
    scores = [
        Score(
            str(reviewer),
            str(app),
            {c: float(v) for c, v in zip(CRITERIA, values, strict=True) if v is not None},
        )
        for reviewer, app, *values in reviews
    ]
    if not scores:
        return []
    apps = Application.objects.select_related("organisation", "track").in_bulk(
        {int(s.application) for s in scores}
    )
    bonus = {
        str(pk): call.regional_bonus
        for pk, app in apps.items()
        if call.regional_bonus and app.organisation.region == Region.NON_CAPITAL
    }
    ranked = rank(scores, call_weights(call), bonus)
    return [
        RankedApplication(r.position, apps[int(r.application)], r.score, r.raw, r.reviewers, r.bonus)
        for r in ranked
    ]


def call_weights_set(*, staff, call: Call, weights: dict) -> Call:
    """Set how the criteria weigh in the call's ranking; field errors by criterion, audited."""
    if not getattr(staff, "is_staff", False):
        raise NotAllowed(_("Only programme staff weigh the criteria."))
    errors: dict[str, list[str]] = {}
    if not isinstance(weights, dict) or not weights:
        raise InvalidInput(
            _("The weights are not valid."), fields={"weights": [_("Give a weight per criterion.")]}
        )
    for name, value in weights.items():
        if name not in CRITERIA:
            errors[str(name)[:40]] = [
                _("Not a criterion; the criteria are %(names)s.") % {"names": ", ".join(CRITERIA)}
            ]
        elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_WEIGHT:
            errors[name] = [_("A number from 0 to %(most)s.") % {"most": MAX_WEIGHT}]
    if not errors and sum(float(weights.get(c, 1)) for c in CRITERIA) <= 0:
        errors["weights"] = [_("At least one criterion must weigh more than 0.")]
    if errors:
        raise InvalidInput(_("The weights are not valid."), fields=errors)
    before = call_weights(call)
    call.criteria_weights = {c: float(weights.get(c, 1)) for c in CRITERIA}
    call.save(update_fields=["criteria_weights"])
    audit_record(
        actor=staff,
        target=call,
        action="call_weights_set",
        data={"from": before, "to": call.criteria_weights},
    )
    return call
