"""The production log on every backend: hash sampling, the hard cap, JSONL import, the Judge hook."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from drift_world import STUDENT, World, grade_teacher

from judgecache import Judge
from judgecache.drift.entry import LogEntry
from judgecache.drift.hashing import keep_by_rate
from judgecache.drift.log import ProductionLog
from judgecache.errors import ConfigError, InputError, StorageError
from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.keys import JudgeIdentity


def _entry(i: int, day: int = 6, **kw: object) -> LogEntry:
    base: dict[str, object] = {
        "item_id": f"jc1:{i:04d}",
        "inputs": {"query": f"q{i}", "doc": f"d{i}"},
        "score": 0.5,
        "probability": 0.5,
        "decision": 1,
        "judge": STUDENT,
        "task": "relevance",
        "timestamp": f"2025-01-{day:02d}T12:00:00+00:00",
    }
    base.update(kw)
    return LogEntry.from_dict(base)


def test_record_dedupes_per_item_and_day_on_every_backend(make_store) -> None:  # type: ignore[no-untyped-def]
    log = ProductionLog(make_store("prodlog"))
    assert log.record(_entry(1)) is True
    assert log.record(_entry(1)) is False  # same item, same day: kept once
    assert log.record(_entry(1, day=7)) is True  # next day: a new entry
    stats = log.record_many([_entry(2), _entry(3), _entry(2)])
    assert (stats.seen, stats.stored, stats.duplicate) == (3, 2, 1)
    got = sorted((e.day, e.item_id) for e in log.iter_entries("2025-W02"))
    assert got == [
        ("2025-01-06", "jc1:0001"),
        ("2025-01-06", "jc1:0002"),
        ("2025-01-06", "jc1:0003"),
        ("2025-01-07", "jc1:0001"),
    ]
    assert log.stats()["stored"] == 4 and log.stats()["duplicate"] == 2
    assert [e.item_id for e in log.iter_entries("2025-01-07..2025-01-08")] == ["jc1:0001"]


def test_hash_sampling_is_deterministic_and_near_the_rate() -> None:
    ids = [f"jc1:{i}" for i in range(20000)]
    kept = [i for i in ids if keep_by_rate(i, 0.1)]
    # binomial sd at n=20000, p=.1 is ~42: 5 sd either side
    assert 2000 - 210 < len(kept) < 2000 + 210
    assert kept == [i for i in ids if keep_by_rate(i, 0.1)]
    log = ProductionLog("memory://", rate=0.1)
    stats = log.record_many(_entry(i) for i in range(2000))
    assert stats.stored == sum(keep_by_rate(f"jc1:{i:04d}", 0.1) for i in range(2000))
    assert stats.sampled_out == 2000 - stats.stored
    # a second log (another host) keeps exactly the same items
    other = ProductionLog("memory://", rate=0.1)
    other.record_many(_entry(i) for i in range(2000))
    assert {e.item_id for e in log.iter_entries()} == {e.item_id for e in other.iter_entries()}


def test_cap_refuses_and_reports_never_evicts(caplog: pytest.LogCaptureFixture) -> None:
    log = ProductionLog("memory://", max_entries=5)
    with caplog.at_level(logging.WARNING):
        stats = log.record_many(_entry(i) for i in range(8))
    assert (stats.stored, stats.dropped_full) == (5, 3)
    assert "is full (5 entries): 3 entries refused" in caplog.text
    assert {e.item_id for e in log.iter_entries()} == {f"jc1:{i:04d}" for i in range(5)}
    assert log.stats()["dropped_full"] == 3
    strict = ProductionLog("memory://", max_entries=1, on_full="raise")
    strict.record(_entry(1))
    with pytest.raises(StorageError, match="is full"):
        strict.record(_entry(2))


def test_prune_is_explicit_retention() -> None:
    log = ProductionLog("memory://")
    log.record_many([_entry(1, day=6), _entry(2, day=8), _entry(3, day=13)])
    assert log.prune(datetime(2025, 1, 8, tzinfo=UTC)) == 1
    assert sorted(e.item_id for e in log.iter_entries()) == ["jc1:0002", "jc1:0003"]


def test_import_jsonl_validates_with_line_numbers(tmp_path: Path) -> None:
    good = [_entry(i).to_dict() for i in range(3)]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in good) + "\n")
    log = ProductionLog(f"diskcache://{tmp_path / 'cache'}")
    assert log.import_jsonl(path).stored == 3
    assert len(list(log.iter_entries())) == 3
    bad = dict(good[0], probability=1.5)
    path.write_text(json.dumps(good[1]) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(InputError, match=r"line 2, field 'probability': must be in \[0, 1\]"):
        log.import_jsonl(path)
    path.write_text(json.dumps(dict(good[0], colour="red")) + "\n")
    with pytest.raises(InputError, match=r"line 1: unknown log fields \['colour'\]; valid"):
        log.import_jsonl(path)
    path.write_text(json.dumps({k: v for k, v in good[0].items() if k != "score"}) + "\n")
    with pytest.raises(InputError, match="line 1, field 'score': is missing"):
        log.import_jsonl(path)
    path.write_text(json.dumps(dict(good[0], route="sideways")) + "\n")
    with pytest.raises(InputError, match=r"field 'route': must be one of \['kept', 'escalated'\]"):
        log.import_jsonl(path)
    path.write_text("\n")
    with pytest.raises(InputError, match="holds no log entries"):
        log.import_jsonl(path)


def test_bad_log_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="rate"):
        ProductionLog("memory://", rate=0)
    with pytest.raises(ConfigError, match="max_entries"):
        ProductionLog("memory://", max_entries=0)
    with pytest.raises(ConfigError, match="unknown cache URL"):
        ProductionLog("ftp://nowhere")


def test_judge_records_what_it_scored(tmp_path: Path) -> None:
    """The hook the Judge calls (``production_log=``): one entry per scored pair."""
    log = ProductionLog(f"diskcache://{tmp_path / 'log'}")

    def student(query: str, doc: str) -> dict[str, object]:
        p = 0.9 if "grade=3" in doc else 0.2
        return {"label": 3 if p >= 0.5 else 0, "score": p}

    judge = Judge(
        student,
        name="student-x",
        version="2",
        cache=f"diskcache://{tmp_path / 'c'}",
        production_log=log,
    )
    pairs = [(e.inputs["query"], e.inputs["doc"]) for e in World().entries(0, 4)]
    verdicts = judge.score_many(pairs, tag="search-eval")
    got = {e.item_id: e for e in log.iter_entries()}
    assert set(got) == {v.key for v in verdicts}
    for v in verdicts:
        e = got[v.key]
        assert e.probability == v.envelope.score and e.decision == v.label
        assert e.judge_id() == "callable:student-x@2" and e.rubric == "relevance"
        assert e.tags == {"tag": "search-eval"}
    assert grade_teacher("q", "x grade=2") == 2


class RoutedTeacher(Teacher):
    """Answers like a cascade: the route and both judges' labels in meta, as strings."""

    def __init__(self, teacher_label: str = "3") -> None:
        self.identity = JudgeIdentity("cascade", "s>t", "abc123")
        self.teacher_label = teacher_label

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        route = "escalated" if "up" in inputs["doc"] else "kept"
        meta = {"route": route, "student_label": "0", "raw_score": "0.4"}
        if route == "escalated":
            meta["teacher_label"] = self.teacher_label
        label = 3 if route == "escalated" else 0  # meta may disagree: the hook must check it
        return TeacherAnswer(label=label, raw_output="{}", score=0.4, meta=meta)


def test_cascade_meta_labels_are_typed_and_the_students_label_kept_when_escalated() -> None:
    log = ProductionLog("memory://")
    judge = Judge(RoutedTeacher(), cache="memory://", production_log=log)
    judge.score_many([("q", "send up"), ("q", "keep")])
    got = {e.inputs["doc"]: e for e in log.iter_entries()}
    up, keep = got["send up"], got["keep"]
    assert (up.route, up.teacher_label, up.student_label, up.decision) == ("escalated", 3, 0, 3)
    assert (keep.route, keep.teacher_label, keep.student_label) == ("kept", None, None)
    assert "student_label" not in keep.to_dict() and up.to_dict()["student_label"] == 0
    bad = Judge(RoutedTeacher("7"), cache="memory://", production_log=ProductionLog("memory://"))
    with pytest.raises(InputError, match=r"field 'teacher_label': .*'7' is not a label of rubric"):
        bad.score_many([("q", "send up")])
