"""Every gate path (pass, warn, fail, inconclusive, skipped) and how gates combine."""

from __future__ import annotations

from typing import Any

import pytest

from judgecache.drift import verdict as v
from judgecache.drift.config import GateConfig
from judgecache.drift.reference import Reference

CFG = GateConfig()
REF = Reference(
    student={"provider": "s", "model": "m"},
    teacher={"provider": "t", "model": "x"},
    task="relevance",
    rubric="relevance",
    scores=[0.5],
    agreement=0.90,
)


def test_decide_precedence_and_exit_codes() -> None:
    def g(name: str, status: v.Status) -> v.Gate:
        return v.Gate(name, status, f"{name} {status}")

    assert v.decide([g("a", "pass"), g("b", "skipped")]).status == "pass"
    warn = v.decide([g("a", "pass"), g("b", "warn")])
    assert (warn.status, warn.exit_code, warn.reasons) == ("warn", 0, ["b: b warn"])
    inc = v.decide([g("a", "warn"), g("b", "inconclusive")])
    assert (inc.status, inc.exit_code) == ("inconclusive", 2)
    assert inc.reasons == ["b: b inconclusive", "a: a warn"]  # worst first
    fail = v.decide([g("a", "inconclusive"), g("b", "fail"), g("c", "warn")])
    assert (fail.status, fail.exit_code, fail.reasons[0]) == ("fail", 1, "b: b fail")
    none = v.decide([g("a", "skipped")])
    assert none.status == "inconclusive" and none.reasons == ["no gate could be evaluated"]


def test_labels_gate() -> None:
    assert v.labels_gate(150, 300, CFG).status == "pass"
    low = v.labels_gate(40, 300, CFG, "the budget of 40 teacher calls ran out")
    assert low.status == "inconclusive"
    assert "only 40 of 300" in low.message and "budget of 40" in low.message


def _agreement(est: float, upper: float, upper_warn: float) -> dict[str, Any]:
    return {
        "agreement": {"estimate": est},
        "agreement_upper": upper,
        "agreement_upper_warn": upper_warn,
    }


def test_agreement_gate_paths() -> None:
    # limit = .90 - .05 = .85
    assert v.agreement_gate(_agreement(0.89, 0.93, 0.91), REF, CFG, True).status == "pass"
    # a point estimate below the limit alone does not warn: only the bound at warn_alpha does
    assert v.agreement_gate(_agreement(0.84, 0.88, 0.86), REF, CFG, True).status == "pass"
    warn = v.agreement_gate(_agreement(0.81, 0.87, 0.84), REF, CFG, True)
    assert warn.status == "warn" and warn.limit == pytest.approx(0.85)
    fail = v.agreement_gate(_agreement(0.78, 0.84, 0.81), REF, CFG, True)
    assert fail.status == "fail" and fail.message.startswith("dropped")
    assert v.agreement_gate(_agreement(0.78, 0.84, 0.8), REF, CFG, False).status == "inconclusive"


def _calib(slope: tuple[float, ...], bias: tuple[float, ...]) -> dict[str, Any]:
    """(estimate, low, high[, se]) for the slope and the bias."""
    keys = ("estimate", "low", "high", "se")
    return {
        "available": True,
        "slope": dict(zip(keys, slope, strict=False)),
        "bias": dict(zip(keys, bias, strict=False)),
    }


def test_calibration_gate_paths() -> None:
    ok = (0.0, -0.03, 0.03)
    assert [g.status for g in v.calibration_gates(_calib((1.0, 0.8, 1.2), ok), CFG, True)] == [
        "pass",
        "pass",
    ]
    over = v.calibration_gates(_calib((0.35, 0.25, 0.45), ok), CFG, True)[0]
    assert over.status == "fail" and over.message.startswith("overconfident")
    under = v.calibration_gates(_calib((2.5, 1.8, 3.2), ok), CFG, True)[0]
    assert under.status == "fail" and under.message.startswith("underconfident")
    # 0.6 + 1.2816 * 0.05 = 0.66 < 0.7: warn; with se 0.1 the loose bound 0.73 is inside: pass
    assert v.calibration_gates(_calib((0.6, 0.48, 0.72, 0.05), ok), CFG, True)[0].status == "warn"
    assert v.calibration_gates(_calib((0.6, 0.37, 0.83, 0.1), ok), CFG, True)[0].status == "pass"
    bias_fail = v.calibration_gates(_calib((1.0, 0.8, 1.2), (0.2, 0.15, 0.25)), CFG, True)[1]
    assert bias_fail.status == "fail"
    neg_fail = v.calibration_gates(_calib((1.0, 0.8, 1.2), (-0.2, -0.25, -0.15)), CFG, True)[1]
    assert neg_fail.status == "fail"
    # 0.13 - 1.2816 * 0.02 = 0.104 > 0.1: warn; with se 0.03 the bound 0.092 is inside: pass
    assert (
        v.calibration_gates(_calib((1.0, 0.8, 1.2), (0.13, 0.08, 0.18, 0.02)), CFG, True)[1].status
        == "warn"
    )
    assert (
        v.calibration_gates(_calib((1.0, 0.8, 1.2), (0.13, 0.06, 0.2, 0.03)), CFG, True)[1].status
        == "pass"
    )
    assert {g.status for g in v.calibration_gates(_calib((1, 1, 1), ok), CFG, False)} == {
        "inconclusive"
    }
    nan_slope = {
        "available": True,
        "slope": {"estimate": None, "low": None, "high": None},
        "bias": {"estimate": 0.0, "low": -0.01, "high": 0.01},
    }
    assert v.calibration_gates(nan_slope, CFG, True)[0].status == "inconclusive"
    skipped = v.calibration_gates({"available": False, "note": "no probabilities"}, CFG, True)
    assert [g.status for g in skipped] == ["skipped", "skipped"]


def test_score_drift_gate_paths() -> None:
    def gate(psi: float | None, n: int) -> v.Gate:
        return v.score_drift_gate({"psi": psi, "population": n}, CFG)

    assert gate(0.05, 2000).status == "pass"
    assert gate(0.1, 2000).status == "warn"
    assert gate(0.25, 2000).status == "fail"
    assert gate(0.9, 100).status == "skipped"  # too few logged pairs to trust PSI
    assert gate(None, 0).status == "skipped"


def _thr(
    est: float, lo: float, hi: float, status: str, n: int = 100, high_warn: float | None = None
) -> dict[str, Any]:
    return {
        "available": True,
        "metric": "precision",
        "threshold": 0.5,
        "target": 0.8,
        "estimate": est,
        "low": lo,
        "high": hi,
        "n": n,
        "status": status,
        "high_warn": hi if high_warn is None else high_warn,
    }


def test_threshold_gate_paths() -> None:
    assert v.threshold_gate(_thr(0.9, 0.82, 0.95, "meets"), True).status == "pass"
    assert v.threshold_gate(_thr(0.83, 0.75, 0.9, "unclear"), True).status == "pass"
    assert v.threshold_gate(_thr(0.78, 0.7, 0.85, "unclear", high_warn=0.82), True).status == (
        "pass"
    )  # below target, but not even at warn_alpha
    assert v.threshold_gate(_thr(0.74, 0.66, 0.83, "unclear", high_warn=0.79), True).status == (
        "warn"
    )
    assert v.threshold_gate(_thr(0.6, 0.5, 0.7, "misses"), True).status == "fail"
    assert v.threshold_gate(_thr(0.6, 0.5, 0.7, "misses"), False).status == "inconclusive"
    assert v.threshold_gate(_thr(0.0, 0.0, 1.0, "unclear", n=0), True).status == "inconclusive"
    assert v.threshold_gate({"available": False, "note": "none"}, True).status == "skipped"


def _anchors(changed: int, labelled: int, lower: float, lower_warn: float) -> dict[str, Any]:
    return {
        "available": True,
        "anchors": 100,
        "labelled": labelled,
        "changed": changed,
        "change_rate": {"estimate": changed / labelled if labelled else None},
        "change_lower": lower,
        "change_lower_warn": lower_warn,
    }


def test_teacher_gate_paths() -> None:
    assert v.teacher_gate(_anchors(2, 100, 0.002, 0.008), CFG).status == "pass"
    assert v.teacher_gate(_anchors(12, 100, 0.06, 0.08), CFG).status == "pass"
    assert v.teacher_gate(_anchors(16, 100, 0.09, 0.11), CFG).status == "warn"
    fail = v.teacher_gate(_anchors(40, 100, 0.29, 0.33), CFG)
    assert fail.status == "fail" and "teacher drift, not student drift" in fail.message
    assert v.teacher_gate(_anchors(1, 20, 0.0, 0.0), CFG).status == "inconclusive"
    assert v.teacher_gate({"available": False, "note": "none yet"}, CFG).status == "skipped"


def test_cascade_gate_takes_the_sections_status_and_leads_a_failed_run() -> None:
    from judgecache.drift.cascade_health import cascade_health
    from judgecache.drift.cascade_routes import PeriodRoutes

    flat = [PeriodRoutes("2025-W01", 1000, 700, 300), PeriodRoutes("2025-W02", 1000, 690, 310)]
    wrong = [1] * 60 + [0] * 140
    fired = v.cascade_gate(
        cascade_health(flat, wrong, [0] * 200, kept_target=0.05, expected_escalation=0.3)
    )
    assert fired.status == "fail" and fired.message.startswith("Cascade Saturation")
    assert fired.value == pytest.approx(0.3) and fired.limit == 0.05
    assert fired.bound is not None and fired.bound > 0.05  # the lower bound that proved it
    run = v.decide([fired, v.Gate("agreement", "fail", "dropped"), v.Gate("labels", "pass", "ok")])
    assert run.reasons[0].startswith("cascade_health: Cascade Saturation")
    ok = v.cascade_gate(cascade_health(flat, [0] * 400, [0] * 400, kept_target=0.05))
    assert ok.status == "pass" and "within the band's target 0.050" in ok.message
    untargeted = v.cascade_gate(cascade_health(flat, [0] * 400, [0] * 400, kept_target=None))
    assert untargeted.status == "skipped" and "cascade.json" in untargeted.message
