"""Scoring: cluster→digit mappings (majority vote and one-to-one), confusion matrices, NMI/ARI.

Two mappings because they answer different questions. The reference notebook's *majority vote*
gives each cluster the digit most of its members carry, so several clusters may map to one digit
(and some digit to none) — it flatters a clustering that splits one digit in two. The *one-to-one*
(Hungarian) assignment gives each cluster a different digit, maximising the matched count; it is
the honest number and the one the confusion matrix uses by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

N_CLASSES = 10


def contingency(true: np.ndarray, clusters: np.ndarray, n_clusters: int | None = None,
                n_classes: int = N_CLASSES) -> np.ndarray:
    """Cluster×digit count matrix (the notebook's "voter"): rows = cluster, columns = true digit."""
    true = np.asarray(true, dtype=np.int64)
    clusters = np.asarray(clusters, dtype=np.int64)
    k = int(n_clusters if n_clusters is not None else (clusters.max() + 1 if clusters.size else 0))
    counts = np.zeros((k, n_classes), dtype=np.int64)
    np.add.at(counts, (clusters, true), 1)
    return counts


def majority_mapping(counts: np.ndarray) -> np.ndarray:
    """cluster → digit by majority vote; an empty cluster maps to -1."""
    mapping: np.ndarray = counts.argmax(axis=1)
    mapping[counts.sum(axis=1) == 0] = -1
    return mapping


def hungarian_mapping(counts: np.ndarray) -> np.ndarray:
    """cluster → digit, one-to-one, maximising matched samples; clusters left over map to -1."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(counts, maximize=True)
    mapping = np.full(counts.shape[0], -1, dtype=np.int64)
    mapping[rows] = cols
    return mapping


def confusion(true: np.ndarray, pred: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """digit×digit confusion matrix, rows = true digit, columns = predicted; pred -1 is dropped."""
    true = np.asarray(true, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    keep = pred >= 0
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (true[keep], pred[keep]), 1)
    return m


def per_class_recall(cm: np.ndarray, support: np.ndarray | None = None) -> list[float | None]:
    """Recall of each true digit (row); None for a digit absent from the data.

    `support` is each digit's true count: pass it when some samples got no prediction (a
    cluster left over by the one-to-one mapping), so they count as misses, not vanish.
    """
    support = cm.sum(axis=1) if support is None else support
    return [float(cm[i, i] / support[i]) if support[i] else None for i in range(len(cm))]


def per_class_precision(cm: np.ndarray) -> list[float | None]:
    """Precision of each predicted digit (column); None for a digit never predicted."""
    predicted = cm.sum(axis=0)
    return [float(cm[i, i] / predicted[i]) if predicted[i] else None for i in range(len(cm))]


@dataclass(frozen=True)
class ClusteringScore:
    """Everything we report about a clustering scored against true labels."""

    cluster_counts: np.ndarray          # cluster × digit
    mapping_majority: np.ndarray        # cluster → digit
    mapping_hungarian: np.ndarray       # cluster → digit (or -1)
    accuracy_majority: float
    accuracy_hungarian: float
    nmi: float
    ari: float
    confusion_hungarian: np.ndarray     # true × predicted
    confusion_majority: np.ndarray
    support: np.ndarray                 # images per true digit

    def metrics(self) -> dict[str, Any]:
        return {
            "accuracy_majority": self.accuracy_majority,
            "accuracy_hungarian": self.accuracy_hungarian,
            "nmi": self.nmi,
            "ari": self.ari,
            "per_class_recall_hungarian": per_class_recall(self.confusion_hungarian,
                                                           self.support),
            "per_class_recall_majority": per_class_recall(self.confusion_majority,
                                                          self.support),
        }


def score_clustering(true: np.ndarray, clusters: np.ndarray,
                     n_clusters: int | None = None) -> ClusteringScore:
    """Score cluster assignments against true digits under both mappings."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    true = np.asarray(true, dtype=np.int64)
    clusters = np.asarray(clusters, dtype=np.int64)
    counts = contingency(true, clusters, n_clusters)
    maj = majority_mapping(counts)
    hun = hungarian_mapping(counts)
    pred_maj = maj[clusters]
    pred_hun = hun[clusters]
    n = max(len(true), 1)
    return ClusteringScore(
        cluster_counts=counts,
        mapping_majority=maj,
        mapping_hungarian=hun,
        accuracy_majority=float(np.sum(pred_maj == true) / n),
        accuracy_hungarian=float(np.sum(pred_hun == true) / n),
        nmi=float(normalized_mutual_info_score(true, clusters)),
        ari=float(adjusted_rand_score(true, clusters)),
        confusion_hungarian=confusion(true, pred_hun),
        confusion_majority=confusion(true, pred_maj),
        support=counts.sum(axis=0),
    )


def classification_metrics(true: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Accuracy, confusion matrix and per-class precision/recall of a classifier's predictions."""
    true = np.asarray(true, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    cm = confusion(true, pred)
    return {
        "accuracy": float(np.mean(true == pred)) if len(true) else 0.0,
        "confusion_matrix": cm.tolist(),
        "per_class_recall": per_class_recall(cm),
        "per_class_precision": per_class_precision(cm),
    }
