"""Calibration improves held-out ECE; thresholds come from a lower confidence bound or refuse."""

from __future__ import annotations

import json

import numpy as np
import pytest

from judgecache.distill.calibrate import Calibrator, fit_calibrator, sigmoid
from judgecache.distill.threshold import choose_threshold, lower_bound
from judgecache.errors import InsufficientDataError
from judgecache.stats import expected_calibration_error

pytestmark = pytest.mark.distill


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # True probability sigmoid(x); the model reports logits 4x too sharp and shifted.
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.5, n)
    truth = (rng.random(n) < sigmoid(x)).astype(float)
    return 4 * x + 1.0, truth


@pytest.mark.parametrize("method", ["platt", "temperature", "isotonic"])
def test_calibration_improves_held_out_ece(method: str) -> None:
    fit_z, fit_t = _overconfident(3000, 0)
    test_z, test_t = _overconfident(3000, 1)
    cal = fit_calibrator(fit_z, fit_t, method=method)
    raw = expected_calibration_error(sigmoid(test_z), test_t)
    calibrated = expected_calibration_error(cal.apply(test_z), test_t)
    assert calibrated < raw * 0.6, (method, raw, calibrated)
    # JSON round trip gives identical probabilities (never pickle).
    again = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert np.allclose(again.apply(test_z), cal.apply(test_z))


def test_auto_picks_isotonic_only_on_large_sets() -> None:
    z, t = _overconfident(500, 2)
    assert fit_calibrator(z, t, method="auto", isotonic_min=1000).method == "platt"
    assert fit_calibrator(z, t, method="auto", isotonic_min=400).method == "isotonic"
    with pytest.raises(InsufficientDataError):
        fit_calibrator(z[:5], t[:5], method="platt")


def test_lower_bound_matches_clopper_pearson() -> None:
    # One-sided 95% exact bound for 9/10: 0.0.05 quantile of Beta(9, 2) = 0.6058
    assert lower_bound(9, 10) == pytest.approx(0.6058, abs=1e-3)
    assert lower_bound(10, 10) == pytest.approx(0.05 ** (1 / 10), abs=1e-9)


def test_threshold_meets_target_by_its_lower_bound() -> None:
    rng = np.random.default_rng(0)
    prob = rng.random(2000)
    truth = (rng.random(2000) < prob).astype(int)
    t = choose_threshold(prob, truth, target_precision=0.9)
    sel = prob >= t.threshold
    assert t.lower_bound >= 0.9
    assert t.estimate == pytest.approx(truth[sel].mean())
    assert t.lower_bound < t.estimate
    assert t.lower_bound == pytest.approx(lower_bound(int(truth[sel].sum()), int(sel.sum())))
    r = choose_threshold(prob, truth, target_recall=0.8)
    assert lower_bound(int(truth[prob >= r.threshold].sum()), int(truth.sum())) >= 0.8


def test_threshold_refuses_when_data_cannot_support_target() -> None:
    prob = np.array([0.9, 0.8, 0.7, 0.6, 0.3])
    truth = np.array([1, 1, 1, 0, 0])
    # 3 of 3 correct: point estimate 1.0, but the 95% lower bound is only 0.37.
    with pytest.raises(
        InsufficientDataError, match=r"best lower bound is 0.368 \(estimate 1.000\)"
    ):
        choose_threshold(prob, truth, target_precision=0.9)
