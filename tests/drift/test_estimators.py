"""The drift estimators (PSI, Wasserstein-1, threshold recheck, PPI) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from judgecache import stats
from judgecache.drift import estimators


def test_quantile_edges_and_psi_by_hand() -> None:
    ref = np.arange(1, 11, dtype=float)  # 1..10
    # 5 bins: quantiles at .2 .4 .6 .8 with linear interpolation: 2.8, 4.6, 6.4, 8.2
    edges = estimators.quantile_edges(ref, 5)
    assert edges.tolist() == pytest.approx([2.8, 4.6, 6.4, 8.2])
    cur = [1, 1, 1, 1, 1, 5, 5, 9, 9, 10]
    # current proportions per bin: [.5, 0, .2, 0, .3]; empty bins floored at eps = 1e-4
    assert estimators.bin_proportions(cur, edges).tolist() == pytest.approx([0.5, 0, 0.2, 0, 0.3])
    r, e = 0.2, 1e-4
    by_hand = (
        (0.5 - r) * math.log(0.5 / r)
        + 2 * (e - r) * math.log(e / r)
        + (0.2 - r) * 0.0
        + (0.3 - r) * math.log(0.3 / r)
    )
    assert estimators.population_stability_index(ref, cur, n_bins=5) == pytest.approx(by_hand)
    assert estimators.population_stability_index(ref, ref) == pytest.approx(0.0)


def test_psi_default_ten_bins_small_shift() -> None:
    ref = np.arange(100) / 100  # deciles are exact: every bin holds 10%
    cur = np.concatenate([np.full(20, 0.005), np.arange(10, 90) / 100])
    # current: bin0 holds the 10 values .00-.09?  no: cur has 20 at .005 and .10..89
    # -> bin0 .2, bins 1..8 .1 each, bin9 0 -> floored 1e-4
    props = estimators.bin_proportions(cur, estimators.quantile_edges(ref))
    assert props.tolist() == pytest.approx([0.2] + [0.1] * 8 + [0.0])
    by_hand = (0.2 - 0.1) * math.log(2) + (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert estimators.population_stability_index(ref, cur) == pytest.approx(by_hand)


def test_wasserstein_by_hand() -> None:
    # shift by a constant c moves every quantile by c -> W1 = c
    assert estimators.wasserstein1([0.1, 0.4, 0.7], [0.3, 0.6, 0.9]) == pytest.approx(0.2)
    # unequal sizes: F = uniform on {0, 1}, G = point mass at 0 -> ∫|F-G| = .5 over [0, 1]
    assert estimators.wasserstein1([0, 1], [0, 0, 0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="non-empty"):
        estimators.wasserstein1([], [1])


def test_threshold_recheck_precision_and_recall() -> None:
    scores = [0.9] * 40 + [0.3] * 60
    teacher = [1] * 38 + [0] * 2 + [1] * 10 + [0] * 50
    prec = estimators.threshold_recheck(scores, teacher, 0.5, target=0.8, alpha=0.01)
    # predicted positive: 40, teacher positive among them 38 -> 0.95
    assert prec.estimate == pytest.approx(0.95) and prec.n == 40
    assert prec.low == pytest.approx(stats.wilson_interval(38, 40, alpha=0.01, sided="lower")[0])
    assert prec.status == "meets"  # lower bound ~.80x >= .80
    assert prec.low >= 0.8
    rec = estimators.threshold_recheck(
        scores, teacher, 0.5, metric="recall", target=0.95, alpha=0.01
    )
    # teacher positives 48, of which 38 above threshold -> 38/48
    assert rec.estimate == pytest.approx(38 / 48)
    assert rec.high == pytest.approx(stats.wilson_interval(38, 48, alpha=0.01, sided="upper")[1])
    assert rec.status == "misses"  # upper bound ~.90 < .95
    none = estimators.threshold_recheck([0.1], [1], 0.5, target=0.9)
    assert none.status == "unclear" and none.n == 0


def test_ppi_mean_by_hand() -> None:
    f_all = np.array([0.2, 0.4, 0.6, 0.8])  # mean .5, population variance .05
    f_lab = np.array([0.2, 0.8])
    y = np.array([1.0, 1.0])  # rectifier y - f: .8, .2 -> mean .5, variance .09
    est = estimators.ppi_mean(f_all, f_lab, y, alpha=0.05)
    assert est.estimate == pytest.approx(0.5 + 0.5)
    z = 1.959963984540054
    se = math.sqrt(0.05 / 4 + 0.09 / 2)
    assert (est.low, est.high) == pytest.approx((1.0 - z * se, 1.0 + z * se))
    assert est.classical == pytest.approx(1.0) and est.predicted_mean == pytest.approx(0.5)
    # weights 3 and 1 on the labelled items: rectifier mean (3*.8 + .2) / 4 = .65
    est_w = estimators.ppi_mean(f_all, f_lab, y, [3.0, 1.0])
    assert est_w.estimate == pytest.approx(0.5 + 0.65)


def test_ppi_intervals_clip_to_the_range_of_a_rate() -> None:
    # every labelled item agrees (y = 1) and the predictions sit near 1: the normal interval
    # reaches above 1 unless it is clipped to the rate's range
    f_all = np.array([0.9, 1.0] * 20)
    f_lab, y = np.array([0.9, 1.0, 0.9]), np.ones(3)
    raw = estimators.ppi_mean(f_all, f_lab, y)
    assert raw.high > 1.0  # the unclipped normal interval leaves [0, 1]
    est = estimators.ppi_mean(f_all, f_lab, y, bounds=(0.0, 1.0))
    assert (est.low, est.high) == (raw.low, 1.0)
    assert est.classical_high == 1.0 and est.estimate == raw.estimate
