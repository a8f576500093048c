"""The codebook of the analytics JSON (`/api/v1/cohorts/{slug}/analytics/`).

Each stored result is documented by JSON path: `<analysis>.<key>...`; `<scope>` is one of
unified (max of STIR and T1, the paper's), stir (oedema only) or t1 (fat only); `[]` marks a
list of records, and the name after it is a field of each record. Listed in the codebook
export under export = "analytics".
"""

from __future__ import annotations

from exports.codebook import BOOLEAN, INTEGER, NUMBER, STRING, Variable

SCOPE = (
    "unified = the protocol's combined grade (max(STIR, T1) as in the paper; T1 alone when "
    "STIR and T1 are on different scales); stir = oedema only; t1 = fat only"
)
SCALE_RANGE = "0 – the top grade of the scale (2 on the paper's 0–2; see the protocol's scales)"
_SUBTYPE = "Subtype (IBM, DM, PM, ASYS, IMNM, other) or 'all'."
_KINDS = "inter = first vs second reader of a study; intra = a read vs its re-read"
QUANTILES = (
    "Medians and quartiles (IQR = q1–q3) are quantiles by linear interpolation between order "
    "statistics: R's quantile(type = 7), the default of R, numpy and pandas."
)


def _v(name: str, type_: str, meaning: str, unit: str = "", allowed: str = "") -> Variable:
    return Variable(name, type_, meaning, unit=unit, allowed=allowed)


def _paper_variables() -> list[Variable]:
    fit = "clinical_correlation.<scope>.fits[]"
    kw = "subtype_comparison.<scope>.kruskal[]"
    dunn = "subtype_comparison.<scope>.dunn[]"
    return [
        _v(
            "descriptives.table[].variable",
            STRING,
            "Table 1 variable. Named as in the analytics engine; in the exports: age = "
            "age_at_mri, mmt8 = mmt8_total (disease_duration_months, ck and sex are the same).",
            allowed="age; sex; disease_duration_months; mmt8; ck; treatment_naive; antibodies…",
        ),
        _v("descriptives.table[].subtype", STRING, _SUBTYPE),
        _v(
            "descriptives.table[].statistic",
            STRING,
            "Which statistic the row holds.",
            allowed="n; N (of whom known); median; q1; q3; min; max; ratio",
        ),
        _v(
            "descriptives.table[].value",
            NUMBER,
            "The statistic's value. " + QUANTILES,
        ),
        _v(
            "group_profile.<scope>.group[].mean",
            NUMBER,
            "Mean group score of the subtype (Figure 1). " + SCOPE,
            allowed=SCALE_RANGE,
        ),
        _v(
            "group_profile.<scope>.group[].median",
            NUMBER,
            "Median group score. " + QUANTILES,
            allowed=SCALE_RANGE,
        ),
        _v("group_profile.<scope>.group[].n", INTEGER, "Patients with a score for the group."),
        _v(
            "group_profile.<scope>.limb[].mean",
            NUMBER,
            "Mean cumulative score of the upper or lower extremity (or axial muscles).",
        ),
        _v(f"{kw}.H", NUMBER, "Kruskal–Wallis H of the group score across subtypes (ties)."),
        _v(f"{kw}.df", INTEGER, "Degrees of freedom: subtypes compared minus one."),
        _v(f"{kw}.p", NUMBER, "Unadjusted p."),
        _v(f"{kw}.p_adj", NUMBER, "p adjusted over the groups (Holm, or BH when chosen)."),
        _v(f"{kw}.epsilon_squared", NUMBER, "Effect size ε² = H / ((n² − 1) / (n + 1))."),
        _v(
            f"{kw}.status",
            STRING,
            "Whether the test ran.",
            allowed="ok; no variation; insufficient data",
        ),
        _v(f"{dunn}.z", NUMBER, "Dunn's z for subtypes a vs b (mean ranks, tie-corrected)."),
        _v(f"{dunn}.p_adj", NUMBER, "Dunn p adjusted within the group (Holm or BH)."),
        _v(f"{fit}.outcome", STRING, "Outcome regressed on the total score.", allowed="mmt8; ck"),
        _v(f"{fit}.n", INTEGER, "Patients in the fit (missing outcome dropped)."),
        _v(f"{fit}.n_dropped", INTEGER, "Patients dropped for a missing outcome."),
        _v(f"{fit}.slope", NUMBER, "OLS slope per point of total score (Figure 3)."),
        _v(f"{fit}.slope_ci_low", NUMBER, "Lower bound of the slope's 95 % CI."),
        _v(f"{fit}.slope_ci_high", NUMBER, "Upper bound of the slope's 95 % CI."),
        _v(f"{fit}.r_squared", NUMBER, "R² of the OLS fit."),
        _v(f"{fit}.p", NUMBER, "p of the slope (t test)."),
        _v(f"{fit}.spearman_rho", NUMBER, "Spearman ρ, the robust companion."),
        _v(
            "patient_scores.<scope>[].total",
            NUMBER,
            "Total score: sum of muscle scores (the MRI severity score).",
        ),
        _v(
            "patient_scores.<scope>[].total_pct",
            NUMBER,
            "Total as percent of the maximum for the muscles graded.",
            unit="%",
        ),
        _v(
            "patient_scores.<scope>[].group_<slug>",
            NUMBER,
            "Group score of the group with that slug, e.g. group_lower-leg-flexors; in the "
            "group-scores export the same variable is group_lower_leg_flexors (hyphens become "
            "underscores there, as SPSS, R and Stata names need).",
            allowed=SCALE_RANGE,
        ),
        _v(
            "patient_scores.<scope>[].limb_<limb>",
            NUMBER,
            "Cumulative score of the upper or lower extremity or the axial muscles.",
        ),
        _v(
            "patient_scores.<scope>[].mmt8",
            INTEGER,
            "MMT-8 total of the visit: the exports' mmt8_total.",
            unit="points",
        ),
    ]


def _beyond_variables() -> list[Variable]:
    ag = "beyond_paper.agreement.<kind>"
    asym = "beyond_paper.asymmetry"
    lon = "beyond_paper.longitudinal"
    pat = "beyond_paper.patterns"
    return [
        _v(f"{ag}.n_pairs", INTEGER, f"Pairs of reads compared; <kind>: {_KINDS}."),
        _v(
            f"{ag}.status",
            STRING,
            "Whether agreement was computed.",
            allowed="ok; too few pairs",
        ),
        _v(
            f"{ag}.pooled.percent_agreement",
            NUMBER,
            "Share of paired cells (muscle, side; unified grade) with the same grade.",
            allowed="0–1",
        ),
        _v(f"{ag}.pooled.kappa_linear", NUMBER, "Cohen's κ, linear weights, all cells pooled."),
        _v(f"{ag}.pooled.kappa_quadratic", NUMBER, "Cohen's κ, quadratic weights, pooled."),
        _v(f"{ag}.per_muscle[].kappa_linear", NUMBER, "Linear-weighted κ of one muscle."),
        _v(
            f"{ag}.icc[].icc",
            NUMBER,
            "ICC of a group score or the total; form ICC2 = two-way random, absolute "
            "agreement; ICC3 = two-way mixed, consistency; single rater.",
        ),
        _v(f"{ag}.icc[].ci_low", NUMBER, "Lower bound of the ICC's 95 % CI."),
        _v(f"{ag}.icc[].ci_high", NUMBER, "Upper bound of the ICC's 95 % CI."),
        _v(
            f"{ag}.bland_altman.mean_difference",
            NUMBER,
            "Bland–Altman bias of the total score (first − second read).",
        ),
        _v(f"{ag}.bland_altman.loa_low", NUMBER, "Lower 95 % limit of agreement (bias − 1.96 SD)."),
        _v(f"{ag}.bland_altman.loa_high", NUMBER, "Upper 95 % limit of agreement."),
        _v(
            f"{asym}.patients[].proportion_asymmetric",
            NUMBER,
            "Share of the patient's paired muscles whose unified grades differ by ≥ 1 between "
            "left and right (baseline, first reader or consensus).",
            allowed="0–1",
        ),
        _v(
            f"{asym}.patients[].mean_ai",
            NUMBER,
            "Mean asymmetry index |u_L − u_R| / 2 over the patient's paired muscles.",
            allowed="0–1",
        ),
        _v(
            f"{asym}.groups[].ai",
            NUMBER,
            "Mean asymmetry index of the functional group over patients.",
        ),
        _v(
            f"{asym}.groups[].diff",
            NUMBER,
            "Mean left − right difference of the group's unified grades (signed).",
        ),
        _v(
            f"{asym}.muscles[].diff",
            NUMBER,
            "Mean left − right unified grade of the muscle over patients (signed).",
        ),
        _v(f"{asym}.muscles[].ai", NUMBER, "Mean asymmetry index |u_L − u_R| / 2 of the muscle."),
        _v(
            f"{asym}.muscles[].share_asymmetric",
            NUMBER,
            "Share of patients whose two sides of the muscle differ by ≥ 1 grade.",
            allowed="0–1",
        ),
        _v(
            f"{asym}.by_subtype.per_subtype[].mean",
            NUMBER,
            "Mean proportion of asymmetric muscles in the subtype.",
        ),
        _v(
            f"{asym}.by_subtype.h",
            NUMBER,
            "Kruskal–Wallis H of the proportion asymmetric across subtypes.",
        ),
        _v(f"{asym}.by_subtype.p", NUMBER, "p of that Kruskal–Wallis test."),
        _v(
            f"{lon}.changes[].change",
            NUMBER,
            "Change of a score (group or total) from one timepoint to the next.",
        ),
        _v(
            f"{lon}.changes[].change_per_year",
            NUMBER,
            "That change divided by the interval in years (days / 365.25).",
            unit="points/year",
        ),
        _v(
            f"{lon}.summary[].median_change_per_year",
            NUMBER,
            "Median yearly change of the score in the subtype. " + QUANTILES,
            unit="points/year",
        ),
        _v(
            f"{lon}.trajectories[].total",
            NUMBER,
            "Total score of a patient at a timepoint (the trajectory plot).",
        ),
        _v(
            f"{lon}.trajectories[].days_from_baseline",
            INTEGER,
            "Days from the baseline MRI.",
            unit="days",
        ),
        _v(
            f"{pat}.clustering.clusters[].cluster",
            INTEGER,
            "Cluster of the patient: Ward hierarchical clustering of group-score profiles, "
            "cut into k clusters.",
        ),
        _v(
            f"{pat}.clustering.patient_order",
            STRING,
            "Patients in dendrogram leaf order (the clustered heatmap's rows).",
        ),
        _v(
            f"{pat}.classifier.balanced_accuracy_mean",
            NUMBER,
            "Exploratory subtype classifier from group scores (multinomial logistic "
            "regression): balanced accuracy, mean over repeated stratified CV.",
            allowed="0–1",
        ),
        _v(f"{pat}.classifier.chance_level", NUMBER, "1 / number of subtypes: chance."),
        _v(
            f"{pat}.classifier.confusion_matrix",
            INTEGER,
            "Rows true subtype, columns predicted (labels order), summed over CV repeats.",
        ),
        _v(
            f"{pat}.classifier.feature_importance[].importance",
            NUMBER,
            "Standardized coefficient of a group score for a subtype.",
        ),
        _v(
            f"{pat}.classifier.exploratory",
            BOOLEAN,
            "Always true: describes patterns, never a diagnosis; never shown to readers.",
        ),
    ]


def analytics_variables() -> list[Variable]:
    """Every documented path of the analytics JSON, the paper's analyses first."""
    return [*_paper_variables(), *_beyond_variables()]
