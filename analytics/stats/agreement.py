"""Reader agreement: Cohen's kappa on grades, ICC on scores, Bland-Altman on the total score.

Pure functions on pandas objects (no Django, nothing of the project). Inter-reader agreement
compares two readers of the same study; intra-reader agreement compares one reader's two reads
of the same study. Both use the same functions: only the pairing differs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._records import json_value, to_records

GRADE_CATEGORIES: tuple[int, ...] = (0, 1, 2)
ICC_FORMS: tuple[str, ...] = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")
ICC_DESCRIPTIONS: dict[str, str] = {
    "ICC1": "one-way random, single rater",
    "ICC2": "two-way random, absolute agreement, single rater",
    "ICC3": "two-way mixed, consistency, single rater",
    "ICC1k": "one-way random, mean of k raters",
    "ICC2k": "two-way random, absolute agreement, mean of k raters",
    "ICC3k": "two-way mixed, consistency, mean of k raters",
}
KAPPA_COLUMNS = [
    "muscle",
    "n_pairs",
    "n_na",
    "percent_agreement",
    "kappa_unweighted",
    "kappa_linear",
    "kappa_quadratic",
]


# --- Cohen's kappa ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KappaResult:
    """Agreement of two series of ordinal grades.

    n_pairs counts the pairs used; n_na the pairs dropped because either grade was NA.
    """

    n_pairs: int
    n_na: int
    percent_agreement: float
    kappa_unweighted: float
    kappa_linear: float
    kappa_quadratic: float

    def to_dict(self) -> dict[str, Any]:
        return json_value(self)


def _weighted_kappa(observed: np.ndarray, weights: np.ndarray) -> float:
    """kappa_w = 1 - sum(w * O) / sum(w * E), E = outer(row margins, column margins)."""
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    disagreement_expected = float((weights * expected).sum())
    # Both readers used one and the same grade throughout: chance agreement is 1, kappa undefined.
    if disagreement_expected == 0.0:
        return math.nan
    return 1.0 - float((weights * observed).sum()) / disagreement_expected


def cohen_kappa(
    grades_a: Sequence[float] | pd.Series | np.ndarray,
    grades_b: Sequence[float] | pd.Series | np.ndarray,
    *,
    categories: Sequence[int] = GRADE_CATEGORIES,
) -> KappaResult:
    """Cohen's kappa, unweighted and weighted, and percent agreement of paired grades.

    With O the table of observed pair proportions over the k ordered categories and E the
    product of its margins, kappa_w = 1 - sum(w_ij O_ij) / sum(w_ij E_ij) with disagreement
    weights w_ij = [i != j] (unweighted), |i - j| / (k - 1) (linear) or (i - j)^2 / (k - 1)^2
    (quadratic); i, j are positions on the declared scale, so weights do not depend on which
    grades happen to occur. Pairs with an NA on either side are dropped and counted.
    Kappa is NaN when both readers gave one single grade throughout.
    """
    a = pd.to_numeric(pd.Series(np.asarray(grades_a, dtype=float)), errors="raise")
    b = pd.to_numeric(pd.Series(np.asarray(grades_b, dtype=float)), errors="raise")
    if len(a) != len(b):
        raise ValueError(f"Grade series differ in length ({len(a)} vs {len(b)}).")
    complete = a.notna() & b.notna()
    a, b = a[complete], b[complete]
    if a.empty:
        raise ValueError("No pair of grades with both grades present.")
    position = {float(c): i for i, c in enumerate(categories)}
    unknown = sorted((set(a.tolist()) | set(b.tolist())) - set(position))
    if unknown:
        raise ValueError(f"Grades outside the scale {tuple(categories)}: {unknown}.")

    k = len(categories)
    observed = np.zeros((k, k))
    np.add.at(observed, (a.map(position).to_numpy(), b.map(position).to_numpy()), 1.0)
    observed /= observed.sum()
    i, j = np.indices((k, k))
    span = max(k - 1, 1)
    return KappaResult(
        n_pairs=int(len(a)),
        n_na=int((~complete).sum()),
        percent_agreement=float(np.trace(observed)),
        kappa_unweighted=_weighted_kappa(observed, (i != j).astype(float)),
        kappa_linear=_weighted_kappa(observed, np.abs(i - j) / span),
        kappa_quadratic=_weighted_kappa(observed, (i - j) ** 2 / span**2),
    )


def grade_pairs(
    first: pd.DataFrame,
    second: pd.DataFrame,
    *,
    keys: Sequence[str] = ("study_id", "muscle", "side"),
    value_col: str = "u",
) -> pd.DataFrame:
    """Pair two reads' grades cell by cell: columns `keys` + grade_a (first) + grade_b (second).

    Only cells present in both frames are paired (inner join on `keys`).
    """
    keys = list(keys)
    for name, frame in (("first", first), ("second", second)):
        missing = [c for c in [*keys, value_col] if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} grades lack columns {missing}.")
        if frame.duplicated(keys).any():
            raise ValueError(f"{name} grades have more than one grade per {tuple(keys)}.")
    return pd.merge(
        first[[*keys, value_col]].rename(columns={value_col: "grade_a"}),
        second[[*keys, value_col]].rename(columns={value_col: "grade_b"}),
        on=keys,
        how="inner",
    )


@dataclass(frozen=True)
class GradeAgreement:
    """Kappa per muscle (both sides and all studies pooled) and over all muscles pooled."""

    per_muscle: pd.DataFrame
    pooled: KappaResult

    def to_dict(self) -> dict[str, Any]:
        return {"per_muscle": to_records(self.per_muscle), "pooled": self.pooled.to_dict()}


def grade_agreement(
    pairs: pd.DataFrame,
    *,
    muscle_col: str = "muscle",
    a_col: str = "grade_a",
    b_col: str = "grade_b",
    categories: Sequence[int] = GRADE_CATEGORIES,
) -> GradeAgreement:
    """Cohen's kappa per muscle and pooled, from one row per paired cell (see grade_pairs).

    per_muscle columns: muscle, n_pairs, n_na, percent_agreement, kappa_unweighted,
    kappa_linear, kappa_quadratic (muscles in order of first appearance).
    """
    missing = [c for c in (muscle_col, a_col, b_col) if c not in pairs.columns]
    if missing:
        raise ValueError(f"Grade pairs lack columns {missing}.")
    if pairs.empty:
        raise ValueError("No grade pairs.")
    rows = []
    for muscle, cells in pairs.groupby(muscle_col, sort=False):
        if cells[[a_col, b_col]].notna().all(axis=1).any():
            result = cohen_kappa(cells[a_col], cells[b_col], categories=categories).to_dict()
        else:  # every pair of this muscle has an NA: report it, do not fail the cohort
            result = {"n_pairs": 0, "n_na": len(cells)}
        rows.append({"muscle": muscle, **result})
    per_muscle = pd.DataFrame(rows).reindex(columns=KAPPA_COLUMNS)
    pooled = cohen_kappa(pairs[a_col], pairs[b_col], categories=categories)
    return GradeAgreement(per_muscle=per_muscle, pooled=pooled)


def pooled_kappa_by_study(
    pairs: pd.DataFrame,
    *,
    study_col: str = "study_id",
    a_col: str = "grade_a",
    b_col: str = "grade_b",
    categories: Sequence[int] = GRADE_CATEGORIES,
    n_boot: int = 2000,
    seed: int = 20261204,
    level: float = 0.95,
) -> dict[str, Any]:
    """Pooled kappa (unweighted, linear, quadratic) with a percentile bootstrap confidence
    interval that resamples studies, not cells: the cells of one study are graded by the same
    two readers on the same images and are not independent.

    Each replicate draws as many studies as there are, with replacement, and computes kappa
    from the sum of their confusion tables. Returns n_studies, n_pairs, the kappas, and for
    each weighting ci_low/ci_high (NaN when fewer than 2 studies: nothing to resample)."""
    complete = pairs[[study_col, a_col, b_col]].dropna()
    position = {float(c): i for i, c in enumerate(categories)}
    k = len(categories)
    studies, study_codes = np.unique(complete[study_col].to_numpy(), return_inverse=True)
    cell = (
        study_codes * k * k
        + complete[a_col].astype(float).map(position).to_numpy() * k
        + complete[b_col].astype(float).map(position).to_numpy()
    )
    tables = np.bincount(cell.astype(np.int64), minlength=len(studies) * k * k)
    tables = tables.reshape(len(studies), k * k).astype(float)
    i, j = np.indices((k, k))
    span = max(k - 1, 1)
    weights = {
        "unweighted": (i != j).astype(float),
        "linear": np.abs(i - j) / span,
        "quadratic": (i - j) ** 2 / span**2,
    }
    total = tables.sum(axis=0).reshape(k, k)
    out: dict[str, Any] = {"n_studies": len(studies), "n_pairs": int(len(complete))}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(studies), size=(n_boot, len(studies)))
    counts = np.stack([np.bincount(row, minlength=len(studies)) for row in draws])
    replicates = counts @ tables  # (n_boot, k*k): each replicate's summed table
    tail = (1 - level) / 2
    for name, w in weights.items():
        kappa = _weighted_kappa(total / total.sum(), w) if total.sum() else math.nan
        out[f"kappa_{name}"] = kappa
        if len(studies) < 2:
            out[f"kappa_{name}_ci_low"] = out[f"kappa_{name}_ci_high"] = math.nan
            continue
        values = np.array([_weighted_kappa(r.reshape(k, k) / r.sum(), w) for r in replicates])
        values = values[~np.isnan(values)]
        low, high = np.quantile(values, [tail, 1 - tail]) if values.size else (math.nan,) * 2
        out[f"kappa_{name}_ci_low"], out[f"kappa_{name}_ci_high"] = float(low), float(high)
    out["ci"] = f"{level:.0%} percentile bootstrap over studies ({n_boot} replicates)"
    return out


# --- Intraclass correlation ------------------------------------------------------------------


@dataclass(frozen=True)
class IccForm:
    """One ICC form with its 95 % (1 - alpha) confidence interval and F test against ICC = 0."""

    form: str
    description: str
    icc: float
    ci_low: float
    ci_high: float
    f: float
    df1: float
    df2: float
    p: float


@dataclass(frozen=True)
class IccResult:
    """All six Shrout-Fleiss forms for one score; targets with a missing rating are dropped."""

    n_targets: int
    n_raters: int
    n_targets_dropped: int
    alpha: float
    forms: tuple[IccForm, ...]

    def form(self, name: str) -> IccForm:
        for candidate in self.forms:
            if candidate.form == name:
                return candidate
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([json_value(f) for f in self.forms])

    def to_dict(self) -> dict[str, Any]:
        return json_value(self)


def intraclass_correlation(
    ratings: pd.DataFrame,
    *,
    target_col: str = "target",
    rater_col: str = "rater",
    score_col: str = "score",
    alpha: float = 0.05,
) -> IccResult:
    """ICC1, ICC2, ICC3 and their average-measure forms (Shrout & Fleiss 1979).

    From the two-way ANOVA of n targets x k raters (complete targets only):
    MSR (targets, df n-1), MSC (raters, df k-1), MSE (residual, df (n-1)(k-1)) and
    MSW = (SSC + SSE) / (n(k-1)).
      ICC1  = (MSR - MSW) / (MSR + (k-1) MSW),    ICC1k = (MSR - MSW) / MSR,      F = MSR/MSW
      ICC2  = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n),
      ICC2k = (MSR - MSE) / (MSR + (MSC - MSE) / n),                              F = MSR/MSE
      ICC3  = (MSR - MSE) / (MSR + (k-1) MSE),    ICC3k = (MSR - MSE) / MSR,      F = MSR/MSE
    Confidence intervals: the exact F bounds for ICC1/ICC3 and their k forms; for ICC2 the
    Satterthwaite approximation of McGraw & Wong (1996), as in R's psych::ICC.
    """
    missing = [c for c in (target_col, rater_col, score_col) if c not in ratings.columns]
    if missing:
        raise ValueError(f"Ratings lack columns {missing}.")
    if ratings.duplicated([target_col, rater_col]).any():
        raise ValueError("More than one score per target and rater.")
    wide = ratings.pivot(index=target_col, columns=rater_col, values=score_col).astype(float)
    complete = wide.dropna()
    n, k = complete.shape
    if k < 2:
        raise ValueError("ICC needs at least two raters.")
    if n < 2:
        raise ValueError("ICC needs at least two targets rated by every rater.")

    x = complete.to_numpy()
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    msr, msc = ss_rows / (n - 1), ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    msw = (ss_cols + ss_err) / (n * (k - 1))
    q = 1 - alpha / 2
    df_r, df_w, df_e = n - 1, n * (k - 1), (n - 1) * (k - 1)

    with np.errstate(divide="ignore", invalid="ignore"):
        icc1 = (msr - msw) / (msr + (k - 1) * msw)
        icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        icc3 = (msr - mse) / (msr + (k - 1) * mse)
        f1, f3 = msr / msw, msr / mse
        f1_low, f1_high = f1 / stats.f.ppf(q, df_r, df_w), f1 * stats.f.ppf(q, df_w, df_r)
        f3_low, f3_high = f3 / stats.f.ppf(q, df_r, df_e), f3 * stats.f.ppf(q, df_e, df_r)
        # ICC2: Satterthwaite degrees of freedom for the mixture of rater and error variance.
        fj = msc / mse
        base = n * (1 + (k - 1) * icc2) - k * icc2
        v = (k - 1) * (n - 1) * (k * icc2 * fj + base) ** 2
        v /= (n - 1) * k**2 * icc2**2 * fj**2 + base**2
        fu, fl = stats.f.ppf(q, n - 1, v), stats.f.ppf(q, v, n - 1)
        pooled = k * msc + (k * n - k - n) * mse
        icc2_low = n * (msr - fu * mse) / (fu * pooled + n * msr)
        icc2_high = n * (fl * msr - mse) / (pooled + n * fl * msr)
        one_way = (f1, df_r, df_w, stats.f.sf(f1, df_r, df_w))
        two_way = (f3, df_r, df_e, stats.f.sf(f3, df_r, df_e))
        values = {
            "ICC1": (icc1, (f1_low - 1) / (f1_low + k - 1), (f1_high - 1) / (f1_high + k - 1)),
            "ICC2": (icc2, icc2_low, icc2_high),
            "ICC3": (icc3, (f3_low - 1) / (f3_low + k - 1), (f3_high - 1) / (f3_high + k - 1)),
            "ICC1k": ((msr - msw) / msr, 1 - 1 / f1_low, 1 - 1 / f1_high),
            "ICC2k": (
                (msr - mse) / (msr + (msc - mse) / n),
                icc2_low * k / (1 + icc2_low * (k - 1)),
                icc2_high * k / (1 + icc2_high * (k - 1)),
            ),
            "ICC3k": ((msr - mse) / msr, 1 - 1 / f3_low, 1 - 1 / f3_high),
        }
    forms = tuple(
        IccForm(
            name,
            ICC_DESCRIPTIONS[name],
            *(float(v) for v in values[name]),
            *(float(v) for v in (one_way if name.startswith("ICC1") else two_way)),
        )
        for name in ICC_FORMS
    )
    return IccResult(
        n_targets=int(n),
        n_raters=int(k),
        n_targets_dropped=int(len(wide) - n),
        alpha=alpha,
        forms=forms,
    )


def icc_per_score(
    scores: pd.DataFrame,
    *,
    score_cols: Sequence[str],
    target_col: str = "target",
    rater_col: str = "rater",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """ICC of several scores (e.g. each functional group and "total") from one wide frame.

    One row per (score, form): score, form, description, icc, ci_low, ci_high, f, df1, df2, p,
    n_targets, n_raters, n_targets_dropped.
    """
    rows = []
    for score in score_cols:
        result = intraclass_correlation(
            scores,
            target_col=target_col,
            rater_col=rater_col,
            score_col=score,
            alpha=alpha,
        )
        counts = {
            "n_targets": result.n_targets,
            "n_raters": result.n_raters,
            "n_targets_dropped": result.n_targets_dropped,
        }
        rows += [{"score": score, **json_value(form), **counts} for form in result.forms]
    return pd.DataFrame(rows)


# --- Bland-Altman ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BlandAltmanResult:
    """Bias and 95 % limits of agreement of a - b (Bland & Altman 1986)."""

    n: int
    mean_difference: float
    sd: float
    loa_low: float
    loa_high: float
    mean_difference_ci_low: float
    mean_difference_ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return json_value(self)


def bland_altman(
    scores_a: Sequence[float] | pd.Series | np.ndarray,
    scores_b: Sequence[float] | pd.Series | np.ndarray,
) -> BlandAltmanResult:
    """Differences d = a - b over complete pairs: bias = mean(d), SD with n - 1,
    limits of agreement = bias -/+ 1.96 SD, and the t-based 95 % CI of the bias.
    """
    a = np.asarray(scores_a, dtype=float)
    b = np.asarray(scores_b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"Score series differ in length ({a.size} vs {b.size}).")
    d = (a - b)[~(np.isnan(a) | np.isnan(b))]
    if d.size < 2:
        raise ValueError("Bland-Altman needs at least two complete pairs.")
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    half_ci = float(stats.t.ppf(0.975, d.size - 1)) * sd / math.sqrt(d.size)
    return BlandAltmanResult(
        n=int(d.size),
        mean_difference=bias,
        sd=sd,
        loa_low=bias - 1.96 * sd,
        loa_high=bias + 1.96 * sd,
        mean_difference_ci_low=bias - half_ci,
        mean_difference_ci_high=bias + half_ci,
    )
