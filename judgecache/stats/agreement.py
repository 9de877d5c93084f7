"""How far two raters agree: raw agreement, Cohen's kappa, TPR/TNR, rank correlation, AUC.

Two keywords never mean the same thing here: ``sample_weight`` is one weight per item (inverse
inclusion probabilities from a stratified sample), ``weighting`` is how kappa counts a
disagreement (``"none"``, ``"linear"`` or ``"quadratic"`` in the grade distance).

Example:
    >>> cohen_kappa([0, 1, 1, 0], [0, 1, 0, 0])
    0.5
    >>> round(cohen_kappa([0, 1, 2, 3], [0, 1, 3, 3], weighting="quadratic"), 4)
    0.9167
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from judgecache.stats.arrays import FloatArray, as_float, same_length, sample_weights
from judgecache.stats.intervals import weighted_mean

Weighting = Literal["none", "linear", "quadratic"]


def agreement(
    a: npt.ArrayLike, b: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
) -> float:
    """The (weighted) fraction of items where two raters give the same label; NaN when empty.

    >>> agreement([1, 0, 1, 1], [1, 0, 0, 1])
    0.75
    """
    x, y = np.asarray(a), np.asarray(b)
    n = same_length(x, y)
    return weighted_mean((x == y).astype(np.float64), sample_weights(sample_weight, n))


def balanced_accuracy(truth: npt.ArrayLike, pred: npt.ArrayLike) -> float:
    """Mean of the per-class recalls (binary or multi-class).

    >>> balanced_accuracy([1, 1, 1, 0], [1, 1, 0, 0])
    0.8333333333333333
    """
    t, p = as_float(truth), as_float(pred)
    recalls = [float(np.mean(p[t == c] == c)) for c in np.unique(t)]
    return float(np.mean(recalls)) if recalls else math.nan


def label_codes(values: npt.ArrayLike, labels: Sequence[Any]) -> npt.NDArray[np.intp]:
    """Positions of ``values`` in ``labels``; a value outside the scale is an error.

    >>> label_codes([2, 0, 2], [0, 1, 2]).tolist()
    [2, 0, 2]
    """
    index = {lab: i for i, lab in enumerate(labels)}
    out = np.empty(len(np.asarray(values)), dtype=np.intp)
    for pos, v in enumerate(np.asarray(values).tolist()):
        if v not in index:
            raise ValueError(f"label {v!r} not in {list(labels)}")
        out[pos] = index[v]
    return out


def confusion_matrix(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    labels: Sequence[Any],
    sample_weight: npt.ArrayLike | None = None,
) -> FloatArray:
    """Weighted counts ``M[i, j]`` of items rated ``labels[i]`` by ``a`` and ``labels[j]`` by ``b``.

    >>> confusion_matrix([0, 1, 1], [0, 1, 0], [0, 1]).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    x, y = np.asarray(a), np.asarray(b)
    n = same_length(x, y)
    w = sample_weights(sample_weight, n)
    k = len(labels)
    flat = np.bincount(
        label_codes(x, labels) * k + label_codes(y, labels), weights=w, minlength=k * k
    )
    return flat.reshape(k, k).astype(np.float64)


def cohen_kappa(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    labels: Sequence[Any] | None = None,
    sample_weight: npt.ArrayLike | None = None,
    weighting: Weighting | None = None,
) -> float:
    """Cohen's kappa, ``1 - sum(D*O) / sum(D*E)``, as ``sklearn.metrics.cohen_kappa_score``.

    ``labels`` fixes the ordered scale (needed for linear or quadratic ``weighting``; default: the
    sorted union). NaN when undefined: fewer than two labels, no items, or zero chance
    disagreement (both raters constant and equal).

    >>> cohen_kappa([0, 1, 2], [0, 1, 2], weighting="quadratic")
    1.0
    """
    x, y = np.asarray(a), np.asarray(b)
    n = same_length(x, y)
    scale = list(labels) if labels is not None else sorted(set(x.tolist()) | set(y.tolist()))
    return kappa_from_codes(
        label_codes(x, scale),
        label_codes(y, scale),
        len(scale),
        sample_weight=sample_weights(sample_weight, n),
        weighting=weighting,
    )


def _disagreement(k: int, weighting: Weighting | None) -> FloatArray:
    i, j = np.indices((k, k))
    if weighting is None or weighting == "none":
        return as_float(i != j)
    if weighting == "linear":
        return as_float(np.abs(i - j) / (k - 1))
    if weighting == "quadratic":
        return as_float((i - j) ** 2 / (k - 1) ** 2)
    raise ValueError(f"weighting must be 'none', 'linear' or 'quadratic', got {weighting!r}")


def kappa_from_codes(
    codes_a: npt.NDArray[np.intp],
    codes_b: npt.NDArray[np.intp],
    k: int,
    *,
    sample_weight: npt.ArrayLike | None = None,
    weighting: Weighting | None = None,
) -> float:
    """:func:`cohen_kappa` on label positions ``0..k-1`` (fast inside a bootstrap loop).

    >>> import numpy as np
    >>> kappa_from_codes(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]), 2)
    0.5
    """
    disagree = _disagreement(max(k, 2), weighting)
    if k < 2:
        return math.nan
    w = sample_weights(sample_weight, len(codes_a))
    counts = np.bincount(codes_a * k + codes_b, weights=w, minlength=k * k).reshape(k, k)
    total = float(counts.sum())
    if total == 0.0:
        return math.nan
    observed = np.asarray(counts, dtype=np.float64) / total
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    chance = float(np.sum(disagree * expected))
    if chance == 0.0:
        return math.nan
    return 1.0 - float(np.sum(disagree * observed)) / chance


def tpr_tnr(
    student_positive: npt.ArrayLike,
    teacher_positive: npt.ArrayLike,
    sample_weight: npt.ArrayLike | None = None,
) -> tuple[float, float]:
    """The student's true-positive and true-negative rates, taking the teacher as truth.

    >>> tpr_tnr([1, 1, 0, 0, 1], [1, 1, 1, 0, 0])
    (0.6666666666666666, 0.5)
    """
    s = np.asarray(student_positive).astype(bool)
    t = np.asarray(teacher_positive).astype(bool)
    n = same_length(s, t)
    w = sample_weights(sample_weight, n)
    pos, neg = float(np.sum(w[t])), float(np.sum(w[~t]))
    tpr = math.nan if pos == 0.0 else float(np.sum(w[t & s])) / pos
    tnr = math.nan if neg == 0.0 else float(np.sum(w[~t & ~s])) / neg
    return tpr, tnr


def _ranks(x: FloatArray) -> FloatArray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    # Average the ranks of ties.
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return np.asarray(sums[inverse] / counts[inverse], dtype=np.float64)


def spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Spearman rank correlation (ties get average ranks); NaN when one side is constant.

    >>> round(spearman([1, 2, 3, 4], [10, 20, 30, 25]), 6)
    0.8
    """
    x, y = _ranks(as_float(a)), _ranks(as_float(b))
    if x.std() == 0 or y.std() == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def roc_auc(truth: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count one half); NaN with one class only.

    >>> roc_auc([1, 0], [0.2, 0.9])
    0.0
    """
    t, s = as_float(truth).astype(bool), as_float(score)
    n_pos, n_neg = int(t.sum()), int((~t).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    r = _ranks(s)
    return float((r[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
