"""Evaluation split by the path that gave each verdict (query memory or the student's fallback).

Example:
    >>> import numpy as np
    >>> from judgecache.distill.data import labels_from_rows
    >>> from judgecache.distill.evaluate import Judged
    >>> rows = [{"task": "faithfulness", "judge": {"provider": "h", "model": "m"},
    ...          "inputs": {"context": f"c{i}", "answer": f"a{i}"}, "label": i % 2} for i in range(8)]
    >>> part = labels_from_rows(rows)
    >>> judged = Judged(np.array([0, 1] * 4), None)
    >>> r = compare_by_path(part, judged, ["memory"] * 4 + ["fallback"] * 4, binary=True, n_boot=0)
    >>> r["memory"]["n"], r["fallback"]["judge"]["binary_kappa"]["value"]
    (4, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from judgecache.distill.data import LabelSet
    from judgecache.distill.evaluate import Judged


def compare_by_path(
    part: LabelSet,
    judged: Judged,
    paths: Sequence[str],
    *,
    binary: bool,
    n_boot: int = 1000,
    seed: int = 0,
    name: str = "judge",
) -> dict[str, Any]:
    """Agreement with the reference on each path's pairs apart (``{path: compare(...)}``)."""
    from judgecache.distill.evaluate import Judged, compare

    out: dict[str, Any] = {}
    arr = np.asarray([p or "unlabelled" for p in paths])
    for path in sorted(set(arr.tolist())):
        keep = np.flatnonzero(arr == path)
        sub = part.subset(part.pairs[i] for i in keep)
        prob = None if judged.prob is None else judged.prob[keep]
        out[path] = compare(
            sub,
            binary=binary,
            judged={name: Judged(judged.labels[keep], prob)},
            n_boot=n_boot,
            seed=seed,
        )
    return out
