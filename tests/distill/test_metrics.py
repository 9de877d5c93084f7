"""Agreement statistics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from judgecache.distill.metrics import (
    agreement,
    balanced_accuracy,
    bootstrap_ci,
    cohen_kappa,
    confusion,
    ece,
    roc_auc,
    spearman,
)

pytestmark = pytest.mark.distill


def test_cohen_kappa_by_hand() -> None:
    # po = 0.7; pe = 0.5*0.6 + 0.5*0.4 = 0.5 -> kappa = 0.4
    a = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    b = [1, 1, 1, 1, 0, 1, 1, 0, 0, 0]
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_quadratic_weighted_kappa_by_hand() -> None:
    # 3 labels; one disagreement of distance 2 in 3 items.
    # observed weighted disagreement = (1/3)*1; expected from marginals a=(1,1,1), b=(1,1,1)/3 ...
    a, b = [0, 1, 2], [2, 1, 0]
    # each cell expected 1/9*... : sum_ij w_ij * (1/3)(1/3) = (1/9)*sum w = (1/9)*(4*0.25+2*1) = 1/3
    # observed: w(0,2)+w(1,1)+w(2,0) over 3 = (1+0+1)/3 = 2/3 -> kappa = 1 - (2/3)/(1/3) = -1
    assert cohen_kappa(a, b, weights="quadratic") == pytest.approx(-1.0)
    assert cohen_kappa([0, 1, 2, 3], [0, 1, 2, 3], weights="quadratic") == pytest.approx(1.0)


def test_auc_spearman_ece_confusion_by_hand() -> None:
    # positives 0.35, 0.8; negatives 0.1, 0.4: pairs won 3 of 4
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # two bins: {0.2, 0.4} mean 0.3 vs truth 0.5; {0.6, 0.8} mean 0.7 vs truth 0.5 -> ECE 0.2
    assert ece([0, 1, 1, 0], [0.2, 0.4, 0.6, 0.8], bins=2) == pytest.approx(0.2)
    assert confusion([0, 0, 1, 2], [0, 1, 1, 2], [0, 1, 2]) == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert balanced_accuracy([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.75)
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_bootstrap_is_seeded_and_covers_the_value() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 300)
    b = np.where(rng.random(300) < 0.8, a, 1 - a)
    lo1, hi1 = bootstrap_ci(cohen_kappa, a, b, n=300, seed=1)
    lo2, hi2 = bootstrap_ci(cohen_kappa, a, b, n=300, seed=1)
    assert (lo1, hi1) == (lo2, hi2)
    assert lo1 < cohen_kappa(a, b) < hi1
    assert hi1 - lo1 < 0.25


def test_agreement_report_shapes() -> None:
    r = agreement(
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
    assert r["confusion"]["rows_reference_cols_judged"][2] == [0, 0, 0, 10]
