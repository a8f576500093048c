"""The read-scores export, for agreement work: each read's own scores (readers not combined),
one row per read, scope and scored unit (muscle, group, region, limb, total).

From the stored per-read scores (analytics.models.ReadScores), exact as stored; reads in the
grades export's order, taken in batches so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from analytics.models import ReadScores
from cohorts.models import Cohort
from exports.codebook import AtlasVocabulary, atlas_vocabulary, export_variables
from exports.codebook_scores import LIMB_LABELS
from exports.filters import NO_FILTERS, ExportFilters
from exports.formats import ExportTable
from scoring.models import Read

SCORE_SCOPES = ("unified", "stir", "t1")
LEVELS = ("muscle", "group", "region", "limb", "total")
# Reads per stored-scores query (about 250 rows each with three scopes).
READS_PER_BATCH = 200
_KIND_ORDER = {kind: i for i, kind in enumerate(Read.Kind.values)}


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _scored_reads(cohort: Cohort, filters: ExportFilters) -> list[tuple]:
    """The cohort's submitted reads (a read in progress has no final scores), export order."""
    reads = filters.reads(
        Read.objects.filter(study__patient__cohort=cohort, status=Read.Status.SUBMITTED)
    )
    rows = list(
        reads.values_list(
            "pk",
            "study__patient__pseudonym",
            "study__patient__subtype",
            "study__patient__site__code",
            "study__timepoint",
            "study__study_uid",
            "reader__username",
            "kind",
        )
    )
    rows.sort(key=lambda r: (r[1], r[4], r[5], r[6], _KIND_ORDER.get(r[7], 99), r[0]))
    return rows


def _unit_order(atlas: AtlasVocabulary) -> dict[str, list[str]]:
    return {
        "muscle": [slug for slug, _name in atlas.muscles],
        "group": [slug for slug, _name in atlas.groups],
        "region": [slug for slug, _name in atlas.regions],
        "limb": list(LIMB_LABELS),
    }


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _level_rows(level: dict[str, Any], order: dict[str, list[str]]) -> Iterator[tuple]:
    """(level, unit, score, total_pct, n_graded) of one read's scope, in atlas order."""
    for name in LEVELS[:-1]:
        stored = level.get(name) or {}
        known = [unit for unit in order[name] if unit in stored]
        for unit in [*known, *sorted(set(stored) - set(known))]:
            yield name, unit, _float(stored[unit]), None, None
    if "total" in level:
        n_graded = level.get("n_graded")
        yield (
            "total",
            "total",
            _float(level["total"]),
            _float(level.get("total_pct")),
            None if n_graded is None else int(n_graded),
        )


def read_scores_table(
    *, cohort: Cohort, filters: ExportFilters = NO_FILTERS, scopes: Sequence[str] = ()
) -> ExportTable:
    unknown = set(scopes) - set(SCORE_SCOPES)
    if unknown:
        raise ValueError(f"scope must be one of {', '.join(SCORE_SCOPES)}")
    wanted = [scope for scope in SCORE_SCOPES if not scopes or scope in scopes]
    atlas = atlas_vocabulary(cohort, filters.protocol)
    order = _unit_order(atlas)

    def rows() -> Iterator[tuple]:
        for batch in _chunks(_scored_reads(cohort, filters), READS_PER_BATCH):
            stored = dict(
                ReadScores.objects.filter(read_id__in=[r[0] for r in batch]).values_list(
                    "read_id", "scores"
                )
            )
            for read_id, pseudonym, subtype, site, timepoint, study, reader, kind in batch:
                scores = stored.get(read_id) or {}
                read = (pseudonym, subtype, site, timepoint, study, read_id, reader, kind)
                for scope in wanted:
                    if scope in scores:
                        for level_row in _level_rows(scores[scope], order):
                            yield (*read, scope, *level_row)

    return ExportTable(
        name="read-scores", variables=export_variables("read-scores", atlas), rows=rows
    )
