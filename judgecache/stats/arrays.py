"""Array coercion and the checks every statistic shares (shared by the statistics modules)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def as_float(x: npt.ArrayLike) -> FloatArray:
    """``x`` as a float64 array."""
    return np.asarray(x, dtype=np.float64)


def sample_weights(sample_weight: npt.ArrayLike | None, n: int) -> FloatArray:
    """Per-item weights (all ones when absent); finite, non-negative and one per item."""
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    w = as_float(sample_weight)
    if w.shape != (n,):
        raise ValueError(f"sample_weight has shape {w.shape}, expected ({n},)")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("sample_weight must be finite and >= 0")
    return w


def same_length(*arrays: npt.NDArray[Any]) -> int:
    """The common length of ``arrays``; a mismatch is an error naming the lengths."""
    n = len(arrays[0])
    for a in arrays[1:]:
        if len(a) != n:
            raise ValueError(f"arrays differ in length: {[len(x) for x in arrays]}")
    return n
