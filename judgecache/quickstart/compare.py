"""Judges side by side on the same held-out pairs: agreement with the teacher and paired gains.

Weighted (quadratic) Cohen's kappa on the 0-3 grades, with seeded percentile-bootstrap intervals;
the gain of one judge over another resamples the *same* pairs for both (a paired bootstrap), so
the interval of the difference is the noise to beat.

Example:
    >>> truth = [0, 1, 2, 3] * 30
    >>> c = compare_judges(truth, {"student": truth, "base": [0] * 120}, n_boot=50)
    >>> c["agreement"]["student"]["value"], c["gain"]["base"]["lo"] > 0
    (1.0, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from judgecache.stats import cohen_kappa, paired_difference, with_ci

GRADES = (0, 1, 2, 3)


def weighted_kappa(truth: Any, pred: Any) -> float:
    """Quadratic-weighted kappa on the relevance grades."""
    return cohen_kappa(truth, pred, labels=GRADES, weighting="quadratic")


def compare_judges(
    truth: Sequence[int],
    judged: Mapping[str, Sequence[int]],
    *,
    first: str = "student",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"n", "agreement": {judge: ci}, "gain": {other: ci of first - other}}``."""
    t = np.asarray(truth)
    agreement = {
        name: with_ci(weighted_kappa, t, np.asarray(labels), n=n_boot, seed=seed)
        for name, labels in judged.items()
    }
    gain = {
        name: paired_difference(
            weighted_kappa, t, np.asarray(judged[first]), np.asarray(labels), n=n_boot, seed=seed
        )
        for name, labels in judged.items()
        if name != first
    }
    return {"n": len(t), "agreement": agreement, "gain": gain}
