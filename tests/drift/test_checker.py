"""The drift check end to end: real log, real Judge and cache, real (callable) teacher."""

from __future__ import annotations

from pathlib import Path

import pytest
from drift_world import STUDENT, World, config, fill, grade_teacher, make_judge, week_label

from judgecache import Judge
from judgecache.drift.checker import EmptyPeriodError, make_baseline, run_check
from judgecache.drift.log import ProductionLog
from judgecache.drift.reference import AnchorSet, Reference
from judgecache.errors import ConfigError, DriftInputError


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reference and anchors measured on week 0 (1000 labels), shared by the module's tests."""
    tmp = tmp_path_factory.mktemp("baseline")
    log = ProductionLog("memory://")
    fill(log, World(seed=0), 0, 3000)
    cfg = config(str(tmp), sample_size=1000, budget=2000)
    ref, anchors, summary = make_baseline(cfg, judge=make_judge(), log=log)
    assert summary["labelled"] == 1000 and anchors is not None and len(anchors.anchors) == 100
    assert ref.student_id == "student:minilm-rel@1" and ref.teacher_id == "callable:grader@1"
    assert 0.7 < ref.agreement < 0.9  # a calibrated student with p ~ Beta(.6, .6)
    return tmp


def _cfg(baseline: Path, tmp: Path, week: int, **over: object):  # type: ignore[no-untyped-def]
    return config(
        str(tmp),
        reference=str(baseline / "ref" / "reference.json"),
        period=week_label(week),
        **over,
    )


def test_no_shift_passes_and_a_rerun_pays_nothing(baseline: Path, tmp_path: Path) -> None:
    log = ProductionLog("memory://")
    fill(log, World(seed=1), 1)
    judge = make_judge()
    first = run_check(_cfg(baseline, tmp_path, 1), judge=judge, log=log)
    assert first.verdict.status == "pass", first.verdict.reasons
    assert first.report["budget"]["teacher_calls"] == 400  # 300 sample + 100 fresh anchors
    gates = {g.name: g.status for g in first.verdict.gates}
    assert gates == {
        "labels": "pass",
        "agreement": "pass",
        "teacher_stability": "pass",
        "calibration_slope": "pass",
        "calibration_bias": "pass",
        "score_drift": "pass",
        "threshold": "pass",
    }
    sec = first.report["sections"]
    assert sec["teacher_stability"]["changed"] == 0
    assert {s["segment"] for s in sec["segments"]} == {"surface=web", "surface=mobile"}
    assert sec["ppi"]["available"] and sec["agreement"]["kappa"]["low"] is not None
    again = run_check(_cfg(baseline, tmp_path, 1), judge=judge, log=log)
    assert again.report["budget"]["sample"]["cache_hits"] == 300
    assert again.report["budget"]["anchors"]["cache_hits"] == 100  # memoized for the period
    assert again.report["budget"]["sample"]["teacher_calls"] == 0
    assert [r["period"] for r in again.report["trend"]] == [week_label(1)] * 2
    assert first.path is not None and first.path.exists()


def test_overconfident_student_fails_on_calibration(baseline: Path, tmp_path: Path) -> None:
    log = ProductionLog("memory://")
    fill(log, World(seed=2, overconfident=3.0), 2)
    run = run_check(_cfg(baseline, tmp_path, 2), judge=make_judge(), log=log)
    gates = {g.name: g for g in run.verdict.gates}
    assert run.verdict.status == "fail"
    assert gates["calibration_slope"].status == "fail"
    assert gates["calibration_slope"].message.startswith("overconfident")
    assert gates["teacher_stability"].status == "pass"  # the teacher did not move


def test_teacher_change_is_told_apart_by_anchors(baseline: Path, tmp_path: Path) -> None:
    """Same teacher identity, different answers (a silent model update behind an alias)."""

    def updated_teacher(query: str, doc: str) -> int:
        g = grade_teacher(query, doc)
        return {0: 0, 1: 2, 2: 1, 3: 3}[g]  # the new model moves the 1/2 boundary

    log = ProductionLog("memory://")
    fill(log, World(seed=3), 3)
    run = run_check(_cfg(baseline, tmp_path, 3), judge=make_judge(teacher=updated_teacher), log=log)
    gates = {g.name: g for g in run.verdict.gates}
    assert gates["teacher_stability"].status == "fail"
    assert "teacher drift, not student drift" in gates["teacher_stability"].message
    assert run.verdict.status == "fail"


def test_budget_cut_is_inconclusive_and_the_rerun_pays_only_the_rest(
    baseline: Path, tmp_path: Path
) -> None:
    log = ProductionLog("memory://")
    fill(log, World(seed=4), 4)
    cache = f"diskcache://{tmp_path / 'cache'}"
    short = run_check(_cfg(baseline, tmp_path, 4, budget=60), judge=make_judge(cache), log=log)
    assert short.verdict.status == "inconclusive" and short.verdict.exit_code == 2
    assert short.report["budget"]["teacher_calls"] == 60
    assert "only 60 of 300 sampled pairs" in short.verdict.reasons[0]
    assert "budget of 60 teacher calls ran out" in short.verdict.reasons[0]
    full = run_check(_cfg(baseline, tmp_path, 4), judge=make_judge(cache), log=log)
    sample = full.report["budget"]["sample"]
    assert (sample["cache_hits"], sample["teacher_calls"]) == (60, 240)
    assert full.verdict.status == "pass", full.verdict.reasons


def test_teacher_failures_are_unscored_never_verdicts(baseline: Path, tmp_path: Path) -> None:
    log = ProductionLog("memory://")
    entries = fill(log, World(seed=5, boom_every=10), 5)
    judge = make_judge()
    run = run_check(_cfg(baseline, tmp_path, 5), judge=judge, log=log)
    sample = run.report["budget"]["sample"]
    assert sample["failed"] > 0 and sample["labelled"] + sample["failed"] == 300
    assert run.report["sections"]["agreement"]["n_labelled"] == sample["labelled"]
    boom = next(e for e in entries if "boom" in e.inputs["doc"])
    assert judge.lookup(boom.inputs["query"], boom.inputs["doc"]) is None  # nothing cached
    assert any("exploded" in msg for msg in sample["errors"].values())


def test_unreachable_teacher_is_inconclusive_and_stops_early(
    baseline: Path, tmp_path: Path
) -> None:
    log = ProductionLog("memory://")
    fill(log, World(seed=6, doc_suffix=" unreachable"), 6)
    run = run_check(_cfg(baseline, tmp_path, 6), judge=make_judge(), log=log)
    assert run.verdict.status == "inconclusive"
    assert run.report["budget"]["teacher_calls"] == 32  # one chunk, then it stopped asking
    assert "could not be reached" in run.verdict.reasons[0]
    assert "connection refused" in run.verdict.reasons[0]


def test_reference_from_another_judge_or_rubric_is_refused(baseline: Path, tmp_path: Path) -> None:
    log = ProductionLog("memory://")
    fill(log, World(seed=7), 7, 200)
    cfg = _cfg(baseline, tmp_path, 7)
    with pytest.raises(DriftInputError, match=r"teacher 'callable:grader@2' \(reference: "):
        run_check(cfg, judge=make_judge(version="2"), log=log)
    faith = Judge(
        lambda c, a: 1, name="grader", version="1", task="faithfulness", cache="memory://"
    )
    with pytest.raises(DriftInputError, match=r"rubric 'faithfulness' \(reference: 'relevance'\)"):
        run_check(cfg, judge=faith, log=log)
    with pytest.raises(DriftInputError, match="student 'student:other@1'"):
        run_check(
            config(
                str(tmp_path), reference=cfg.reference, period=cfg.period, student="student:other@1"
            ),
            judge=make_judge(),
            log=log,
        )
    with pytest.raises(ConfigError, match="drift baseline"):
        run_check(config(str(tmp_path / "nowhere")), judge=make_judge(), log=log)


def test_empty_unknown_and_quiet_logs(baseline: Path, tmp_path: Path) -> None:
    cfg = _cfg(baseline, tmp_path, 8)
    with pytest.raises(DriftInputError, match="is empty: nothing has been recorded"):
        run_check(cfg, judge=make_judge(), log=ProductionLog("memory://"))
    other = ProductionLog("memory://")
    other.record_many(
        e.__class__.from_dict({**e.to_dict(), "judge": {**STUDENT, "model": "x"}})
        for e in World().entries(8, 5)
    )
    with pytest.raises(DriftInputError, match="has no entries of judge 'student:minilm-rel@1'"):
        run_check(cfg, judge=make_judge(), log=other)
    quiet = ProductionLog("memory://")
    fill(quiet, World(seed=9), 9, 50)  # traffic in week 9, none in week 8
    with pytest.raises(EmptyPeriodError, match="no relevance entries"):
        run_check(cfg, judge=make_judge(), log=quiet)


def test_anchor_set_of_another_teacher_is_refused(baseline: Path, tmp_path: Path) -> None:
    anchors = AnchorSet.load(baseline / "ref" / "anchors.json")
    assert anchors is not None
    moved = AnchorSet(
        {"provider": "openai", "model": "gpt-4o", "version": ""}, "relevance", anchors.anchors
    )
    log = ProductionLog("memory://")
    fill(log, World(seed=10), 10, 200)
    ref = Reference.load(baseline / "ref" / "reference.json")
    with pytest.raises(DriftInputError, match=r"anchor set .* was labelled by 'openai:gpt-4o'"):
        run_check(
            _cfg(baseline, tmp_path, 10), judge=make_judge(), log=log, reference=ref, anchors=moved
        )
