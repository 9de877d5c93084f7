"""Evaluate every candidate band on calibration data at once (pure numpy, no I/O).

Inputs, one entry per calibration pair: the student's calibrated probability, the student's
binary decision and the teacher's binary label. Candidate band edges are the midpoints between
adjacent distinct probabilities nearest to ``grid`` evenly spaced quantiles, plus 0 and 1, so no
calibration pair ever sits on an edge. Every band ``[lo, hi]`` with ``lo < hi`` from those edges is
counted (escalated pairs, kept pairs, disagreements among kept pairs), and the empty band too.

Example:
    >>> t = scan_bands([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], [0, 1, 0, 1], grid=2)
    >>> [(float(lo), float(hi), int(e), int(d)) for lo, hi, e, d in
    ...  zip(t.lo, t.hi, t.escalated, t.kept_disagreements)]
    [(1.0, 0.0, 0, 2), (0.0, 0.5, 2, 1), (0.0, 1.0, 4, 0), (0.5, 1.0, 2, 1)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from judgecache.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CalibrationData:
    """Validated calibration arrays: probabilities and the two binary views."""

    probs: FloatArray
    student_positive: npt.NDArray[np.bool_]
    teacher_positive: npt.NDArray[np.bool_]

    @property
    def n(self) -> int:
        return len(self.probs)

    @property
    def disagree(self) -> npt.NDArray[np.bool_]:
        return np.not_equal(self.student_positive, self.teacher_positive)

    @classmethod
    def build(
        cls, probs: npt.ArrayLike, student_positive: npt.ArrayLike, teacher_positive: npt.ArrayLike
    ) -> CalibrationData:
        """Check shapes and values; errors name the array and the first bad position."""
        p = probability_array(probs)
        s = binary_array(student_positive, "student_positive", len(p))
        t = binary_array(teacher_positive, "teacher_positive", len(p))
        return cls(p, s, t)


def probability_array(values: npt.ArrayLike, name: str = "probs") -> FloatArray:
    """Non-empty probabilities in [0, 1] as a float array; errors name the first bad position.

    >>> probability_array([0, 0.5, 1]).tolist()
    [0.0, 0.5, 1.0]
    """
    p = np.asarray(values, dtype=np.float64).ravel()
    if len(p) == 0:
        raise InputError("calibration data is empty", field=name)
    bad = np.flatnonzero(~np.isfinite(p) | (p < 0.0) | (p > 1.0))
    if len(bad):
        raise InputError(
            f"must be probabilities in [0, 1]; position {int(bad[0])} is {float(p[bad[0]])!r}",
            field=name,
        )
    return p


def binary_array(values: npt.ArrayLike, name: str, n: int) -> npt.NDArray[np.bool_]:
    """0/1 or boolean values as a bool array of length ``n``; errors name the field and position.

    >>> binary_array([0, 1, True], "x", 3).tolist()
    [False, True, True]
    """
    a = np.asarray(values).ravel()
    if len(a) != n:
        raise InputError(f"has {len(a)} entries, expected {n} (one per probability)", field=name)
    if a.dtype == np.bool_:
        return a
    try:
        x = a.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError("must hold 0/1 or booleans", field=name) from None
    bad = np.flatnonzero((x != 0.0) & (x != 1.0))
    if len(bad):
        raise InputError(
            f"must hold 0/1 or booleans; position {int(bad[0])} is {a[bad[0]]!r}", field=name
        )
    return np.equal(x, 1.0)


@dataclass(frozen=True)
class BandTable:
    """Counts for every candidate band (row 0 is the empty band)."""

    lo: FloatArray
    hi: FloatArray
    escalated: IntArray
    kept: IntArray
    kept_disagreements: IntArray
    n: int

    @property
    def escalation_rate(self) -> FloatArray:
        return self.escalated / self.n

    @property
    def kept_disagreement(self) -> FloatArray:
        """Disagreement among kept pairs (NaN where nothing is kept)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                self.kept > 0, self.kept_disagreements / np.maximum(self.kept, 1), np.nan
            )


def candidate_edges(probs: FloatArray, grid: int) -> FloatArray:
    """Inner band edges: midpoints between distinct probabilities near ``grid`` quantiles.

    >>> candidate_edges(np.array([0.1, 0.2, 0.3, 0.8]), 2).tolist()
    [0.25]
    """
    if grid < 1:
        raise InputError(f"must be >= 1, got {grid}", field="grid")
    s = np.sort(probs)
    u = np.unique(s)
    if len(u) < 2:
        return np.zeros(0)
    mids = (u[:-1] + u[1:]) / 2.0
    below = np.searchsorted(s, mids, side="left") / len(s)
    picks = {int(np.argmin(np.abs(below - k / grid))) for k in range(1, grid)}
    return np.asarray(sorted(mids[i] for i in picks), dtype=np.float64)


def scan_bands(
    probs: npt.ArrayLike,
    student_positive: npt.ArrayLike,
    teacher_positive: npt.ArrayLike,
    *,
    grid: int = 20,
) -> BandTable:
    """Count escalations and kept disagreements for every candidate band (see module doc)."""
    data = CalibrationData.build(probs, student_positive, teacher_positive)
    return scan_data(data, grid=grid)


def scan_data(data: CalibrationData, *, grid: int = 20) -> BandTable:
    """:func:`scan_bands` on already validated data."""
    inner = candidate_edges(data.probs, grid)
    lows = np.concatenate([[0.0], inner])
    highs = np.concatenate([inner, [1.0]])
    lo_grid, hi_grid = np.meshgrid(lows, highs, indexing="ij")
    valid = lo_grid < hi_grid
    lo = np.concatenate([[1.0], lo_grid[valid]])
    hi = np.concatenate([[0.0], hi_grid[valid]])
    return count_bands(data, lo, hi)


def count_bands(data: CalibrationData, lo: FloatArray, hi: FloatArray) -> BandTable:
    """Counts for the bands ``[lo[i], hi[i]]`` (``lo > hi``: the empty band), in that order.

    >>> d = CalibrationData.build([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], [0, 1, 0, 1])
    >>> t = count_bands(d, np.array([0.0, 0.3, 1.0]), np.array([1.0, 0.7, 0.0]))
    >>> t.escalated.tolist(), t.kept_disagreements.tolist()
    ([4, 2, 0], [0, 0, 2])
    """
    order = np.argsort(data.probs, kind="stable")
    s = data.probs[order]
    cum = np.concatenate([[0], np.cumsum(data.disagree[order].astype(np.int64))])
    left = np.searchsorted(s, lo, side="left")
    right = np.maximum(np.searchsorted(s, hi, side="right"), left)  # empty band: nothing inside
    escalated = (right - left).astype(np.int64)
    kept_dis = (cum[-1] - (cum[right] - cum[left])).astype(np.int64)
    return BandTable(
        np.asarray(lo, dtype=np.float64),
        np.asarray(hi, dtype=np.float64),
        escalated,
        data.n - escalated,
        kept_dis,
        data.n,
    )
