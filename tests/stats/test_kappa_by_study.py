"""Pooled kappa with a bootstrap that resamples studies: the point estimate against sklearn on
all cells, the interval against a by-hand bootstrap that calls sklearn on each replicate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from analytics.stats.agreement import pooled_kappa_by_study


def _pairs(n_studies: int = 8, cells: int = 30, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for study in range(n_studies):
        a = rng.integers(0, 3, cells)
        noise = rng.integers(-1, 2, cells) * (rng.random(cells) < 0.3)
        b = np.clip(a + noise, 0, 2)
        rows += [(study, float(x), float(y)) for x, y in zip(a, b, strict=True)]
    return pd.DataFrame(rows, columns=["study_id", "grade_a", "grade_b"])


def test_pooled_kappa_equals_sklearn_and_the_interval_resamples_studies():
    pairs = _pairs()
    result = pooled_kappa_by_study(pairs, n_boot=300, seed=11)
    labels = [0.0, 1.0, 2.0]
    for name, weights in (("unweighted", None), ("linear", "linear"), ("quadratic", "quadratic")):
        expected = cohen_kappa_score(
            pairs["grade_a"], pairs["grade_b"], labels=labels, weights=weights
        )
        assert result[f"kappa_{name}"] == pytest.approx(expected, rel=1e-12)
    # The same draws by hand: whole studies with replacement, kappa by sklearn on their cells.
    rng = np.random.default_rng(11)
    studies = np.unique(pairs["study_id"])
    by_study = {s: pairs[pairs["study_id"] == s] for s in studies}
    replicates = []
    for draw in rng.integers(0, len(studies), size=(300, len(studies))):
        sample = pd.concat([by_study[studies[i]] for i in draw])
        replicates.append(
            cohen_kappa_score(sample["grade_a"], sample["grade_b"], labels=labels, weights="linear")
        )
    low, high = np.quantile(replicates, [0.025, 0.975])
    assert result["kappa_linear_ci_low"] == pytest.approx(low, rel=1e-9)
    assert result["kappa_linear_ci_high"] == pytest.approx(high, rel=1e-9)
    assert result["n_studies"] == 8 and result["n_pairs"] == 240
    assert "studies" in result["ci"]


def test_one_study_has_no_interval():
    result = pooled_kappa_by_study(_pairs(n_studies=1), n_boot=50)
    assert np.isnan(result["kappa_linear_ci_low"]) and np.isnan(result["kappa_linear_ci_high"])
