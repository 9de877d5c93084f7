"""Seeded percentile bootstrap: over index resamples (stratified), over paired rows, of a difference.

A statistic evaluated on every resample of the *same* rows of several arrays is a paired bootstrap:
the interval of ``stat(truth, a) - stat(truth, b)`` (``paired_difference``) is the noise to beat
when comparing two judges, which overlapping marginal intervals do not show.

Example:
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0])
    >>> bootstrap_interval(lambda i: float(x[i].mean()), 2, alpha=0.8, n_boot=2000)
    (0.5, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from judgecache.stats.intervals import clip_interval


def bootstrap_interval(
    statistic: Callable[[npt.NDArray[np.intp]], float],
    n: int,
    *,
    strata: npt.ArrayLike | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(indices)``, resampling within strata.

    ``statistic`` receives an index array (a resample of ``range(n)``) so it can pick whatever
    arrays and weights it needs. Resampling within each stratum respects a stratified design.
    Resamples where the statistic is undefined (NaN) are dropped; ``bounds`` clips the interval
    to the statistic's range. ``(nan, nan)`` when nothing could be resampled.

    >>> bootstrap_interval(lambda i: 2.0, 3, n_boot=5, bounds=(-1.0, 1.0))
    (1.0, 1.0)
    """
    if n <= 0 or n_boot <= 0:
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
    return (float(lo), float(hi)) if bounds is None else clip_interval(float(lo), float(hi), bounds)


def bootstrap_ci(
    stat: Callable[..., float],
    *arrays: npt.ArrayLike,
    n: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Percentile interval of ``stat(*resampled_arrays)``, resampling the same rows of every array.

    >>> from judgecache.stats.agreement import agreement
    >>> lo, hi = bootstrap_ci(agreement, [1, 1, 0, 1] * 25, [1, 0, 0, 1] * 25, n=200)
    >>> lo < 0.75 < hi
    True
    """
    data = [np.asarray(a) for a in arrays]
    return bootstrap_interval(
        lambda idx: stat(*(d[idx] for d in data)),
        len(data[0]),
        n_boot=n,
        alpha=1.0 - confidence,
        seed=seed,
        bounds=bounds,
    )


def paired_difference(
    stat: Callable[[npt.NDArray[np.generic], npt.NDArray[np.generic]], float],
    truth: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    n: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> dict[str, float]:
    """``{"value", "lo", "hi"}`` of ``stat(truth, a) - stat(truth, b)`` by a paired bootstrap.

    ``bounds`` is the range of the difference (``(-2, 2)`` for kappa, ``(-1, 1)`` for a rate).

    >>> from judgecache.stats.agreement import agreement
    >>> t = [0, 1] * 20
    >>> paired_difference(agreement, t, t, [0] * 40, n=50, bounds=(-1.0, 1.0))["value"]
    0.5
    """

    def diff(
        y: npt.NDArray[np.generic], x: npt.NDArray[np.generic], z: npt.NDArray[np.generic]
    ) -> float:
        return stat(y, x) - stat(y, z)

    return with_ci(diff, truth, a, b, n=n, seed=seed, confidence=confidence, bounds=bounds)


def with_ci(
    stat: Callable[..., float],
    *arrays: npt.ArrayLike,
    n: int,
    seed: int,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> dict[str, float]:
    """``{"value", "lo", "hi"}`` for one statistic on all rows, with its (paired) bootstrap interval.

    >>> from judgecache.stats.agreement import agreement
    >>> with_ci(agreement, [1, 0], [1, 1], n=0, seed=0)
    {'value': 0.5, 'lo': nan, 'hi': nan}
    """
    lo, hi = bootstrap_ci(stat, *arrays, n=n, seed=seed, confidence=confidence, bounds=bounds)
    return {"value": float(stat(*(np.asarray(a) for a in arrays))), "lo": lo, "hi": hi}


def format_ci(m: Any, *, signed: bool = False, missing: str = "-") -> str:
    """``value [lo, hi]`` of a :func:`with_ci` result, three decimals; ``missing`` when absent.

    >>> format_ci({"value": 0.5, "lo": 0.4, "hi": 0.6}), format_ci(None)
    ('0.500 [0.400, 0.600]', '-')
    >>> format_ci({"value": 0.05, "lo": -0.01, "hi": 0.11}, signed=True)
    '+0.050 [-0.010, +0.110]'
    """
    if not isinstance(m, Mapping) or m.get("value") is None:
        return missing
    number = "{:+.3f}" if signed else "{:.3f}"
    lo, hi = m.get("lo"), m.get("hi")
    bounds = (
        f" [{number.format(lo)}, {number.format(hi)}]" if lo is not None and hi is not None else ""
    )
    return number.format(m["value"]) + bounds
