"""The allocation round of a call (docs/programme.md): proposed from the panel's ranking by the pure core
(quotas/rounds/proposal.py), adjusted by staff line by line, approved in one action.

Only applications still undecided (submitted, under review, resubmitted) of a new project with a
submitted review take part; an application of an unverified organisation stays on the waitlist (an award
needs a verified registration). Each track pool's GPU-hours less what is already awarded from it are
what the proposal may give. Approval awards down the lines in one transaction: every award or none.
"""

import hashlib
import json
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.applications.models import Application, ApplicationGpuRequest, ApplicationKind
from portal.applications.states import Action, State
from portal.applications.transitions import apply_transition, lock_application
from portal.audit.services import audit_record
from portal.calls.models import Call
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.services import notify
from portal.organisations.selectors import owners_and_managers
from portal.providers.models import Region
from quotas.models import AllocationRound, LineDecision, LineOutcome, RoundLine, RoundState
from quotas.ranking import call_ranking
from quotas.round_selectors import org_active_awards, track_pools_left
from quotas.round_setup import call_levers
from quotas.rounds.proposal import AWARD, Candidate, Levers, propose
from quotas.services import allocation_award

UNDECIDED = (State.SUBMITTED, State.UNDER_REVIEW, State.RESUBMITTED)


def _require_staff(staff) -> None:
    if not getattr(staff, "is_staff", False):
        raise NotAllowed(_("Only programme staff run a round."))


def round_levers(inputs: dict) -> Levers:
    """The core's levers from a round's stored inputs (so the proposal follows from them alone)."""
    levers = inputs["levers"]
    return Levers(
        pools={tuple(key.split("/", 1)): hours for key, hours in inputs["pools"].items()},
        sector_shares={k: float(v) for k, v in levers["sector_shares"].items() if v},
        regional_share=levers["regional_share"],
        max_hours_per_org=levers["max_gpu_hours_per_org"],
        max_awards_per_org=levers["max_awards_per_org"],
        existing={org: tuple(totals) for org, totals in inputs["existing"].items()},
    )


def round_inputs(call: Call) -> dict:
    """Everything the proposal is computed from, as plain data (stored with the round, digested)."""
    tracks = list(call.tracks.prefetch_related("pools"))
    if not tracks:
        raise Conflict(_("Give the call its tracks before proposing a round."), code="no_tracks")
    ranking = [
        r
        for r in call_ranking(call)
        if r.application.state in UNDECIDED and r.application.kind == ApplicationKind.NEW
    ]
    requests: dict[int, list] = {r.application.pk: [] for r in ranking}  # read in one query below
    for app_id, gpu_type, hours in (
        ApplicationGpuRequest.objects.filter(application_id__in=list(requests), gpu_hours__gt=0)
        .order_by("application_id", "gpu_type")
        .values_list("application_id", "gpu_type", "gpu_hours")
    ):
        requests[app_id].append((gpu_type, hours))
    orgs = {r.application.organisation for r in ranking}
    existing = org_active_awards(orgs)
    candidates, excluded = [], []
    for r in ranking:
        app, org = r.application, r.application.organisation
        asked = requests[app.pk]
        row = {
            "application": str(app.public_id),
            "organisation": str(org.public_id),
            "sector": org.org_type,
            "capital": org.region != Region.NON_CAPITAL,
            "track": app.track.code if app.track_id else "",
            "gpu_type": asked[0][0] if len(asked) == 1 else "",
            "gpu_hours": asked[0][1] if len(asked) == 1 else sum(h for _t, h in asked),
            "position": r.position,
            "score": r.score,
        }
        if not org.verified:
            excluded.append({**row, "reason": "organisation_unverified"})
        elif not app.track_id or len(asked) != 1:
            excluded.append({**row, "reason": "no_track"})
        else:
            candidates.append(row)
    return {
        "levers": {**call_levers(call), "agreement_terms": None},
        "pools": {f"{t}/{g}": h for (t, g), h in sorted(track_pools_left(call).items())},
        "existing": {
            str(o.public_id): list(existing.get(o.pk, (0, 0))) for o in sorted(orgs, key=lambda o: o.pk)
        },
        "candidates": candidates,
        "excluded": excluded,
    }


def inputs_digest(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def proposal_lines(inputs: dict) -> list[dict]:
    """The proposal's lines from ``inputs`` (plain data), in ranking order."""
    fields = Candidate.__dataclass_fields__
    candidates = [Candidate(**{name: c[name] for name in fields}) for c in inputs["candidates"]]
    levers = round_levers(inputs)
    by_app = {c["application"]: c for c in [*inputs["candidates"], *inputs["excluded"]]}
    lines = [
        {**by_app[line.application], "decision": line.decision, "reason": line.reason, "params": line.params,
         "proposed": line.gpu_hours}
        for line in propose(candidates, levers)
    ]  # fmt: skip
    lines += [
        {**row, "decision": LineDecision.WAITLIST, "reason": row["reason"], "params": {}, "proposed": 0}
        for row in inputs["excluded"]
    ]
    return sorted(lines, key=lambda line: (line["position"], line["application"]))


def round_propose(*, staff, call: Call) -> AllocationRound:
    """Propose (or propose again, dropping adjustments) the round of ``call``; audited."""
    _require_staff(staff)
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call.pk)
        existing = AllocationRound.objects.filter(call=call).first()
        if existing and existing.state == RoundState.APPROVED:
            raise Conflict(_("The round of this call is approved already."), code="round_approved")
        inputs = round_inputs(call)
        lines = proposal_lines(inputs)
        digest = inputs_digest(inputs)
        if existing:
            existing.lines.all().delete()
            existing.inputs, existing.inputs_digest = inputs, digest
            existing.proposed_at, existing.proposed_by = timezone.now(), staff
            existing.save()
            the_round = existing
        else:
            the_round = AllocationRound.objects.create(
                call=call, inputs=inputs, inputs_digest=digest, proposed_by=staff
            )
        apps = {
            str(a.public_id): a
            for a in Application.objects.filter(public_id__in=[line["application"] for line in lines])
        }
        RoundLine.objects.bulk_create(
            RoundLine(
                round=the_round,
                application=apps[line["application"]],
                position=line["position"],
                score=line["score"],
                gpu_type=line["gpu_type"],
                asked_gpu_hours=line["gpu_hours"],
                proposed_decision=line["decision"],
                proposed_gpu_hours=line["proposed"],
                reason=line["reason"],
                params=line["params"],
                decision=line["decision"],
                gpu_hours=line["proposed"],
            )
            for line in lines
        )
        awarded = sum(1 for line in lines if line["decision"] == AWARD)
        audit_record(
            actor=staff,
            target=call,
            action="round_proposed",
            data={"digest": digest, "lines": len(lines), "awarded": awarded},
        )
    return the_round


def _lock_proposed(call: Call) -> AllocationRound:
    Call.objects.select_for_update().get(pk=call.pk)
    the_round = AllocationRound.objects.filter(call=call).first()
    if the_round is None:
        raise Conflict(_("Propose the round first."), code="no_round")
    if the_round.state == RoundState.APPROVED:
        raise Conflict(_("The round of this call is approved already."), code="round_approved")
    return the_round


def _pool_excess(the_round: AllocationRound, call: Call) -> list[str]:
    """What the award lines take beyond each track pool's GPU-hours left, as messages."""
    left = track_pools_left(call)
    taken: dict = {}
    for line in the_round.lines.select_related("application__track").filter(decision=LineDecision.AWARD):
        key = (line.application.track.code, line.gpu_type)
        taken[key] = taken.get(key, 0) + line.gpu_hours
    return [
        _("%(track)s, %(gpu_type)s: the awards take %(taken)s GPU-hours; %(left)s are left.")
        % {
            "track": track,
            "gpu_type": gpu_type,
            "taken": f"{hours:,}",
            "left": f"{left.get((track, gpu_type), 0):,}",
        }
        for (track, gpu_type), hours in sorted(taken.items())
        if hours > left.get((track, gpu_type), 0)
    ]


def round_line_adjust(*, staff, line: RoundLine, decision: str, gpu_hours: int, reason: str) -> RoundLine:
    """Staff change one line: award (GPU-hours up to what was asked) or waitlist; a reason is required.
    The track pools still bound the awards; the shares and caps are the proposal's, which staff may
    override with their reason on record. Audited with what the line was."""
    _require_staff(staff)
    errors: dict[str, list[str]] = {}
    if decision not in LineDecision.values:
        errors["decision"] = [_("Choose award or waitlist.")]
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = [_("Give a reason; it is kept with the line.")]
    elif len(reason) > 2000:
        errors["reason"] = [_("At most 2000 characters.")]
    if decision == LineDecision.AWARD and (
        not isinstance(gpu_hours, int)
        or isinstance(gpu_hours, bool)
        or not 1 <= gpu_hours <= line.asked_gpu_hours
    ):
        errors["gpu_hours"] = [
            _("From 1 to the %(asked)s GPU-hours asked.") % {"asked": f"{line.asked_gpu_hours:,}"}
        ]
    if errors:
        raise InvalidInput(_("The line could not be changed."), fields=errors)
    with transaction.atomic():
        the_round = _lock_proposed(line.round.call)
        line = RoundLine.objects.select_for_update().get(pk=line.pk, round=the_round)
        if decision == LineDecision.AWARD and line.reason in ("organisation_unverified", "no_track"):
            raise Conflict(
                _("This application cannot be awarded in the round: %(why)s.")
                % {"why": _("its organisation is not verified") if line.reason == "organisation_unverified"
                   else _("it has no track or asks for more than one GPU type")},
                code=line.reason,
            )  # fmt: skip
        before = {"decision": line.decision, "gpu_hours": line.gpu_hours}
        line.decision = decision
        line.gpu_hours = gpu_hours if decision == LineDecision.AWARD else 0
        line.adjusted_by, line.adjusted_at, line.adjustment_reason = staff, timezone.now(), reason.strip()
        line.save()
        excess = _pool_excess(the_round, the_round.call)
        if excess:
            raise Conflict(
                _("The track pool cannot cover this."), fields={"gpu_hours": excess}, code="pool_exhausted"
            )
        audit_record(
            actor=staff,
            target=line.application,
            action="round_line_adjusted",
            reason=reason.strip(),
            data={"from": before, "to": {"decision": line.decision, "gpu_hours": line.gpu_hours}},
        )
    return line


def round_approve(*, staff, call: Call) -> AllocationRound:
    """Award every award line and waitlist the rest, in one transaction: all or nothing. Each line is
    audited and its organisation notified once."""
    _require_staff(staff)
    with transaction.atomic():
        the_round = _lock_proposed(call)
        call = the_round.call
        excess = _pool_excess(the_round, call)
        if excess:
            raise Conflict(
                _("The track pools cannot cover the awards."), fields={"lines": excess}, code="pool_exhausted"
            )
        deadline = (
            timezone.now() + timedelta(days=call.agreement_days) if call.agreement_terms.strip() else None
        )
        lines = list(the_round.lines.select_related("application__track", "application__organisation"))
        for line in lines:
            if line.decision == LineDecision.AWARD:
                award_line(line, staff=staff, deadline=deadline, outcome=LineOutcome.AWARDED)
            else:
                _waitlist_line(line, staff=staff)
        the_round.state, the_round.approved_at, the_round.approved_by = (
            RoundState.APPROVED,
            timezone.now(),
            staff,
        )
        the_round.save()
        audit_record(
            actor=staff,
            target=call,
            action="round_approved",
            data={
                "digest": the_round.inputs_digest,
                "awarded": sum(1 for line in lines if line.decision == LineDecision.AWARD),
                "waitlisted": sum(1 for line in lines if line.decision == LineDecision.WAITLIST),
            },
        )
    return the_round


def award_line(line: RoundLine, *, staff, deadline, outcome: str, reason: str = "") -> None:
    """Award one line (its application through the one award path, quotas.services.allocation_award)."""
    application = lock_application(line.application)
    if application.state in (State.SUBMITTED, State.RESUBMITTED):
        apply_transition(application, Action.START_REVIEW, actor=staff, reason=_("allocation round"))
    track = application.track
    allocation_award(
        application=application,
        staff=staff,
        reason=reason
        or _("Allocation round: rank %(rank)s, %(track)s track.")
        % {"rank": line.position, "track": track.name},
        awarded_gpu_hours={line.gpu_type: line.gpu_hours},
        agreement_deadline=deadline,
        stage_months=list(track.stage_months),
    )
    line.outcome = outcome
    line.save(update_fields=["outcome"])


def _waitlist_line(line: RoundLine, *, staff) -> None:
    line.outcome = LineOutcome.WAITLISTED
    line.save(update_fields=["outcome"])
    application = line.application
    audit_record(
        actor=staff,
        target=application,
        action="round_waitlisted",
        reason=line.reason,
        data={"position": line.position, "params": line.params},
    )
    notify(
        recipients=[application.created_by, *owners_and_managers(application.organisation)],
        subject=format_lazy(gettext_lazy("Waitlisted: {title}"), title=application.project_title),
        body=format_lazy(
            gettext_lazy(
                "'{title}' ranked {rank} in the allocation round and is on the waitlist. If GPU-hours are "
                "freed (an award not accepted, returned or reclaimed), they are offered down the waitlist "
                "in ranking order."
            ),
            title=application.project_title,
            rank=line.position,
        ),
    )
