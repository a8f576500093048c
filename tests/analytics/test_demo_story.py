"""The demo cohort tells the seed paper's story (DESIGN.md, "Demo images"), read from the results
seed_demo stores (default parameters: Holm correction, linear CK, baseline, readers combined),
with the statistics recomputed here from the stored per-patient rows.

Paper ("Results"): totals DM > IMNM > PM > IBM > ASYS; lower > upper extremity in every subtype
but DM; Kruskal–Wallis significant in most functional groups, in the lower limb only in the
medial thigh; across the cohort MMT-8 (R² 0.20) and CK (R² 0.17) correlate with the total score
(p < 0.05); within IBM and within IMNM neither does.
"""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
import statsmodels.api as sm
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analytics.result_rows import stored_result_value
from analytics.selectors import stored_results
from cohorts.models import Cohort
from scoring.atlas_data import GROUPS, REGIONS

# The marker makes pytest-django create the test database the module fixture seeds.
pytestmark = pytest.mark.django_db

SUBTYPES = ["IBM", "DM", "PM", "ASYS", "IMNM"]
LIMB_OF_REGION = {region: limb for region, _name, limb in REGIONS}
GROUP_SLUGS = [group for _region, group, _name, _muscles in GROUPS]
LOWER_LIMB = {group for region, group, _n, _m in GROUPS if LIMB_OF_REGION[region] == "lower"}
MUSCLES_IN = {group: len(muscles) for _region, group, _name, muscles in GROUPS}
LIMB_OF_GROUP = {group: LIMB_OF_REGION[region] for region, group, _n, _m in GROUPS}
ALPHA = 0.05


@pytest.fixture(scope="module")
def story(django_db_setup, django_db_blocker):
    """The default stored results of the seeded demo ({analysis: result}, "unified" scope) and
    its baseline patient rows (readers combined, max of STIR and T1). Seeded once for the module
    (a seed with its recomputation takes a minute) and rolled back."""
    from iim_scoring.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with (
            django_db_blocker.unblock(),
            override_settings(CELERY_TASK_ALWAYS_EAGER=True),
            transaction.atomic(),
        ):
            call_command("seed_demo", "--no-images", stdout=StringIO())
            stored = stored_results(cohort=Cohort.objects.get(slug="demo-iim"))
            assert {r.status for r in stored.values()} == {"done"}
            results = {
                name: stored[name].result["unified"]
                for name in ("group_profile", "subtype_comparison", "clinical_correlation")
            }
            rows = stored_result_value(stored["patient_scores"], "unified")["unified"]
            transaction.set_rollback(True)
    finally:
        app.conf.task_always_eager = eager
    assert len(rows) == 34
    return results, rows


def _group_score(row: dict, group: str) -> float:
    """A patient row's group score, whichever spelling the column uses."""
    for key in (f"group_{group}", f"group_{group.replace('-', '_')}"):
        if key in row:
            return row[key]
    raise KeyError(f"no column for group {group} in {sorted(row)}")


def _by_subtype(rows: list[dict], value) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {s: [] for s in SUBTYPES}
    for row in rows:
        out[row["subtype"]].append(value(row))
    return out


def _sum_of_muscle_scores(row: dict, limb: str | None = None) -> float:
    """Sum of the muscle scores from the group scores (a group score is the mean of its
    muscles' scores; the demo grades every muscle)."""
    return sum(
        _group_score(row, group) * n
        for group, n in MUSCLES_IN.items()
        if limb is None or LIMB_OF_GROUP[group] == limb
    )


def test_subtype_totals_in_the_papers_order(story):
    _results, rows = story
    for row in rows:
        assert row["total"] == pytest.approx(_sum_of_muscle_scores(row), rel=1e-9)
    totals = _by_subtype(rows, lambda row: row["total"])
    means = {s: float(np.mean(v)) for s, v in totals.items()}
    assert sorted(means, key=means.get, reverse=True) == ["DM", "IMNM", "PM", "IBM", "ASYS"]


def test_lower_extremity_over_upper_in_every_subtype_but_dm(story):
    results, rows = story
    limb = {(row["limb"], row["subtype"]): row["mean"] for row in results["group_profile"]["limb"]}
    upper = _by_subtype(rows, lambda row: _sum_of_muscle_scores(row, "upper"))
    lower = _by_subtype(rows, lambda row: _sum_of_muscle_scores(row, "lower"))
    for subtype in SUBTYPES:
        assert limb[("upper", subtype)] == pytest.approx(np.mean(upper[subtype]), rel=1e-9)
        assert limb[("lower", subtype)] == pytest.approx(np.mean(lower[subtype]), rel=1e-9)
        if subtype == "DM":
            assert limb[("upper", subtype)] > limb[("lower", subtype)]
        else:
            assert limb[("lower", subtype)] > limb[("upper", subtype)], subtype


def test_kruskal_wallis_differs_in_most_groups_but_in_the_lower_limb_only_medial_thigh(story):
    results, rows = story
    stored = {row["group"]: row for row in results["subtype_comparison"]["kruskal"]}
    assert set(stored) == set(GROUP_SLUGS)
    p_values = []
    for group in GROUP_SLUGS:
        samples = _by_subtype(rows, lambda row, group=group: _group_score(row, group))
        h, p = stats.kruskal(*(samples[s] for s in SUBTYPES))
        assert stored[group]["status"] == "ok" and stored[group]["k"] == 5
        assert stored[group]["H"] == pytest.approx(h, rel=1e-9)
        assert stored[group]["p"] == pytest.approx(p, rel=1e-9)
        p_values.append(p)
    holm = multipletests(p_values, method="holm")[1]
    for group, p_adj in zip(GROUP_SLUGS, holm, strict=True):
        assert stored[group]["p_adj"] == pytest.approx(p_adj, rel=1e-9)
    significant = {g for g, p_adj in zip(GROUP_SLUGS, holm, strict=True) if p_adj < ALPHA}
    assert len(significant) > len(GROUP_SLUGS) / 2  # "most muscle groups"
    assert significant & LOWER_LIMB == {"medial-thigh"}


def _ols(rows: list[dict], outcome: str) -> tuple[int, float, float, float]:
    usable = [r for r in rows if r[outcome] is not None and r["total"] is not None]
    x = np.array([r["total"] for r in usable], dtype=float)
    y = np.array([r[outcome] for r in usable], dtype=float)
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    return len(usable), float(fit.rsquared), float(fit.pvalues[1]), float(fit.params[1])


def test_mmt8_and_ck_follow_the_total_across_the_cohort_but_not_within_ibm_or_imnm(story):
    results, rows = story
    fits = {(fit["scope"], fit["outcome"]): fit for fit in results["clinical_correlation"]["fits"]}
    for scope in ("all", "IBM", "IMNM"):
        scoped = rows if scope == "all" else [r for r in rows if r["subtype"] == scope]
        for outcome in ("mmt8", "ck"):
            fit = fits[(scope, outcome)]
            n, r_squared, p, slope = _ols(scoped, outcome)
            assert fit["status"] == "ok" and fit["n"] == n
            assert fit["r_squared"] == pytest.approx(r_squared, rel=1e-9)
            assert fit["p"] == pytest.approx(p, rel=1e-9)
            assert fit["slope"] == pytest.approx(slope, rel=1e-9)
            if scope == "all":  # about the paper's strength: R² 0.20 (MMT-8), 0.17 (CK)
                assert p < ALPHA, (outcome, p)
                assert (slope < 0) if outcome == "mmt8" else (slope > 0)
                target = 0.20 if outcome == "mmt8" else 0.17
                assert abs(r_squared - target) < 0.06, (outcome, r_squared)
            else:
                assert p >= ALPHA, (scope, outcome, p)
    assert fits[("all", "mmt8")]["n"] == 33  # one MMT-8 missing
