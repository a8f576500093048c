"""Score profiles per subtype and the subtype comparison per functional group.

Inputs are per-patient frames (one timepoint, readers already combined) with a subtype column,
e.g. `attach_patients(first_timepoint(combine_readers(scores).group), patients)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from .descriptives import OVERALL, subtype_order
from .scores import require_columns

CORRECTIONS = ("holm", "fdr_bh", "bonferroni")
# "other/unclassified" is not a subtype to compare; pass `subtypes` to include it.
EXCLUDED_BY_DEFAULT = ("other",)


def comparison_subtypes(
    frame: pd.DataFrame, subtype_col: str, subtypes: Sequence[str] | None = None
) -> list[str]:
    """`subtypes` if given, else the subtypes present in `frame` except "other", in order."""
    present = frame[subtype_col].dropna().astype(str).unique()
    if subtypes is None:
        present = [subtype for subtype in present if subtype not in EXCLUDED_BY_DEFAULT]
    return subtype_order(present, subtypes)


def _checked(frame: pd.DataFrame, level_col: str, value_col: str, subtype_col: str) -> pd.DataFrame:
    """The frame's needed columns with the subtype as str; ValueError on a repeated patient."""
    require_columns(frame, [level_col, value_col, subtype_col], "scores")
    if "patient_id" in frame.columns and frame.duplicated(["patient_id", level_col]).any():
        raise ValueError(
            f"a patient has several rows for one {level_col}: select one timepoint "
            "(first_timepoint) and combine readers (combine_readers) first"
        )
    out = frame[[level_col, value_col, subtype_col]].copy()
    out[value_col] = pd.to_numeric(out[value_col], errors="coerce")
    out[subtype_col] = out[subtype_col].astype(str).where(out[subtype_col].notna())
    return out


def _profile(frame, level_col, value_col, subtype_col, subtypes, include_overall):
    data = _checked(frame, level_col, value_col, subtype_col)
    order = subtype_order(data[subtype_col].dropna().unique(), subtypes)
    data = data[data[subtype_col].isin(order)]
    parts = [data]
    if include_overall:
        parts.append(data.assign(**{subtype_col: OVERALL}))
        order = [*order, OVERALL]
    stacked = pd.concat(parts, ignore_index=True)
    grouped = stacked.groupby([level_col, subtype_col], sort=False)[value_col]
    out = grouped.agg(["mean", "median", "std", "count"]).reset_index()
    out = out.rename(columns={"std": "sd", "count": "n", subtype_col: "subtype"})
    # Level units keep their first-seen (atlas) order; subtypes the table order.
    level_rank = {unit: i for i, unit in enumerate(data[level_col].unique())}
    out["_level"] = out[level_col].map(level_rank)
    out["_subtype"] = out["subtype"].map({s: i for i, s in enumerate(order)})
    out = out.sort_values(["_level", "_subtype"]).drop(columns=["_level", "_subtype"])
    return out.reset_index(drop=True)


def group_profile(
    group_scores: pd.DataFrame,
    *,
    value_col: str = "score",
    subtype_col: str = "subtype",
    subtypes: Sequence[str] | None = None,
    include_overall: bool = True,
) -> pd.DataFrame:
    """Mean, median, SD (n - 1) and n of the group scores per functional group and subtype.

    Columns: group, subtype, mean, median, sd, n (patients with a score; NA skipped).
    subtype "all" pools every listed subtype when include_overall.
    """
    return _profile(group_scores, "group", value_col, subtype_col, subtypes, include_overall)


def limb_profile(
    limb_scores: pd.DataFrame,
    *,
    value_col: str = "score",
    subtype_col: str = "subtype",
    subtypes: Sequence[str] | None = None,
    include_overall: bool = True,
) -> pd.DataFrame:
    """Mean, median, SD and n of the per-patient limb sums (upper vs lower extremity; axial).

    Columns: limb, subtype, mean, median, sd, n.
    """
    return _profile(limb_scores, "limb", value_col, subtype_col, subtypes, include_overall)


def _adjust(p_values: Sequence[float], correction: str) -> np.ndarray:
    """Adjusted p-values (statsmodels multipletests), NaN kept out of the family."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    usable = ~np.isnan(p)
    if usable.any():
        if correction == "holm":
            adjusted[usable] = _holm(p[usable])
        else:
            adjusted[usable] = multipletests(p[usable], method=correction)[1]
    return adjusted


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down: p_(i) adjusted = max_{j <= i} min(1, (m - j + 1) p_(j)).

    statsmodels' "holm" gives the same numbers but calls gc.collect() on every call (about
    0.2 s each), which a recomputation over 15 groups x 3 scopes cannot afford.
    """
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(m, 0, -1)))
    out = np.empty(m)
    out[order] = stepped
    return out


def _check_correction(correction: str) -> None:
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")


def kruskal_by_group(
    group_scores: pd.DataFrame,
    *,
    value_col: str = "score",
    group_col: str = "group",
    subtype_col: str = "subtype",
    subtypes: Sequence[str] | None = None,
    correction: str = "holm",
    min_n: int = 1,
) -> pd.DataFrame:
    """Kruskal-Wallis test of the scores across subtypes, per functional group.

    A subtype with fewer than `min_n` scores in a group is left out of that group's test and
    listed in too_few ({subtype: n}). H is tie-corrected (scipy.stats.kruskal; ties are exact
    equality, so scores must not be rounded before); df = k - 1 for k subtypes compared; n =
    their scores; epsilon^2 = H / ((n^2 - 1) / (n + 1)); p_adj corrects the groups' p-values
    together (holm | fdr_bh | bonferroni). status: "ok"; "no variation" (all values equal:
    H, p NaN); "too few" (fewer than 2 subtypes with at least `min_n` scores; message says
    how many); "insufficient data" (fewer than 2 subtypes with data at all).
    Columns: group, status, message, k, n, n_per_subtype ({subtype: n}), too_few, H, df, p,
    p_adj, epsilon_squared. Subtypes default to all present but "other".
    """
    _check_correction(correction)
    checked = _checked(group_scores, group_col, value_col, subtype_col)
    data = checked.dropna()
    order = comparison_subtypes(data, subtype_col, subtypes)
    per_group = _split_by_group(data, group_col, value_col, subtype_col, order)
    rows = []
    # Iterate over every group, also those whose scores are all NA (insufficient data).
    for group in checked[group_col].unique():
        values, codes = per_group.get(group, (np.array([]), np.array([], dtype=int)))
        samples = {s: values[codes == j] for j, s in enumerate(order)}
        samples = {s: sample for s, sample in samples.items() if sample.size}
        too_few = {s: int(v.size) for s, v in samples.items() if v.size < min_n}
        with_data = len(samples)
        samples = {s: v for s, v in samples.items() if s not in too_few}
        pooled = np.concatenate(list(samples.values())) if samples else np.array([])
        row = {
            group_col: group,
            "status": "ok",
            "message": "",
            "k": len(samples),
            "n": int(pooled.size),
            "n_per_subtype": {s: int(values.size) for s, values in samples.items()},
            "too_few": too_few,
            "H": np.nan,
            "df": len(samples) - 1 if len(samples) >= 2 else np.nan,
            "p": np.nan,
            "epsilon_squared": np.nan,
        }
        if len(samples) < 2 and with_data >= 2:
            row["status"] = "too few"
            shown = ", ".join(f"{s} n = {n}" for s, n in too_few.items())
            row["message"] = f"too few ({shown}; minimum {min_n} per subtype)"
        elif len(samples) < 2:
            row["status"] = "insufficient data"
        elif np.all(pooled == pooled[0]):
            # Every rank is tied: H is 0/0, scipy would raise.
            row["status"] = "no variation"
        else:
            result = stats.kruskal(*samples.values())
            n = pooled.size
            row.update(
                H=float(result.statistic),
                p=float(result.pvalue),
                epsilon_squared=float(result.statistic) / ((n**2 - 1) / (n + 1)),
            )
        rows.append(row)
    columns = [
        group_col, "status", "message", "k", "n", "n_per_subtype", "too_few", "H", "df", "p",
        "p_adj",
    ]  # fmt: skip
    out = pd.DataFrame(rows, columns=[*columns[:-1], "epsilon_squared"])
    out["p_adj"] = _adjust(out["p"], correction)
    return out[[*columns, "epsilon_squared"]]


def _split_by_group(
    data: pd.DataFrame, group_col: str, value_col: str, subtype_col: str, order: Sequence[str]
) -> dict[object, tuple[np.ndarray, np.ndarray]]:
    """Per group: its values and their subtypes as positions in `order` (-1 for a subtype not
    compared), in one pass (filtering a long frame once per group and subtype was most of the
    time of a comparison)."""
    group_codes, groups = pd.factorize(data[group_col])
    values = data[value_col].to_numpy(dtype=float)
    subtype_codes = pd.Index(order, dtype=object).get_indexer(data[subtype_col].to_numpy(object))
    by_group = np.argsort(group_codes, kind="stable")
    bounds = np.searchsorted(group_codes[by_group], np.arange(len(groups) + 1))
    return {
        group: (values[by_group[start:stop]], subtype_codes[by_group[start:stop]])
        for group, start, stop in zip(groups, bounds[:-1], bounds[1:], strict=True)
    }


def dunn_pairs(values: pd.Series, labels: pd.Series, order: Sequence[str]) -> pd.DataFrame:
    """Dunn's (1964) pairwise z with the tie correction, for every pair (a, b) in `order`.

    Ranks r over all N values (midranks for ties), t = sizes of the tie groups;
    s^2 = N (N + 1) / 12 - sum(t^3 - t) / (12 (N - 1));
    z = (mean rank of a - mean rank of b) / sqrt(s^2 (1/n_a + 1/n_b)), p = 2 (1 - Phi(|z|)).
    A positive z means a ranks higher than b. Columns: a, b, n_a, n_b, mean_rank_a,
    mean_rank_b, z, p (unadjusted).
    """
    labels = np.asarray(labels).astype(str)
    return _dunn(np.asarray(values, dtype=float), pd.Index(order).get_indexer(labels), order)


def _dunn(values: np.ndarray, codes: np.ndarray, order: Sequence[str]) -> pd.DataFrame:
    """`dunn_pairs` on values whose labels are positions in `order`."""
    if np.isnan(values).any():
        raise ValueError("Dunn's test needs values without NA: drop them first")
    n = values.size
    ranks = stats.rankdata(values)
    _, tie_sizes = np.unique(values, return_counts=True)
    s2 = n * (n + 1) / 12 - np.sum(tie_sizes**3 - tie_sizes) / (12 * (n - 1))
    if s2 <= 0:
        raise ValueError("Dunn's test needs values that are not all equal")
    sizes = np.bincount(codes[codes >= 0], minlength=len(order))
    rank_sums = np.bincount(codes[codes >= 0], weights=ranks[codes >= 0], minlength=len(order))
    pairs = list(combinations(range(len(order)), 2))
    for a, b in pairs:
        if sizes[a] == 0 or sizes[b] == 0:
            raise ValueError(f"Dunn's test needs data for both {order[a]!r} and {order[b]!r}")
    first = np.array([a for a, _ in pairs], dtype=int)
    second = np.array([b for _, b in pairs], dtype=int)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_rank = rank_sums / sizes
    z = (mean_rank[first] - mean_rank[second]) / np.sqrt(
        s2 * (1 / sizes[first] + 1 / sizes[second])
    )
    return pd.DataFrame(
        {
            "a": [order[a] for a in first],
            "b": [order[b] for b in second],
            "n_a": sizes[first].astype(int),
            "n_b": sizes[second].astype(int),
            "mean_rank_a": mean_rank[first],
            "mean_rank_b": mean_rank[second],
            "z": z,
            "p": 2 * stats.norm.sf(np.abs(z)),
        }
    )


def dunn_by_group(
    group_scores: pd.DataFrame,
    *,
    value_col: str = "score",
    group_col: str = "group",
    subtype_col: str = "subtype",
    subtypes: Sequence[str] | None = None,
    correction: str = "holm",
    min_n: int = 1,
) -> pd.DataFrame:
    """Pairwise Dunn post-hoc (see `dunn_pairs`) per functional group across subtypes.

    Subtypes with fewer than `min_n` scores in a group are left out of its pairs (as in
    `kruskal_by_group`). p_adj corrects the pairs of one group together (holm | fdr_bh |
    bonferroni). Groups with fewer than 2 subtypes compared or without variation get no rows.
    Columns: group, a, b, n_a, n_b, mean_rank_a, mean_rank_b, z, p, p_adj.
    """
    _check_correction(correction)
    data = _checked(group_scores, group_col, value_col, subtype_col).dropna()
    order = comparison_subtypes(data, subtype_col, subtypes)
    frames = []
    for group, (values, codes) in _split_by_group(
        data, group_col, value_col, subtype_col, order
    ).items():
        sizes = np.bincount(codes[codes >= 0], minlength=len(order))
        big_enough = np.append(sizes >= min_n, False)  # position -1: a subtype not compared
        compared = big_enough[codes]
        values, codes = values[compared], codes[compared]
        present = [j for j in range(len(order)) if (codes == j).any()]
        if len(present) < 2 or np.unique(values).size < 2:
            continue
        # Positions among the present subtypes, so that pairs skip absent ones.
        remap = np.full(len(order), -1)
        remap[present] = np.arange(len(present))
        pairs = _dunn(values, remap[codes], [order[j] for j in present])
        pairs["p_adj"] = _adjust(pairs["p"], correction)
        frames.append(pairs.assign(**{group_col: group}))
    columns = [group_col, "a", "b", "n_a", "n_b", "mean_rank_a", "mean_rank_b", "z", "p", "p_adj"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
