"""The cascade judge: routing, the teacher's cache, identity, the production log and the spec."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cascade_world import ControlledStudent, LabelTeacher, write_replay

from judgecache import Judge
from judgecache.cascade.band import Band
from judgecache.cascade.record import save_selection
from judgecache.cascade.selection import band_for_budget
from judgecache.drift.log import ProductionLog
from judgecache.errors import ConfigError, UnknownPairError, VerdictParseError
from judgecache.judges.cascade import CascadeTeacher, cascade_from_spec
from judgecache.judges.rubric import get_rubric
from judgecache.judges.spec import teacher_from_spec
from judgecache.judges.teacher import TeacherAnswer
from judgecache.judges.teachers.callable import CallableTeacher
from judgecache.judges.teachers.replay import ReplayTeacher

RELEVANCE = get_rubric("relevance")
PROBS = {"a": 0.05, "b": 0.45, "c": 0.55, "d": 0.95}
GRADES = {"a": 3, "b": 3, "c": 0, "d": 3}
BAND = Band(0.3, 0.7)


def inputs(*docs: str) -> list[dict[str, str]]:
    return [{"query": "q", "doc": d} for d in docs]


def answered(out: list[TeacherAnswer | BaseException]) -> list[TeacherAnswer]:
    """The answers, failing the test on any error."""
    assert all(isinstance(x, TeacherAnswer) for x in out), out
    return [x for x in out if isinstance(x, TeacherAnswer)]


def make(
    tmp_path: Path, band: Band = BAND, grades: dict[str, int] | None = None
) -> tuple[CascadeTeacher, ControlledStudent, LabelTeacher]:
    student = ControlledStudent(PROBS)
    teacher = LabelTeacher(grades or GRADES)
    tj = Judge(teacher, cache=f"diskcache://{tmp_path / 'teacher-cache'}")
    return CascadeTeacher(student, tj, band), student, teacher


def test_kept_pairs_keep_the_student_answer_and_escalated_pairs_take_the_teacher(
    tmp_path: Path,
) -> None:
    cascade, student, teacher = make(tmp_path)
    a, b, c, d = answered(cascade.judge_batch(RELEVANCE, inputs("a", "b", "c", "d")))
    assert student.batches == [4]  # one batched student pass
    assert teacher.calls == 2  # only b and c are inside [0.3, 0.7]
    assert [x.label for x in (a, b, c, d)] == [0, 3, 0, 2]
    assert [x.score for x in (a, b, c, d)] == [0.05, 0.45, 0.55, 0.95]
    assert a.meta["route"] == "kept" and "teacher_label" not in a.meta
    assert b.meta["route"] == "escalated" and b.meta["teacher_label"] == "3"
    assert b.meta["student_label"] == "0" and b.meta["teacher_cached"] == "false"
    raw = json.loads(b.raw_output)
    assert raw["route"] == "escalated" and raw["student"]["probability"] == 0.45
    assert raw["teacher"]["label"] == 3 and raw["teacher"]["raw_output"] == "##final score: 3"
    assert b.cost_usd == 0.001 and a.cost_usd == 0.0
    stats = cascade.stats()
    assert stats["kept"] == 2 and stats["escalated"] == 2 and stats["teacher_calls"] == 2
    assert stats["teacher_calls_avoided"] == 2 and stats["escalation_rate"] == 0.5


def test_escalations_are_cached_so_a_second_run_makes_no_teacher_call(tmp_path: Path) -> None:
    first, _, teacher1 = make(tmp_path)
    first.judge_batch(RELEVANCE, inputs("a", "b", "c", "d"))
    first.close()
    assert teacher1.calls == 2
    second, _, teacher2 = make(tmp_path)  # fresh objects, same on-disk teacher cache
    out = answered(second.judge_batch(RELEVANCE, inputs("a", "b", "c", "d")))
    assert teacher2.calls == 0
    assert [x.label for x in out] == [0, 3, 0, 2]
    assert out[1].meta["teacher_cached"] == "true" and out[1].cost_usd == 0.0
    assert second.stats()["teacher_cached"] == 2 and second.stats()["teacher_calls"] == 0


def test_concurrent_cascades_single_flight_their_escalations(tmp_path: Path) -> None:
    cascade, _, teacher = make(tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: cascade.judge_batch(RELEVANCE, inputs("a", "b", "c")), range(8)))
    assert teacher.calls == 2


def test_identity_and_cache_keys_change_with_the_band(tmp_path: Path) -> None:
    one, _, _ = make(tmp_path)
    same, _, _ = make(tmp_path, Band(0.3, 0.7))
    other, _, _ = make(tmp_path, Band(0.2, 0.7))
    assert one.identity == same.identity
    assert one.identity.provider == "cascade"
    assert one.identity.model == "test-student:controlled@1>test-teacher:grades@1"
    assert one.identity.version == BAND.digest() != other.identity.version
    keys = [Judge(c, cache="memory://").key("q", "a") for c in (one, same, other)]
    assert keys[0] == keys[1] != keys[2]


def test_the_cascade_behind_a_judge_logs_every_decision(tmp_path: Path) -> None:
    cascade, student, _ = make(tmp_path)
    log = ProductionLog("memory://")
    judge = Judge(cascade, cache="memory://", production_log=log)
    verdicts = judge.score_many([("q", d) for d in "abcd"])
    assert [v.label for v in verdicts] == [0, 3, 0, 2]
    again = judge.score_many([("q", d) for d in "abcd"])  # the cascade's own cache answers
    assert all(v.cached for v in again) and student.batches == [4]
    entries = {e.inputs["doc"]: e for e in log.iter_entries()}
    assert {d: e.route for d, e in entries.items()} == {
        "a": "kept",
        "b": "escalated",
        "c": "escalated",
        "d": "kept",
    }
    # Meta labels arrive as strings; the log holds them as the rubric's labels.
    assert entries["b"].probability == 0.45 and entries["b"].teacher_label == 3
    assert entries["b"].decision == 3 and entries["b"].student_label == 0  # the student's own
    assert entries["a"].teacher_label is None and entries["a"].decision == 0
    assert entries["a"].student_label is None  # kept: the decision is the student's already
    assert entries["b"].judge["provider"] == "cascade"


async def test_async_scoring_routes_the_same_way(tmp_path: Path) -> None:
    cascade, _, teacher = make(tmp_path)
    judge = Judge(cascade, cache="memory://")
    verdicts = await judge.ascore_many([("q", d) for d in "abcd"])
    assert [v.envelope.meta["route"] for v in verdicts] == [
        "kept",
        "escalated",
        "escalated",
        "kept",
    ]
    assert teacher.calls == 2


def test_failures_stay_with_their_pair(tmp_path: Path) -> None:
    cascade, _, _ = make(tmp_path, grades={"a": 0, "d": 3})  # the teacher cannot answer b or c
    out = cascade.judge_batch(RELEVANCE, inputs("a", "b", "x", "d"))
    assert isinstance(out[1], UnknownPairError)  # escalated, teacher failed
    assert isinstance(out[2], UnknownPairError)  # the student has no probability for x
    assert [x.label for x in answered([out[0], out[3]])] == [0, 2]
    assert cascade.stats()["errors"] == 2


def test_a_student_without_a_probability_is_refused_per_pair(tmp_path: Path) -> None:
    student = CallableTeacher(lambda q, d: 2, name="grades-only", version="1")
    tj = Judge(LabelTeacher(GRADES), cache="memory://")
    out = CascadeTeacher(student, tj, BAND).judge_batch(RELEVANCE, inputs("a"))
    assert isinstance(out[0], VerdictParseError)
    assert "no calibrated probability" in str(out[0])


def test_the_teacher_must_judge_the_same_task() -> None:
    tj = Judge(LabelTeacher(GRADES), task="faithfulness", cache="memory://")
    cascade = CascadeTeacher(ControlledStudent(PROBS), tj, BAND)
    with pytest.raises(ConfigError, match="the teacher judges task 'faithfulness'"):
        cascade.judge_batch(RELEVANCE, inputs("a"))


def test_spec_builds_a_cascade_with_a_cached_replay_teacher(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "gpt-4o.jsonl", GRADES)
    cache = f"diskcache://{tmp_path / 'cache'}"
    spec = f"cascade:python:cascade_world:ControlledStudent>replay:{replay}"
    options = {"band": "0.3,0.7", "student_options": {"probs": PROBS}, "teacher_cache": cache}
    teacher = teacher_from_spec(spec, **options)
    assert isinstance(teacher, CascadeTeacher)
    assert isinstance(teacher.teacher_judge.teacher, ReplayTeacher)
    judge = Judge(spec, options=options, cache="memory://")
    assert [v.label for v in judge.score_many([("q", d) for d in "abcd"])] == [0, 3, 0, 2]
    # The escalations went through the teacher's cache: the replay judge now hits for b and c.
    replay_judge = Judge(f"replay:{replay}", cache=cache)
    assert replay_judge.lookup("q", "b") is not None and replay_judge.lookup("q", "a") is None


def test_spec_reads_the_band_saved_beside_the_student(tmp_path: Path) -> None:
    sel = band_for_budget(
        [0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], [0, 1, 0, 1], max_escalation=0.5, grid=4
    )
    path = save_selection(sel, tmp_path / "sel")
    replay = write_replay(tmp_path / "t.jsonl", GRADES)
    cascade = cascade_from_spec(
        f"python:cascade_world:ControlledStudent>replay:{replay}",
        band=str(path),
        student_options={"probs": PROBS},
        teacher_cache="memory://",
    )
    assert cascade.band == sel.band and cascade.selection == sel
    with pytest.raises(ConfigError, match="no cascade band saved here"):
        cascade_from_spec(f"student:{tmp_path / 'nostudent'}>replay:{replay}")


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("student:x", {"band": "0.2,0.8"}, "expected cascade:STUDENT_SPEC>TEACHER_SPEC"),
        ("student:x>", {"band": "0.2,0.8"}, "expected cascade:STUDENT_SPEC>TEACHER_SPEC"),
        ("a>b", {"bands": "0.2,0.8"}, r"does not take the options \['bands'\]; valid options"),
        ("python:m:f>openai:gpt-4o", {}, "is not a student directory: pass band="),
        ("python:m:f>openai:gpt-4o", {"band": "0.8,0.2"}, "LO must be <= HI"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cascade_from_spec(spec, **options)
