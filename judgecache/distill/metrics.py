"""Agreement statistics as pure functions over arrays, with seeded bootstrap intervals.

Example:
    >>> cohen_kappa([0, 1, 1, 0], [0, 1, 0, 0])
    0.5
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def _arr(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def accuracy(a: ArrayLike, b: ArrayLike) -> float:
    """Share of equal labels.

    >>> accuracy([1, 2, 3], [1, 2, 0])
    0.6666666666666666
    """
    x, y = _arr(a), _arr(b)
    return float(np.mean(x == y)) if x.size else float("nan")


def balanced_accuracy(truth: ArrayLike, pred: ArrayLike) -> float:
    """Mean of the per-class recalls (binary or multi-class).

    >>> balanced_accuracy([1, 1, 1, 0], [1, 1, 0, 0])
    0.8333333333333333
    """
    t, p = _arr(truth), _arr(pred)
    recalls = [float(np.mean(p[t == c] == c)) for c in np.unique(t)]
    return float(np.mean(recalls)) if recalls else float("nan")


def confusion(a: ArrayLike, b: ArrayLike, labels: Sequence[int]) -> list[list[int]]:
    """Rows: ``a`` (the reference), columns: ``b`` (the judged), in ``labels`` order.

    >>> confusion([0, 1, 1], [0, 1, 0], [0, 1])
    [[1, 0], [1, 1]]
    """
    index = {int(v): i for i, v in enumerate(labels)}
    k = len(labels)
    m = np.zeros((k, k), dtype=np.int64)
    for x, y in zip(_arr(a).astype(int), _arr(b).astype(int), strict=True):
        m[index[int(x)], index[int(y)]] += 1
    return [[int(v) for v in row] for row in m]


def cohen_kappa(
    a: ArrayLike, b: ArrayLike, *, labels: Sequence[int] | None = None, weights: str | None = None
) -> float:
    """Cohen's kappa; ``weights="quadratic"`` for graded labels (ordinal distance squared).

    >>> round(cohen_kappa([0, 1, 2, 3], [0, 1, 3, 3], weights="quadratic"), 4)
    0.9167
    """
    x, y = _arr(a).astype(int), _arr(b).astype(int)
    if labels is None:
        labels = sorted({*x.tolist(), *y.tolist()})
    k = len(labels)
    if x.size == 0 or k < 2:
        return float("nan")
    m = np.asarray(confusion(x, y, labels), dtype=np.float64)
    return _kappa_from_confusion(m, weights)


def _kappa_from_confusion(m: Array, weights: str | None) -> float:
    k = m.shape[0]
    n = m.sum()
    expected = np.outer(m.sum(1), m.sum(0)) / n
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(np.float64)
    elif weights == "quadratic":
        w = ((i - j) / (k - 1)) ** 2
    elif weights == "linear":
        w = np.abs(i - j) / (k - 1)
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    denom = float((w * expected).sum())
    if denom == 0:
        return 1.0 if float((w * m).sum()) == 0 else 0.0
    return 1.0 - float((w * m).sum()) / denom


def _ranks(x: Array) -> Array:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    # Average the ranks of ties.
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return np.asarray(sums[inverse] / counts[inverse], dtype=np.float64)


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation (ties get average ranks).

    >>> round(spearman([1, 2, 3, 4], [10, 20, 30, 25]), 6)
    0.8
    """
    x, y = _ranks(_arr(a)), _ranks(_arr(b))
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def roc_auc(truth: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count one half)."""
    t, s = _arr(truth).astype(bool), _arr(score)
    n_pos, n_neg = int(t.sum()), int((~t).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = _ranks(s)
    return float((r[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def ece(truth: ArrayLike, prob: ArrayLike, *, bins: int = 10) -> float:
    """Expected calibration error with equal-mass bins.

    >>> ece([0, 1], [0.0, 1.0], bins=2)
    0.0
    """
    t, p = _arr(truth), _arr(prob)
    if t.size == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    total = 0.0
    for chunk in np.array_split(order, min(bins, t.size)):
        if chunk.size:
            total += chunk.size * abs(float(p[chunk].mean()) - float(t[chunk].mean()))
    return total / t.size


def brier(truth: ArrayLike, prob: ArrayLike) -> float:
    """Mean squared error of probabilities.

    >>> brier([1, 0], [0.5, 0.5])
    0.25
    """
    return float(np.mean((_arr(prob) - _arr(truth)) ** 2))


def bootstrap_ci(
    stat: Callable[..., float],
    *arrays: ArrayLike,
    n: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``stat(*resampled_arrays)`` over ``n`` seeded resamples of rows.

    >>> lo, hi = bootstrap_ci(accuracy, [1, 1, 0, 1] * 25, [1, 0, 0, 1] * 25, n=200)
    >>> lo < 0.75 < hi
    True
    """
    data = [np.asarray(a) for a in arrays]
    size = len(data[0])
    if n <= 0 or size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    values: list[float] = []
    for _ in range(n):
        idx = rng.integers(0, size, size)
        v = stat(*(d[idx] for d in data))
        if np.isfinite(v):
            values.append(v)
    if not values:
        return (float("nan"), float("nan"))
    alpha = (1 - confidence) / 2
    return (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))


def with_ci(stat: Callable[..., float], *arrays: ArrayLike, n: int, seed: int) -> dict[str, float]:
    """``{"value", "lo", "hi"}`` for one statistic."""
    lo, hi = bootstrap_ci(stat, *arrays, n=n, seed=seed)
    return {"value": float(stat(*(np.asarray(a) for a in arrays))), "lo": lo, "hi": hi}


def agreement(
    reference: ArrayLike,
    judged: ArrayLike,
    *,
    labels: Sequence[int],
    positive_from: int,
    prob: ArrayLike | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """How well ``judged`` labels agree with ``reference`` labels (the teacher, or humans).

    Graded scales (more than two labels) add quadratic-weighted kappa; the binary view uses
    ``label >= positive_from``. ``prob`` (the judged side's probability of the positive class)
    adds AUC, ECE and Brier against the reference's binary view.

    >>> r = agreement([0, 1, 2, 3] * 5, [0, 1, 2, 2] * 5, labels=[0, 1, 2, 3], positive_from=2, n_boot=0)
    >>> r["binary_kappa"]["value"], r["accuracy"]["value"]
    (1.0, 0.75)
    """
    ref, jud = np.asarray(reference, dtype=int), np.asarray(judged, dtype=int)
    ref_b, jud_b = (ref >= positive_from).astype(int), (jud >= positive_from).astype(int)
    labs = [int(v) for v in labels]
    out: dict[str, Any] = {"n": int(ref.size)}
    out["accuracy"] = with_ci(accuracy, ref, jud, n=n_boot, seed=seed)
    out["binary_kappa"] = with_ci(
        lambda x, y: cohen_kappa(x, y, labels=[0, 1]), ref_b, jud_b, n=n_boot, seed=seed
    )
    out["binary_accuracy"] = with_ci(accuracy, ref_b, jud_b, n=n_boot, seed=seed)
    out["balanced_accuracy"] = with_ci(balanced_accuracy, ref_b, jud_b, n=n_boot, seed=seed)
    if len(labs) > 2:
        out["weighted_kappa"] = with_ci(
            lambda x, y: cohen_kappa(x, y, labels=labs, weights="quadratic"),
            ref,
            jud,
            n=n_boot,
            seed=seed,
        )
        out["spearman"] = with_ci(spearman, ref, jud, n=n_boot, seed=seed)
    out["confusion"] = {"labels": labs, "rows_reference_cols_judged": confusion(ref, jud, labs)}
    if prob is not None:
        p = np.asarray(prob, dtype=np.float64)
        out["auc"] = with_ci(roc_auc, ref_b, p, n=n_boot, seed=seed)
        out["ece"] = with_ci(ece, ref_b, p, n=n_boot, seed=seed)
        out["brier"] = brier(ref_b, p)
        if len(labs) > 2:
            out["spearman_prob"] = with_ci(spearman, ref, p, n=n_boot, seed=seed)
    return out
