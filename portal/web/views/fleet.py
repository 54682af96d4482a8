"""Staff's fleet page: GPUs by state, the queue, awarded hours used, and idle-GPU offenders."""

from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.web.access import staff_required
from portal.web.fleet_selectors import (
    GPU_STATES,
    awarded_hours_used_by_organisation,
    fleet_gpus,
    idle_offenders,
    queue_by_gpu_type,
)

GPU_STATE_NAMES = {
    "busy": _("Busy"),
    "idle": _("Idle"),
    "reserved": _("Reserved"),
    "free": _("Free"),
    "external": _("External"),
}


@staff_required
def staff_fleet(request):
    context = {
        "gpus": fleet_gpus(),
        "queue": queue_by_gpu_type(now=timezone.now()),
        "organisations": awarded_hours_used_by_organisation(),
        "idle_jobs": idle_offenders(),
        "gpu_state_labels": {state: GPU_STATE_NAMES[state] for state in GPU_STATES},
    }
    return render(request, "web/staff/fleet.html", context)
