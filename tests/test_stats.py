"""The statistics core against values computed by hand (the arithmetic is written out) and against
reference implementations (scikit-learn, scipy); every interval stays inside its statistic's range."""

from __future__ import annotations

import math

import numpy as np
import pytest

from judgecache import stats


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
    got = stats.cohen_kappa(a, b, sample_weight=[1, 2, 1, 1])
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
    assert stats.cohen_kappa(a, b, labels=[0, 1, 2], weighting="quadratic") == pytest.approx(7 / 11)
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
    with pytest.raises(ValueError, match="sample_weight"):
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
        [0.1, 0.2, 0.3, 0.4], [0, 1, 0, 0], n_bins=2, sample_weight=[3, 1, 1, 1]
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


def test_z_values() -> None:
    assert stats.z_value(0.05) == pytest.approx(1.959964, abs=1e-6)
    assert stats.z_value(0.01, "upper") == pytest.approx(2.326348, abs=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        stats.z_value(0.0)


def test_kappa_matches_scikit_learn_with_sample_weights_and_weighting() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(11)
    a = rng.integers(0, 4, 200)
    b = np.where(rng.random(200) < 0.6, a, rng.integers(0, 4, 200))
    w = rng.uniform(0.2, 3.0, 200)
    for weighting in (None, "linear", "quadratic"):
        want = metrics.cohen_kappa_score(a, b, weights=weighting, sample_weight=w)
        got = stats.cohen_kappa(a, b, sample_weight=w, weighting=weighting)
        assert got == pytest.approx(want, abs=1e-12)
    # a label scale wider than the data: both count the empty grade in the distance
    want = metrics.cohen_kappa_score(
        a[a < 3], b[a < 3], labels=[0, 1, 2, 3, 4], weights="quadratic"
    )
    got = stats.cohen_kappa(a[a < 3], b[a < 3], labels=[0, 1, 2, 3, 4], weighting="quadratic")
    assert got == pytest.approx(want, abs=1e-12)


def test_quadratic_kappa_perfect_reversal_and_unknown_weighting() -> None:
    # one disagreement pattern of distance 2 both ways on a flat 3-grade scale: kappa = -1
    assert stats.cohen_kappa([0, 1, 2], [2, 1, 0], weighting="quadratic") == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="weighting must be"):
        stats.cohen_kappa([0, 1], [1, 0], weighting="cubic")  # type: ignore[arg-type]


def test_auc_brier_and_ece_match_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1).round(2)  # rounded: many tied scores
    assert stats.roc_auc(y, p) == pytest.approx(metrics.roc_auc_score(y, p), abs=1e-12)
    assert stats.brier_score(p, y) == pytest.approx(metrics.brier_score_loss(y, p), abs=1e-12)
    # 300 items in 10 equal-mass bins of 30: ECE is the mean of the per-bin |mean p - rate|
    order = np.argsort(p, kind="stable")
    by_hand = np.mean([abs(p[c].mean() - y[c].mean()) for c in np.split(order, 10)])
    assert stats.expected_calibration_error(p, y) == pytest.approx(by_hand, abs=1e-12)


def test_auc_spearman_balanced_accuracy_by_hand() -> None:
    # positives 0.35, 0.8; negatives 0.1, 0.4: pairs won 3 of 4
    assert stats.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert stats.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert math.isnan(stats.roc_auc([1, 1], [0.2, 0.3]))
    assert stats.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert stats.balanced_accuracy([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.75)
    got = stats.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], [0, 1, 2])
    assert got.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_clopper_pearson_matches_scipy_binomtest() -> None:
    from scipy.stats import binomtest

    for k, n in [(0, 10), (3, 10), (9, 10), (10, 10), (37, 40), (1, 200)]:
        lower = binomtest(k, n, alternative="greater").proportion_ci(0.95, method="exact").low
        upper = binomtest(k, n, alternative="less").proportion_ci(0.95, method="exact").high
        assert stats.clopper_pearson_lower(k, n) == pytest.approx(lower, abs=1e-12)
        assert stats.clopper_pearson_upper(k, n) == pytest.approx(upper, abs=1e-12)
    assert stats.clopper_pearson_uppers([3, 9], [10, 10]).tolist() == pytest.approx(
        [stats.clopper_pearson_upper(3, 10), stats.clopper_pearson_upper(9, 10)]
    )
    # effective (non-integer) counts are accepted as they are
    assert 0 < stats.clopper_pearson_lower(7.5, 10.2) < 7.5 / 10.2


def test_wilson_matches_scipy_binomtest() -> None:
    from scipy.stats import binomtest

    for k, n in [(0, 10), (4, 10), (10, 10), (38, 40)]:
        ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert stats.wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_intervals_stay_inside_their_range_at_the_boundaries() -> None:
    # rates at 0/n and n/n: every bound lies in [0, 1]
    for k, n in [(0, 1), (1, 1), (0, 500), (500, 500), (1e-12, 0.5)]:
        lo, hi = stats.wilson_interval(k, n)
        assert 0.0 <= lo <= hi <= 1.0
        assert 0.0 <= stats.clopper_pearson_lower(k, n) <= stats.clopper_pearson_upper(k, n) <= 1.0
    assert stats.wilson_interval(10, 10)[1] == 1.0 and stats.wilson_interval(0, 10)[0] == 0.0
    # a statistic that leaves its range on some resamples is clipped to it
    x = np.array([0.0, 1.0])
    lo, hi = stats.bootstrap_interval(lambda i: 3 * float(x[i].mean()) - 1.5, 2, bounds=(-1, 1))
    assert (lo, hi) == (-1.0, 1.0)
    # perfect disagreement and perfect agreement: kappa's interval touches -1 or sits at 1
    a = np.array([0, 1] * 20)
    lo, hi = stats.bootstrap_ci(stats.cohen_kappa, a, 1 - a, n=50, bounds=(-1, 1))
    assert lo == -1.0 and hi < 0.0
    assert stats.bootstrap_ci(stats.cohen_kappa, a, a, n=50, bounds=(-1, 1)) == (1.0, 1.0)
    assert stats.clip_interval(math.nan, 2.0, (0.0, 1.0))[1] == 1.0


def test_bootstrap_ci_is_seeded_paired_and_covers_the_value() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 300)
    b = np.where(rng.random(300) < 0.8, a, 1 - a)
    first = stats.bootstrap_ci(stats.cohen_kappa, a, b, n=300, seed=1)
    assert first == stats.bootstrap_ci(stats.cohen_kappa, a, b, n=300, seed=1)
    assert first[0] < stats.cohen_kappa(a, b) < first[1]
    # a row bootstrap is the index bootstrap with the same seed: one resampling scheme
    assert first == stats.bootstrap_interval(
        lambda i: stats.cohen_kappa(a[i], b[i]), 300, n_boot=300, seed=1
    )
    # paired: judging the truth against itself minus a copy of itself is exactly 0 on every resample
    d = stats.paired_difference(stats.agreement, a, b, b, n=100)
    assert (d["value"], d["lo"], d["hi"]) == (0.0, 0.0, 0.0)
    # no resamples asked for: the value with no interval
    assert math.isnan(stats.with_ci(stats.agreement, a, b, n=0, seed=0)["lo"])
