"""Agreement on ordinal scales with more than three grades (issue 23, item 3): Cohen's kappa
(unweighted, linear, quadratic) for k = 4, 5 and 6 categories against scikit-learn, and the
ICC of scores built from such grades against pingouin, on the same generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest
from sklearn.metrics import cohen_kappa_score

from analytics.stats import agreement


def _two_readers(k: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Reader B mostly within a step of reader A, on a 0..k-1 scale; every grade occurs."""
    rng = np.random.default_rng(seed)
    a = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
    b = np.clip(a + rng.choice([-2, -1, 0, 0, 0, 1], size=n), 0, k - 1)
    return a, b


@pytest.mark.parametrize("k", [4, 5, 6])
def test_kappa_on_k_categories_matches_scikit_learn(k):
    a, b = _two_readers(k, 200, seed=k)
    result = agreement.cohen_kappa(a, b, categories=range(k))
    labels = list(range(k))
    assert result.kappa_unweighted == pytest.approx(
        cohen_kappa_score(a, b, labels=labels), rel=1e-12
    )
    assert result.kappa_linear == pytest.approx(
        cohen_kappa_score(a, b, labels=labels, weights="linear"), rel=1e-12
    )
    assert result.kappa_quadratic == pytest.approx(
        cohen_kappa_score(a, b, labels=labels, weights="quadratic"), rel=1e-12
    )
    assert result.percent_agreement == pytest.approx(np.mean(a == b))


def test_weights_use_the_whole_scale_even_when_grades_are_missing():
    # Only 0 and 1 occur, on a 0-5 scale: a one-step miss weighs 1/5, not 1.
    a, b = np.array([0, 1, 1, 0, 1, 0]), np.array([0, 1, 0, 0, 1, 1])
    result = agreement.cohen_kappa(a, b, categories=range(6))
    assert result.kappa_linear == pytest.approx(
        cohen_kappa_score(a, b, labels=list(range(6)), weights="linear"), rel=1e-12
    )


@pytest.mark.parametrize("k", [4, 6])
def test_icc_of_scores_from_k_step_grades_matches_pingouin(k):
    """Three raters' totals over 8 muscles graded 0..k-1, for 30 patients."""
    rng = np.random.default_rng(100 + k)
    truth = rng.integers(0, k, size=(30, 8))
    rows = []
    for rater in range(3):
        noisy = np.clip(truth + rng.choice([-1, 0, 0, 1], size=truth.shape), 0, k - 1)
        rows += [{"target": t, "rater": rater, "score": float(noisy[t].sum())} for t in range(30)]
    ratings = pd.DataFrame(rows)
    ours = agreement.intraclass_correlation(ratings)
    theirs = pingouin.intraclass_corr(
        data=ratings, targets="target", raters="rater", ratings="score"
    ).set_index("Type")
    # pingouin 0.7 names the Shrout-Fleiss forms after McGraw & Wong.
    names = {"ICC1": "ICC(1,1)", "ICC2": "ICC(A,1)", "ICC3": "ICC(C,1)"}
    names |= {"ICC1k": "ICC(1,k)", "ICC2k": "ICC(A,k)", "ICC3k": "ICC(C,k)"}
    for form, theirs_name in names.items():
        assert ours.form(form).icc == pytest.approx(theirs.loc[theirs_name, "ICC"], rel=1e-9)
