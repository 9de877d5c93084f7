"""Drift statistics as pure functions over numpy arrays (no I/O, no state, seeded randomness only).

Every rate takes optional ``weights``: inverse inclusion probabilities from the stratified sampler, so
that an estimate from an oversampled threshold band still describes all of production. Intervals for
weighted rates use Kish's effective sample size ``(sum w)^2 / sum w^2`` in place of ``n``.

Example:
    >>> import numpy as np
    >>> round(cohen_kappa(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0])), 3)
    0.5
    >>> lo, hi = wilson_interval(9, 10, alpha=0.05)
    >>> round(lo, 3), round(hi, 3)
    (0.596, 0.982)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Sided = Literal["two", "lower", "upper"]


def _f(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _weights(weights: npt.ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = _f(weights)
    if w.shape != (n,):
        raise ValueError(f"weights has shape {w.shape}, expected ({n},)")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and >= 0")
    return w


def _same_length(*arrays: npt.NDArray[Any]) -> int:
    n = len(arrays[0])
    for a in arrays[1:]:
        if len(a) != n:
            raise ValueError(f"arrays differ in length: {[len(x) for x in arrays]}")
    return n


def z_value(alpha: float, sided: Sided = "two") -> float:
    """The standard normal quantile for a ``1 - alpha`` interval (two-sided) or bound (one-sided).

    >>> round(z_value(0.05), 3), round(z_value(0.01, "lower"), 3)
    (1.96, 2.326)
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    tail = alpha / 2 if sided == "two" else alpha
    return NormalDist().inv_cdf(1.0 - tail)


def effective_sample_size(weights: npt.ArrayLike) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (``n`` when all weights are equal).

    >>> effective_sample_size([1, 1, 1, 1]), effective_sample_size([1, 3])
    (4.0, 1.6)
    """
    w = _f(weights)
    s2 = float(np.sum(w * w))
    return 0.0 if s2 == 0.0 else float(np.sum(w)) ** 2 / s2


def weighted_mean(values: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> float:
    """The (inverse-probability) weighted mean; NaN for empty input.

    >>> weighted_mean([0, 1], [3, 1])
    0.25
    """
    v = _f(values)
    w = _weights(weights, len(v))
    total = float(np.sum(w))
    return math.nan if total == 0.0 else float(np.sum(w * v) / total)


# --------------------------------------------------------------------------- intervals


def wilson_interval(
    successes: float, n: float, *, alpha: float = 0.05, sided: Sided = "two"
) -> tuple[float, float]:
    """Wilson score interval for a rate; ``n`` may be an effective (non-integer) sample size.

    One-sided: ``sided="lower"`` gives ``(lower bound, 1.0)``, ``"upper"`` gives ``(0.0, upper)``.

    >>> tuple(round(x, 4) for x in wilson_interval(0, 10))
    (0.0, 0.2775)
    """
    if n <= 0:
        return (0.0, 1.0)
    if successes < 0 or successes > n + 1e-9:
        raise ValueError(f"successes must be in [0, n], got {successes} of {n}")
    z = z_value(alpha, sided)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    if sided == "lower":
        return (lo, 1.0)
    if sided == "upper":
        return (0.0, hi)
    return (lo, hi)


@dataclass(frozen=True)
class RateEstimate:
    """A (weighted) rate with its Wilson interval on the effective sample size."""

    estimate: float
    low: float
    high: float
    n: int
    n_eff: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def weighted_rate(
    indicator: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    alpha: float = 0.05,
    sided: Sided = "two",
) -> RateEstimate:
    """A weighted rate of a 0/1 indicator with a Wilson interval at Kish's effective ``n``.

    >>> r = weighted_rate([1, 1, 1, 0])
    >>> r.estimate, r.n, r.n_eff
    (0.75, 4, 4.0)
    """
    x = _f(indicator)
    w = _weights(weights, len(x))
    if len(x) == 0 or float(np.sum(w)) == 0.0:
        return RateEstimate(math.nan, 0.0, 1.0, len(x), 0.0)
    est = float(np.sum(w * x) / np.sum(w))
    n_eff = effective_sample_size(w)
    lo, hi = wilson_interval(est * n_eff, n_eff, alpha=alpha, sided=sided)
    return RateEstimate(est, lo, hi, len(x), n_eff)


def bootstrap_interval(
    statistic: Callable[[npt.NDArray[np.intp]], float],
    n: int,
    *,
    strata: npt.ArrayLike | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(indices)``, resampling within strata.

    ``statistic`` receives an index array (a resample of ``range(n)``) so it can pick whatever
    arrays and weights it needs. Resampling within each stratum respects a stratified design.
    Resamples where the statistic is undefined (NaN) are dropped.

    >>> import numpy as np
    >>> x = np.array([0.0, 1.0])
    >>> bootstrap_interval(lambda i: float(x[i].mean()), 2, alpha=0.8, n_boot=2000)
    (0.5, 0.5)
    """
    if n <= 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    groups: list[npt.NDArray[np.intp]]
    if strata is None:
        groups = [np.arange(n)]
    else:
        s = np.asarray(strata)
        if len(s) != n:
            raise ValueError(f"strata has length {len(s)}, expected {n}")
        groups = [np.flatnonzero(s == level) for level in np.unique(s)]
    values = np.empty(n_boot, dtype=np.float64)
    for b in range(n_boot):
        idx = np.concatenate([g[rng.integers(0, len(g), size=len(g))] for g in groups])
        values[b] = statistic(idx)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (math.nan, math.nan)
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


# --------------------------------------------------------------------------- agreement


def agreement(a: npt.ArrayLike, b: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> float:
    """The (weighted) fraction of items where two raters give the same label.

    >>> agreement([1, 0, 1, 1], [1, 0, 0, 1])
    0.75
    """
    x, y = np.asarray(a), np.asarray(b)
    n = _same_length(x, y)
    return weighted_mean((x == y).astype(np.float64), _weights(weights, n))


def confusion_matrix(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    labels: Sequence[Any],
    weights: npt.ArrayLike | None = None,
) -> FloatArray:
    """Weighted counts ``M[i, j]`` of items rated ``labels[i]`` by ``a`` and ``labels[j]`` by ``b``.

    >>> confusion_matrix([0, 1, 1], [0, 1, 0], [0, 1]).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    x, y = np.asarray(a), np.asarray(b)
    n = _same_length(x, y)
    w = _weights(weights, n)
    k = len(labels)
    codes_x, codes_y = label_codes(x, labels), label_codes(y, labels)
    flat = np.bincount(codes_x * k + codes_y, weights=w, minlength=k * k)
    return flat.reshape(k, k).astype(np.float64)


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


def cohen_kappa(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    labels: Sequence[Any] | None = None,
    weights: npt.ArrayLike | None = None,
    scheme: Literal["none", "quadratic"] = "none",
) -> float:
    """Cohen's kappa, ``1 - sum(D*O) / sum(D*E)``; ``scheme="quadratic"`` weights grade distances.

    ``labels`` fixes the ordered scale (needed for quadratic weights; default: sorted union).
    NaN when chance disagreement is zero (both raters constant and equal).

    >>> cohen_kappa([0, 1, 2], [0, 1, 2], scheme="quadratic")
    1.0
    """
    x, y = np.asarray(a), np.asarray(b)
    n = _same_length(x, y)
    scale = list(labels) if labels is not None else sorted(set(x.tolist()) | set(y.tolist()))
    return kappa_from_codes(
        label_codes(x, scale), label_codes(y, scale), len(scale), _weights(weights, n), scheme
    )


def kappa_from_codes(
    codes_a: npt.NDArray[np.intp],
    codes_b: npt.NDArray[np.intp],
    k: int,
    weights: npt.ArrayLike | None = None,
    scheme: Literal["none", "quadratic"] = "none",
) -> float:
    """:func:`cohen_kappa` on label positions ``0..k-1`` (fast inside a bootstrap loop).

    >>> import numpy as np
    >>> kappa_from_codes(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]), 2)
    0.5
    """
    if k < 2:
        return math.nan
    w = _weights(weights, len(codes_a))
    counts = np.bincount(codes_a * k + codes_b, weights=w, minlength=k * k).reshape(k, k)
    total = float(counts.sum())
    if total == 0.0:
        return math.nan
    observed = np.asarray(counts, dtype=np.float64) / total
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((k, k))
    if scheme == "quadratic":
        disagree = ((i - j) ** 2 / (k - 1) ** 2).astype(np.float64)
    elif scheme == "none":
        disagree = (i != j).astype(np.float64)
    else:
        raise ValueError(f"scheme must be 'none' or 'quadratic', got {scheme!r}")
    chance = float(np.sum(disagree * expected))
    if chance == 0.0:
        return math.nan
    return 1.0 - float(np.sum(disagree * observed)) / chance


def tpr_tnr(
    student_positive: npt.ArrayLike,
    teacher_positive: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> tuple[float, float]:
    """The student's true-positive and true-negative rates, taking the teacher as truth.

    >>> tpr_tnr([1, 1, 0, 0, 1], [1, 1, 1, 0, 0])
    (0.6666666666666666, 0.5)
    """
    s = np.asarray(student_positive).astype(bool)
    t = np.asarray(teacher_positive).astype(bool)
    n = _same_length(s, t)
    w = _weights(weights, n)
    pos, neg = float(np.sum(w[t])), float(np.sum(w[~t]))
    tpr = math.nan if pos == 0.0 else float(np.sum(w[t & s])) / pos
    tnr = math.nan if neg == 0.0 else float(np.sum(w[~t & ~s])) / neg
    return tpr, tnr


# --------------------------------------------------------------------------- calibration


def equal_mass_bins(
    p: npt.ArrayLike, n_bins: int = 10, weights: npt.ArrayLike | None = None
) -> npt.NDArray[np.intp]:
    """Assign each probability to one of ``n_bins`` bins holding equal (weighted) mass.

    Items are sorted by ``p`` (stable); item ``i`` goes to ``floor(mass before i / total * n_bins)``.

    >>> equal_mass_bins([0.9, 0.1, 0.5, 0.3], n_bins=2).tolist()
    [1, 0, 1, 0]
    """
    x = _f(p)
    w = _weights(weights, len(x))
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
    p: npt.ArrayLike, y: npt.ArrayLike, *, n_bins: int = 10, weights: npt.ArrayLike | None = None
) -> list[ReliabilityBin]:
    """Equal-mass reliability table; empty bins are omitted.

    >>> [(b.mean_p, b.observed) for b in reliability_table([0.2, 0.4, 0.6, 0.8], [0, 1, 1, 1],
    ...                                                      n_bins=2)]
    [(0.30000000000000004, 0.5), (0.7, 1.0)]
    """
    x, t = _f(p), _f(y)
    n = _same_length(x, t)
    w = _weights(weights, n)
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
    p: npt.ArrayLike, y: npt.ArrayLike, *, n_bins: int = 10, weights: npt.ArrayLike | None = None
) -> float:
    """ECE over equal-mass bins: ``sum_b (mass_b / total) * |mean_p_b - observed_b|``.

    >>> round(expected_calibration_error([0.2, 0.4, 0.6, 0.8], [0, 1, 1, 1], n_bins=2), 4)
    0.25
    """
    rows = reliability_table(p, y, n_bins=n_bins, weights=weights)
    total = sum(r.weight for r in rows)
    return math.nan if total == 0.0 else sum(r.weight * abs(r.gap) for r in rows) / total


def overconfidence(
    p: npt.ArrayLike, y: npt.ArrayLike, *, n_bins: int = 10, weights: npt.ArrayLike | None = None
) -> float:
    """Signed over-confidence: mass-weighted ``|mean_p - 0.5| - |observed - 0.5|`` over bins.

    Positive when the student is surer than the teacher's labels justify, negative when timid.

    >>> round(overconfidence([0.1, 0.9], [0, 1], n_bins=2), 3)
    -0.1
    """
    rows = reliability_table(p, y, n_bins=n_bins, weights=weights)
    total = sum(r.weight for r in rows)
    if total == 0.0:
        return math.nan
    return sum(r.weight * (abs(r.mean_p - 0.5) - abs(r.observed - 0.5)) for r in rows) / total


def brier_score(p: npt.ArrayLike, y: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> float:
    """The (weighted) mean squared error of probabilities against 0/1 labels.

    >>> round(brier_score([0.8, 0.3], [1, 0]), 3)
    0.065
    """
    x, t = _f(p), _f(y)
    n = _same_length(x, t)
    return weighted_mean((x - t) ** 2, _weights(weights, n))


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
    weights: npt.ArrayLike | None = None,
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
    x, t = _logit(_f(p)), _f(y)
    n = _same_length(x, t)
    w = _weights(weights, n)
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


# --------------------------------------------------------------------------- score drift


def quantile_edges(reference: npt.ArrayLike, n_bins: int = 10) -> FloatArray:
    """Interior bin edges at the reference's ``1/n_bins ... (n_bins-1)/n_bins`` quantiles (deduped).

    >>> quantile_edges([1, 2, 3, 4], n_bins=2).tolist()
    [2.5]
    """
    ref = _f(reference)
    if len(ref) == 0:
        raise ValueError("the reference sample is empty")
    qs = np.linspace(0, 1, n_bins + 1)[1:-1]
    return np.unique(np.quantile(ref, qs))


def bin_proportions(values: npt.ArrayLike, edges: npt.ArrayLike) -> FloatArray:
    """Fraction of ``values`` in each bin ``(-inf, e1), [e1, e2), ..., [ek, inf)``.

    >>> bin_proportions([1, 2, 3, 4], [2.5]).tolist()
    [0.5, 0.5]
    """
    v, e = _f(values), _f(edges)
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
    u, v = np.sort(_f(reference)), np.sort(_f(current))
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
    weights: npt.ArrayLike | None = None,
    alpha: float = 0.01,
) -> ThresholdCheck:
    """Precision (or recall) of ``score >= threshold`` against the teacher, with one-sided bounds.

    >>> c = threshold_recheck([0.9, 0.8, 0.7, 0.2], [1, 1, 0, 0], 0.5, target=0.6)
    >>> round(c.estimate, 4), c.status
    (0.6667, 'unclear')
    """
    s, t = _f(scores), np.asarray(teacher_positive).astype(bool)
    n = _same_length(s, t)
    w = _weights(weights, n)
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
) -> PPIEstimate:
    """PPI estimate of ``E[y]``: mean prediction over all items plus the labelled rectifier.

    ``theta = mean(f_all) + wmean(y - f)``; variance ``var(f_all)/N + wvar(y - f)/n_eff``
    (normal interval). The classical estimate is the weighted labelled mean of ``y``.

    >>> e = ppi_mean([0.5, 0.5, 0.5, 0.5], [0.5, 0.5], [1.0, 0.0])
    >>> e.estimate, e.classical
    (0.5, 0.5)
    """
    f_all, f_lab, y = _f(predicted_all), _f(predicted_labelled), _f(observed_labelled)
    n = _same_length(f_lab, y)
    w = _weights(weights_labelled, n)
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
    return PPIEstimate(
        est, est - z * se, est + z * se, cls, cls - z * cls_se, cls + z * cls_se, mean_f, n, n_all
    )
