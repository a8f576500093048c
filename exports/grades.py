"""The grades export: one row per read, muscle, side and sequence, each grade mapped to its
study and series (pseudonymized UIDs).

2.4 M rows must stream with flat memory: reads are taken in export order in batches, each
batch's cells fetched in one query and sorted in Python; the CSV and JSON text is written from
strings formatted once per read and per muscle, not once per cell.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Count

from cohorts.models import Cohort, Series
from exports.codebook import AtlasVocabulary, atlas_vocabulary, export_variables
from exports.filters import NO_FILTERS, ExportFilters
from exports.formats import ExportTable, csv_cell, csv_line
from scoring.models import Grade, GradeSequence, Muscle, Read, ScoringProtocol

GRADE_STATUSES = ("submitted", "all")
# Reads per grades query (x 240 cells for a whole-body read): the server's memory per batch.
READS_PER_BATCH = 100
_KIND_ORDER = {kind: i for i, kind in enumerate(Read.Kind.values)}


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class AtlasMuscle:
    rank: int
    region: str
    group: str
    slug: str


def atlas_muscles() -> dict[int, AtlasMuscle]:
    rows = Muscle.objects.order_by(
        "group__region__order", "group__order", "order", "pk"
    ).values_list("pk", "group__region__slug", "group__slug", "slug")
    return {
        pk: AtlasMuscle(rank, region, group, slug)
        for rank, (pk, region, group, slug) in enumerate(rows)
    }


def series_by_study_and_sequence(*, cohort: Cohort) -> dict[tuple[int, str], str]:
    """For each study and graded sequence, the series a grade of that sequence was given on:
    the one with the most images, the first imported on a tie (as the reading page shows it)."""
    rows = (
        Series.objects.filter(study__patient__cohort=cohort, sequence__in=GradeSequence.values)
        .annotate(n_images=Count("instances"))
        .values_list("study_id", "sequence", "series_uid", "n_images", "pk")
    )
    best: dict[tuple[int, str], tuple[int, int, str]] = {}
    for study_id, sequence, uid, n_images, pk in rows:
        key = (study_id, sequence)
        candidate = (-n_images, pk, uid)
        if key not in best or candidate < best[key]:
            best[key] = candidate
    return {key: uid for key, (_n, _pk, uid) in best.items()}


def _grade_reads(cohort: Cohort, status: str, filters: ExportFilters) -> list[tuple]:
    """The exported reads in export order: patient, timepoint, study, reader, kind."""
    reads = filters.reads(Read.objects.filter(study__patient__cohort=cohort))
    if status == "submitted":
        reads = reads.filter(status=Read.Status.SUBMITTED)
    rows = list(
        reads.values_list(
            "pk",
            "study_id",
            "study__patient__pseudonym",
            "study__patient__subtype",
            "study__patient__site__code",
            "study__timepoint",
            "study__study_uid",
            "reader__username",
            "status",
            "kind",
            "protocol__slug",
        )
    )
    rows.sort(key=lambda r: (r[2], r[5], r[6], r[7], _KIND_ORDER.get(r[9], 99), r[10], r[0]))
    return rows


class GradesExport:
    """Long grades: one row per read, muscle, side and sequence."""

    def __init__(
        self,
        *,
        cohort: Cohort,
        status: str,
        atlas: AtlasVocabulary,
        filters: ExportFilters = NO_FILTERS,
    ) -> None:
        self.reads = _grade_reads(cohort, status, filters)
        protocols = ScoringProtocol.objects.filter(slug__in={read[10] for read in self.reads})
        # Each read's scale per sequence, by its protocol; the codebook labels those scales.
        self.scales = {
            (p.slug, sequence): p.scale_of(sequence)
            for p in protocols
            for sequence in GradeSequence.values
        }
        found = sorted(set(self.scales.values()), key=lambda scale: scale.key)
        if found:
            atlas = replace(atlas, scales={"grades": tuple(found)})
        self.variables = export_variables("grades", atlas)
        self.series = series_by_study_and_sequence(cohort=cohort)
        self.muscles = atlas_muscles()

    def _scale(self, read: tuple, sequence: str) -> str:
        return self.scales[(read[10], sequence)].key

    def _batch_scales(self, batch: Sequence[tuple]) -> dict[tuple[int, str], str]:
        """{(read id, sequence): scale key} of a batch of reads (the CSV and JSON writers)."""
        return {
            (read[0], sequence): self._scale(read, sequence)
            for read in batch
            for sequence in GradeSequence.values
        }

    def _read_fields(self, read: tuple, sequence: str) -> list[Any]:
        pk, study_id, pseudonym, subtype, site, timepoint, study_uid, reader, status, kind, _ = read
        series = self.series.get((study_id, sequence), "")
        return [pseudonym, subtype, site, timepoint, study_uid, series, reader, status, kind]

    def _cell_batches(self) -> Iterator[tuple[list[tuple], list[tuple]]]:
        """(reads, grade cells) per batch of reads, cells in export order."""
        muscle_rank = {pk: m.rank for pk, m in self.muscles.items()}
        for batch in _chunks(self.reads, READS_PER_BATCH):
            rank = {read[0]: i for i, read in enumerate(batch)}
            cells = list(
                Grade.objects.filter(read_id__in=list(rank))
                .order_by()
                .values_list("read_id", "muscle_id", "side", "sequence", "value")
            )
            cells.sort(key=lambda c: (rank[c[0]], muscle_rank[c[1]], c[2], c[3]))
            yield list(batch), cells

    def rows(self) -> Iterator[tuple]:
        for batch, cells in self._cell_batches():
            reads = {read[0]: read for read in batch}
            for read_id, muscle_id, side, sequence, value in cells:
                muscle = self.muscles[muscle_id]
                yield (
                    *self._read_fields(reads[read_id], sequence),
                    muscle.region,
                    muscle.group,
                    muscle.slug,
                    side,
                    sequence,
                    value,
                    self._scale(reads[read_id], sequence),
                )

    def csv_text(self) -> Iterator[str]:
        """The CSV as the generic writer would write it, formatted once per read and muscle:
        side, sequence and grade are constrained codes that never need quoting."""
        yield csv_line(v.name for v in self.variables)
        muscle_part = {
            pk: csv_line([m.region, m.group, m.slug])[:-1] + "," for pk, m in self.muscles.items()
        }
        for batch, cells in self._cell_batches():
            prefix = {
                (read[0], sequence): csv_line(
                    csv_cell(v) for v in self._read_fields(read, sequence)
                )[:-1]
                + ","
                for read in batch
                for sequence in GradeSequence.values
            }
            scale = self._batch_scales(batch)
            yield "".join(
                [
                    f"{prefix[(r, q)]}{muscle_part[m]}{s},{q},{v},{scale[(r, q)]}\n"
                    for r, m, s, q, v in cells
                ]
            )

    def json_text(self) -> Iterator[str]:
        """The JSON array as the generic writer would write it (same keys, same spacing)."""
        names = [v.name for v in self.variables]
        yield "["
        muscle_part = {
            pk: json.dumps(dict(zip(names[9:12], [m.region, m.group, m.slug], strict=True)))[1:-1]
            for pk, m in self.muscles.items()
        }
        separator = "\n"
        for batch, cells in self._cell_batches():
            scale = self._batch_scales(batch)
            prefix = {
                (read[0], sequence): json.dumps(
                    dict(zip(names[:9], self._read_fields(read, sequence), strict=True)),
                    ensure_ascii=False,
                )[:-1]
                for read in batch
                for sequence in GradeSequence.values
            }
            parts = []
            for r, m, s, q, v in cells:
                parts.append(
                    f'{separator}{prefix[(r, q)]}, {muscle_part[m]}, "side": "{s}", '
                    f'"sequence": "{q}", "grade": "{v}", "scale": "{scale[(r, q)]}"}}'
                )
                separator = ",\n"
            yield "".join(parts)
        yield "\n]\n"


def grades_table(
    *, cohort: Cohort, status: str = "submitted", filters: ExportFilters = NO_FILTERS
) -> ExportTable:
    if status not in GRADE_STATUSES:
        raise ValueError(f"status must be one of {', '.join(GRADE_STATUSES)}")
    export = GradesExport(cohort=cohort, status=status, atlas=atlas_vocabulary(), filters=filters)
    return ExportTable(
        name="grades",
        variables=export.variables,
        rows=export.rows,
        csv_text=export.csv_text,
        json_text=export.json_text,
    )
