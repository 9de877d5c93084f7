"""Probability calibration fitted on held-out labels, stored as JSON (never pickle).

``platt`` fits ``sigmoid(a * logit + b)``, ``temperature`` fits ``sigmoid(logit / T)``, and
``isotonic`` fits a monotone step function by pool-adjacent-violators (interpolated between block
centres). ``auto`` uses Platt below ``isotonic_min`` labels and isotonic at or above it: isotonic
has many more degrees of freedom and overfits small calibration sets.

Example:
    >>> import numpy as np
    >>> logits = np.array([-3.0, -1.0, 0.0, 1.0, 3.0] * 20)
    >>> truth = (np.arange(100) % 5 >= 2).astype(float)
    >>> cal = fit_calibrator(logits, truth, method="platt")
    >>> bool(Calibrator.from_dict(cal.to_dict()).apply(np.array([3.0]))[0] > 0.9)
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from judgecache.errors import ConfigError, InsufficientDataError, NotFittedError

Array = NDArray[np.float64]
METHODS = ("platt", "temperature", "isotonic", "none")


def sigmoid(x: ArrayLike) -> Array:
    """Numerically stable logistic function."""
    z = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.asarray(np.where(z >= 0, 1 / (1 + e), e / (1 + e)), dtype=np.float64)


@dataclass(frozen=True)
class Calibrator:
    """A fitted map from the student's positive-class logit to a probability."""

    method: str
    a: float = 1.0
    b: float = 0.0
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    n: int = 0

    def apply(self, logits: ArrayLike) -> Array:
        z = np.asarray(logits, dtype=np.float64)
        if self.method in ("platt", "temperature", "none"):
            return sigmoid(self.a * z + self.b)
        if self.method == "isotonic":
            if not self.xs:
                raise NotFittedError("isotonic calibrator has no breakpoints")
            return np.asarray(np.interp(z, self.xs, self.ys), dtype=np.float64)
        raise ConfigError(f"calibration method must be one of {list(METHODS)}, got {self.method!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "a": self.a,
            "b": self.b,
            "xs": self.xs,
            "ys": self.ys,
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        method = str(d.get("method", ""))
        if method not in METHODS:
            raise ConfigError(
                f"calibration.json: method must be one of {list(METHODS)}, got {method!r}"
            )
        return cls(
            method,
            float(d.get("a", 1.0)),
            float(d.get("b", 0.0)),
            [float(v) for v in d.get("xs", [])],
            [float(v) for v in d.get("ys", [])],
            int(d.get("n", 0)),
        )


def _nll(a: float, b: float, z: Array, t: Array) -> float:
    p = np.clip(sigmoid(a * z + b), 1e-12, 1 - 1e-12)
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))


def _fit_logistic(z: Array, t: Array, *, fit_bias: bool) -> tuple[float, float]:
    # Newton's method on a 1-D logistic regression; a tiny ridge keeps separable data finite.
    a, b = 1.0, 0.0
    ridge = 1e-4
    for _ in range(100):
        p = sigmoid(a * z + b)
        w = p * (1 - p)
        g = np.array([np.mean((p - t) * z) + ridge * a, np.mean(p - t) if fit_bias else 0.0])
        h = np.array(
            [
                [np.mean(w * z * z) + ridge, np.mean(w * z) if fit_bias else 0.0],
                [np.mean(w * z) if fit_bias else 0.0, np.mean(w) + ridge if fit_bias else 1.0],
            ]
        )
        step = np.linalg.solve(h, g)
        # Halve the step until the loss does not go up (Newton can overshoot on flat regions).
        scale, base = 1.0, _nll(a, b, z, t)
        while scale > 1e-4 and _nll(a - scale * step[0], b - scale * step[1], z, t) > base + 1e-12:
            scale /= 2
        a, b = a - scale * float(step[0]), b - scale * float(step[1])
        if float(np.abs(scale * step).max()) < 1e-9:
            break
    return a, b


def _pav(z: Array, t: Array) -> tuple[list[float], list[float]]:
    order = np.argsort(z, kind="mergesort")
    xs, ys = z[order], t[order]
    # Blocks of (sum_y, count, mean_x); merge while a block's mean exceeds the next one's.
    sums: list[float] = []
    counts: list[float] = []
    centres: list[float] = []
    for x, y in zip(xs, ys, strict=True):
        sums.append(float(y))
        counts.append(1.0)
        centres.append(float(x))
        while len(sums) > 1 and sums[-2] / counts[-2] >= sums[-1] / counts[-1]:
            s, c, m = sums.pop(), counts.pop(), centres.pop()
            centres[-1] = (centres[-1] * counts[-1] + m * c) / (counts[-1] + c)
            sums[-1] += s
            counts[-1] += c
    return centres, [s / c for s, c in zip(sums, counts, strict=True)]


def fit_calibrator(
    logits: ArrayLike, truth: ArrayLike, *, method: str = "auto", isotonic_min: int = 1000
) -> Calibrator:
    """Fit on held-out ``(logit, binary truth)``; truth may be soft (teacher probabilities)."""
    z, t = np.asarray(logits, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if method == "auto":
        method = "isotonic" if z.size >= isotonic_min else "platt"
    if method not in METHODS:
        raise ConfigError(f"calibration method must be one of {['auto', *METHODS]}, got {method!r}")
    if method == "none":
        return Calibrator("none", n=int(z.size))
    if z.size < 10 or t.min() == t.max():
        raise InsufficientDataError(
            f"calibration needs at least 10 held-out labels with both classes; got {z.size}"
        )
    if method == "platt":
        a, b = _fit_logistic(z, t, fit_bias=True)
        return Calibrator("platt", a, b, n=int(z.size))
    if method == "temperature":
        a, _ = _fit_logistic(z, t, fit_bias=False)
        return Calibrator("temperature", a, 0.0, n=int(z.size))
    xs, ys = _pav(z, t)
    return Calibrator("isotonic", xs=xs, ys=ys, n=int(z.size))
