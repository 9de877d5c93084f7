"""A cascade's production log through the drift checker: kept-only sampling, the escalated stratum,
the cascade-health section and the saturation signal failing the verdict, rendered in MD and HTML.

Real components throughout: a CascadeTeacher (controllable student, counting teacher behind a
real Judge and cache) records into a real ProductionLog via the Judge hook; the log is then
re-stamped into ISO weeks so two periods can be checked one after the other.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cascade_world import ControlledStudent, LabelTeacher, world

from judgecache import Judge
from judgecache.cascade.record import save_selection
from judgecache.cascade.selection import BandSelection, band_for_disagreement, kept_target
from judgecache.drift.checker import DriftRun, make_baseline, run_check
from judgecache.drift.config import DriftConfig
from judgecache.drift.entry import LogEntry
from judgecache.drift.log import ProductionLog
from judgecache.drift.render_html import render_html
from judgecache.drift.render_md import render_markdown
from judgecache.drift.sampler import stratified_sample
from judgecache.errors import ConfigError, DriftInputError
from judgecache.judges.cascade import CascadeTeacher
from judgecache.judges.rubric import get_rubric

RELEVANCE = get_rubric("relevance")
QUERY = "what is tea"
WEEK_START = {
    "2025-W02": datetime(2025, 1, 6, 9, tzinfo=UTC),
    "2025-W03": datetime(2025, 1, 13, 9, tzinfo=UTC),
}
EVIL = '<script>alert("x")</script>'


@dataclass
class Cascade:
    """Calibration-chosen band, the teacher Judge, and a log holding two weeks of cascade traffic."""

    tmp: Path
    probs: dict[str, float]
    grades: dict[str, int]
    selection: BandSelection
    band_dir: Path
    teacher: Judge
    log: ProductionLog
    staging: list[LogEntry]  # week 1 exactly as the Judge hook recorded it


def _score_week(
    c: Cascade, docs: list[str], student: ControlledStudent, week: str
) -> list[LogEntry]:
    """Score a week through a cascade Judge whose hook records into a fresh log; re-stamp into c.log."""
    staging = ProductionLog("memory://")
    cascade = Judge(
        CascadeTeacher(student, c.teacher, c.selection), cache="memory://", production_log=staging
    )
    cascade.score_many([(QUERY, d) for d in docs])
    recorded = sorted(staging.iter_entries(), key=lambda e: e.item_id)
    start = WEEK_START[week]
    c.log.record_many(
        replace(e, timestamp=(start + timedelta(minutes=i)).isoformat())
        for i, e in enumerate(recorded)
    )
    return recorded


@pytest.fixture(scope="module")
def cw(tmp_path_factory: pytest.TempPathFactory) -> Cascade:
    tmp = tmp_path_factory.mktemp("cascade-drift")
    probs, grades = world(9000, seed=3)
    docs = sorted(probs, key=lambda d: int(d.split()[1]))
    # A small calibration set under Bonferroni's conservative bound: the certified band keeps a
    # margin below its target (true kept disagreement ~0.07 against 0.15), so 300 weekly labels
    # can re-certify a healthy week. (Fixed-sequence bands sit closer to their target.)
    calib = docs[:300]
    p = np.array([probs[d] for d in calib])
    t = np.array([grades[d] >= 2 for d in calib])
    sel = band_for_disagreement(p, p >= 0.5, t, alpha=0.15, min_kept=100, correction="bonferroni")
    band_dir = tmp / "student"
    save_selection(sel, band_dir)
    c = Cascade(
        tmp=tmp,
        probs=probs,
        grades=grades,
        selection=sel,
        band_dir=band_dir,
        teacher=Judge(LabelTeacher(grades), cache="memory://"),
        log=ProductionLog("memory://"),
        staging=[],
    )
    c.staging = _score_week(c, docs[3000:5000], ControlledStudent(probs), "2025-W02")
    # Week 3: the same student identity (its model drifted, not its name) is now overconfident
    # on 60% of pairs: confident scores unrelated to the truth, drawn from its own distribution.
    _score_week(c, docs[6000:8000], ControlledStudent(probs, scramble=0.6), "2025-W03")
    make_baseline(_cfg(c, "2025-W02", sample_size=400, budget=600), judge=c.teacher, log=c.log)
    return c


def _cfg(c: Cascade, period: str, **over: Any) -> DriftConfig:
    base: dict[str, Any] = {
        "teacher": "unused: the tests pass a Judge",
        "task": "relevance",
        "reference": str(c.tmp / "ref" / "reference.json"),
        "report_dir": str(c.tmp / "reports"),
        "period": period,
        "budget": 500,
        "sample_size": 300,
        "anchor_count": 0,
        "threshold": 0.5,
        "bootstrap": 0,
        "cascade": str(c.band_dir),
    }
    base.update(over)
    return DriftConfig.from_dict(base)


@pytest.fixture(scope="module")
def runs(cw: Cascade) -> tuple[DriftRun, DriftRun]:
    """The healthy week, then the saturated one, into the same run history."""
    healthy = run_check(_cfg(cw, "2025-W02"), judge=cw.teacher, log=cw.log)
    saturated = run_check(_cfg(cw, "2025-W03"), judge=cw.teacher, log=cw.log)
    return healthy, saturated


def test_the_hook_logs_typed_labels_and_the_students_own_label(cw: Cascade) -> None:
    kept = [e for e in cw.staging if e.route == "kept"]
    escalated = [e for e in cw.staging if e.route == "escalated"]
    assert kept and escalated and len(kept) + len(escalated) == 2000
    doc = escalated[0].inputs["doc"]
    for e in escalated:
        d = e.inputs["doc"]
        assert e.teacher_label == cw.grades[d] and isinstance(e.teacher_label, int)
        assert e.decision == e.teacher_label  # the routed decision is the teacher's
        assert e.student_label == (2 if cw.probs[d] >= 0.5 else 0)
        assert cw.selection.band.escalates(e.probability or 0.0)
    for e in kept:
        assert e.teacher_label is None and e.student_label is None
        assert e.decision == (2 if cw.probs[e.inputs["doc"]] >= 0.5 else 0)
    # Backwards compatible: a kept entry serialises without the new key; an old record loads.
    assert "student_label" not in kept[0].to_dict()
    assert LogEntry.from_json(escalated[0].to_json()) == escalated[0]
    old = {k: v for k, v in escalated[0].to_dict().items() if k != "student_label"}
    assert LogEntry.from_dict(old).student_label is None
    assert doc in cw.grades


def test_a_healthy_cascade_passes_with_the_sample_drawn_from_kept_pairs(
    cw: Cascade, runs: tuple[DriftRun, DriftRun]
) -> None:
    run = runs[0]
    section = run.report["sections"]["cascade_health"]
    n_kept = sum(1 for e in cw.log.iter_entries("2025-W02") if e.route == "kept")
    assert section["status"] == "pass", section["reasons"]
    assert section["saturation"]["fired"] is False
    assert section["kept_disagreement"]["meets_target"] == "yes"
    assert section["kept_disagreement"]["target"] == pytest.approx(kept_target(cw.selection))
    assert section["kept_disagreement"]["confidence"] == pytest.approx(0.99)  # 1 - gates.alpha
    assert section["band"] == cw.selection.band.to_dict()
    assert section["population"] == {"kept": n_kept, "escalated": 2000 - n_kept}
    assert run.report["sample"]["drawn_from"] == "kept"
    assert run.report["sample"]["population"] == n_kept  # no escalated pair in the frame
    assert sum(s["population"] for s in run.report["sample"]["strata"]) == n_kept
    assert "kept pairs only" in run.report["sections"]["agreement"]["scope"]
    gate = run.verdict.gates[0]
    assert (gate.name, gate.status) == ("cascade_health", "pass")
    assert run.verdict.status == "pass", run.verdict.reasons
    assert run.report["trend"][-1]["routes"]["period"] == "2025-W02"


def test_overconfident_student_with_flat_escalation_fails_with_saturation_first(
    cw: Cascade, runs: tuple[DriftRun, DriftRun]
) -> None:
    healthy, saturated = runs
    section = saturated.report["sections"]["cascade_health"]
    esc = section["escalation"]
    assert esc["flat"] is True  # the label-free monitor sees nothing
    assert abs(esc["current_rate"] - cw.selection.escalation_rate) < 0.03
    assert [r["period"] for r in esc["periods"]] == ["2025-W02", "2025-W03"]  # from the history
    assert esc["periods"][0]["escalation_rate"] == pytest.approx(
        healthy.report["sections"]["cascade_health"]["escalation"]["current_rate"]
    )
    kept = section["kept_disagreement"]
    assert section["status"] == "fail" and section["saturation"]["fired"] is True
    assert kept["lower"] > kept["target"]
    assert saturated.verdict.status == "fail" and saturated.verdict.exit_code == 1
    first = saturated.verdict.reasons[0]
    assert first.startswith("cascade_health: Cascade Saturation: kept pairs disagree")
    assert "while the escalation rate stayed flat" in first


def test_escalated_labels_never_change_the_kept_estimate(
    cw: Cascade, runs: tuple[DriftRun, DriftRun], tmp_path: Path
) -> None:
    report = runs[0].report
    kept = [e for e in cw.log.iter_entries("2025-W02") if e.route == "kept"]
    sample = stratified_sample(kept, 300, period_label="2025-W02", threshold=0.5)
    # By hand: the stratified estimator sum_h N_h * mean_h(disagree) / N.
    wrong: dict[str, list[bool]] = {}
    for it in sample.items:
        d = it.entry.inputs["doc"]
        wrong.setdefault(it.stratum, []).append((cw.probs[d] >= 0.5) != (cw.grades[d] >= 2))
    pop = {s.name: s.population for s in sample.strata}
    assert sum(pop.values()) == len(kept)
    by_hand = sum(pop[h] * sum(w) / len(w) for h, w in wrong.items()) / len(kept)
    section = report["sections"]["cascade_health"]
    assert section["kept_disagreement"]["estimate"] == pytest.approx(by_hand, abs=1e-12)
    assert section["kept_disagreement"]["weighted"] is True
    assert 1 - report["sections"]["agreement"]["agreement"]["estimate"] == pytest.approx(by_hand)
    assert section["kept_disagreement"]["n_labels"] == 300

    # Flip every escalated pair's free teacher label: the kept estimates must not move at all.
    flipped = ProductionLog("memory://")
    for e in cw.log.iter_entries("2025-W02"):
        if e.route == "escalated":
            e = replace(e, teacher_label=3 if e.teacher_label == 0 else 0)
        flipped.record(e)
    other = run_check(
        _cfg(cw, "2025-W02", report_dir=str(tmp_path / "reports")), judge=cw.teacher, log=flipped
    )
    moved = other.report["sections"]
    assert moved["cascade_health"]["kept_disagreement"] == section["kept_disagreement"]
    assert moved["agreement"] == report["sections"]["agreement"]
    assert moved["calibration"] == report["sections"]["calibration"]
    before = section["escalated_stratum"]
    after = moved["cascade_health"]["escalated_stratum"]
    assert after["n_labels"] == before["n_labels"] == section["population"]["escalated"]
    assert after["teacher_overturned"] != before["teacher_overturned"]


def test_without_a_band_the_section_reports_but_does_not_judge(cw: Cascade, tmp_path: Path) -> None:
    run = run_check(
        _cfg(cw, "2025-W03", cascade=None, report_dir=str(tmp_path / "r")),
        judge=cw.teacher,
        log=cw.log,
    )
    section = run.report["sections"]["cascade_health"]
    assert section["status"] == "skipped" and "cascade.json" in section["note"]
    assert section["kept_disagreement"]["target"] is None
    assert section["kept_disagreement"]["estimate"] > 0.15  # measured all the same
    assert run.verdict.gates[0].name == "cascade_health"
    assert run.verdict.gates[0].status == "skipped"


def test_band_and_config_mistakes_are_clear_errors(cw: Cascade, tmp_path: Path) -> None:
    other = band_for_disagreement(
        [0.1, 0.2, 0.8, 0.9] * 100, [0, 0, 1, 1] * 100, [0, 0, 1, 1] * 100, alpha=0.2, min_kept=10
    )
    assert other.band != cw.selection.band
    save_selection(other, tmp_path / "other")
    with pytest.raises(DriftInputError, match=r"logged cascade used band digest\(s\)"):
        run_check(
            _cfg(cw, "2025-W02", cascade=str(tmp_path / "other" / "cascade.json")),
            judge=cw.teacher,
            log=cw.log,
        )
    with pytest.raises(ConfigError, match="no cascade band saved here"):
        run_check(_cfg(cw, "2025-W02", cascade=str(tmp_path)), judge=cw.teacher, log=cw.log)
    plain = ProductionLog("memory://")
    plain.record_many(
        replace(e, route=None, teacher_label=None, student_label=None)
        for e in cw.log.iter_entries("2025-W02")
    )
    with pytest.raises(
        DriftInputError, match="carries a cascade route: the log is not a cascade's"
    ):
        run_check(_cfg(cw, "2025-W02"), judge=cw.teacher, log=plain)
    with pytest.raises(ConfigError, match=r"unknown keys \['cascde'\]; valid keys: .*'cascade'"):
        DriftConfig.from_dict({"teacher": "x", "cascde": "runs/student"})


def test_the_section_renders_in_markdown_and_html(runs: tuple[DriftRun, DriftRun]) -> None:
    report = copy.deepcopy(runs[1].report)
    md, page = render_markdown(report), render_html(report)
    assert "## Cascade health" in md and "Status: **fail**" in md
    assert md.index("## Reasons") < md.index("## Cascade health") < md.index("## Agreement")
    assert "Cascade Saturation signal | FIRED" in md
    assert "| 2025-W02 |" in md and "| 2025-W03 |" in md  # escalation rate by period
    assert "Measured on kept pairs only" in md
    assert 'id="cascade_health"' in page and "Cascade Saturation" in page
    assert page.count('src="data:image/png;base64,') == 4  # + the escalation-rate trend
    assert 'alt="escalation rate trend"' in page
    # Data in the section is escaped like everywhere else.
    section = report["sections"]["cascade_health"]
    section["reasons"] = [EVIL]
    section["escalation"]["periods"][0]["period"] = EVIL
    report["sections"] = {"cascade_health": section}  # only this section's plot: fast
    md, page = render_markdown(report), render_html(report)
    assert "<script>" not in md and "<script>" not in page
    assert "&lt;script&gt;alert(" in md and "&lt;script&gt;alert(&quot;x&quot;)" in page


def test_route_counts_feed_the_run_history_trend(runs: tuple[DriftRun, DriftRun]) -> None:
    rows = runs[1].report["trend"]
    routes = [r["routes"] for r in rows if r.get("routes")]
    assert [r["period"] for r in routes] == ["2025-W02", "2025-W03"]
    counts = Counter(r["period"] for r in routes)
    assert all(v == 1 for v in counts.values())
    assert rows[-1]["escalation_rate"] == routes[-1]["escalation_rate"]
