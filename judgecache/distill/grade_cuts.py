"""Grade decisions tuned for agreement: cut-points on the expected grade, fitted on held-out labels.

The ordinal head's own decision (the median grade: the highest ``k`` with ``P(label >= k) >= 0.5``)
minimises absolute error, not disagreement as kappa counts it: with rare high grades it predicts
too few of them. Cutting the *expected grade* ``E = sum_k P(label >= k)`` (in label-index units)
at cut-points chosen to maximise quadratic-weighted kappa on the calibration split fixes that; the
same rule can be fitted for any scorer, so the zero-shot baseline is measured with it too.

Example:
    >>> import numpy as np
    >>> z = np.array([[3.0, -1.0, -3.0], [3.0, 2.0, -1.0], [3.0, 2.0, 1.0]])
    >>> expected_grade(z).round(2).tolist()
    [1.27, 2.1, 2.56]
    >>> apply_grade_cuts(z, [0.5, 2.0, 2.5], [0, 1, 2, 3]).tolist()
    [1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from judgecache.errors import InputError
from judgecache.stats import cohen_kappa


def expected_grade(logits: ArrayLike) -> NDArray[np.float64]:
    """``sum_k sigmoid(z_k)``: the expected label index under the cumulative probabilities."""
    z = np.asarray(logits, dtype=np.float64)
    out: NDArray[np.float64] = (1 / (1 + np.exp(-z))).sum(axis=1)
    return out


def apply_grade_cuts(
    logits: ArrayLike, cuts: Sequence[float], labels: Sequence[int]
) -> NDArray[np.int64]:
    """The label whose index is the number of cut-points at or below the expected grade."""
    if len(cuts) != len(labels) - 1:
        raise InputError(
            f"{len(cuts)} grade cut-points for {len(labels)} labels (need {len(labels) - 1})",
            field="grade_cuts",
        )
    idx = np.searchsorted(
        np.sort(np.asarray(cuts, dtype=np.float64)), expected_grade(logits), "right"
    )
    return np.asarray(np.asarray(labels)[idx], dtype=np.int64)


def fit_grade_cuts(
    logits: ArrayLike, truth: Sequence[int], labels: Sequence[int], *, rounds: int = 3
) -> list[float]:
    """Cut-points maximising quadratic-weighted kappa with ``truth``, by coordinate ascent.

    Starts at the midpoints (``0.5, 1.5, ...``: the rounded expected grade) and moves one cut at a
    time over 2%-quantiles of the expected grade, so it can only improve on the start.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(truth)
    if z.ndim != 2 or z.shape[1] != len(labels) - 1 or len(z) != len(y):
        raise InputError(
            f"logits of shape {z.shape} do not match {len(y)} labels over {list(labels)}",
            field="logits",
        )
    start = np.arange(len(labels) - 1, dtype=np.float64) + 0.5
    return fit_score_cuts(expected_grade(z), y, labels, start, rounds=rounds)


def fit_score_cuts(
    score: ArrayLike,
    truth: ArrayLike,
    labels: Sequence[int],
    start: ArrayLike,
    *,
    rounds: int = 3,
) -> list[float]:
    """Cut-points on any 1-D score (grade = number of cuts <= score) maximising agreement.

    Quadratic-weighted kappa for more than two labels, Cohen's kappa for two; coordinate ascent
    from ``start`` over 2%-quantiles of the score, so it can only improve on the start.

    >>> cut = fit_score_cuts([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], [0, 1], [0.95])
    >>> 0.2 < cut[0] <= 0.8
    True
    """
    score = np.asarray(score, dtype=np.float64)
    y = np.asarray(truth)
    label_arr = np.asarray(labels)
    weighting: Literal["quadratic"] | None = "quadratic" if len(labels) > 2 else None

    def kappa(cuts: NDArray[Any]) -> float:
        pred = label_arr[np.searchsorted(np.sort(cuts), score, "right")]
        k = cohen_kappa(y, pred, labels=list(labels), weighting=weighting)
        return -1.0 if np.isnan(k) else float(k)

    cuts = np.sort(np.asarray(start, dtype=np.float64))
    candidates = np.unique(np.quantile(score, np.linspace(0.01, 0.99, 50)))
    best = kappa(cuts)
    for _ in range(rounds):
        moved = False
        for k in range(len(cuts)):
            for c in candidates:
                trial = cuts.copy()
                trial[k] = c
                value = kappa(trial)
                if value > best + 1e-12:
                    best, cuts, moved = value, np.sort(trial), True
        if not moved:
            break
    return [float(c) for c in np.sort(cuts)]
