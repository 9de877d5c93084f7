"""Every drift statistic against a value computed by hand (the arithmetic is written out)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from judgecache.drift import stats


def test_raw_agreement_and_weighted_agreement() -> None:
    a = [1, 0, 1, 1, 0]
    b = [1, 0, 0, 1, 1]
    # equal on items 0, 1, 3 -> 3 / 5
    assert stats.agreement(a, b) == pytest.approx(3 / 5)
    w = [1, 1, 4, 1, 1]
    # agreeing weight 1 + 1 + 1 = 3 of total 8
    assert stats.agreement(a, b, w) == pytest.approx(3 / 8)


def test_binary_kappa_by_hand() -> None:
    a = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    b = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    # table: (1,1)=4 (1,0)=2 (0,0)=3 (0,1)=1 -> po = 7/10
    # marginals a: 1 -> .6, 0 -> .4; b: 1 -> .5, 0 -> .5 -> pe = .6*.5 + .4*.5 = .5
    po, pe = 0.7, 0.5
    assert stats.cohen_kappa(a, b) == pytest.approx((po - pe) / (1 - pe))  # 0.4


def test_weighted_kappa_uses_weights_as_counts() -> None:
    a = np.array([1, 1, 0, 0])
    b = np.array([1, 0, 0, 0])
    # weight 2 on item 1 is the same as listing it twice: a=[1,1,1,0,0], b=[1,0,0,0,0]
    # po = 3/5; pa1 = 3/5, pb1 = 1/5; pe = 3/5*1/5 + 2/5*4/5 = 3/25 + 8/25 = 11/25
    po, pe = 3 / 5, 11 / 25
    got = stats.cohen_kappa(a, b, weights=[1, 2, 1, 1])
    assert got == pytest.approx((po - pe) / (1 - pe))
    assert got == pytest.approx(stats.cohen_kappa([1, 1, 1, 0, 0], [1, 0, 0, 0, 0]))


def test_quadratic_weighted_kappa_by_hand() -> None:
    a = [0, 1, 2, 2]
    b = [0, 2, 2, 1]
    # scale 0..2, disagreement weight (i-j)^2 / 4: one step = 1/4
    # observed: (0,0) (1,2) (2,2) (2,1) each 1/4 -> sum D*O = (1/4 + 1/4) / 4 = 1/8
    # marginals a: [1/4, 1/4, 1/2], b: [1/4, 1/4, 1/2]
    # expected E = outer; sum D*E = sum_ij a_i b_j (i-j)^2/4
    ma = np.array([0.25, 0.25, 0.5])
    mb = np.array([0.25, 0.25, 0.5])
    de = sum(ma[i] * mb[j] * (i - j) ** 2 / 4 for i in range(3) for j in range(3))
    # de = 2 * (1/16*1/4 + 1/8*1 + 1/8*1/4) = 2 * (1/64 + 8/64 + 2/64) = 22/64
    assert de == pytest.approx(22 / 64)
    expected = 1 - (1 / 8) / (22 / 64)  # = 1 - 8/22 = 7/11
    assert stats.cohen_kappa(a, b, labels=[0, 1, 2], scheme="quadratic") == pytest.approx(7 / 11)
    assert expected == pytest.approx(7 / 11)
    # unweighted kappa differs: po = 1/2, pe = 1/16 + 1/16 + 1/4 = 3/8 -> (1/2 - 3/8) / (5/8) = 1/5
    assert stats.cohen_kappa(a, b, labels=[0, 1, 2]) == pytest.approx(1 / 5)


def test_kappa_undefined_and_bad_labels() -> None:
    assert math.isnan(stats.cohen_kappa([1, 1], [1, 1]))
    with pytest.raises(ValueError, match="not in"):
        stats.cohen_kappa([0, 5], [0, 1], labels=[0, 1])
    with pytest.raises(ValueError, match="differ in length"):
        stats.agreement([0, 1], [0])


def test_tpr_tnr_by_hand_and_weighted() -> None:
    student = [1, 1, 0, 1, 0, 0]
    teacher = [1, 1, 1, 0, 0, 0]
    # teacher positives 0,1,2 -> student 1,1,0 -> tpr 2/3; negatives 3,4,5 -> 1,0,0 -> tnr 2/3
    assert stats.tpr_tnr(student, teacher) == pytest.approx((2 / 3, 2 / 3))
    # weight 3 on the missed positive: tpr = 2 / (1 + 1 + 3) = 2/5
    tpr, tnr = stats.tpr_tnr(student, teacher, [1, 1, 3, 1, 1, 1])
    assert (tpr, tnr) == pytest.approx((2 / 5, 2 / 3))
    assert math.isnan(stats.tpr_tnr([1], [0])[0])


def test_wilson_interval_by_hand() -> None:
    # 8 of 10, z = 1.959964: centre = (0.8 + z^2/20) / (1 + z^2/10)
    z = 1.959963984540054
    n, p = 10, 0.8
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = stats.wilson_interval(8, 10)
    assert (lo, hi) == pytest.approx((centre - half, centre + half))
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    # one-sided bounds use z at alpha, not alpha/2
    lower, one = stats.wilson_interval(8, 10, alpha=0.025, sided="lower")
    assert one == 1.0 and lower == pytest.approx(lo)
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes"):
        stats.wilson_interval(11, 10)


def test_effective_sample_size_and_weighted_rate() -> None:
    w = [1.0, 1.0, 2.0]
    # (1 + 1 + 2)^2 / (1 + 1 + 4) = 16 / 6
    assert stats.effective_sample_size(w) == pytest.approx(16 / 6)
    r = stats.weighted_rate([1, 0, 1], w)
    # (1 + 2) / 4
    assert r.estimate == pytest.approx(0.75)
    assert r.n == 3 and r.n_eff == pytest.approx(8 / 3)
    assert (r.low, r.high) == pytest.approx(stats.wilson_interval(0.75 * 8 / 3, 8 / 3))
    empty = stats.weighted_rate([])
    assert math.isnan(empty.estimate) and (empty.low, empty.high) == (0.0, 1.0)
    with pytest.raises(ValueError, match="weights"):
        stats.weighted_rate([1, 0], [1, -1])


def test_bootstrap_interval_enumerable_case_and_seed() -> None:
    # mean of a resample of [0, 1]: 0 (p=1/4), 0.5 (p=1/2), 1 (p=1/4); 40th..60th pct -> 0.5
    x = np.array([0.0, 1.0])
    assert stats.bootstrap_interval(lambda i: float(x[i].mean()), 2, alpha=0.8) == (0.5, 0.5)
    # 2.5th pct -> 0, 97.5th -> 1
    assert stats.bootstrap_interval(lambda i: float(x[i].mean()), 2, alpha=0.05) == (0.0, 1.0)
    # within strata {0}, {1} every resample is the data itself -> degenerate interval at 0.5
    assert stats.bootstrap_interval(lambda i: float(x[i].mean()), 2, strata=[0, 1], alpha=0.05) == (
        0.5,
        0.5,
    )
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 2, 60), rng.integers(0, 2, 60)

    def kappa(i: np.ndarray) -> float:
        return stats.cohen_kappa(a[i], b[i], labels=[0, 1])

    first = stats.bootstrap_interval(kappa, 60, seed=7, n_boot=300)
    assert first == stats.bootstrap_interval(kappa, 60, seed=7, n_boot=300)
    assert first != stats.bootstrap_interval(kappa, 60, seed=8, n_boot=300)
    assert first[0] <= stats.cohen_kappa(a, b) <= first[1]


def test_equal_mass_bins_and_reliability_table() -> None:
    p = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95]
    y = [0, 0, 0, 1, 0, 1, 1, 0, 1, 1]
    # ten items, 5 bins -> two items each, in order of p
    assert stats.equal_mass_bins(p, 5).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    rows = stats.reliability_table(p, y, n_bins=5)
    # bin means: .1 .3 .5 .7 .9; observed: 0, .5, .5, .5, 1
    assert [r.mean_p for r in rows] == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])
    assert [r.observed for r in rows] == pytest.approx([0.0, 0.5, 0.5, 0.5, 1.0])
    assert [r.gap for r in rows] == pytest.approx([0.1, -0.2, 0.0, 0.2, -0.1])
    # ECE = mean of |gaps| (equal mass) = (.1 + .2 + 0 + .2 + .1) / 5 = .12
    assert stats.expected_calibration_error(p, y, n_bins=5) == pytest.approx(0.12)
    # over-confidence per bin |mean_p - .5| - |observed - .5|: .4-.5, .2-0, 0-0, .2-0, .4-.5
    assert stats.overconfidence(p, y, n_bins=5) == pytest.approx((-0.1 + 0.2 + 0 + 0.2 - 0.1) / 5)


def test_equal_mass_bins_with_weights() -> None:
    # weights 3,1,1,1 (total 6), 2 bins: mass before = 0,3,4,5 -> floor(x/6*2) = 0,1,1,1
    assert stats.equal_mass_bins([0.1, 0.2, 0.3, 0.4], 2, [3, 1, 1, 1]).tolist() == [0, 1, 1, 1]
    ece = stats.expected_calibration_error(
        [0.1, 0.2, 0.3, 0.4], [0, 1, 0, 0], n_bins=2, weights=[3, 1, 1, 1]
    )
    # bin0 weight 3: |0.1 - 0| = .1; bin1 weight 3: mean_p .3, observed 1/3 -> |.3 - 1/3|
    assert ece == pytest.approx((3 * 0.1 + 3 * abs(0.3 - 1 / 3)) / 6)


def test_brier_by_hand() -> None:
    # (0.9-1)^2 + (0.4-0)^2 + (0.6-1)^2 = .01 + .16 + .16 = .33 -> / 3
    assert stats.brier_score([0.9, 0.4, 0.6], [1, 0, 1]) == pytest.approx(0.11)
    # weights 2,1,1: (.02 + .16 + .16) / 4
    assert stats.brier_score([0.9, 0.4, 0.6], [1, 0, 1], [2, 1, 1]) == pytest.approx(0.085)


def test_calibration_slope_two_point_closed_form() -> None:
    # Two distinct p's: the logistic MLE passes through both observed log-odds exactly.
    def lg(q: float) -> float:
        return math.log(q / (1 - q))

    p = [0.2] * 10 + [0.8] * 10
    y = [1] * 1 + [0] * 9 + [1] * 9 + [0] * 1  # observed .1 and .9: sharper than p -> slope > 1
    fit = stats.calibration_slope(p, y)
    assert fit.converged
    assert fit.slope == pytest.approx((lg(0.9) - lg(0.1)) / (lg(0.8) - lg(0.2)), rel=1e-6)
    assert fit.intercept == pytest.approx(0.0, abs=1e-8)
    # overconfident: observed .4 and .6 -> slope = ln(1.5)/ln(4) ~ .29
    y2 = [1] * 4 + [0] * 6 + [1] * 6 + [0] * 4
    fit2 = stats.calibration_slope(p, y2)
    assert fit2.slope == pytest.approx(math.log(1.5) / math.log(4), rel=1e-6)
    # standard error: Fisher information of the two-group design, computed by hand
    x1, x2 = lg(0.2), lg(0.8)
    v = 0.4 * 0.6 * 10  # mu(1-mu) * n per group (both groups fitted at .4 and .6)
    info = np.array([[2 * v, v * (x1 + x2)], [v * (x1 + x2), v * (x1 * x1 + x2 * x2)]])
    assert fit2.slope_se == pytest.approx(math.sqrt(np.linalg.inv(info)[1, 1]), rel=1e-6)
    assert math.isnan(stats.calibration_slope([0.3, 0.7], [1, 1]).slope)


def test_quantile_edges_and_psi_by_hand() -> None:
    ref = np.arange(1, 11, dtype=float)  # 1..10
    # 5 bins: quantiles at .2 .4 .6 .8 with linear interpolation: 2.8, 4.6, 6.4, 8.2
    edges = stats.quantile_edges(ref, 5)
    assert edges.tolist() == pytest.approx([2.8, 4.6, 6.4, 8.2])
    cur = [1, 1, 1, 1, 1, 5, 5, 9, 9, 10]
    # current proportions per bin: [.5, 0, .2, 0, .3]; empty bins floored at eps = 1e-4
    assert stats.bin_proportions(cur, edges).tolist() == pytest.approx([0.5, 0, 0.2, 0, 0.3])
    r, e = 0.2, 1e-4
    by_hand = (
        (0.5 - r) * math.log(0.5 / r)
        + 2 * (e - r) * math.log(e / r)
        + (0.2 - r) * 0.0
        + (0.3 - r) * math.log(0.3 / r)
    )
    assert stats.population_stability_index(ref, cur, n_bins=5) == pytest.approx(by_hand)
    assert stats.population_stability_index(ref, ref) == pytest.approx(0.0)


def test_psi_default_ten_bins_small_shift() -> None:
    ref = np.arange(100) / 100  # deciles are exact: every bin holds 10%
    cur = np.concatenate([np.full(20, 0.005), np.arange(10, 90) / 100])
    # current: bin0 holds the 10 values .00-.09?  no: cur has 20 at .005 and .10..89
    # -> bin0 .2, bins 1..8 .1 each, bin9 0 -> floored 1e-4
    props = stats.bin_proportions(cur, stats.quantile_edges(ref))
    assert props.tolist() == pytest.approx([0.2] + [0.1] * 8 + [0.0])
    by_hand = (0.2 - 0.1) * math.log(2) + (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert stats.population_stability_index(ref, cur) == pytest.approx(by_hand)


def test_wasserstein_by_hand() -> None:
    # shift by a constant c moves every quantile by c -> W1 = c
    assert stats.wasserstein1([0.1, 0.4, 0.7], [0.3, 0.6, 0.9]) == pytest.approx(0.2)
    # unequal sizes: F = uniform on {0, 1}, G = point mass at 0 -> ∫|F-G| = .5 over [0, 1]
    assert stats.wasserstein1([0, 1], [0, 0, 0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="non-empty"):
        stats.wasserstein1([], [1])


def test_threshold_recheck_precision_and_recall() -> None:
    scores = [0.9] * 40 + [0.3] * 60
    teacher = [1] * 38 + [0] * 2 + [1] * 10 + [0] * 50
    prec = stats.threshold_recheck(scores, teacher, 0.5, target=0.8, alpha=0.01)
    # predicted positive: 40, teacher positive among them 38 -> 0.95
    assert prec.estimate == pytest.approx(0.95) and prec.n == 40
    assert prec.low == pytest.approx(stats.wilson_interval(38, 40, alpha=0.01, sided="lower")[0])
    assert prec.status == "meets"  # lower bound ~.80x >= .80
    assert prec.low >= 0.8
    rec = stats.threshold_recheck(scores, teacher, 0.5, metric="recall", target=0.95, alpha=0.01)
    # teacher positives 48, of which 38 above threshold -> 38/48
    assert rec.estimate == pytest.approx(38 / 48)
    assert rec.high == pytest.approx(stats.wilson_interval(38, 48, alpha=0.01, sided="upper")[1])
    assert rec.status == "misses"  # upper bound ~.90 < .95
    none = stats.threshold_recheck([0.1], [1], 0.5, target=0.9)
    assert none.status == "unclear" and none.n == 0


def test_ppi_mean_by_hand() -> None:
    f_all = np.array([0.2, 0.4, 0.6, 0.8])  # mean .5, population variance .05
    f_lab = np.array([0.2, 0.8])
    y = np.array([1.0, 1.0])  # rectifier y - f: .8, .2 -> mean .5, variance .09
    est = stats.ppi_mean(f_all, f_lab, y, alpha=0.05)
    assert est.estimate == pytest.approx(0.5 + 0.5)
    z = 1.959963984540054
    se = math.sqrt(0.05 / 4 + 0.09 / 2)
    assert (est.low, est.high) == pytest.approx((1.0 - z * se, 1.0 + z * se))
    assert est.classical == pytest.approx(1.0) and est.predicted_mean == pytest.approx(0.5)
    # weights 3 and 1 on the labelled items: rectifier mean (3*.8 + .2) / 4 = .65
    est_w = stats.ppi_mean(f_all, f_lab, y, [3.0, 1.0])
    assert est_w.estimate == pytest.approx(0.5 + 0.65)


def test_z_values() -> None:
    assert stats.z_value(0.05) == pytest.approx(1.959964, abs=1e-6)
    assert stats.z_value(0.01, "upper") == pytest.approx(2.326348, abs=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        stats.z_value(0.0)
