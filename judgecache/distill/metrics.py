"""The distillation agreement report: one dict of statistics with seeded bootstrap intervals.

The statistics themselves live in :mod:`judgecache.stats`; this module only chooses which ones a
student's evaluation reports (graded and binary views, calibration when there is a probability).

Example:
    >>> r = agreement_report([0, 1, 1, 0], [0, 1, 0, 0], labels=[0, 1], positive_from=1, n_boot=0)
    >>> r["binary_kappa"]["value"], r["accuracy"]["value"]
    (0.5, 0.75)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from judgecache.stats import (
    agreement,
    balanced_accuracy,
    brier_score,
    cohen_kappa,
    confusion_matrix,
    expected_calibration_error,
    roc_auc,
    spearman,
    with_ci,
)

KAPPA_RANGE = (-1.0, 1.0)
RATE_RANGE = (0.0, 1.0)


def _ece(truth: NDArray[Any], prob: NDArray[Any]) -> float:
    return expected_calibration_error(prob, truth)


def agreement_report(
    reference: ArrayLike,
    judged: ArrayLike,
    *,
    labels: Sequence[int],
    positive_from: int,
    prob: ArrayLike | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """How well ``judged`` labels agree with ``reference`` labels (the teacher, or humans).

    Graded scales (more than two labels) add quadratic-weighted kappa; the binary view uses
    ``label >= positive_from``. ``prob`` (the judged side's probability of the positive class)
    adds AUC, ECE and Brier against the reference's binary view. Every interval lies in its
    statistic's range.

    >>> r = agreement_report([0, 1, 2, 3] * 5, [0, 1, 2, 2] * 5, labels=[0, 1, 2, 3],
    ...                      positive_from=2, n_boot=0)
    >>> r["binary_kappa"]["value"], r["accuracy"]["value"]
    (1.0, 0.75)
    """
    ref, jud = np.asarray(reference, dtype=int), np.asarray(judged, dtype=int)
    ref_b, jud_b = (ref >= positive_from).astype(int), (jud >= positive_from).astype(int)
    labs = [int(v) for v in labels]
    boot: dict[str, Any] = {"n": n_boot, "seed": seed}
    out: dict[str, Any] = {"n": int(ref.size)}
    out["accuracy"] = with_ci(agreement, ref, jud, **boot, bounds=RATE_RANGE)
    out["binary_kappa"] = with_ci(
        lambda x, y: cohen_kappa(x, y, labels=[0, 1]), ref_b, jud_b, **boot, bounds=KAPPA_RANGE
    )
    out["binary_accuracy"] = with_ci(agreement, ref_b, jud_b, **boot, bounds=RATE_RANGE)
    out["balanced_accuracy"] = with_ci(balanced_accuracy, ref_b, jud_b, **boot, bounds=RATE_RANGE)
    if len(labs) > 2:
        out["weighted_kappa"] = with_ci(
            lambda x, y: cohen_kappa(x, y, labels=labs, weighting="quadratic"),
            ref,
            jud,
            **boot,
            bounds=KAPPA_RANGE,
        )
        out["spearman"] = with_ci(spearman, ref, jud, **boot, bounds=KAPPA_RANGE)
    out["confusion"] = {
        "labels": labs,
        "rows_reference_cols_judged": confusion_matrix(ref, jud, labs).astype(int).tolist(),
    }
    if prob is not None:
        p = np.asarray(prob, dtype=np.float64)
        out["auc"] = with_ci(roc_auc, ref_b, p, **boot, bounds=RATE_RANGE)
        out["ece"] = with_ci(_ece, ref_b, p, **boot, bounds=RATE_RANGE)
        out["brier"] = brier_score(p, ref_b)
        if len(labs) > 2:
            out["spearman_prob"] = with_ci(spearman, ref, p, **boot, bounds=KAPPA_RANGE)
    return out
