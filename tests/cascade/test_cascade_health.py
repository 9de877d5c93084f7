"""Cascade health: hand-computed cases, the strata rule, and the saturation signal on a real run."""

from __future__ import annotations

import numpy as np
import pytest
from cascade_world import ControlledStudent, LabelTeacher, world

from judgecache import Judge
from judgecache.cascade.selection import band_for_budget, band_for_disagreement, kept_target
from judgecache.drift.cascade_health import cascade_health, health_from_log
from judgecache.drift.cascade_routes import PeriodRoutes
from judgecache.drift.entry import LogEntry
from judgecache.errors import ConfigError, InputError
from judgecache.judges.cascade import CascadeTeacher
from judgecache.judges.rubric import get_rubric
from judgecache.judges.teacher import TeacherAnswer
from judgecache.stats import clopper_pearson_lower, clopper_pearson_upper

RELEVANCE = get_rubric("relevance")
FLAT = [PeriodRoutes("2025-W01", 1000, 700, 300), PeriodRoutes("2025-W02", 1000, 690, 310)]


def test_significant_kept_disagreement_fires_saturation_while_escalation_is_flat() -> None:
    wrong = np.r_[np.ones(60), np.zeros(140)]
    h = cascade_health(FLAT, wrong, np.zeros(200), kept_target=0.05, expected_escalation=0.3)
    kept = h["kept_disagreement"]
    assert kept["estimate"] == 0.3 and kept["n_labels"] == 200 and kept["n_eff"] == 200
    assert kept["lower"] == pytest.approx(clopper_pearson_lower(60, 200))
    assert kept["upper"] == pytest.approx(clopper_pearson_upper(60, 200))
    assert kept["meets_target"] == "no" and h["status"] == "fail"
    assert h["saturation"] == {
        "fired": True,
        "escalation_flat": True,
        "signal": "kept disagreement lower bound above target",
    }
    assert "while the escalation rate stayed flat" in h["reasons"][0]
    assert h["escalation"]["change"] == pytest.approx(0.01)
    # Expected agreement over all pairs: 1 - 0.3 * (1 - 0.31) kept share.
    assert h["overall_agreement"]["estimate"] == pytest.approx(1 - 0.3 * 0.69)


def test_weights_are_inverse_inclusion_probabilities() -> None:
    h = cascade_health(
        FLAT, [1, 0, 0, 0], [0, 0, 0, 0], [3, 1, 1, 1], kept_target=0.5, min_labels=1
    )
    kept = h["kept_disagreement"]
    # Weighted rate 3/6; Kish n_eff = 6^2 / (9+1+1+1) = 3; bounds on 1.5 of 3.
    assert kept["estimate"] == 0.5 and kept["n_eff"] == pytest.approx(3.0) and kept["weighted"]
    assert kept["upper"] == pytest.approx(clopper_pearson_upper(1.5, 3.0))


def test_pass_inconclusive_and_a_moved_escalation_rate() -> None:
    ok = cascade_health(FLAT, np.r_[np.ones(4), np.zeros(396)], np.zeros(400), kept_target=0.05)
    assert ok["status"] == "pass" and ok["kept_disagreement"]["meets_target"] == "yes"
    few = cascade_health(FLAT, [0] * 10, [0] * 10, kept_target=0.05)
    assert few["status"] == "inconclusive" and "only 10 kept pairs labelled" in few["reasons"][0]
    moved = [PeriodRoutes("2025-W01", 1000, 700, 300), PeriodRoutes("2025-W02", 1000, 500, 500)]
    h = cascade_health(moved, [0] * 400, [0] * 400, kept_target=0.05, expected_escalation=0.3)
    assert h["status"] == "warn" and h["escalation"]["flat"] is False
    assert "escalation rate moved by +0.200" in h["reasons"][0]


def test_escalated_labels_are_their_own_stratum() -> None:
    kept = ([0] * 100, [0] * 100)
    plain = cascade_health(FLAT, *kept, kept_target=0.05)
    both = cascade_health(
        FLAT, *kept, kept_target=0.05, escalated_student=[0] * 50, escalated_teacher=[1] * 50
    )
    assert both["kept_disagreement"] == plain["kept_disagreement"]  # never mixed in
    assert both["escalated_stratum"] == {"n_labels": 50, "teacher_overturned": 1.0}


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(InputError, match="field 'kept_teacher': has 1 entries, expected 2"):
        cascade_health(FLAT, [0, 1], [0], kept_target=0.05)
    with pytest.raises(InputError, match="field 'kept_weights'"):
        cascade_health(FLAT, [0, 1], [0, 1], [1, 0], kept_target=0.05)
    with pytest.raises(ConfigError, match="kept_target"):
        cascade_health(FLAT, [0], [0], kept_target=0.0)


def test_kept_target_follows_the_selection_kind() -> None:
    p = (np.arange(20) + 0.5) / 20
    s = p >= 0.5
    t = s.copy()
    t[8:12] = ~t[8:12]
    kept = band_for_disagreement(p, s, t, alpha=0.18, min_kept=10, correction="none")
    everyone = band_for_disagreement(
        p, s, t, alpha=0.14, min_kept=10, scope="all", correction="none"
    )
    budget = band_for_budget(p, s, t, max_escalation=0.1)
    assert kept_target(kept) == 0.18
    assert kept_target(everyone) == pytest.approx(0.14 * 20 / 16)
    assert kept_target(budget) == budget.kept_disagreement_upper


def test_health_from_log_uses_only_kept_labels_for_the_kept_estimate() -> None:
    def entry(i: int, route: str, decision: int, prob: float, teacher: str | None) -> LogEntry:
        return LogEntry(
            item_id=f"k{i}",
            inputs={"query": "q", "doc": f"d{i}"},
            score=prob,
            probability=prob,
            decision=decision,
            judge={"provider": "cascade", "model": "m"},
            task="relevance",
            route=route,
            teacher_label=teacher,
        )

    entries = [entry(i, "kept", 0, 0.1, None) for i in range(40)]
    entries += [entry(100 + i, "escalated", 3, 0.45, "3") for i in range(10)]
    labels: dict[str, tuple[object, float]] = {f"k{i}": (3 if i < 4 else 0, 2.0) for i in range(40)}
    labels["k100"] = (0, 1.0)  # a label on an escalated entry never enters the kept estimate
    sel = band_for_budget(
        [0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], [0, 1, 0, 1], max_escalation=0.5, grid=4
    )
    h = health_from_log(entries, labels, sel, rubric=RELEVANCE, routes=FLAT, min_labels=10)
    assert h["kept_disagreement"]["estimate"] == pytest.approx(0.1)
    assert h["kept_disagreement"]["n_labels"] == 40
    assert h["escalated_stratum"] == {"n_labels": 10, "teacher_overturned": 1.0}
    assert h["band"] == sel.band.to_dict()
    with pytest.raises(InputError, match="labelled item 'nope' is not in the log entries"):
        health_from_log(entries, {"nope": (0, 1.0)}, sel, rubric=RELEVANCE, routes=FLAT)


Week = tuple[PeriodRoutes, list[bool], list[bool], float]


def _week(cascade: CascadeTeacher, docs: list[str], grades: dict[str, int], seed: int) -> Week:
    """Run a week of traffic; sample 300 kept pairs and label them with the teacher's grades."""
    out = cascade.judge_batch(RELEVANCE, [{"query": "q", "doc": d} for d in docs])
    answers = [(d, a) for d, a in zip(docs, out, strict=True) if isinstance(a, TeacherAnswer)]
    kept = [(d, a) for d, a in answers if a.meta["route"] == "kept"]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(kept), size=300, replace=False)
    student = [RELEVANCE.is_positive(kept[i][1].label) for i in pick]
    teacher = [grades[kept[i][0]] >= 2 for i in pick]
    escalated = sum(1 for _, a in answers if a.meta["route"] == "escalated")
    confidence = float(np.mean([abs((a.score or 0.0) - 0.5) for _, a in answers]))
    return (
        PeriodRoutes(f"W{seed}", len(answers), len(answers) - escalated, escalated),
        student,
        teacher,
        confidence,
    )


def test_saturation_fires_on_an_overconfident_student_while_escalation_stays_flat() -> None:
    probs, grades = world(6000, seed=1)
    docs = sorted(probs)
    calib, live = docs[:3000], docs[3000:]
    p = np.array([probs[d] for d in calib])
    t = np.array([grades[d] >= 2 for d in calib])
    sel = band_for_disagreement(p, p >= 0.5, t, alpha=0.15, min_kept=200)
    teacher = Judge(LabelTeacher(grades), cache="memory://")

    healthy = CascadeTeacher(ControlledStudent(probs), teacher, sel)
    r1, s1, t1, c1 = _week(healthy, live, grades, seed=1)
    # Same band, same teacher; the student now gives 40% of pairs a confident score unrelated
    # to the truth: its score histogram, and so the escalation rate, hardly move.
    broken = CascadeTeacher(ControlledStudent(probs, version="2", scramble=0.4), teacher, sel)
    r2, s2, t2, c2 = _week(broken, live, grades, seed=2)

    assert r1.escalation_rate is not None and r2.escalation_rate is not None
    assert abs(r2.escalation_rate - r1.escalation_rate) < 0.03
    assert abs(c2 - c1) < 0.03  # the student's confidence looks the same
    target = kept_target(sel)
    before = cascade_health(
        [r1], s1, t1, kept_target=target, expected_escalation=sel.escalation_rate
    )
    after = cascade_health(
        [r1, r2], s2, t2, kept_target=target, expected_escalation=sel.escalation_rate
    )
    assert before["saturation"]["fired"] is False and before["status"] in ("pass", "warn")
    assert after["saturation"]["fired"] is True and after["status"] == "fail"
    assert after["escalation"]["flat"] is True
    assert after["kept_disagreement"]["lower"] > target


def test_a_bound_that_cannot_certify_the_target_says_so() -> None:
    # 3 of 100 kept pairs disagree: within a 0.05 target, but the bound (~0.085) cannot show it.
    h = cascade_health(FLAT, [1] * 3 + [0] * 97, [0] * 100, kept_target=0.05, min_labels=30)
    assert (
        h["status"] == "inconclusive" and h["kept_disagreement"]["meets_target"] == "inconclusive"
    )
    assert "does not certify it with 100 labels" in h["reasons"][0]


def test_without_a_target_the_disagreement_is_reported_not_judged() -> None:
    h = cascade_health(FLAT, [1] * 60 + [0] * 140, [0] * 200, kept_target=None)
    assert h["status"] == "skipped" and h["saturation"]["fired"] is False
    assert h["kept_disagreement"]["estimate"] == 0.3 and h["kept_disagreement"]["target"] is None
    assert "cascade.json" in h["note"] and h["reasons"] == []
    moved = [PeriodRoutes("2025-W01", 1000, 700, 300), PeriodRoutes("2025-W02", 1000, 500, 500)]
    assert cascade_health(moved, [0] * 200, [0] * 200, kept_target=None)["status"] == "warn"


def test_escalated_stratum_uses_the_logged_student_label() -> None:
    def esc(i: int, prob: float, student: int | None) -> LogEntry:
        return LogEntry(
            item_id=f"e{i}",
            inputs={"query": "q", "doc": f"d{i}"},
            score=prob,
            probability=prob,
            decision=3,
            judge={"provider": "cascade", "model": "m"},
            task="relevance",
            route="escalated",
            teacher_label=3,
            student_label=student,
        )

    # p = 0.6 would read as "positive" at the 0.5 cut, but the student said 1 (not relevant).
    logged = [esc(i, 0.6, 1) for i in range(10)]
    h = health_from_log(logged, {}, None, rubric=RELEVANCE, routes=FLAT)
    assert h["escalated_stratum"] == {"n_labels": 10, "teacher_overturned": 1.0}
    older = [esc(i, 0.6, None) for i in range(10)]  # logged before student_label existed
    h = health_from_log(older, {}, None, rubric=RELEVANCE, routes=FLAT)
    assert h["escalated_stratum"] == {"n_labels": 10, "teacher_overturned": 0.0}
