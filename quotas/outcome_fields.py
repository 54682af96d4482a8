"""The fields of an outcome report, defined once: the service's checks, the API's serializers, the
portal's form and the export's columns are all built from ``OUTCOME_FIELDS``."""

from dataclasses import dataclass
from enum import Enum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class OutcomeKind(Enum):
    COUNT = "count"
    AMOUNT = "amount"
    RATING = "rating"
    FLAG = "flag"
    TEXT = "text"


@dataclass(frozen=True)
class OutcomeField:
    name: str
    label: Promise
    kind: OutcomeKind
    min_value: int = 0
    max_value: int = 0
    required: bool = False


MAX_COUNT = 100_000
MAX_KRW = 10**15  # a thousand trillion won: far beyond any follow-on round, well inside a bigint
COMMENT_MAX_LENGTH = 4000

OUTCOME_FIELDS = (
    OutcomeField("publications", _("Publications"), OutcomeKind.COUNT, 0, MAX_COUNT),
    OutcomeField("patents", _("Patents filed or granted"), OutcomeKind.COUNT, 0, MAX_COUNT),
    OutcomeField("products", _("Products or services launched"), OutcomeKind.COUNT, 0, MAX_COUNT),
    OutcomeField("models_released", _("Models released"), OutcomeKind.COUNT, 0, MAX_COUNT),
    OutcomeField("datasets_released", _("Datasets released"), OutcomeKind.COUNT, 0, MAX_COUNT),
    OutcomeField("follow_on_investment_krw", _("Follow-on investment (KRW)"), OutcomeKind.AMOUNT, 0, MAX_KRW),
    OutcomeField("hires", _("People hired"), OutcomeKind.COUNT, 0, MAX_COUNT),
    OutcomeField("satisfaction", _("Satisfaction (1–5)"), OutcomeKind.RATING, 1, 5, required=True),
    OutcomeField("would_apply_again", _("Would apply again"), OutcomeKind.FLAG, required=True),
    OutcomeField("comment", _("Comment"), OutcomeKind.TEXT, max_value=COMMENT_MAX_LENGTH),
)
OUTCOME_FIELD_NAMES = tuple(field.name for field in OUTCOME_FIELDS)
