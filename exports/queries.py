"""The query parameters of each export, checked: the filters that make sense for it (read
filters only where there are reads, never on readers-combined scores), each repeatable one a
list; an unknown parameter, a malformed value or a single one given twice is a 400 naming it."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cohorts.choices import Subtype
from exports.filters import ExportFilters
from exports.grades import GRADE_STATUSES
from exports.read_scores import SCORE_SCOPES
from scoring.models import Read

TIMEPOINT_PATTERN = r"^(baseline|[0-9]{1,9})$"
SITE_PATTERN = r"^[-a-zA-Z0-9_]{1,60}$"  # a site code or a protocol: a slug
READER_PATTERN = r"^[^\u0000]{1,150}$"  # a username (NUL is never part of one) or an id
UNKNOWN_PARAMETER = "Unknown parameter; this export takes: {known}."
GIVE_ONCE = "Give this parameter once."


def _repeatable(child: serializers.Field, help_text: str) -> serializers.ListField:
    return serializers.ListField(child=child, required=False, help_text=help_text)


class ExportQuerySerializer(serializers.Serializer):
    """The query of one export: only its own parameters (and format), each list parameter
    repeatable, every other one given once. An empty value means the parameter's default."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        known = sorted({*self.fields, "format"})
        problems: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for name in data:
            given = [v for v in _all_values(data, name) if v != ""]
            field = self.fields.get(name)
            if name not in known:
                problems[name] = [UNKNOWN_PARAMETER.format(known=", ".join(known))]
            elif isinstance(field, serializers.ListField):
                if given:
                    values[name] = given
            elif len(given) > 1:
                problems[name] = [GIVE_ONCE]
            elif given and field is not None:
                values[name] = given[0]
        try:
            checked = super().to_internal_value(values)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({**error.detail, **problems}) from error
        if problems:
            raise serializers.ValidationError(problems)
        return checked


def _all_values(data: Any, name: str) -> list[Any]:
    if hasattr(data, "getlist"):  # a query string: every value of a repeated name
        return data.getlist(name)
    value = data[name]
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(pattern: str) -> serializers.RegexField:
    # Values are taken as given: " x" is not the site "x".
    return serializers.RegexField(pattern, trim_whitespace=False)


class PatientFilters(ExportQuerySerializer):
    timepoint = _repeatable(
        _text(TIMEPOINT_PATTERN), "Only these timepoints: baseline (= 0) or 1, 2, ...; repeatable."
    )
    subtype = _repeatable(
        serializers.ChoiceField(choices=list(Subtype.values)), "Only these subtypes; repeatable."
    )
    site = _repeatable(_text(SITE_PATTERN), "Only patients of these site codes; repeatable.")


PROTOCOL_HELP = (
    "Only reads of this scoring protocol (its slug); reads graded on different scales are "
    "never pooled, so a cohort read on several scales needs it for its scores."
)


def _protocol() -> serializers.RegexField:
    return serializers.RegexField(
        SITE_PATTERN, required=False, trim_whitespace=False, help_text=PROTOCOL_HELP
    )


class ReadFilters(PatientFilters):
    protocol = _protocol()
    reader = _repeatable(
        _text(READER_PATTERN),
        "Only reads by these readers: a username as in the reader column, or a reader's id "
        "as the analytics API takes it; repeatable.",
    )
    read_kind = _repeatable(
        serializers.ChoiceField(choices=list(Read.Kind.values)),
        "Only reads of these kinds (primary, second, consensus, reread); repeatable.",
    )


class GradesQuerySerializer(ReadFilters):
    status = serializers.ChoiceField(
        choices=GRADE_STATUSES,
        default="submitted",
        allow_blank=True,
        help_text="submitted (default): only submitted reads; all: reads in progress too.",
    )


class ReadScoresQuerySerializer(ReadFilters):
    scope = _repeatable(
        serializers.ChoiceField(choices=SCORE_SCOPES),
        "Only these scopes (unified, stir, t1); repeatable; none: all three.",
    )


class ScoresQuerySerializer(PatientFilters):
    protocol = _protocol()
    scope = serializers.ChoiceField(
        choices=SCORE_SCOPES,
        default="unified",
        allow_blank=True,
        help_text="unified (default): the protocol's combined grade; stir: oedema only; "
        "t1: fat only.",
    )


class PatientsQuerySerializer(PatientFilters):
    pass


class NoQuerySerializer(ExportQuerySerializer):
    pass


def table_options(values: dict[str, Any]) -> dict[str, Any]:
    """export_table's arguments from a checked query (an empty value: the default)."""
    options: dict[str, Any] = {"filters": ExportFilters.of(**values)}
    if values.get("status"):
        options["status"] = values["status"]
    scope = values.get("scope")
    if isinstance(scope, list):
        options["scopes"] = scope
    elif scope:
        options["scope"] = scope
    return options
