"""Drift-specific estimators as pure functions: score shift (PSI, Wasserstein-1), a stored
threshold's recheck, and prediction-powered means over all traffic.

Agreement, kappa, calibration and rate intervals come from :mod:`judgecache.stats`.

Example:
    >>> round(population_stability_index([1, 2, 3, 4], [1, 1, 1, 4], n_bins=2), 4)
    0.2747
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from judgecache.stats import (
    clip_interval,
    effective_sample_size,
    weighted_mean,
    weighted_rate,
    z_value,
)
from judgecache.stats.arrays import FloatArray, as_float, same_length, sample_weights

# --------------------------------------------------------------------------- score drift


def quantile_edges(reference: npt.ArrayLike, n_bins: int = 10) -> FloatArray:
    """Interior bin edges at the reference's ``1/n_bins ... (n_bins-1)/n_bins`` quantiles (deduped).

    >>> quantile_edges([1, 2, 3, 4], n_bins=2).tolist()
    [2.5]
    """
    ref = as_float(reference)
    if len(ref) == 0:
        raise ValueError("the reference sample is empty")
    qs = np.linspace(0, 1, n_bins + 1)[1:-1]
    return np.unique(np.quantile(ref, qs))


def bin_proportions(values: npt.ArrayLike, edges: npt.ArrayLike) -> FloatArray:
    """Fraction of ``values`` in each bin ``(-inf, e1), [e1, e2), ..., [ek, inf)``.

    >>> bin_proportions([1, 2, 3, 4], [2.5]).tolist()
    [0.5, 0.5]
    """
    v, e = as_float(values), as_float(edges)
    if len(v) == 0:
        raise ValueError("no values to bin")
    idx = np.searchsorted(e, v, side="right")
    return np.bincount(idx, minlength=len(e) + 1).astype(np.float64) / len(v)


def population_stability_index(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, n_bins: int = 10, eps: float = 1e-4
) -> float:
    """PSI over reference-quantile bins: ``sum (c - r) * ln(c / r)``; 0.1 warn, 0.25 fail.

    Empty bins are floored at ``eps`` so one empty bin cannot make the index infinite.

    >>> round(population_stability_index([1, 2, 3, 4], [1, 1, 1, 4], n_bins=2), 4)
    0.2747
    """
    edges = quantile_edges(reference, n_bins)
    r = np.maximum(bin_proportions(reference, edges), eps)
    c = np.maximum(bin_proportions(current, edges), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def wasserstein1(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """Exact Wasserstein-1 distance between two empirical distributions, ``∫ |F(x) - G(x)| dx``.

    >>> wasserstein1([0, 1], [1, 2])
    1.0
    """
    u, v = np.sort(as_float(reference)), np.sort(as_float(current))
    if len(u) == 0 or len(v) == 0:
        raise ValueError("both samples must be non-empty")
    grid = np.sort(np.concatenate([u, v]))
    deltas = np.diff(grid)
    cdf_u = np.searchsorted(u, grid[:-1], side="right") / len(u)
    cdf_v = np.searchsorted(v, grid[:-1], side="right") / len(v)
    return float(np.sum(np.abs(cdf_u - cdf_v) * deltas))


# --------------------------------------------------------------------------- threshold


@dataclass(frozen=True)
class ThresholdCheck:
    """Whether a stored threshold still meets its precision or recall target.

    ``status``: ``meets`` (one-sided lower bound >= target), ``misses`` (upper bound < target) or
    ``unclear`` (the interval straddles the target, or nothing to measure).
    """

    metric: str
    threshold: float
    target: float
    estimate: float
    low: float
    high: float
    n: int
    n_eff: float
    status: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def threshold_recheck(
    scores: npt.ArrayLike,
    teacher_positive: npt.ArrayLike,
    threshold: float,
    *,
    metric: Literal["precision", "recall"] = "precision",
    target: float,
    sample_weight: npt.ArrayLike | None = None,
    alpha: float = 0.01,
) -> ThresholdCheck:
    """Precision (or recall) of ``score >= threshold`` against the teacher, with one-sided bounds.

    >>> c = threshold_recheck([0.9, 0.8, 0.7, 0.2], [1, 1, 0, 0], 0.5, target=0.6)
    >>> round(c.estimate, 4), c.status
    (0.6667, 'unclear')
    """
    s, t = as_float(scores), np.asarray(teacher_positive).astype(bool)
    n = same_length(s, t)
    w = sample_weights(sample_weight, n)
    predicted = s >= threshold
    if metric == "precision":
        mask, hit = predicted, t
    elif metric == "recall":
        mask, hit = t, predicted
    else:
        raise ValueError(f"metric must be 'precision' or 'recall', got {metric!r}")
    rate = weighted_rate(hit[mask].astype(np.float64), w[mask], alpha=alpha, sided="lower")
    upper = weighted_rate(hit[mask].astype(np.float64), w[mask], alpha=alpha, sided="upper")
    if rate.n == 0:
        status = "unclear"
    elif rate.low >= target:
        status = "meets"
    elif upper.high < target:
        status = "misses"
    else:
        status = "unclear"
    return ThresholdCheck(
        metric,
        float(threshold),
        float(target),
        rate.estimate,
        rate.low,
        upper.high,
        rate.n,
        rate.n_eff,
        status,
    )


# --------------------------------------------------------------------------- prediction-powered


@dataclass(frozen=True)
class PPIEstimate:
    """Prediction-powered mean over all traffic, beside the labelled-only (classical) estimate."""

    estimate: float
    low: float
    high: float
    classical: float
    classical_low: float
    classical_high: float
    predicted_mean: float
    n_labelled: int
    n_all: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ppi_mean(
    predicted_all: npt.ArrayLike,
    predicted_labelled: npt.ArrayLike,
    observed_labelled: npt.ArrayLike,
    weights_labelled: npt.ArrayLike | None = None,
    *,
    alpha: float = 0.05,
    bounds: tuple[float, float] | None = None,
) -> PPIEstimate:
    """PPI estimate of ``E[y]``: mean prediction over all items plus the labelled rectifier.

    ``theta = mean(f_all) + wmean(y - f)``; variance ``var(f_all)/N + wvar(y - f)/n_eff``
    (normal interval). The classical estimate is the weighted labelled mean of ``y``.
    ``bounds`` clips both intervals to the range of ``y`` (``(0, 1)`` for a rate).

    >>> e = ppi_mean([0.5, 0.5, 0.5, 0.5], [0.5, 0.5], [1.0, 0.0])
    >>> e.estimate, e.classical
    (0.5, 0.5)
    """
    f_all, f_lab, y = (
        as_float(predicted_all),
        as_float(predicted_labelled),
        as_float(observed_labelled),
    )
    n = same_length(f_lab, y)
    w = sample_weights(weights_labelled, n)
    n_all = len(f_all)
    if n == 0 or n_all == 0:
        return PPIEstimate(
            math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, n, n_all
        )
    z = z_value(alpha)
    n_eff = effective_sample_size(w)
    rect = y - f_lab
    rect_mean = weighted_mean(rect, w)
    rect_var = weighted_mean((rect - rect_mean) ** 2, w)
    mean_f = float(np.mean(f_all))
    var_f = float(np.var(f_all))
    est = mean_f + rect_mean
    se = math.sqrt(var_f / n_all + rect_var / n_eff)
    cls = weighted_mean(y, w)
    cls_se = math.sqrt(weighted_mean((y - cls) ** 2, w) / n_eff)
    low, high = est - z * se, est + z * se
    cls_low, cls_high = cls - z * cls_se, cls + z * cls_se
    if bounds is not None:
        low, high = clip_interval(low, high, bounds)
        cls_low, cls_high = clip_interval(cls_low, cls_high, bounds)
    return PPIEstimate(est, low, high, cls, cls_low, cls_high, mean_f, n, n_all)
