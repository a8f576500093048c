"""The codebook of the score exports: per read (read-scores) and with readers combined
(muscle-scores, group-scores). Part of the codebook (exports.codebook), which lists them."""

from __future__ import annotations

from types import MappingProxyType

from exports.codebook import (
    AGE,
    CK,
    DISEASE_DURATION,
    INTEGER,
    MMT8,
    NUMBER,
    PSEUDONYM,
    SEX,
    SITE,
    STRING,
    SUBTYPE,
    TIMEPOINT,
    TREATMENT_NAIVE,
    AtlasVocabulary,
    Variable,
    atlas_labels,
    column_for_slug,
    grades_variables,
)
from scoring.models import Limb

SCORE_SOURCE = Variable(
    "score_source",
    STRING,
    "Where the scores of the visit come from.",
    labels={
        "consensus": "The consensus read of the visit",
        "reader mean": "Mean over the readers' reads",
    },
)
N_READS = Variable(
    "n_reads", INTEGER, "Number of reads combined into the visit's scores.", measure="scale"
)


SCOPE_LABELS = MappingProxyType(
    {
        "unified": "Unified grade: the protocol's combination of STIR and T1 (the paper's)",
        "stir": "STIR only (oedema)",
        "t1": "T1 only (fatty replacement)",
    }
)
LEVEL_LABELS = MappingProxyType(
    {
        "muscle": "Muscle score s_r(m): mean of the unified grades over the sides",
        "group": "Functional group: mean of its muscles' scores",
        "region": "Region: sum of its muscles' scores",
        "limb": "Extremity (upper, lower) or axial: sum of its muscles' scores",
        "total": "Total: sum of all muscle scores",
    }
)
LIMB_LABELS = MappingProxyType(dict(Limb.choices))


def read_score_variables(atlas: AtlasVocabulary) -> list[Variable]:
    grades = {v.name: v for v in grades_variables(atlas)}
    units = {
        **atlas_labels(atlas.muscles),
        **atlas_labels(atlas.groups),
        **atlas_labels(atlas.regions),
        **LIMB_LABELS,
        "total": "Total score",
    }
    return [
        PSEUDONYM,
        SUBTYPE,
        SITE,
        TIMEPOINT,
        grades["study"],
        Variable(
            "read_id",
            INTEGER,
            "Id of the read (as in /api/v1/cohorts/{slug}/reads/{id}/): one reader's scoring "
            "of one study.",
        ),
        grades["reader"],
        grades["read_kind"],
        Variable("scope", STRING, "Which grades the score is of.", labels=SCOPE_LABELS),
        Variable("level", STRING, "Level of the score.", labels=LEVEL_LABELS, measure="ordinal"),
        Variable(
            "level_unit",
            STRING,
            "The muscle, functional group, region or extremity scored (its slug), or total.",
            labels=units,
        ),
        Variable(
            "score",
            NUMBER,
            "This read's own score of the unit, readers not combined (for agreement: pair "
            "rows by study, scope and unit). Muscle: mean over the sides not NA of the grade "
            "in the scope; group: mean of its muscle scores not NA; region, limb, total: sum "
            "of its muscle scores not NA. Empty when every cell of the unit was NA. Exact "
            "(never rounded).",
            allowed=f"muscle, group: {atlas.score_range()}; region, limb, total: 0 – the top "
            "grade × number of muscles",
            measure="scale",
        ),
        Variable(
            "total_pct",
            NUMBER,
            "On total rows: the total as a percentage of the maximum possible for the muscles "
            "this read graded (NA lowers the maximum); empty on other rows.",
            unit="%",
            allowed="0–100",
            measure="scale",
        ),
        Variable(
            "n_graded",
            INTEGER,
            "On total rows: number of muscles with a score in this read; empty on other rows.",
            measure="scale",
        ),
    ]


def muscle_score_variables(atlas: AtlasVocabulary) -> list[Variable]:
    grades = {v.name: v for v in grades_variables(atlas)}
    return [
        PSEUDONYM,
        SUBTYPE,
        TIMEPOINT,
        grades["region"],
        grades["group"],
        grades["muscle"],
        Variable(
            "score",
            NUMBER,
            "Muscle score s(m): the unified grade per side (by default the maximum of STIR and "
            "T1, NA ignored; the protocol decides) averaged over the available sides. Readers "
            "combined: the consensus read if one exists, else the mean over readers. Empty when "
            "every cell of the muscle was NA.",
            allowed=atlas.score_range(),
            measure="scale",
        ),
    ]


def group_score_variables(atlas: AtlasVocabulary) -> list[Variable]:
    groups = [
        Variable(
            column_for_slug("group", slug),
            NUMBER,
            f"Group score G of the functional group {name}: mean of the muscle scores of its "
            "graded muscles. Readers combined as in score_source.",
            allowed=atlas.score_range(),
            measure="scale",
        )
        for slug, name in atlas.groups
    ]
    regions = [
        Variable(
            column_for_slug("region", slug),
            NUMBER,
            f"Region score of the {name.lower()}: sum of the muscle scores of its graded "
            "muscles. Readers combined as in score_source.",
            allowed="0 – the scale's top grade × number of muscles",
            measure="scale",
        )
        for slug, name in atlas.regions
    ]
    return [
        PSEUDONYM,
        SITE,
        TIMEPOINT,
        SUBTYPE,
        SEX,
        AGE,
        DISEASE_DURATION,
        CK,
        MMT8,
        TREATMENT_NAIVE,
        SCORE_SOURCE,
        N_READS,
        *groups,
        *regions,
        Variable(
            "total",
            NUMBER,
            "Total score (the MRI severity score): sum of the muscle scores of all graded "
            "muscles. Readers combined as in score_source.",
            allowed="≥ 0",
            measure="scale",
        ),
        Variable(
            "total_pct",
            NUMBER,
            "Total score as a percentage of the maximum possible for the muscles actually "
            "graded (NA lowers the maximum).",
            unit="%",
            allowed="0–100",
            measure="scale",
        ),
    ]
