"""How deeply a JSON text nests, measured on the text itself, before anything parses it.

Python's json module recurses once per array or object level; a 1 KB body of "[" exhausts the
interpreter's recursion limit (RecursionError, a 500) and a deep-enough one can crash it outright. No
request gpugrant takes needs more than a few levels, so a body nested deeper than MAX_JSON_DEPTH is
refused without being parsed. The standard library's json has no depth option; orjson's fixed limit
(1,024) is far above what we allow and would be one more native dependency, so a scan it is.
"""

import re
from itertools import accumulate

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Usage batches nest 3 deep, calls with pools 3, jobs 2: 32 leaves plenty of room.
MAX_JSON_DEPTH = 32

# A JSON string, escapes included. Possessive quantifiers: one linear pass, no backtracking even
# on an unterminated string.
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, brackets inside strings not counted.

    Malformed text gets a number too (json refuses it afterwards); the scan never recurses.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    # accumulate and max run in C: a megabyte of brackets takes milliseconds.
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def json_too_deep_message() -> str:
    return _("The JSON is nested too deeply: at most %(limit)s levels.") % {"limit": MAX_JSON_DEPTH}


class JsonTooDeep(ValueError):
    def __init__(self):
        super().__init__(json_too_deep_message())


def check_json_depth(text: str) -> None:
    """Raise JsonTooDeep where ``text`` nests deeper than MAX_JSON_DEPTH."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise JsonTooDeep


class DepthLimitedJSONFormField(forms.JSONField):
    """Django's JSON form field (the admin's, for model JSONFields) with the same limit."""

    def to_python(self, value):
        if isinstance(value, str) and not self.disabled:
            try:
                check_json_depth(value)
            except JsonTooDeep as exc:
                raise ValidationError(str(exc), code="json_too_deep") from None
        return super().to_python(value)

    def bound_data(self, data, initial):
        # Redisplaying the refused text must not parse it either.
        if isinstance(data, str) and not self.disabled and json_depth(data) > MAX_JSON_DEPTH:
            return forms.fields.InvalidJSONInput(data)
        return super().bound_data(data, initial)
