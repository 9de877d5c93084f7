"""One-sided Clopper-Pearson bounds for a binomial rate, vectorized (scipy, imported lazily).

The counts may be non-integer: an inverse-probability-weighted sample is bounded with its
effective counts (Kish's effective ``n`` and ``rate * n_eff`` successes), which the beta quantile
accepts as they are.

Example:
    >>> round(upper_bound(0, 100, confidence=0.95), 4)
    0.0295
    >>> round(lower_bound(10, 100, confidence=0.95), 4)
    0.0553
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from judgecache.errors import ConfigError, MissingDependencyError

FloatArray = npt.NDArray[np.float64]


def _beta() -> Any:
    try:
        from scipy.stats import beta
    except ImportError as exc:  # scipy comes with scikit-learn in the distill extra
        raise MissingDependencyError("scipy", "distill") from exc
    return beta


def _check(successes: FloatArray, trials: FloatArray, confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if np.any(trials < 0) or np.any(successes < 0) or np.any(successes > trials + 1e-9):
        raise ConfigError("binomial counts need 0 <= successes <= trials")


def upper_bounds(
    successes: npt.ArrayLike, trials: npt.ArrayLike, *, confidence: float = 0.95
) -> FloatArray:
    """Elementwise one-sided upper bounds; 1.0 where ``trials`` is 0.

    >>> [round(float(x), 3) for x in upper_bounds([0, 5], [10, 10])]
    [0.259, 0.778]
    """
    k = np.atleast_1d(np.asarray(successes, dtype=np.float64))
    n = np.atleast_1d(np.asarray(trials, dtype=np.float64))
    k, n = np.broadcast_arrays(k, n)
    _check(k, n, confidence)
    out = np.ones(k.shape, dtype=np.float64)
    ok = (n > 0) & (k < n)
    if np.any(ok):
        out[ok] = _beta().ppf(confidence, k[ok] + 1.0, n[ok] - k[ok])
    return out


def upper_bound(successes: float, trials: float, *, confidence: float = 0.95) -> float:
    """The one-sided upper bound of one rate (1.0 with no trials)."""
    return float(upper_bounds([successes], [trials], confidence=confidence)[0])


def lower_bound(successes: float, trials: float, *, confidence: float = 0.95) -> float:
    """The one-sided lower bound of one rate (0.0 with no trials or no successes).

    >>> lower_bound(0, 50)
    0.0
    """
    k = np.asarray([successes], dtype=np.float64)
    n = np.asarray([trials], dtype=np.float64)
    _check(k, n, confidence)
    if trials <= 0 or successes <= 0:
        return 0.0
    return float(_beta().ppf(1.0 - confidence, successes, trials - successes + 1.0))
