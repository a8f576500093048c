"""Filters that refuse what they cannot read (400) instead of silently not filtering."""

from __future__ import annotations

import django_filters
from django import forms

BOOLEAN_INVALID = "Enter true or false."


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
