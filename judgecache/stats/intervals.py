"""Rates and their confidence intervals: Wilson, Clopper-Pearson, Kish's effective sample size.

Counts may be non-integer: an inverse-probability-weighted sample is bounded with its effective
counts (Kish's effective ``n`` and ``rate * n_eff`` successes). Every interval lies inside the
statistic's range (``clip_interval``).

Example:
    >>> lo, hi = wilson_interval(9, 10, alpha=0.05)
    >>> round(lo, 3), round(hi, 3)
    (0.596, 0.982)
    >>> round(clopper_pearson_lower(95, 100), 3)
    0.898
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from judgecache.errors import ConfigError
from judgecache.stats.arrays import FloatArray, as_float, sample_weights

Sided = Literal["two", "lower", "upper"]


def clip_interval(low: float, high: float, bounds: tuple[float, float]) -> tuple[float, float]:
    """``(low, high)`` clipped into ``bounds`` (NaN stays NaN: an interval that is not there).

    >>> clip_interval(-0.2, 1.3, (0.0, 1.0)), clip_interval(math.nan, 0.5, (0.0, 1.0))
    ((0.0, 1.0), (nan, 0.5))
    """
    lo_b, hi_b = bounds
    lo = low if math.isnan(low) else min(max(low, lo_b), hi_b)
    hi = high if math.isnan(high) else min(max(high, lo_b), hi_b)
    return (lo, hi)


def z_value(alpha: float, sided: Sided = "two") -> float:
    """The standard normal quantile for a ``1 - alpha`` interval (two-sided) or bound (one-sided).

    >>> round(z_value(0.05), 3), round(z_value(0.01, "lower"), 3)
    (1.96, 2.326)
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    tail = alpha / 2 if sided == "two" else alpha
    return NormalDist().inv_cdf(1.0 - tail)


def effective_sample_size(sample_weight: npt.ArrayLike) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (``n`` when all weights are equal).

    >>> effective_sample_size([1, 1, 1, 1]), effective_sample_size([1, 3])
    (4.0, 1.6)
    """
    w = as_float(sample_weight)
    s2 = float(np.sum(w * w))
    return 0.0 if s2 == 0.0 else float(np.sum(w)) ** 2 / s2


def weighted_mean(values: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None) -> float:
    """The (inverse-probability) weighted mean; NaN for empty input.

    >>> weighted_mean([0, 1], [3, 1])
    0.25
    """
    v = as_float(values)
    w = sample_weights(sample_weight, len(v))
    total = float(np.sum(w))
    return math.nan if total == 0.0 else float(np.sum(w * v) / total)


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
    p = min(successes / n, 1.0)
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = clip_interval(centre - half, centre + half, (0.0, 1.0))
    # At 0 of n (n of n) the bound is exactly 0 (1); the formula leaves a rounding residue.
    lo = 0.0 if successes <= 0 else lo
    hi = 1.0 if successes >= n else hi
    if sided == "lower":
        return (lo, 1.0)
    if sided == "upper":
        return (0.0, hi)
    return (lo, hi)


def _beta() -> Any:
    # scipy.stats takes about a second to import: only the Clopper-Pearson bounds need it, so
    # `import judgecache.drift` and the CLI stay quick.
    from scipy.stats import beta

    return beta


def _check_counts(successes: FloatArray, trials: FloatArray, confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if np.any(trials < 0) or np.any(successes < 0) or np.any(successes > trials + 1e-9):
        raise ConfigError("binomial counts need 0 <= successes <= trials")


def clopper_pearson_uppers(
    successes: npt.ArrayLike, trials: npt.ArrayLike, *, confidence: float = 0.95
) -> FloatArray:
    """Elementwise one-sided Clopper-Pearson upper bounds; 1.0 where ``trials`` is 0.

    >>> [round(float(x), 3) for x in clopper_pearson_uppers([0, 5], [10, 10])]
    [0.259, 0.778]
    """
    k = np.atleast_1d(as_float(successes))
    n = np.atleast_1d(as_float(trials))
    k, n = np.broadcast_arrays(k, n)
    _check_counts(k, n, confidence)
    out = np.ones(k.shape, dtype=np.float64)
    ok = (n > 0) & (k < n)
    if np.any(ok):
        out[ok] = _beta().ppf(confidence, k[ok] + 1.0, n[ok] - k[ok])
    return np.clip(out, 0.0, 1.0)


def clopper_pearson_upper(successes: float, trials: float, confidence: float = 0.95) -> float:
    """The one-sided upper bound of one rate (1.0 with no trials).

    >>> round(clopper_pearson_upper(0, 100), 4)
    0.0295
    """
    return float(clopper_pearson_uppers([successes], [trials], confidence=confidence)[0])


def clopper_pearson_lower(successes: float, trials: float, confidence: float = 0.95) -> float:
    """The one-sided lower bound of one rate (0.0 with no trials or no successes).

    >>> clopper_pearson_lower(0, 50), round(clopper_pearson_lower(10, 100), 4)
    (0.0, 0.0553)
    """
    k = np.asarray([successes], dtype=np.float64)
    n = np.asarray([trials], dtype=np.float64)
    _check_counts(k, n, confidence)
    if trials <= 0 or successes <= 0:
        return 0.0
    bound = float(_beta().ppf(1.0 - confidence, successes, trials - successes + 1.0))
    return min(max(bound, 0.0), 1.0)


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
    sample_weight: npt.ArrayLike | None = None,
    *,
    alpha: float = 0.05,
    sided: Sided = "two",
) -> RateEstimate:
    """A weighted rate of a 0/1 indicator with a Wilson interval at Kish's effective ``n``.

    >>> r = weighted_rate([1, 1, 1, 0])
    >>> r.estimate, r.n, r.n_eff
    (0.75, 4, 4.0)
    """
    x = as_float(indicator)
    w = sample_weights(sample_weight, len(x))
    if len(x) == 0 or float(np.sum(w)) == 0.0:
        return RateEstimate(math.nan, 0.0, 1.0, len(x), 0.0)
    est = float(np.sum(w * x) / np.sum(w))
    n_eff = effective_sample_size(w)
    lo, hi = wilson_interval(est * n_eff, n_eff, alpha=alpha, sided=sided)
    return RateEstimate(est, lo, hi, len(x), n_eff)
