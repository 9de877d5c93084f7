"""Decision thresholds from a precision or recall target, not by feel.

The chosen threshold is the one whose one-sided Clopper-Pearson *lower* confidence bound on
held-out data meets the target (the most permissive such threshold for a precision target, the
strictest for a recall target). The bound is stored with it. When no threshold can support the
target, the data cannot justify it and :class:`InsufficientDataError` says so.

Example:
    >>> import numpy as np
    >>> prob = np.linspace(0, 1, 400)
    >>> truth = (prob > 0.5).astype(int)
    >>> t = choose_threshold(prob, truth, target_precision=0.9)
    >>> t.lower_bound >= 0.9 and 0.45 < t.threshold <= 0.51
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from judgecache.errors import ConfigError, InsufficientDataError
from judgecache.stats import clopper_pearson_lower

# The distill pipeline's name for the one Clopper-Pearson lower bound of the statistics core.
lower_bound = clopper_pearson_lower


@dataclass(frozen=True)
class Threshold:
    """A decision threshold on the calibrated positive probability and the evidence for it."""

    threshold: float
    metric: str
    target: float
    estimate: float
    lower_bound: float
    confidence: float
    n: int
    selected: int
    precision: float
    recall: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_threshold(
    prob: ArrayLike,
    truth: ArrayLike,
    *,
    target_precision: float | None = None,
    target_recall: float | None = None,
    confidence: float = 0.95,
) -> Threshold:
    """Pick the threshold meeting the target with its lower bound; refuse when the data cannot."""
    if (target_precision is None) == (target_recall is None):
        raise ConfigError("give exactly one of target_precision or target_recall")
    p = np.asarray(prob, dtype=np.float64)
    t = np.asarray(truth).astype(int)
    if p.size == 0 or t.sum() == 0:
        raise InsufficientDataError("threshold selection needs held-out labels with positives")
    order = np.argsort(-p, kind="mergesort")
    ps, ts = p[order], t[order]
    tp = np.cumsum(ts)
    selected = np.arange(1, p.size + 1)
    # Only cut between distinct scores: a threshold selects everything at or above it.
    last_of_tie = np.r_[ps[1:] != ps[:-1], True]
    positives = int(t.sum())
    candidates: list[tuple[int, float, float]] = []  # (index, estimate, lower bound)
    for i in np.flatnonzero(last_of_tie):
        k, n = int(tp[i]), int(selected[i])
        if target_precision is not None:
            candidates.append((int(i), k / n, clopper_pearson_lower(k, n, confidence)))
        else:
            candidates.append(
                (int(i), k / positives, clopper_pearson_lower(k, positives, confidence))
            )
    target = float(target_precision if target_precision is not None else target_recall)  # type: ignore[arg-type]
    metric = "precision" if target_precision is not None else "recall"
    ok = [c for c in candidates if c[2] >= target]
    if not ok:
        best = max(candidates, key=lambda c: c[2])
        raise InsufficientDataError(
            f"no threshold reaches {metric} >= {target} at {confidence:.0%} confidence on "
            f"{p.size} held-out labels ({positives} positive): the best lower bound is "
            f"{best[2]:.3f} (estimate {best[1]:.3f}); add held-out labels or lower the target"
        )
    # Precision: the most permissive (largest selection); recall: the strictest (smallest).
    best_i, est, lb = (
        max(ok, key=lambda c: c[0]) if metric == "precision" else min(ok, key=lambda c: c[0])
    )
    k, n = int(tp[best_i]), int(selected[best_i])
    return Threshold(
        threshold=float(ps[best_i]),
        metric=metric,
        target=target,
        estimate=est,
        lower_bound=lb,
        confidence=confidence,
        n=int(p.size),
        selected=n,
        precision=k / n,
        recall=k / positives,
    )
