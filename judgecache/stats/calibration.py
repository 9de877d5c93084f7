"""Calibration of probabilities against 0/1 labels: equal-mass ECE, reliability table, Brier, slope.

Example:
    >>> round(expected_calibration_error([0.2, 0.4, 0.6, 0.8], [0, 1, 1, 1], n_bins=2), 4)
    0.25
    >>> round(brier_score([0.8, 0.3], [1, 0]), 3)
    0.065
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from judgecache.stats.arrays import FloatArray, as_float, same_length, sample_weights
from judgecache.stats.intervals import effective_sample_size, weighted_mean


def equal_mass_bins(
    p: npt.ArrayLike, n_bins: int = 10, sample_weight: npt.ArrayLike | None = None
) -> npt.NDArray[np.intp]:
    """Assign each probability to one of ``n_bins`` bins holding equal (weighted) mass.

    Items are sorted by ``p`` (stable); item ``i`` goes to ``floor(mass before i / total * n_bins)``.

    >>> equal_mass_bins([0.9, 0.1, 0.5, 0.3], n_bins=2).tolist()
    [1, 0, 1, 0]
    """
    x = as_float(p)
    w = sample_weights(sample_weight, len(x))
    out = np.zeros(len(x), dtype=np.intp)
    total = float(np.sum(w))
    if len(x) == 0 or total == 0.0:
        return out
    order = np.argsort(x, kind="stable")
    before = np.concatenate([[0.0], np.cumsum(w[order])[:-1]])
    bins = np.minimum(np.floor(before / total * n_bins + 1e-9), n_bins - 1).astype(np.intp)
    out[order] = bins
    return out


@dataclass(frozen=True)
class ReliabilityBin:
    """One row of a reliability table: mean predicted probability vs observed positive rate.

    ``gap = mean_p - observed``: positive where the student says "positive" more than the teacher.
    """

    index: int
    low: float
    high: float
    n: int
    weight: float
    mean_p: float
    observed: float
    gap: float


def reliability_table(
    p: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    n_bins: int = 10,
    sample_weight: npt.ArrayLike | None = None,
) -> list[ReliabilityBin]:
    """Equal-mass reliability table; empty bins are omitted.

    >>> [(b.mean_p, b.observed) for b in reliability_table([0.2, 0.4, 0.6, 0.8], [0, 1, 1, 1],
    ...                                                      n_bins=2)]
    [(0.30000000000000004, 0.5), (0.7, 1.0)]
    """
    x, t = as_float(p), as_float(y)
    n = same_length(x, t)
    w = sample_weights(sample_weight, n)
    bins = equal_mass_bins(x, n_bins, w)
    rows: list[ReliabilityBin] = []
    for b in range(n_bins):
        m = bins == b
        wb = float(np.sum(w[m]))
        if not np.any(m) or wb == 0.0:
            continue
        mean_p = float(np.sum(w[m] * x[m]) / wb)
        observed = float(np.sum(w[m] * t[m]) / wb)
        rows.append(
            ReliabilityBin(
                b,
                float(x[m].min()),
                float(x[m].max()),
                int(m.sum()),
                wb,
                mean_p,
                observed,
                mean_p - observed,
            )
        )
    return rows


def expected_calibration_error(
    p: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    n_bins: int = 10,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """ECE over equal-mass bins: ``sum_b (mass_b / total) * |mean_p_b - observed_b|``.

    >>> round(expected_calibration_error([0.2, 0.4, 0.6, 0.8], [0, 1, 1, 1], n_bins=2), 4)
    0.25
    """
    rows = reliability_table(p, y, n_bins=n_bins, sample_weight=sample_weight)
    total = sum(r.weight for r in rows)
    return math.nan if total == 0.0 else sum(r.weight * abs(r.gap) for r in rows) / total


def overconfidence(
    p: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    n_bins: int = 10,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Signed over-confidence: mass-weighted ``|mean_p - 0.5| - |observed - 0.5|`` over bins.

    Positive when the student is surer than the teacher's labels justify, negative when timid.

    >>> round(overconfidence([0.1, 0.9], [0, 1], n_bins=2), 3)
    -0.1
    """
    rows = reliability_table(p, y, n_bins=n_bins, sample_weight=sample_weight)
    total = sum(r.weight for r in rows)
    if total == 0.0:
        return math.nan
    return sum(r.weight * (abs(r.mean_p - 0.5) - abs(r.observed - 0.5)) for r in rows) / total


def brier_score(
    p: npt.ArrayLike, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
) -> float:
    """The (weighted) mean squared error of probabilities against 0/1 labels.

    >>> round(brier_score([0.8, 0.3], [1, 0]), 3)
    0.065
    """
    x, t = as_float(p), as_float(y)
    n = same_length(x, t)
    return weighted_mean((x - t) ** 2, sample_weights(sample_weight, n))


@dataclass(frozen=True)
class CalibrationSlope:
    """Logistic recalibration ``logit P(y) = intercept + slope * logit(p)``; slope < 1 = overconfident."""

    intercept: float
    slope: float
    slope_se: float
    converged: bool


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def calibration_slope(
    p: npt.ArrayLike,
    y: npt.ArrayLike,
    sample_weight: npt.ArrayLike | None = None,
    *,
    max_iter: int = 100,
) -> CalibrationSlope:
    """Fit the calibration slope by weighted logistic regression (Newton/IRLS).

    Weights are rescaled to sum to Kish's effective ``n`` so the standard error reflects the
    design. NaN when the teacher's labels are all one class or the fit separates perfectly.

    >>> f = calibration_slope([0.2] * 4 + [0.8] * 4, [0, 0, 0, 1, 0, 1, 1, 1])
    >>> round(f.slope, 4)  # (logit .75 - logit .25) / (logit .8 - logit .2) = ln 3 / ln 4
    0.7925
    """
    x, t = _logit(as_float(p)), as_float(y)
    n = same_length(x, t)
    w = sample_weights(sample_weight, n)
    nan = CalibrationSlope(math.nan, math.nan, math.nan, False)
    if n == 0 or float(np.sum(w)) == 0.0:
        return nan
    if float(np.sum(w * t)) == 0.0 or float(np.sum(w * (1 - t))) == 0.0:
        return nan
    w = w * effective_sample_size(w) / float(np.sum(w))
    design = np.column_stack([np.ones(n), x])
    beta = np.zeros(2)
    converged = False
    for _ in range(max_iter):
        mu = 1.0 / (1.0 + np.exp(-(design @ beta)))
        grad = design.T @ (w * (t - mu))
        info = (design * (w * mu * (1 - mu))[:, None]).T @ design
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            return nan
        beta = beta + step
        if not np.all(np.isfinite(beta)) or abs(beta[1]) > 1e3:
            return nan
        if float(np.max(np.abs(step))) < 1e-10:
            converged = True
            break
    mu = 1.0 / (1.0 + np.exp(-(design @ beta)))
    info = (design * (w * mu * (1 - mu))[:, None]).T @ design
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return nan
    return CalibrationSlope(float(beta[0]), float(beta[1]), float(math.sqrt(cov[1, 1])), converged)
