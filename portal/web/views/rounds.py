"""A call's round in the portal: staff set it up, propose, adjust and approve it; an organisation's owner
accepts the agreement of an award. Thin: the rules are in quotas.round_setup, quotas.round and
quotas.agreements."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.lockout import client_address
from portal.calls.selectors import calls_visible_to
from portal.errors import ServiceError
from portal.web.access import staff_required, visible_or_404
from portal.web.forms.rounds import AcceptAgreementForm, LeversForm, LineAdjustForm, TracksForm
from portal.web.round_reasons import reason_text
from quotas import round as rounds
from quotas import round_setup
from quotas.agreements import agreement_accept, is_owner
from quotas.models import Agreement, AllocationRound, RoundLine
from quotas.ranking import call_ranking
from quotas.round_selectors import round_lines, track_pools_left
from quotas.selectors import allocations_visible_to


def _call(request, public_id):
    return visible_or_404(calls_visible_to(request.user), public_id)


@staff_required
def staff_round(request, public_id):
    call = _call(request, public_id)
    the_round = AllocationRound.objects.filter(call=call).first()
    lines = round_lines(the_round) if the_round else []
    for line in lines:
        line.reason_text = reason_text(line.reason, line.params)
    left = track_pools_left(call)
    tracks = [
        {
            "track": t,
            "pools": [(p.gpu_type, p.gpu_hours, left.get((t.code, p.gpu_type), 0)) for p in t.pools.all()],
        }
        for t in call.tracks.prefetch_related("pools")
    ]
    context = {
        "call": call,
        "round": the_round,
        "lines": lines,
        "tracks": tracks,
        "ranked": len(call_ranking(call)) if the_round is None else None,
        "levers": round_setup.call_levers(call),
        "awarded": sum(line.gpu_hours for line in lines if line.decision == "award"),
        "adjust_form": LineAdjustForm(),
    }
    return render(request, "web/staff/round.html", context)


@staff_required
@require_POST
def staff_round_propose(request, public_id):
    call = _call(request, public_id)
    try:
        rounds.round_propose(staff=request.user, call=call)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The round is proposed from the ranking."))
    return redirect("web:staff_round", public_id=call.public_id)


@staff_required
@require_POST
def staff_round_line(request, public_id, application_id):
    call = _call(request, public_id)
    line = RoundLine.objects.filter(round__call=call, application__public_id=application_id).first()
    if line is None:
        raise Http404
    form = LineAdjustForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(
                request, f"{form.fields[field].label if field in form.fields else ''}: {' '.join(errors)}"
            )
        return redirect("web:staff_round", public_id=call.public_id)
    try:
        rounds.round_line_adjust(staff=request.user, line=line, **form.cleaned_data)
    except ServiceError as error:
        details = " ".join(m for ms in error.fields.values() for m in ms)
        messages.error(request, f"{error.message} {details}".strip())
    else:
        messages.success(request, _("Line %(rank)s is changed.") % {"rank": line.position})
    return redirect("web:staff_round", public_id=call.public_id)


@staff_required
@require_POST
def staff_round_approve(request, public_id):
    call = _call(request, public_id)
    try:
        rounds.round_approve(staff=request.user, call=call)
    except ServiceError as error:
        details = " ".join(m for ms in error.fields.values() for m in ms)
        messages.error(request, f"{error.message} {details}".strip())
    else:
        messages.success(request, _("The round is approved; every applicant is notified."))
    return redirect("web:staff_round", public_id=call.public_id)


@staff_required
def staff_round_setup(request, public_id):
    call = _call(request, public_id)
    tracks = call.tracks.prefetch_related("pools")
    gpu_types = [p.gpu_type for p in call.pools.all()]
    levers_form = LeversForm(
        request.POST if "levers" in request.POST else None, levers=round_setup.call_levers(call)
    )
    tracks_form = TracksForm(
        request.POST if "tracks" in request.POST else None, tracks=tracks, gpu_types=gpu_types
    )
    if request.method == "POST":
        form, save = (
            (
                levers_form,
                lambda f: round_setup.call_levers_set(staff=request.user, call=call, levers=f.levers()),
            )
            if "levers" in request.POST
            else (
                tracks_form,
                lambda f: round_setup.call_tracks_set(staff=request.user, call=call, tracks=f.tracks()),
            )
        )
        if form.is_valid():
            try:
                save(form)
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("The round's setup is saved."))
                return redirect("web:staff_round_setup", public_id=call.public_id)
    context = {"call": call, "levers_form": levers_form, "tracks_form": tracks_form}
    return render(request, "web/staff/round_setup.html", context)


@login_required
def allocation_agreement(request, public_id):
    allocation = visible_or_404(allocations_visible_to(request.user), public_id)
    agreement = Agreement.objects.select_related("accepted_by").filter(allocation=allocation).first()
    if agreement is None:
        raise Http404
    owner = is_owner(request.user, allocation.organisation)
    form = AcceptAgreementForm(request.POST or None, initial={"terms_version": agreement.terms_version})
    if request.method == "POST" and form.is_valid():
        try:
            agreement_accept(
                user=request.user,
                agreement=agreement,
                terms_version=form.cleaned_data["terms_version"],
                address=client_address(request) if client_address(request) != "unknown" else None,
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The agreement is accepted; the award is active."))
            return redirect("web:allocation_detail", public_id=allocation.public_id)
    context = {"allocation": allocation, "agreement": agreement, "is_owner": owner, "form": form}
    return render(request, "web/allocations/agreement.html", context)
