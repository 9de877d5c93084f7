"""The distillation agreement report built on the statistics core (tested in tests/test_stats.py)."""

from __future__ import annotations

import numpy as np
import pytest

from judgecache.distill.metrics import agreement_report


def test_agreement_report_shapes() -> None:
    r = agreement_report(
        [0, 1, 2, 3] * 10,
        [0, 1, 3, 3] * 10,
        labels=[0, 1, 2, 3],
        positive_from=2,
        prob=[0.1, 0.2, 0.9, 0.95] * 10,
        n_boot=50,
    )
    assert r["n"] == 40
    assert r["binary_kappa"]["value"] == pytest.approx(1.0)
    assert r["accuracy"]["value"] == pytest.approx(0.75)
    assert r["auc"]["value"] == pytest.approx(1.0)
    # every bin holds one side of the cut only, so ECE = mean |p - y| = (1 + 2 + 1 + 0.5) / 40
    assert r["ece"]["value"] == pytest.approx(0.1125)
    assert r["confusion"]["rows_reference_cols_judged"][2] == [0, 0, 0, 10]


def test_agreement_report_intervals_stay_in_range() -> None:
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 4, 60)
    r = agreement_report(ref, 3 - ref, labels=[0, 1, 2, 3], positive_from=2, n_boot=100)
    for key in ("binary_kappa", "weighted_kappa", "spearman"):
        assert -1.0 <= r[key]["lo"] <= r[key]["hi"] <= 1.0
    for key in ("accuracy", "binary_accuracy", "balanced_accuracy"):
        assert 0.0 <= r[key]["lo"] <= r[key]["hi"] <= 1.0
