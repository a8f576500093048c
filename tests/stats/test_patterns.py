"""Clustering and the exploratory subtype classifier on constructed cohorts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analytics.stats.patterns import classify_subtypes, cluster_patients

GROUPS = ["shoulder", "upper-arm", "thigh", "calf"]


def two_clusters() -> pd.DataFrame:
    """Six proximal-upper patients (shoulder, upper arm ~2), six distal-lower (thigh, calf ~2)."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(6):
        rows.append(
            {"patient_id": f"U{i}", "shoulder": 2, "upper-arm": 1.8, "thigh": 0, "calf": 0.2}
        )
        rows.append(
            {"patient_id": f"L{i}", "shoulder": 0.2, "upper-arm": 0, "thigh": 1.8, "calf": 2}
        )
    frame = pd.DataFrame(rows)
    frame[GROUPS] = (frame[GROUPS] + rng.uniform(-0.1, 0.1, size=(12, 4))).clip(0, 2)
    return frame


def separable_subtypes(per_subtype: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    centres = {"DM": [2, 2, 0, 0], "IBM": [0, 0, 2, 2], "ASYS": [0.2, 0.2, 0.2, 0.2]}
    rows = []
    for subtype, centre in centres.items():
        for i in range(per_subtype):
            scores = np.clip(np.array(centre) + rng.normal(0, 0.1, 4), 0, 2)
            rows.append(
                {
                    "patient_id": f"{subtype}-{i}",
                    "subtype": subtype,
                    **dict(zip(GROUPS, scores, strict=True)),
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("method", ["ward", "average", "complete"])
def test_two_obvious_clusters_are_separated_and_kept_together_in_leaf_order(method):
    result = cluster_patients(two_clusters(), method=method, k=2)
    order = list(result.patient_order)
    halves = {p[0] for p in order[:6]}, {p[0] for p in order[6:]}
    assert halves in [({"U"}, {"L"}), ({"L"}, {"U"})]
    labels = result.clusters.set_index("patient_id")["cluster"]
    assert {labels[f"U{i}"] for i in range(6)} != {labels[f"L{i}"] for i in range(6)}
    assert labels.nunique() == 2


def test_clusters_are_numbered_in_leaf_order():
    result = cluster_patients(two_clusters(), k=2)
    assert result.clusters["cluster"].iloc[0] == 1
    assert result.clusters["patient_id"].tolist() == list(result.patient_order)


def test_groups_that_move_together_are_neighbours_in_the_group_order():
    order = list(cluster_patients(two_clusters()).group_order)
    assert abs(order.index("shoulder") - order.index("upper-arm")) == 1
    assert abs(order.index("thigh") - order.index("calf")) == 1


def test_linkage_has_one_merge_per_patient_but_one_and_is_json():
    result = cluster_patients(two_clusters())
    assert np.array(result.linkage).shape == (11, 4)
    json.dumps(result.to_dict(), allow_nan=False)


def test_patients_with_missing_scores_and_empty_groups_are_excluded_and_reported():
    frame = two_clusters()
    frame["hand"] = np.nan  # not in the protocol: dropped as a group, not as 12 patients
    frame.loc[0, "calf"] = np.nan
    result = cluster_patients(frame)
    assert result.excluded_groups == ("hand",)
    assert result.excluded_patients == ("U0",)
    assert len(result.patient_order) == 11


def test_ward_refuses_a_non_euclidean_distance():
    with pytest.raises(ValueError, match="Euclidean"):
        cluster_patients(two_clusters(), metric="cityblock")


def test_separable_subtypes_are_classified_perfectly():
    result = classify_subtypes(separable_subtypes(), labels=["IBM", "DM", "ASYS"])
    assert result.balanced_accuracy_mean == 1.0
    assert result.labels == ("IBM", "DM", "ASYS")
    # 24 patients, each predicted once per repeat, all on the diagonal
    assert np.trace(result.confusion_matrix) == 24 * 10
    assert result.exploratory is True and "not a diagnostic" in result.label
    json.dumps(result.to_dict(), allow_nan=False)


def test_logistic_importance_points_to_the_subtype_own_groups():
    importance = classify_subtypes(separable_subtypes()).feature_importance
    table = importance.set_index(["subtype", "group"])["importance"]
    assert table[("IBM", "calf")] > 0 > table[("IBM", "shoulder")]
    assert table[("DM", "shoulder")] > 0 > table[("DM", "calf")]
    assert set(importance["kind"]) == {"standardized_coefficient"}


def test_random_forest_separates_too_and_reports_permutation_importance():
    result = classify_subtypes(separable_subtypes(), model="random_forest", n_repeats=2)
    assert result.balanced_accuracy_mean == 1.0
    assert set(result.feature_importance["kind"]) == {"permutation_recall_drop"}


def test_random_labels_give_balanced_accuracy_near_chance():
    rng = np.random.default_rng(5)
    frame = separable_subtypes(per_subtype=10)
    frame[GROUPS] = rng.uniform(0, 2, size=(30, 4))
    frame["subtype"] = rng.permutation(frame["subtype"].to_numpy())
    result = classify_subtypes(frame)
    assert result.chance_level == pytest.approx(1 / 3)
    assert result.balanced_accuracy_mean < 0.6


def test_a_subtype_with_one_patient_is_excluded_and_reported():
    frame = pd.concat(
        [
            separable_subtypes(),
            pd.DataFrame([{"patient_id": "X", "subtype": "PM", **dict.fromkeys(GROUPS, 1.0)}]),
        ]
    )
    result = classify_subtypes(frame)
    assert result.excluded_subtypes == {"PM": 1}
    assert "PM" not in result.labels and result.n_patients == 24


def test_folds_are_capped_by_the_smallest_subtype():
    frame = separable_subtypes()
    small = frame[
        (frame["subtype"] != "ASYS") | frame["patient_id"].isin(["ASYS-0", "ASYS-1", "ASYS-2"])
    ]
    assert classify_subtypes(small, n_repeats=2).n_splits == 3


def test_the_same_seed_gives_the_same_result():
    frame = separable_subtypes()
    frame[GROUPS] = np.random.default_rng(8).uniform(0, 2, size=(24, 4))
    first, second = classify_subtypes(frame, n_repeats=3), classify_subtypes(frame, n_repeats=3)
    assert first.balanced_accuracy_per_repeat == second.balanced_accuracy_per_repeat
    assert first.confusion_matrix == second.confusion_matrix


def test_the_classifier_reports_a_label_permutation_p_beside_its_accuracy():
    rng = np.random.default_rng(5)
    rows = []
    for subtype, centre in (("DM", 0.2), ("IBM", 1.6)):
        for i in range(12):
            rows.append(
                {"patient_id": f"{subtype}{i}", "subtype": subtype,
                 "group:a": centre + rng.normal(0, 0.1), "group:b": rng.normal(1, 0.1)}
            )  # fmt: skip
    separable = pd.DataFrame(rows)
    result = classify_subtypes(separable, n_repeats=2, n_label_permutations=19)
    # Perfectly separated subtypes: no shuffle does as well, p = 1 / (19 + 1).
    assert result.balanced_accuracy_mean == 1.0
    assert result.permutation_p == pytest.approx(1 / 20)
    noise = separable.assign(**{"group:a": rng.normal(1, 0.1, len(separable))})
    assert classify_subtypes(noise, n_repeats=2, n_label_permutations=19).permutation_p > 0.1
