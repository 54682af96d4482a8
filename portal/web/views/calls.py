"""Calls for applications, as applicants see them."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from portal.calls.selectors import calls_visible_to
from portal.web.access import visible_or_404
from portal.web.selectors import organisations_of


@login_required
def call_list(request):
    return render(request, "web/calls/list.html", {"calls": calls_visible_to(request.user)})


@login_required
def call_detail(request, public_id):
    call = visible_or_404(calls_visible_to(request.user), public_id)
    context = {
        "call": call,
        "pools": call.pools.all(),
        "tracks": call.tracks.all(),
        "can_apply": call.is_open() and organisations_of(request.user).exists(),
    }
    return render(request, "web/calls/detail.html", context)
