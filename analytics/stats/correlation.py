"""Clinical correlation: univariate OLS of MMT-8 or CK on the total score, with Spearman's rho."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ._records import json_value
from .comparison import comparison_subtypes
from .descriptives import OVERALL
from .scores import require_columns

RESULT_COLUMNS = [
    "scope", "outcome", "status", "n", "n_dropped", "n_nonpositive", "intercept", "slope",
    "slope_ci_low", "slope_ci_high", "r_squared", "p", "spearman_rho", "spearman_p",
]  # fmt: skip


@dataclass(frozen=True)
class LinearFit:
    """y = intercept + slope * x by ordinary least squares, and Spearman's rho of (x, y).

    slope CI = slope -/+ t(0.975, n - 2) * SE(slope); r_squared = 1 - SS_res / SS_tot;
    p = two-sided t-test of slope = 0 with n - 2 df; spearman_p from t = rho sqrt((n - 2) /
    (1 - rho^2)) with n - 2 df (the asymptotic p of R's cor.test(exact = FALSE)).
    """

    n: int
    intercept: float
    slope: float
    slope_ci_low: float
    slope_ci_high: float
    r_squared: float
    p: float
    spearman_rho: float
    spearman_p: float

    def to_dict(self) -> dict[str, Any]:
        return {key: json_value(value) for key, value in asdict(self).items()}


def linear_fit(x: Sequence[float], y: Sequence[float], *, alpha: float = 0.05) -> LinearFit:
    """OLS of y on x with a (1 - alpha) slope CI, plus Spearman's rho; see LinearFit.

    Needs at least 3 complete pairs and x and y that are not constant (ValueError otherwise).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be one-dimensional and of equal length")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("x and y must not contain missing values: drop them first")
    if x.size < 3:
        raise ValueError(f"a linear fit needs at least 3 observations, got {x.size}")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise ValueError("a linear fit needs x and y that vary")
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    ci_low, ci_high = fit.conf_int(alpha=alpha)[1]
    spearman = stats.spearmanr(x, y)
    return LinearFit(
        n=int(x.size),
        intercept=float(fit.params[0]),
        slope=float(fit.params[1]),
        slope_ci_low=float(ci_low),
        slope_ci_high=float(ci_high),
        r_squared=float(fit.rsquared),
        p=float(fit.pvalues[1]),
        spearman_rho=float(spearman.statistic),
        spearman_p=float(spearman.pvalue),
    )


def _scope_row(
    scope: str, label: str, x: pd.Series, y: pd.Series, log10: bool, min_n: int
) -> dict[str, Any]:
    """One result row: drop missing pairs (and y <= 0 before log10), then fit if n >= min_n."""
    complete = x.notna() & y.notna()
    row: dict[str, Any] = {
        "scope": scope,
        "outcome": label,
        "status": "ok",
        "n_dropped": int((~complete).sum()),
        "n_nonpositive": 0,
    }
    x, y = x[complete], y[complete]
    if log10:
        # log10 is undefined for CK <= 0: such rows are dropped and counted.
        positive = y > 0
        row["n_nonpositive"] = int((~positive).sum())
        x, y = x[positive], np.log10(y[positive])
    row["n"] = int(x.size)
    if x.size < min_n:
        row["status"] = "too few"
    elif x.nunique() < 2 or y.nunique() < 2:
        row["status"] = "no variation"
    else:
        fit = asdict(linear_fit(x, y))
        fit.pop("n")
        row.update(fit)
    return row


def clinical_regression(
    frame: pd.DataFrame,
    *,
    outcome: str = "mmt8",
    predictor: str = "total",
    log10: bool = False,
    subtype_col: str | None = "subtype",
    subtypes: Sequence[str] | None = None,
    min_n: int = 8,
) -> pd.DataFrame:
    """Univariate OLS outcome = intercept + slope * predictor (and Spearman's rho), overall
    and per subtype (see LinearFit for the formulas).

    frame: one row per patient with the predictor (the total score), the outcome (mmt8, ck)
    and, when subtype_col is set, the subtype. Rows with a missing predictor or outcome are
    dropped and counted (n_dropped); with log10, rows with outcome <= 0 too (n_nonpositive).
    A scope with fewer than min_n remaining rows gets status "too few", one whose predictor or
    outcome is constant "no variation"; statistics are then NaN.
    Columns: scope ("all" or the subtype), outcome (e.g. "log10(ck)"), status, n, n_dropped,
    n_nonpositive, intercept, slope, slope_ci_low, slope_ci_high, r_squared, p, spearman_rho,
    spearman_p. Subtypes default to all present but "other"; "all" uses every row.
    """
    if min_n < 3:
        raise ValueError(
            f"min_n must be at least 3 (a line through 2 points has no CI), got {min_n}"
        )
    require_columns(frame, [predictor, outcome, *([subtype_col] if subtype_col else [])], "frame")
    x = pd.to_numeric(frame[predictor], errors="coerce").astype(float)
    y = pd.to_numeric(frame[outcome], errors="coerce").astype(float)
    label = f"log10({outcome})" if log10 else outcome
    rows = [_scope_row(OVERALL, label, x, y, log10, min_n)]
    if subtype_col is not None:
        subtype = frame[subtype_col].astype(str).where(frame[subtype_col].notna())
        for scope in comparison_subtypes(
            frame.assign(**{subtype_col: subtype}), subtype_col, subtypes
        ):
            member = subtype == scope
            rows.append(_scope_row(scope, label, x[member], y[member], log10, min_n))
    return pd.DataFrame(rows).reindex(columns=RESULT_COLUMNS)


def regression_band(
    x: Sequence[float],
    y: Sequence[float],
    *,
    points: int = 40,
    alpha: float = 0.05,
    log10: bool = False,
) -> dict[str, list[float]] | None:
    """The fitted line and its (1 - alpha) confidence band for the mean, on a grid over x.

    fit(x0) = intercept + slope x0; band = fit -/+ t(1 - alpha/2, n - 2) * s *
    sqrt(1/n + (x0 - mean x)^2 / sum (x - mean x)^2), s the residual standard error.
    With log10 the outcome is log10(y) (y <= 0 dropped) and the band is returned on that scale.
    Returns None when fewer than 3 usable rows or no variation in x.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    keep = ~(np.isnan(xs) | np.isnan(ys))
    if log10:
        keep &= ys > 0
    xs, ys = xs[keep], ys[keep]
    if log10:
        ys = np.log10(ys)
    if len(xs) < 3 or np.ptp(xs) == 0:
        return None
    fit = sm.OLS(ys, sm.add_constant(xs)).fit()
    grid = np.linspace(xs.min(), xs.max(), points)
    frame = fit.get_prediction(sm.add_constant(grid, has_constant="add")).summary_frame(alpha=alpha)
    return {
        "x": grid.round(6).tolist(),
        "fit": frame["mean"].round(6).tolist(),
        "low": frame["mean_ci_lower"].round(6).tolist(),
        "high": frame["mean_ci_upper"].round(6).tolist(),
    }
