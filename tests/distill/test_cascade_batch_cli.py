"""``judgecache cascade batch`` through the installed console script: a real (tiny) student with a
query memory on a real diskcache, a replay teacher, and the audit state carried between batches."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from console import judgecache
from distill_rows import make_rows, write_jsonl

from judgecache.cascade.audit import Overconfidence
from judgecache.cascade.audit_state import AuditState
from judgecache.errors import ConfigError, InputError
from judgecache.io.jsonl import iter_jsonl

TEACHER = "replay:synthetic"


def seed_cache(url: str, rows: list[dict[str, Any]]) -> None:
    """Put the synthetic teacher's labels of ``rows`` in the cache (what earlier weeks bought)."""
    from judgecache import Judge
    from judgecache.judges.teachers.replay import ReplayTeacher

    with Judge(ReplayTeacher([], name="synthetic", fields=("query", "doc")), cache=url) as j:
        j.put_many((r["inputs"]["query"], r["inputs"]["doc"], r["label"], None) for r in rows)


def pairs_file(path: Path, rows: list[dict[str, Any]]) -> Path:
    return write_jsonl(path, [{"id": r["key"], **r["inputs"]} for r in rows])


def batch(tmp: Path, traffic: Path, teacher_file: Path, *more: str) -> Any:
    return judgecache(
        "cascade", "batch", str(traffic), "--student", str(tmp / "student"),
        "--teacher", f"replay:{teacher_file}", "--cache", f"diskcache://{tmp / 'cache'}",
        "--state", str(tmp / "state.json"), "-o", str(tmp / "out.jsonl"),
        "--audit-min", "5", "--json", *more,
    )  # fmt: skip


@pytest.fixture
def world(student_dir: Path, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A cache that knows 8 of 10 topics, and this week's traffic over all 10 (new documents)."""
    (tmp_path / "student").symlink_to(student_dir)
    history = make_rows(160, n_groups=8)
    seed_cache(f"diskcache://{tmp_path / 'cache'}", history)
    return tmp_path, make_rows(120, n_groups=10, seed=5)


def read_out(tmp: Path) -> list[dict[str, Any]]:
    return [row for _, row in iter_jsonl(tmp / "out.jsonl")]


def test_a_batch_labels_what_it_must_and_its_labels_teach_the_memory_by_the_next_batch(
    world: tuple[Path, list[dict[str, Any]]],
) -> None:
    tmp, traffic_rows = world
    traffic = pairs_file(tmp / "week.jsonl", traffic_rows)
    teacher_file = write_jsonl(tmp / "synthetic.jsonl", traffic_rows)
    truth = {r["key"]: r["label"] for r in traffic_rows}
    proc = batch(tmp, traffic, teacher_file)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    out = read_out(tmp)
    assert [r["id"] for r in out] == [r["key"] for r in traffic_rows]  # every pair, in order
    asked = [r for r in out if r["teacher_label"] is not None]
    assert len(asked) == summary["teacher_calls"] > 0
    assert {r["route"] for r in asked} <= {"escalated", "audited"}
    assert all(r["label"] == r["teacher_label"] == truth[r["id"]] for r in asked)
    kept = [r for r in out if r["route"] == "kept"]
    assert kept and all(r["label"] == r["student_label"] for r in kept)
    # Topics the cache knew were answered by the memory and never audited; the two new topics
    # (garden, copper) went through the student alone, and only they were audited.
    new_topic = [r for r in out if r["query"].endswith(("garden", "copper"))]
    assert all(r["path"] == "fallback" for r in new_topic)
    assert sum(r["path"] == "memory" for r in out) == summary["fitted"] == 120 - len(new_topic)
    audited = [r for r in out if r["route"] == "audited"]
    assert summary["audited"] == len(audited) >= 5 and all(r in new_topic for r in audited)
    assert summary["avoided"] == pytest.approx(1 - len(asked) / 120, abs=1e-4)
    state = json.loads((tmp / "state.json").read_text())
    assert [b["batch"] for b in state["batches"]] == [1] and len(state["history"]) == 1
    assert state["history"][0]["audited"] == len(audited)

    # Next week: the labels this batch bought for the new topics are in the memory already.
    bought = {r["query"] for r in asked if r in new_topic}
    proc = batch(tmp, traffic, teacher_file)
    assert proc.returncode == 0, proc.stderr
    again = json.loads(proc.stdout)
    assert again["batch"] == 2 and again["fitted"] > summary["fitted"]
    assert any(r["path"] == "memory" for r in read_out(tmp) if r["query"] in bought)
    state = json.loads((tmp / "state.json").read_text())
    assert [b["batch"] for b in state["batches"]] == [1, 2]


def test_a_failed_batch_keeps_its_labels_and_the_rerun_pays_only_for_the_rest(
    world: tuple[Path, list[dict[str, Any]]],
) -> None:
    tmp, traffic_rows = world
    traffic = pairs_file(tmp / "week.jsonl", traffic_rows)
    # The teacher can label only half of the traffic: the batch cannot finish.
    teacher_file = write_jsonl(tmp / "synthetic.jsonl", traffic_rows[::2])
    proc = batch(tmp, traffic, teacher_file, "--no-memory")
    assert proc.returncode == 1
    failed = re.search(r"failed on (\d+) of the (\d+) pairs", proc.stderr)
    assert failed is not None, proc.stderr
    assert "rerun to pay only for the rest" in proc.stderr
    assert not (tmp / "state.json").exists() and not (tmp / "out.jsonl").exists()
    # With every label available, the rerun asks the same pairs: those labelled are cache hits.
    write_jsonl(teacher_file, traffic_rows)
    proc = batch(tmp, traffic, teacher_file, "--no-memory")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    n_failed, n_asked = int(failed[1]), int(failed[2])
    assert summary["teacher_cache_hits"] == n_asked - n_failed > 0
    assert summary["batch"] == 1 and summary["fitted"] == 0


def test_bad_setups_exit_3_naming_what_is_wrong(
    world: tuple[Path, list[dict[str, Any]]],
) -> None:
    tmp, traffic_rows = world
    traffic = pairs_file(tmp / "week.jsonl", traffic_rows)
    other = write_jsonl(tmp / "other.jsonl", traffic_rows)
    proc = batch(tmp, traffic, other)
    assert proc.returncode == 3
    assert "--teacher is replay:other, but student" in proc.stderr
    assert "learned from replay:synthetic" in proc.stderr
    teacher_file = write_jsonl(tmp / "synthetic.jsonl", traffic_rows)
    AuditState("replay:someone-else").save(tmp / "state.json")
    proc = batch(tmp, traffic, teacher_file)
    assert proc.returncode == 3 and "belongs to teacher 'replay:someone-else'" in proc.stderr
    (tmp / "state.json").unlink()
    proc = batch(tmp, traffic, teacher_file, "--no-memory", "--memory", str(teacher_file))
    assert proc.returncode == 3 and "--memory and --no-memory" in proc.stderr
    bad = tmp / "bad.jsonl"
    bad.write_text('{"query": "what about apple", "doc": "apple"}\n{"query": "x"}\n')
    proc = batch(tmp, bad, teacher_file)
    assert proc.returncode == 1 and "line 2, field 'doc'" in proc.stderr  # input: exit 1


def test_audit_state_round_trips_and_refuses_bad_fields(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = AuditState("openai:gpt-4o")
    state.add(Overconfidence(40, 3, 1.5), {"pairs": 10}).add(Overconfidence(), {"pairs": 5})
    state.save(path)
    back = AuditState.load(path, teacher="openai:gpt-4o")
    assert back == state and back.batch == 3 and [b["batch"] for b in back.batches] == [1, 2]
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    with pytest.raises(ConfigError, match="belongs to teacher 'openai:gpt-4o', not 'x:y'"):
        AuditState.load(path, teacher="x:y")
    cases = {
        "[]": "must be a JSON object",
        '{"version": 2}': "field 'version'",
        '{"version": 1, "teacher": 3}': "field 'teacher'",
        '{"version": 1, "teacher": "t", "batches": [{}], "history": []}': "field 'history'",
        '{"version": 1, "teacher": "t", "batches": [{}], '
        '"history": [{"audited": -1, "observed": 0, "expected": 0}]}': r"field 'history\[0\]'",
        "{not json": "cannot read the audit state",
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            AuditState.load(path, teacher="t")
