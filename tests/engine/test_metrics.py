"""Scoring: cluster→digit mappings, confusion matrices, NMI/ARI on hand-made assignments.

Every expected number below is worked out by hand from the small tables in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_tui.engine.jobs.metrics import (
    classification_metrics,
    confusion,
    contingency,
    hungarian_mapping,
    majority_mapping,
    per_class_precision,
    per_class_recall,
    score_clustering,
)

# -- a perfect clustering whose cluster ids are a permutation of the digits ----------------------

PERM = np.array([3, 7, 0, 9, 1, 8, 2, 6, 4, 5])       # digit d lands in cluster PERM[d]
PERFECT_TRUE = np.repeat(np.arange(10), 3)             # 30 samples, 3 per digit
PERFECT_CLUSTERS = PERM[PERFECT_TRUE]


def test_perfect_clustering_with_permuted_ids_scores_one_everywhere():
    s = score_clustering(PERFECT_TRUE, PERFECT_CLUSTERS)
    inverse = np.argsort(PERM)                         # cluster c holds digit inverse[c]
    np.testing.assert_array_equal(s.mapping_majority, inverse)
    np.testing.assert_array_equal(s.mapping_hungarian, inverse)
    assert s.accuracy_majority == 1.0
    assert s.accuracy_hungarian == 1.0
    assert s.nmi == pytest.approx(1.0)
    assert s.ari == pytest.approx(1.0)
    np.testing.assert_array_equal(s.confusion_hungarian, 3 * np.eye(10, dtype=np.int64))
    np.testing.assert_array_equal(s.confusion_majority, 3 * np.eye(10, dtype=np.int64))
    expected_counts = np.zeros((10, 10), np.int64)
    expected_counts[PERM, np.arange(10)] = 3
    np.testing.assert_array_equal(s.cluster_counts, expected_counts)
    m = s.metrics()
    assert m["per_class_recall_hungarian"] == [1.0] * 10
    assert m["per_class_recall_majority"] == [1.0] * 10
    assert (m["accuracy_majority"], m["accuracy_hungarian"]) == (1.0, 1.0)


# -- one digit split in two clusters, two digits merged in one -----------------------------------
#
#   cluster 2 ("A"): digit 0 ×4
#   cluster 0 ("B"): digit 0 ×3, digit 3 ×1          (digit 0 is split over A and B)
#   cluster 1 ("C"): digit 1 ×2, digit 2 ×1          (digits 1 and 2 are merged)
#
# majority: A→0, B→0, C→1: correct 4 + 3 + 2 = 9 of 11.
# Hungarian (one-to-one): A→0 (4) + B→3 (1) + C→1 (2) = 7; the best alternative B→0 (3) + C→1 (2)
# + A→anything else (0) = 5, so 7 of 11 and the assignment is unique.
SPLIT_TRUE = np.array([0, 0, 0, 0, 0, 0, 0, 3, 1, 1, 2])
SPLIT_CLUSTERS = np.array([2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1])
SPLIT_TABLE = {2: {0: 4}, 0: {0: 3, 3: 1}, 1: {1: 2, 2: 1}}   # cluster → {digit: count}


def _nmi_by_hand(table: dict[int, dict[int, int]]) -> float:
    """Arithmetic-mean NMI straight from the definition (natural logs)."""
    n = sum(sum(row.values()) for row in table.values())
    a = {c: sum(row.values()) for c, row in table.items()}
    b: dict[int, int] = {}
    for row in table.values():
        for d, k in row.items():
            b[d] = b.get(d, 0) + k
    mi = sum(k / n * math.log(n * k / (a[c] * b[d]))
             for c, row in table.items() for d, k in row.items())
    h_u = -sum(x / n * math.log(x / n) for x in a.values())
    h_v = -sum(x / n * math.log(x / n) for x in b.values())
    return mi / ((h_u + h_v) / 2)


def test_split_and_merge_contingency_table():
    counts = contingency(SPLIT_TRUE, SPLIT_CLUSTERS)
    expected = np.zeros((3, 10), np.int64)
    for c, row in SPLIT_TABLE.items():
        for d, k in row.items():
            expected[c, d] = k
    np.testing.assert_array_equal(counts, expected)
    assert counts.dtype == np.int64


def test_split_and_merge_majority_beats_hungarian():
    s = score_clustering(SPLIT_TRUE, SPLIT_CLUSTERS)
    # majority: clusters 0 and 2 both vote digit 0, so one digit gets two clusters
    np.testing.assert_array_equal(s.mapping_majority, [0, 1, 0])
    assert s.mapping_majority[0] == s.mapping_majority[2]
    # Hungarian: one digit per cluster
    np.testing.assert_array_equal(s.mapping_hungarian, [3, 1, 0])
    assert len(set(s.mapping_hungarian.tolist())) == len(s.mapping_hungarian)
    assert s.accuracy_majority == pytest.approx(9 / 11)
    assert s.accuracy_hungarian == pytest.approx(7 / 11)
    assert s.accuracy_majority > s.accuracy_hungarian


def test_split_and_merge_ari_and_nmi():
    s = score_clustering(SPLIT_TRUE, SPLIT_CLUSTERS)
    # ARI: sum C(n_ij,2) = 6+3+0+1+0 = 10; clusters 4,4,3 → 15; digits 7,2,1,1 → 22; C(11,2) = 55
    # expected = 15·22/55 = 6, max = (15+22)/2 = 18.5 → (10-6)/(18.5-6) = 0.32
    assert s.ari == pytest.approx(0.32)
    assert s.nmi == pytest.approx(_nmi_by_hand(SPLIT_TABLE))
    assert 0 < s.nmi < 1


def test_split_and_merge_confusion_matrices_and_recall():
    s = score_clustering(SPLIT_TRUE, SPLIT_CLUSTERS)
    # Hungarian predictions: A→0 ×4, B→3 ×4, C→1 ×3
    hun = np.zeros((10, 10), np.int64)
    hun[0, 0], hun[0, 3], hun[3, 3], hun[1, 1], hun[2, 1] = 4, 3, 1, 2, 1
    np.testing.assert_array_equal(s.confusion_hungarian, hun)
    # majority predictions: A→0, B→0, C→1
    maj = np.zeros((10, 10), np.int64)
    maj[0, 0], maj[3, 0], maj[1, 1], maj[2, 1] = 7, 1, 2, 1
    np.testing.assert_array_equal(s.confusion_majority, maj)
    m = s.metrics()
    assert m["per_class_recall_hungarian"] == pytest.approx([4 / 7, 1.0, 0.0, 1.0] + [None] * 6)
    assert m["per_class_recall_majority"] == pytest.approx([1.0, 1.0, 0.0, 0.0] + [None] * 6)


# -- more clusters than digits -------------------------------------------------------------------
#
# digit d ×2 in cluster (d+1) % 10 for every digit, plus one more 0 alone in cluster 10.
# Hungarian: cluster c → digit (c-1) % 10, cluster 10 left over → -1: 20 of 21 right.
# Majority: cluster 10 → 0 as well: 21 of 21.
MANY_TRUE = np.array([d for d in range(10) for _ in range(2)] + [0])
MANY_CLUSTERS = np.array([(d + 1) % 10 for d in range(10) for _ in range(2)] + [10])


def test_more_clusters_than_digits_leftover_maps_to_minus_one_and_counts_wrong():
    s = score_clustering(MANY_TRUE, MANY_CLUSTERS)
    assert s.cluster_counts.shape == (11, 10)
    np.testing.assert_array_equal(s.mapping_hungarian, [9, 0, 1, 2, 3, 4, 5, 6, 7, 8, -1])
    np.testing.assert_array_equal(s.mapping_majority, [9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0])
    assert s.accuracy_hungarian == pytest.approx(20 / 21)
    assert s.accuracy_majority == 1.0
    # the sample predicted -1 is dropped from the confusion matrix (documented)
    assert s.confusion_hungarian.sum() == 20
    np.testing.assert_array_equal(s.confusion_hungarian, 2 * np.eye(10, dtype=np.int64))
    assert s.confusion_majority[0, 0] == 3


def test_hungarian_recall_counts_leftover_cluster_samples_as_wrong():
    s = score_clustering(MANY_TRUE, MANY_CLUSTERS)
    # digit 0 has 3 samples, 2 predicted 0 and 1 predicted -1 (counted wrong by the accuracy)
    assert s.metrics()["per_class_recall_hungarian"][0] == pytest.approx(2 / 3)


def test_hungarian_mapping_rectangular_leftover_row():
    # rows: cluster, columns: digit. Best one-to-one: row0→0 (5) + row2→1 (3) = 8 (row1 left over);
    # alternatives: row1→0 + row2→1 = 7, row0→1 + row1→0 = 5.
    counts = np.array([[5, 1], [4, 0], [0, 3]])
    np.testing.assert_array_equal(hungarian_mapping(counts), [0, -1, 1])


# -- an empty cluster id -------------------------------------------------------------------------

def test_empty_cluster_id_maps_to_minus_one_under_majority():
    true = np.array([0, 0, 1, 1, 2])
    clusters = np.array([0, 0, 2, 2, 3])                # cluster 1 never used
    counts = contingency(true, clusters)
    assert counts.shape == (4, 10)
    assert counts[1].sum() == 0
    np.testing.assert_array_equal(majority_mapping(counts), [0, -1, 1, 2])
    s = score_clustering(true, clusters)
    hun = s.mapping_hungarian
    np.testing.assert_array_equal(hun[[0, 2, 3]], [0, 1, 2])
    assert hun[1] not in (0, 1, 2)                      # one-to-one even for the empty cluster
    assert len(set(hun.tolist())) == 4
    assert s.accuracy_majority == 1.0 and s.accuracy_hungarian == 1.0


def test_contingency_explicit_n_clusters_and_n_classes():
    counts = contingency([0, 1, 1], [1, 0, 0], n_clusters=4, n_classes=2)
    np.testing.assert_array_equal(counts, [[0, 2], [1, 0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(majority_mapping(counts), [1, 0, -1, -1])


def test_contingency_of_nothing_is_empty():
    counts = contingency(np.array([], np.int64), np.array([], np.int64))
    assert counts.shape == (0, 10)


# -- confusion, recall, precision ----------------------------------------------------------------

def test_confusion_rows_are_true_digit_and_minus_one_is_dropped():
    true = [0, 0, 1, 2, 2]
    pred = [0, 1, 1, 0, -1]
    cm = confusion(true, pred)
    expected = np.zeros((10, 10), np.int64)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[2, 0] = 1, 1, 1, 1
    np.testing.assert_array_equal(cm, expected)
    assert cm.sum() == 4                                # the -1 is gone
    np.testing.assert_array_equal(confusion([1], [0], n_classes=2), [[0, 0], [1, 0]])


def test_recall_and_precision_with_absent_class_are_none():
    cm = np.array([[2, 1, 0],
                   [0, 3, 0],
                   [0, 0, 0]])                          # digit 2 never occurs nor is predicted
    assert per_class_recall(cm) == pytest.approx([2 / 3, 1.0, None])
    assert per_class_precision(cm) == pytest.approx([1.0, 3 / 4, None])
    cm2 = np.array([[1, 1], [0, 0]])                    # digit 1 absent, but predicted once
    assert per_class_recall(cm2) == [0.5, None]
    assert per_class_precision(cm2) == [1.0, 0.0]
    assert all(type(x) is float for x in per_class_recall(cm) if x is not None)


def test_classification_metrics_exact():
    true = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 2, 0]
    m = classification_metrics(np.array(true), np.array(pred))
    assert m["accuracy"] == pytest.approx(4 / 6)
    expected = [[0] * 10 for _ in range(10)]
    expected[0][0], expected[0][1], expected[1][1], expected[2][2], expected[2][0] = 1, 1, 2, 1, 1
    assert m["confusion_matrix"] == expected
    assert isinstance(m["confusion_matrix"][0][0], int)
    assert m["per_class_recall"] == pytest.approx([1 / 2, 1.0, 1 / 2] + [None] * 7)
    assert m["per_class_precision"] == pytest.approx([1 / 2, 2 / 3, 1.0] + [None] * 7)


def test_classification_metrics_of_nothing():
    m = classification_metrics(np.array([], np.int64), np.array([], np.int64))
    assert m["accuracy"] == 0.0
    assert m["per_class_recall"] == [None] * 10
    assert m["per_class_precision"] == [None] * 10
