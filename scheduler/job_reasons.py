"""Job state reasons in the reader's language.

Reasons are stored as English text when a job moves (the API returns them so, and they are the audit
trail). Pages translate the ones gpugrant itself writes when they are shown, by matching the formats
below; anything else (a backend's or a person's words) is shown as it was stored.
"""

import re

from django.utils.translation import gettext, gettext_lazy

# (pattern over the whole stored reason, its translatable format with the same named parts)
FORMATS = [
    (r"accepted; waiting for GPUs", gettext_lazy("accepted; waiting for GPUs")),
    (r"running", gettext_lazy("running")),
    (r"placed on (?P<where>.+)", gettext_lazy("placed on %(where)s")),
    (
        r"finished successfully \(exit code (?P<code>-?\d+)\)",
        gettext_lazy("finished successfully (exit code %(code)s)"),
    ),
    (r"failed \(exit code (?P<code>-?\d+)\)", gettext_lazy("failed (exit code %(code)s)")),
    (
        r"failed \(exit code (?P<code>-?\d+)\): (?P<detail>.+)",
        gettext_lazy("failed (exit code %(code)s): %(detail)s"),
    ),
    (r"failed \(no exit code\)", gettext_lazy("failed (no exit code)")),
    (r"failed \(no exit code\): (?P<detail>.+)", gettext_lazy("failed (no exit code): %(detail)s")),
    (
        r"stopped after its max_runtime of (?P<minutes>\d+) minutes",
        gettext_lazy("stopped after its max_runtime of %(minutes)s minutes"),
    ),
    (r"stopped: it ran past its max_runtime", gettext_lazy("stopped: it ran past its max_runtime")),
    (r"cancelled; its pods were stopped", gettext_lazy("cancelled; its pods were stopped")),
    (
        r"cancelled by (?P<email>\S+) before it started",
        gettext_lazy("cancelled by %(email)s before it started"),
    ),
    (
        r"cancel requested by (?P<email>\S+); stopping",
        gettext_lazy("cancel requested by %(email)s; stopping"),
    ),
    (r"preempted for a job that waited longer", gettext_lazy("preempted for a job that waited longer")),
    (
        r"preempted \(low priority\) for a job waiting longer(?P<stopping>; stopping)?",
        gettext_lazy("preempted (low priority) for a job waiting longer%(stopping)s"),
    ),
    (
        r"preempted \(its allocation runs beyond its fair share\) for a job waiting longer(?P<stopping>; stopping)?",
        gettext_lazy(
            "preempted (its allocation runs beyond its fair share) for a job waiting longer%(stopping)s"
        ),
    ),
    (
        r"stopped: the allocation's GPU-hours ran out",
        gettext_lazy("stopped: the allocation's GPU-hours ran out"),
    ),
    (
        r"stopping: the allocation's (?P<gpu_type>\S+) GPU-hours are used up",
        gettext_lazy("stopping: the allocation's %(gpu_type)s GPU-hours are used up"),
    ),
    (
        r"stopped by gpugrant: its GPUs stayed idle \(allocation policy\)",
        gettext_lazy("stopped by gpugrant: its GPUs stayed idle (allocation policy)"),
    ),
    (
        r"warning: its GPUs have been idle for (?P<minutes>\d+) minutes",
        gettext_lazy("warning: its GPUs have been idle for %(minutes)s minutes"),
    ),
    (
        r"stopping: its GPUs were idle for (?P<minutes>\d+) minutes",
        gettext_lazy("stopping: its GPUs were idle for %(minutes)s minutes"),
    ),
    (
        r"stopped: its allocation is no longer active",
        gettext_lazy("stopped: its allocation is no longer active"),
    ),
    (
        r"stopping: its allocation is no longer active",
        gettext_lazy("stopping: its allocation is no longer active"),
    ),
    (r"its allocation's period has ended", gettext_lazy("its allocation's period has ended")),
    (r"lost (?P<times>\d+) times; giving up", gettext_lazy("lost %(times)s times; giving up")),
    (r"lost: (?P<detail>.+)", gettext_lazy("lost: %(detail)s")),
    (
        r"could not be started \((?P<detail>.+)\); requeued",
        gettext_lazy("could not be started (%(detail)s); requeued"),
    ),
]
_COMPILED = [(re.compile(pattern), text) for pattern, text in FORMATS]
_NESTED = {"detail"}  # parts that may themselves be one of gpugrant's reasons


def job_reason_text(reason: str) -> str:
    """``reason`` in the active language where gpugrant wrote it in one of its formats, else as stored."""
    for pattern, text in _COMPILED:
        match = pattern.fullmatch(reason or "")
        if match:
            parts = {
                name: (job_reason_text(value) if name in _NESTED else value) if value is not None else ""
                for name, value in match.groupdict().items()
            }
            if "stopping" in parts and parts["stopping"]:
                parts["stopping"] = gettext("; stopping")
            return str(text) % parts if parts else str(text)
    return reason
