"""Fixed-sequence testing of cascade bands: one label-free path, each band tested at full level.

Learn-then-Test (Angelopoulos et al. 2021) in its simplest form. The candidate bands are put on
ONE nested path, from escalating everything to escalating nothing, built from the student's
calibrated probabilities and its own decisions only -- never the teacher labels. Each step shrinks
the band by one elementary interval between adjacent candidate edges
(:func:`judgecache.cascade.scan.candidate_edges`), on whichever side (``lo`` up or ``hi`` down)
releases pairs with the lower mean *expected* disagreement (``p`` for a negative decision,
``1 - p`` for a positive one: the disagreement rate when ``p`` is calibrated); a tie moves ``lo``.
The pairs the student is surest of are released first, so the bands likely to pass come first.

Along the path each band with at least ``min_kept`` kept pairs is tested at the full level (its
one-sided Clopper-Pearson upper bound <= ``alpha`` at ``confidence``, no multiplicity correction)
and the walk stops at the FIRST failure; the chosen band is the last one that passed. Bands with
too few kept pairs are skipped without stopping the walk (kept counts need no labels).

Why it is valid: the order is fixed before any label is looked at. Certifying a band whose true
disagreement exceeds ``alpha`` requires the first such band on the path to pass its own test
(every later band is reached only through it), which happens with probability at most
``1 - confidence``. So the family-wise error is at most ``1 - confidence`` however long the path
is, where Bonferroni pays for every candidate band.

Example:
    >>> import numpy as np
    >>> p = np.repeat([0.05, 0.3, 0.7, 0.95], 50)
    >>> s = p >= 0.5
    >>> path = escalation_path(p, s, grid=4)
    >>> [str(Band(float(lo), float(hi))) for lo, hi in zip(path.lo, path.hi)]
    ['[0, 1]', '[0.175, 1]', '[0.175, 0.825]', '[0.5, 0.825]', 'none']
    >>> t = s.copy()
    >>> t[50:60] = ~t[50:60]                          # ten disagreements at p = 0.3
    >>> run = fixed_sequence(CalibrationData.build(p, s, t), path, alpha=0.08, min_kept=50)
    >>> run.tested.tolist(), run.stop, run.chosen, run.checked
    ([False, True, True, True, False], 3, 2, 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from judgecache.cascade.band import Band
from judgecache.cascade.scan import (
    BandTable,
    CalibrationData,
    binary_array,
    candidate_edges,
    count_bands,
    probability_array,
)
from judgecache.stats import clopper_pearson_uppers

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "EscalationPath",
    "SequenceRun",
    "escalation_path",
    "expected_disagreement",
    "fixed_sequence",
]


@dataclass(frozen=True)
class EscalationPath:
    """Band edges in test order: escalate everything first, the empty band last."""

    lo: FloatArray
    hi: FloatArray

    def __len__(self) -> int:
        return len(self.lo)

    def band(self, i: int) -> Band:
        return Band(float(self.lo[i]), float(self.hi[i]))


@dataclass(frozen=True)
class SequenceRun:
    """The outcome of walking an :class:`EscalationPath` with the teacher labels.

    ``upper`` holds each band's bound at full confidence (1.0 where fewer than ``min_kept`` pairs
    are kept); ``tested`` marks the bands actually tested (up to and including the stop);
    ``stop`` is the path index of the first failure (``None`` when every tested band passed) and
    ``chosen`` the last band that passed (``None`` when the first band tested failed).
    """

    path: BandTable
    upper: FloatArray
    tested: BoolArray
    stop: int | None
    chosen: int | None

    @property
    def checked(self) -> int:
        """How many bands were tested."""
        return int(np.sum(self.tested))


def expected_disagreement(probs: npt.ArrayLike, student_positive: npt.ArrayLike) -> FloatArray:
    """``p`` where the student says negative, ``1 - p`` where it says positive.

    >>> expected_disagreement([0.1, 0.8], [0, 1]).round(3).tolist()
    [0.1, 0.2]
    """
    p = probability_array(probs)
    s = binary_array(student_positive, "student_positive", len(p))
    return np.where(s, 1.0 - p, p)


def escalation_path(
    probs: npt.ArrayLike, student_positive: npt.ArrayLike, *, grid: int = 20
) -> EscalationPath:
    """The nested, label-free test order of bands (see module doc); it takes no teacher labels.

    >>> path = escalation_path([0.1, 0.2, 0.6, 0.95], [0, 0, 1, 1], grid=4)
    >>> [str(path.band(i)) for i in range(len(path))]
    ['[0, 1]', '[0, 0.775]', '[0.15, 0.775]', '[0.4, 0.775]', 'none']
    """
    p = probability_array(probs)
    expected = expected_disagreement(p, student_positive)
    edges = np.concatenate([[0.0], candidate_edges(p, grid), [1.0]])
    intervals = len(edges) - 1
    # No probability sits on an inner edge (they are midpoints), so each pair has one interval.
    which = np.searchsorted(edges[1:-1], p, side="right")
    totals = np.bincount(which, weights=expected, minlength=intervals)
    counts = np.bincount(which, minlength=intervals)
    means = totals / np.maximum(counts, 1)
    first, last = 0, intervals - 1
    lo, hi = [edges[first]], [edges[last + 1]]
    while first < last:
        if means[first] <= means[last]:
            first += 1
        else:
            last -= 1
        lo.append(edges[first])
        hi.append(edges[last + 1])
    lo.append(1.0)  # releasing the last interval leaves the empty band
    hi.append(0.0)
    return EscalationPath(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))


def fixed_sequence(
    data: CalibrationData,
    path: EscalationPath,
    *,
    alpha: float,
    scope: str = "kept",
    confidence: float = 0.95,
    min_kept: int = 100,
) -> SequenceRun:
    """Test the path's bands in order at full level; stop at the first failure.

    ``scope="kept"`` bounds disagreement among kept pairs, ``"all"`` over all ``n`` pairs
    (escalated pairs agree by construction); ``min_kept`` counts kept pairs in both scopes.
    """
    table = count_bands(data, path.lo, path.hi)
    eligible = table.kept >= min_kept
    trials = table.kept if scope == "kept" else np.full(len(path), data.n)
    upper = np.ones(len(path), dtype=np.float64)
    if np.any(eligible):
        upper[eligible] = clopper_pearson_uppers(
            table.kept_disagreements[eligible], trials[eligible], confidence=confidence
        )
    failures = np.flatnonzero(eligible & (upper > alpha))
    stop = int(failures[0]) if len(failures) else None
    tested = eligible.copy()
    if stop is not None:
        tested[stop + 1 :] = False
    passed = np.flatnonzero(tested & (upper <= alpha))
    chosen = int(passed[-1]) if len(passed) else None
    return SequenceRun(table, upper, tested, stop, chosen)
