"""Patterns in group-score profiles: hierarchical clustering and an exploratory subtype classifier.

Pure functions on pandas objects (no Django, nothing of the project). Input for both: one row
per patient with patient_id, (for the classifier) subtype, and one column per functional-group
score (0-2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, recall_score
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    StratifiedKFold,
    permutation_test_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._records import json_value

EXPLORATORY_LABEL = (
    "Exploratory: cross-validated within one small cohort, not validated externally; "
    "not a diagnostic tool."
)
ID_COLUMNS = ("patient_id", "subtype")


def _feature_matrix(
    group_scores: pd.DataFrame, group_cols: Sequence[str] | None
) -> tuple[pd.DataFrame, list[str], list[str], list[Any]]:
    """Complete-case features: (frame, groups used, groups dropped as all-NA, patients dropped).

    A group that no patient has (e.g. outside a thigh-only protocol) is dropped first, so it
    does not exclude every patient; then patients with any remaining NA are excluded.
    """
    if "patient_id" not in group_scores.columns:
        raise ValueError("Group scores need a patient_id column.")
    if group_scores["patient_id"].duplicated().any():
        raise ValueError("More than one row per patient.")
    if group_cols is None:
        group_cols = [
            c
            for c in group_scores.columns
            if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(group_scores[c])
        ]
    absent = [c for c in group_cols if c not in group_scores.columns]
    if absent:
        raise ValueError(f"Group columns not found: {absent}.")
    features = group_scores[list(group_cols)].astype(float)
    empty_groups = [c for c in group_cols if features[c].isna().all()]
    used = [c for c in group_cols if c not in empty_groups]
    if not used:
        raise ValueError("No functional-group score to use.")
    complete = features[used].notna().all(axis=1)
    dropped = group_scores.loc[~complete, "patient_id"].tolist()
    return group_scores[complete].reset_index(drop=True), used, empty_groups, dropped


# --- (a) hierarchical clustering -------------------------------------------------------------


@dataclass(frozen=True)
class ClusteringResult:
    """Dendrogram orders and flat clusters for a clustered heatmap.

    clusters columns: patient_id, cluster (1..k, numbered in leaf order), leaf_position.
    linkage is scipy's (n - 1) x 4 matrix: [left, right, distance, size] per merge.
    """

    method: str
    metric: str
    k: int
    standardized: bool
    patient_order: tuple[Any, ...]
    group_order: tuple[str, ...]
    clusters: pd.DataFrame
    linkage: list[list[float]]
    group_linkage: list[list[float]]
    excluded_patients: tuple[Any, ...]
    excluded_groups: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return json_value(self)


def cluster_patients(
    group_scores: pd.DataFrame,
    *,
    group_cols: Sequence[str] | None = None,
    method: Literal["ward", "average", "complete"] = "ward",
    metric: str = "euclidean",
    k: int = 2,
    standardize: bool = False,
    optimal_ordering: bool = False,
) -> ClusteringResult:
    """Agglomerative clustering of patients by their group-score profile, and of the groups.

    Patients are observations with one coordinate per functional group; distances are
    `metric` (Euclidean by default) and clusters merge by Ward's minimum-variance criterion
    (average or complete linkage optional). The groups are clustered the same way on the
    transposed matrix, for the heatmap's column order. With standardize=True each group is
    z-scored first (all groups share the 0-2 scale, so the default keeps raw scores).
    Flat clusters cut the tree into at most k clusters (scipy fcluster, maxclust).
    """
    if method not in ("ward", "average", "complete"):
        raise ValueError(f"Unknown linkage method {method!r}.")
    if method == "ward" and metric != "euclidean":
        raise ValueError("Ward linkage is defined for Euclidean distance only.")
    frame, used, empty_groups, dropped = _feature_matrix(group_scores, group_cols)
    n = len(frame)
    if n < 2:
        raise ValueError("Clustering needs at least two patients with complete group scores.")
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of patients ({n}).")
    x = frame[used].to_numpy(dtype=float)
    if standardize:
        sd = x.std(axis=0, ddof=1)
        x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)  # a constant group stays 0

    z = hierarchy.linkage(x, method=method, metric=metric, optimal_ordering=optimal_ordering)
    leaves = hierarchy.leaves_list(z)
    patient_ids = frame["patient_id"].to_numpy()
    if len(used) >= 2:
        z_groups = hierarchy.linkage(
            x.T, method=method, metric=metric, optimal_ordering=optimal_ordering
        )
        group_order = tuple(used[i] for i in hierarchy.leaves_list(z_groups))
        group_linkage = z_groups.tolist()
    else:
        group_order, group_linkage = tuple(used), []

    raw = hierarchy.fcluster(z, t=k, criterion="maxclust")
    # Renumber so cluster 1 is the first met in leaf order: stable labels for the heatmap.
    renumber: dict[int, int] = {}
    for leaf in leaves:
        renumber.setdefault(int(raw[leaf]), len(renumber) + 1)
    position = np.empty(n, dtype=int)
    position[leaves] = np.arange(n)
    clusters = pd.DataFrame(
        {
            "patient_id": patient_ids,
            "cluster": [renumber[int(c)] for c in raw],
            "leaf_position": position,
        }
    ).sort_values("leaf_position", ignore_index=True)
    return ClusteringResult(
        method=method,
        metric=metric,
        k=k,
        standardized=standardize,
        patient_order=tuple(patient_ids[leaves].tolist()),
        group_order=group_order,
        clusters=clusters,
        linkage=z.tolist(),
        group_linkage=group_linkage,
        excluded_patients=tuple(dropped),
        excluded_groups=tuple(empty_groups),
    )


# --- (b) subtype classifier ------------------------------------------------------------------


@dataclass(frozen=True)
class ClassifierResult:
    """Cross-validated subtype classification from group scores (exploratory).

    confusion_matrix: rows = true subtype, columns = predicted, both in `labels` order, counts
    summed over all repeats (each patient appears once per repeat).
    feature_importance columns: subtype, group, importance, importance_sd, kind.
    """

    model: str
    labels: tuple[str, ...]
    groups: tuple[str, ...]
    n_patients: int
    n_splits: int
    n_repeats: int
    random_state: int
    confusion_matrix: list[list[int]]
    balanced_accuracy_mean: float
    balanced_accuracy_sd: float
    balanced_accuracy_per_repeat: tuple[float, ...]
    chance_level: float
    feature_importance: pd.DataFrame
    excluded_subtypes: dict[str, int]
    excluded_patients: tuple[Any, ...]
    # Label-permutation test of the balanced accuracy (sklearn's permutation_test_score):
    # p = (1 + permutations scoring at least as well) / (1 + permutations).
    permutation_p: float = math.nan
    n_label_permutations: int = 0
    exploratory: bool = True
    label: str = field(default=EXPLORATORY_LABEL)

    def to_dict(self) -> dict[str, Any]:
        return json_value(self)


def _per_class_permutation_drop(
    model: Any, x: np.ndarray, y: np.ndarray, labels: list[str], n_permutations: int, rng: Any
) -> np.ndarray:
    """Recall drop per class (rows) when one feature (columns) is shuffled in the test fold."""
    base = recall_score(y, model.predict(x), labels=labels, average=None, zero_division=0)
    n, p = x.shape
    # All shuffled copies in one predict call: a forest predicts a batch far faster.
    batches = []
    for j in range(p):
        for _ in range(n_permutations):
            shuffled = x.copy()
            shuffled[:, j] = shuffled[rng.permutation(n), j]
            batches.append(shuffled)
    predicted = model.predict(np.vstack(batches)).reshape(p, n_permutations, n)
    drop = np.zeros((len(labels), p))
    for j in range(p):
        for r in range(n_permutations):
            recall = recall_score(y, predicted[j, r], labels=labels, average=None, zero_division=0)
            drop[:, j] += (base - recall) / n_permutations
    return drop


def classify_subtypes(
    group_scores: pd.DataFrame,
    *,
    group_cols: Sequence[str] | None = None,
    subtype_col: str = "subtype",
    labels: Sequence[str] | None = None,
    model: Literal["logistic", "random_forest"] = "logistic",
    n_splits: int = 5,
    n_repeats: int = 10,
    random_state: int = 20261125,
    n_permutations: int = 5,
    n_label_permutations: int = 99,
) -> ClassifierResult:
    """Predict the subtype from the group-score profile, with repeated stratified k-fold CV.

    Model: standardized features + multinomial logistic regression (L2, C = 1), or a random
    forest (300 trees). n_splits is capped by the smallest subtype's size (at least 2);
    subtypes with fewer than 2 patients cannot be stratified and are excluded and reported.
    Balanced accuracy = mean over subtypes of recall; it is computed per repeat from that
    repeat's out-of-fold predictions, and reported as mean and SD (n - 1) over repeats;
    chance level is 1 / number of subtypes.
    Feature importance per subtype and group, averaged over the fold fits:
      logistic: the coefficient of the standardized group score in that subtype's linear
        predictor (kind "standardized_coefficient"); with two subtypes sklearn fits one vector
        beta for the second label, reported as beta for it and -beta for the first;
      random forest: the drop in that subtype's recall when the group's scores are shuffled in
        the test fold (kind "permutation_recall_drop"; the mean over subtypes is the drop in
        balanced accuracy).
    permutation_p: the subtype labels shuffled `n_label_permutations` times, each shuffle
    cross-validated once like the real labels; the share of shuffles that score a balanced
    accuracy at least as high (with the +1 correction), so a p beside the accuracy.
    """
    if subtype_col not in group_scores.columns:
        raise ValueError(f"Group scores need a {subtype_col} column.")
    if model not in ("logistic", "random_forest"):
        raise ValueError(f"Unknown model {model!r}.")
    known = group_scores.dropna(subset=[subtype_col]).rename(columns={subtype_col: "subtype"})
    frame, used, _empty, dropped = _feature_matrix(known, group_cols)
    counts = frame["subtype"].astype(str).value_counts()
    excluded_subtypes = {str(s): int(c) for s, c in counts.items() if c < 2}
    frame = frame[~frame["subtype"].astype(str).isin(excluded_subtypes)]
    present = sorted(counts[counts >= 2].index.tolist())
    ordered = [str(s) for s in (labels or []) if str(s) in present]
    ordered += [s for s in present if s not in ordered]
    if len(ordered) < 2:
        raise ValueError("The classifier needs at least two subtypes with 2 or more patients.")
    x = frame[used].to_numpy(dtype=float)
    y = frame["subtype"].astype(str).to_numpy()
    splits = max(2, min(n_splits, int(counts[ordered].min())))
    cv = RepeatedStratifiedKFold(n_splits=splits, n_repeats=n_repeats, random_state=random_state)
    rng = np.random.default_rng(random_state)

    matrix = np.zeros((len(ordered), len(ordered)), dtype=int)
    predictions = np.empty((n_repeats, len(y)), dtype=object)
    importances = []
    for fold, (train, test) in enumerate(cv.split(x, y)):
        fitted = _model(model, random_state)
        fitted.fit(x[train], y[train])
        predicted = fitted.predict(x[test])
        predictions[fold // splits, test] = predicted
        matrix += confusion_matrix(y[test], predicted, labels=ordered)
        if model == "logistic":
            estimator = fitted[-1]
            coef = estimator.coef_
            if coef.shape[0] == 1:  # binary: one vector for classes_[1]
                coef = np.vstack([-coef[0], coef[0]])
            by_label = dict(zip(estimator.classes_.tolist(), coef, strict=True))
            importances.append(np.vstack([by_label[s] for s in ordered]))
        else:
            importances.append(
                _per_class_permutation_drop(fitted, x[test], y[test], ordered, n_permutations, rng)
            )
    per_repeat = tuple(
        float(balanced_accuracy_score(y, predictions[r].astype(str))) for r in range(n_repeats)
    )
    stacked = np.stack(importances)
    mean, sd = stacked.mean(axis=0), stacked.std(axis=0, ddof=1)
    kind = "standardized_coefficient" if model == "logistic" else "permutation_recall_drop"
    importance = pd.DataFrame(
        [
            {
                "subtype": subtype,
                "group": group,
                "importance": float(mean[i, j]),
                "importance_sd": float(sd[i, j]),
                "kind": kind,
            }
            for i, subtype in enumerate(ordered)
            for j, group in enumerate(used)
        ]
    )
    return ClassifierResult(
        model=model,
        labels=tuple(ordered),
        groups=tuple(used),
        n_patients=int(len(y)),
        n_splits=splits,
        n_repeats=n_repeats,
        random_state=random_state,
        confusion_matrix=matrix.tolist(),
        balanced_accuracy_mean=float(np.mean(per_repeat)),
        balanced_accuracy_sd=float(np.std(per_repeat, ddof=1)) if n_repeats > 1 else math.nan,
        balanced_accuracy_per_repeat=per_repeat,
        chance_level=1.0 / len(ordered),
        feature_importance=importance,
        excluded_subtypes=excluded_subtypes,
        excluded_patients=tuple(dropped),
        permutation_p=_label_permutation_p(model, x, y, splits, n_label_permutations, random_state),
        n_label_permutations=n_label_permutations,
    )


def _model(model: str, random_state: int) -> Any:
    if model == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    return RandomForestClassifier(n_estimators=300, random_state=random_state)


def _label_permutation_p(
    model: str, x: np.ndarray, y: np.ndarray, splits: int, n: int, random_state: int
) -> float:
    if n <= 0:
        return math.nan
    cv = StratifiedKFold(n_splits=splits, shuffle=True, random_state=random_state)
    _score, _permuted, p = permutation_test_score(
        _model(model, random_state),
        x,
        y,
        scoring="balanced_accuracy",
        cv=cv,
        n_permutations=n,
        random_state=random_state,
    )
    return float(p)
