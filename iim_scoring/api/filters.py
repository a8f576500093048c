"""Filters that refuse what they cannot read (400) instead of silently not filtering."""

from __future__ import annotations

import re

import django_filters
from django import forms
from drf_spectacular.drainage import set_override

BOOLEAN_INVALID = "Enter true or false."
BIGINT_MAX = 2**63 - 1


class StrictBooleanField(forms.NullBooleanField):
    def to_python(self, value: object) -> bool | None:
        if value in (None, ""):
            return None
        if value in (True, "true", "True", "1"):
            return True
        if value in (False, "false", "False", "0"):
            return False
        raise forms.ValidationError(BOOLEAN_INVALID, code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args: object, **kwargs: object) -> None:
        # django-filter's BooleanWidget turns anything unknown into "no filter"; read it raw.
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


ID_INVALID = "Enter a whole number from {low} to {high}."
_ASCII_WHOLE = re.compile(r"[0-9]{1,19}")


class BoundedIntegerField(forms.IntegerField):
    """A whole number in ASCII digits within [low, high]: `²`, `١٢`, `1.5` and ids beyond bigint
    are a 400 with a message (int() reads Unicode digits; Decimal filters pass 1e400 on)."""

    def __init__(self, *args: object, low: int = 0, high: int = BIGINT_MAX, **kwargs: object):
        self.low, self.high = low, high
        super().__init__(*args, **kwargs)

    def to_python(self, value: object) -> int | None:
        if value in (None, ""):
            return None
        text = str(value).strip()
        if not _ASCII_WHOLE.fullmatch(text) or not self.low <= int(text) <= self.high:
            raise forms.ValidationError(
                ID_INVALID.format(low=self.low, high=self.high), code="invalid"
            )
        return int(text)


class BoundedIntegerFilter(django_filters.NumberFilter):
    """An id or a count in a filter: bigint ids by default, `high=` for smaller columns."""

    field_class = BoundedIntegerField

    def __init__(self, *args: object, low: int = 0, high: int = BIGINT_MAX, **kwargs: object):
        kwargs.setdefault("low", low)
        kwargs.setdefault("high", high)
        super().__init__(*args, **kwargs)
        # The schema says what the field accepts, so a client can tell a 400 in advance.
        set_override(self, "field", {"type": "integer", "minimum": low, "maximum": high})
