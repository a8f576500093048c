"""The rows an export keeps: timepoint, reader, read kind, protocol, subtype and site filters.

The API checks the query's form (exports.api); here the checked values narrow the querysets.
An empty filter keeps everything; a value the cohort does not have keeps nothing (an empty
file, as any filter on a list answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from analytics.parameters import WHOLE_NUMBER
from cohorts.models import Patient
from scoring.models import Read


@dataclass(frozen=True)
class ExportFilters:
    timepoints: tuple[int, ...] = ()
    subtypes: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    # A reader's username (as the exports' reader column holds it) or id (as the analytics
    # API takes it).
    readers: tuple[str, ...] = ()
    read_kinds: tuple[str, ...] = ()
    # One protocol's reads (its slug): reads on different scales are never pooled.
    protocol: str = ""

    @classmethod
    def of(cls, **values: Any) -> ExportFilters:
        """From the API's checked query (lists, "baseline" for timepoint 0); sorted and
        deduplicated so that one file has one dataset version whatever the query's order."""
        timepoints = {
            0 if str(t).strip() == "baseline" else int(t) for t in values.get("timepoint") or ()
        }
        return cls(
            timepoints=tuple(sorted(timepoints)),
            subtypes=tuple(sorted(set(values.get("subtype") or ()))),
            sites=tuple(sorted(set(values.get("site") or ()))),
            readers=tuple(sorted(set(values.get("reader") or ()))),
            read_kinds=tuple(sorted(set(values.get("read_kind") or ()))),
            protocol=values.get("protocol") or "",
        )

    def as_options(self) -> dict[str, list]:
        """The filters set, for the dataset version (equal filters, equal version)."""
        return {name: list(value) for name, value in vars(self).items() if value}

    def keeps_timepoint(self, timepoint: int | None) -> bool:
        return not self.timepoints or timepoint in self.timepoints

    def patients(self, patients: QuerySet[Patient]) -> QuerySet[Patient]:
        if self.subtypes:
            patients = patients.filter(subtype__in=self.subtypes)
        if self.sites:
            patients = patients.filter(site__code__in=self.sites)
        return patients

    def reads(self, reads: QuerySet[Read]) -> QuerySet[Read]:
        reads = reads.exclude(kind=Read.Kind.TRAINING)  # training reads are never data
        if self.timepoints:
            reads = reads.filter(study__timepoint__in=self.timepoints)
        if self.subtypes:
            reads = reads.filter(study__patient__subtype__in=self.subtypes)
        if self.sites:
            reads = reads.filter(study__patient__site__code__in=self.sites)
        if self.readers:
            ids = [int(r) for r in self.readers if WHOLE_NUMBER.fullmatch(r)]
            reads = reads.filter(Q(reader__username__in=self.readers) | Q(reader_id__in=ids))
        if self.read_kinds:
            reads = reads.filter(kind__in=self.read_kinds)
        if self.protocol:
            reads = reads.filter(protocol__slug=self.protocol)
        return reads


NO_FILTERS = ExportFilters()
