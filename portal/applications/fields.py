"""An application's content fields, defined once: their names, kinds, limits and labels.

The services validate content against these (validation.py), the API's serializers and the portal's forms
build their fields from them, so a limit or a choice changes in one place for every entry point. Whether a
field must be given is the caller's: an edit (PATCH) may leave any out, creating may not; text is never
blank. GPU-hours per GPU type are not among them: they go alongside, as ``gpu_requests``.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.applications.models import LIMITS, MAX_CONCURRENT_GPUS, ResearchField


class Kind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"
    DATE = "date"
    COUNT = "count"  # a whole number from min_value to max_value


@dataclass(frozen=True)
class ContentField:
    kind: Kind
    label: Promise  # the portal's label; the API shows none, so that its schema carries no titles
    max_length: int | None = None
    choices: list[tuple[str, str]] | None = None
    min_value: int | None = None
    max_value: int | None = None


CONTENT = {
    "project_title": ContentField(Kind.TEXT, _("Project title"), max_length=LIMITS["title"]),
    "summary": ContentField(Kind.TEXT, _("Summary"), max_length=LIMITS["summary"]),
    "field": ContentField(Kind.CHOICE, _("Research field"), choices=ResearchField.choices),
    "requested_start": ContentField(Kind.DATE, _("Start")),
    "requested_end": ContentField(Kind.DATE, _("End")),
    "max_concurrent_gpus": ContentField(
        Kind.COUNT, _("Most GPUs in use at once"), min_value=1, max_value=MAX_CONCURRENT_GPUS
    ),
    "justification": ContentField(
        Kind.TEXT, _("Why you need public GPU time"), max_length=LIMITS["justification"]
    ),
}
CONTENT_FIELDS = tuple(CONTENT)
# What a change request asks for; the rest it takes from the allocation and its original application.
CHANGE_REQUEST_FIELDS = ("requested_end", "max_concurrent_gpus", "justification")
