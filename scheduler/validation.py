"""Rules for a job's content, shared by the API and the portal through the submit service."""

import re

from django.conf import settings
from django.utils.translation import gettext as _

from portal.environments.validation import IMAGE
from scheduler.job_fields import (
    ARGUMENT_MAX_LENGTH,
    COMMAND_MAX_ARGUMENTS,
    ENVIRONMENT_MAX_VARIABLES,
    IMAGE_MAX_LENGTH,
    MAX_GPUS_PER_POD,
    MAX_PODS,
    MIN_RUNTIME_MINUTES,
    NAME_MAX_LENGTH,
)
from scheduler.models import JobKind, JobPriority

NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._ -]{{0,{NAME_MAX_LENGTH - 1}}}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED_ENV = {
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "RANK",
    "WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
}


def job_content_errors(
    *, name, kind, image, command, environment, gpus_per_pod, pods, max_runtime_minutes, priority
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not NAME.match(name):
        errors["name"] = [
            _("1–100 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit.")
        ]
    if kind not in JobKind.values:
        errors["kind"] = [_("Choose training or inference.")]
    if not isinstance(image, str) or len(image) > IMAGE_MAX_LENGTH or not IMAGE.match(image):
        errors["image"] = [_("A container image reference such as registry.example.kr/team/train:1.2.")]
    if (
        not isinstance(command, list)
        or not 1 <= len(command) <= COMMAND_MAX_ARGUMENTS
        or not all(isinstance(part, str) and 0 < len(part) <= ARGUMENT_MAX_LENGTH for part in command)
    ):
        errors["command"] = [_("A list of 1–100 non-empty strings, like a container's command.")]
    if not isinstance(environment, dict) or len(environment) > ENVIRONMENT_MAX_VARIABLES:
        errors["environment"] = [_('At most 100 variables, as {"NAME": "value"}.')]
    else:
        bad = [
            key
            for key, value in environment.items()
            if not isinstance(key, str)
            or not ENV_NAME.match(key)
            or not isinstance(value, str)
            or len(value) > ARGUMENT_MAX_LENGTH
        ]
        reserved = [
            key
            for key in environment
            if isinstance(key, str) and (key in RESERVED_ENV or key.startswith("GPUGRANT_"))
        ]
        if bad:
            errors["environment"] = [
                _("Invalid variable names or values: %(names)s.") % {"names": ", ".join(map(str, bad[:5]))}
            ]
        elif reserved:
            errors["environment"] = [
                _("Set by gpugrant, not by jobs: %(names)s.") % {"names": ", ".join(sorted(reserved))}
            ]
    if not _int_between(gpus_per_pod, 1, MAX_GPUS_PER_POD):
        errors["gpus_per_pod"] = [_("A whole number from 1 to 8.")]
    if not _int_between(pods, 1, MAX_PODS):
        errors["pods"] = [_("A whole number from 1 to %(most)s.") % {"most": MAX_PODS}]
    limit = settings.GPUGRANT_MAX_RUNTIME_MINUTES
    if not _int_between(max_runtime_minutes, MIN_RUNTIME_MINUTES, limit):
        errors["max_runtime_minutes"] = [
            _("Required: a whole number of minutes from 1 to %(most)s.") % {"most": limit}
        ]
    if priority not in JobPriority.values:
        errors["priority"] = [_("Choose low, normal or high.")]
    return errors


def _int_between(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
