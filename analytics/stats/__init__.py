"""Pure statistics for iim-scoring: pandas, numpy, scipy and statsmodels, never Django.

Score definitions live in `scores`; the paper's analyses in `descriptives` (Table 1),
`comparison` (profiles, Kruskal-Wallis, Dunn) and `correlation` (OLS, Spearman).
"""

from ._records import json_value, to_records
from .comparison import (
    comparison_subtypes,
    dunn_by_group,
    dunn_pairs,
    group_profile,
    kruskal_by_group,
    limb_profile,
)
from .correlation import LinearFit, clinical_regression, linear_fit, regression_band
from .descriptives import describe_cohort, summarize
from .scores import (
    AtlasLayout,
    GradeCube,
    LevelMatrix,
    PatientScores,
    ReadScoreFrames,
    ScoreMatrices,
    analysed_reads,
    atlas_layout,
    attach_patients,
    combine_reads,
    first_timepoint,
    grade_cube,
    prepare_atlas,
    score_cube,
    score_reads,
    unified_grades,
)

__all__ = [
    "AtlasLayout",
    "GradeCube",
    "LevelMatrix",
    "LinearFit",
    "PatientScores",
    "ReadScoreFrames",
    "ScoreMatrices",
    "atlas_layout",
    "attach_patients",
    "clinical_regression",
    "analysed_reads",
    "combine_reads",
    "comparison_subtypes",
    "describe_cohort",
    "dunn_by_group",
    "dunn_pairs",
    "first_timepoint",
    "grade_cube",
    "group_profile",
    "json_value",
    "kruskal_by_group",
    "limb_profile",
    "linear_fit",
    "prepare_atlas",
    "regression_band",
    "score_cube",
    "score_reads",
    "summarize",
    "to_records",
    "unified_grades",
]
