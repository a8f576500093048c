"""The analyses' parameter sets as users ask for them: dashboard and API query parameters,
checked against the cohort before anything is computed or looked up.

A stored result is addressed by its parameter set (`recompute.parameters_key`); the same
query names work on the dashboard's URLs and on `/api/v1/cohorts/<slug>/analytics/`:

    site=<code> (repeatable)   subtype=<IBM|DM|PM|ASYS|IMNM|other> (repeatable)
    reader=<id> (repeatable)   protocol=<slug>   timepoint=<baseline|1|2|...>
    ck=<linear|log10>          correction=<holm|fdr_bh|bonferroni>

Timepoint 0 is every patient's first MRI: it is the baseline, one set, not two.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.http import QueryDict

from cohorts.choices import Subtype
from cohorts.models import Cohort, ImagingStudy, Site
from scoring.models import Read, ScoringProtocol

from .recompute import analysis_parameters
from .stats.comparison import CORRECTIONS

FILTER_NAMES = ("site", "subtype", "reader", "protocol", "timepoint", "ck", "correction")
# ASCII digits only ("²".isdigit() is True); nine of them at most, far below any bound.
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


class ParameterError(ValueError):
    """A query the analyses cannot answer; `problems` maps each parameter to its reason."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in problems.items()))


def parameters_from_query(
    cohort: Cohort, query: QueryDict, *, also_allowed: Iterable[str] = ()
) -> dict[str, Any]:
    """The full parameter set a query asks for (the default set for an empty query).

    Raises ParameterError naming every unknown parameter and every value the cohort does not
    have (a site, subtype, reader, protocol or timepoint it has no data for)."""
    problems: dict[str, str] = {}
    for name in sorted(set(query) - set(FILTER_NAMES) - set(also_allowed)):
        problems[name] = f"unknown parameter (known: {', '.join(FILTER_NAMES)})"
    for name in ("protocol", "timepoint", "ck", "correction"):
        if len(query.getlist(name)) > 1:
            problems[name] = "give it once"
    filters = {
        "sites": _choices(query, "site", _cohort_sites(cohort), problems),
        "subtypes": _choices(query, "subtype", set(Subtype.values), problems),
        "readers": _readers(cohort, query.getlist("reader"), problems),
        "protocol": _protocol(cohort, query.get("protocol"), problems),
        "timepoint": _timepoint(cohort, query.get("timepoint"), problems),
        "ck_log10": _one_of(query, "ck", ("linear", "log10"), problems) == "log10",
        "correction": _one_of(query, "correction", CORRECTIONS, problems) or "holm",
    }
    if problems:
        raise ParameterError(problems)
    return analysis_parameters(filters)


def _cohort_sites(cohort: Cohort) -> set[str]:
    return set(Site.objects.filter(cohorts=cohort).values_list("code", flat=True))


def _choices(query: QueryDict, name: str, known: set[str], problems: dict[str, str]) -> list[str]:
    values = sorted(set(query.getlist(name)))
    unknown = [value for value in values if value not in known]
    if unknown:
        problems[name] = f"not in this cohort: {', '.join(map(repr, unknown))[:200]}"
    return values


def _readers(cohort: Cohort, values: list[str], problems: dict[str, str]) -> list[int]:
    if not values:
        return []
    if not all(WHOLE_NUMBER.fullmatch(value) for value in values):
        problems["reader"] = "must be a reader's id (digits 0-9)"
        return []
    ids = sorted({int(value) for value in values})
    submitted = set(
        Read.objects.filter(
            study__patient__cohort=cohort, status=Read.Status.SUBMITTED, reader_id__in=ids
        ).values_list("reader_id", flat=True)
    )
    missing = [i for i in ids if i not in submitted]
    if missing:
        problems["reader"] = f"no submitted read in this cohort by reader {missing}"
    return ids


def _protocol(cohort: Cohort, value: str | None, problems: dict[str, str]) -> str | None:
    if not value:
        return None
    used = ScoringProtocol.objects.filter(reads__study__patient__cohort=cohort, slug=value)
    if not used.exists():
        problems["protocol"] = f"no read of this cohort uses protocol {value[:80]!r}"
    return value


def _timepoint(cohort: Cohort, value: str | None, problems: dict[str, str]) -> str | int:
    if value in (None, "", "baseline", "0"):
        return "baseline"
    if not WHOLE_NUMBER.fullmatch(value):
        problems["timepoint"] = "must be 'baseline' or a timepoint number (digits 0-9)"
        return "baseline"
    timepoint = int(value)
    if not ImagingStudy.objects.filter(patient__cohort=cohort, timepoint=timepoint).exists():
        problems["timepoint"] = f"this cohort has no MRI at timepoint {timepoint}"
    return timepoint


def _one_of(
    query: QueryDict, name: str, allowed: tuple[str, ...], problems: dict[str, str]
) -> str | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    if value not in allowed:
        problems[name] = f"must be one of {', '.join(allowed)}"
        return None
    return value


def query_of(parameters: dict[str, Any]) -> dict[str, Any]:
    """The query parameters that ask for `parameters` (the inverse of parameters_from_query,
    for links and for naming the set a response holds)."""
    query: dict[str, Any] = {}
    if parameters.get("sites"):
        query["site"] = list(parameters["sites"])
    if parameters.get("subtypes"):
        query["subtype"] = list(parameters["subtypes"])
    if parameters.get("readers"):
        query["reader"] = list(parameters["readers"])
    if parameters.get("protocol"):
        query["protocol"] = parameters["protocol"]
    query["timepoint"] = parameters.get("timepoint", "baseline")
    query["ck"] = "log10" if parameters.get("ck_log10") else "linear"
    query["correction"] = parameters.get("correction", "holm")
    return query
