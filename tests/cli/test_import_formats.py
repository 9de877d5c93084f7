"""``judgecache import``: one conflict policy (shared with replay:), NLI/SummEdits files, human:NAME."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from console import judgecache, write_jsonl

from judgecache.io.conflicts import merge_labels, resolve
from judgecache.judges.rubric import get_rubric
from judgecache.judges.teachers.replay import ReplayTeacher

# Two docids with the same passage text and different grades; one exact repeat.
CONFLICT_ROWS = [
    {"query": "tea", "doc": "green tea", "label": 1, "meta": {"qid": "1", "docid": "d1"}},
    {"query": "tea", "doc": "green tea ", "label": 3, "meta": {"qid": "1", "docid": "d2"}},
    {"query": "tea", "doc": "green tea", "label": 3, "meta": {"qid": "1", "docid": "d3"}},
    {"query": "tea", "doc": "black tea", "label": 2, "meta": {"qid": "1", "docid": "d4"}},
]


def test_import_reports_merged_and_conflicted_rows(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "labels.jsonl", CONFLICT_ROWS)
    cache = f"diskcache://{tmp_path / 'c'}"
    done = judgecache("import", str(src), "--judge", "human:t", "--cache", cache, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["rows"], result["imported"], result["merged"], result["conflicted"]) == (
        4,
        2,
        2,
        1,
    )
    text = judgecache("import", str(src), "--judge", "human:t2", "--cache", cache)
    assert "merged 2 rows" in text.stdout and "1 pairs had conflicting labels" in text.stdout
    assert "docid d1=1" in text.stdout


def test_import_and_replay_keep_the_same_label(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "labels.jsonl", CONFLICT_ROWS)
    pairs = tmp_path / "pairs.jsonl"
    write_jsonl(pairs, [{"query": "tea", "doc": "green tea"}])
    for policy, expected in (("majority", 3), ("min", 1), ("first", 1)):
        cache = f"diskcache://{tmp_path / policy}"
        imp = judgecache(
            "import", str(src), "--judge", "human:t", "--cache", cache, "--on-conflict", policy
        )
        assert imp.returncode == 0, imp.stderr
        out = tmp_path / f"{policy}.jsonl"
        done = judgecache(
            "score", str(pairs), "--judge", "human:t", "--cache", cache, "-o", str(out)
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(out.read_text())["label"] == expected
        replay = ReplayTeacher.from_jsonl(src, on_conflict=policy)
        rubric = get_rubric("relevance")
        assert replay.judge(rubric, {"query": "tea", "doc": "green tea"}).label == expected
        assert replay.conflicted_pairs == 1


def test_refuse_names_the_conflicting_rows(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "labels.jsonl", CONFLICT_ROWS)
    done = judgecache(
        "import", str(src), "--judge", "human:t", "--cache", "memory://", "--on-conflict", "refuse"
    )
    assert done.returncode == 1
    assert "conflicting labels" in done.stderr and "docid d1: 1" in done.stderr
    with pytest.raises(ValueError, match="conflicting labels"):
        ReplayTeacher.from_jsonl(src, on_conflict="refuse")


def test_policies() -> None:
    assert resolve([1, 3, 3], "majority") == 3
    assert resolve([1, 3], "majority") == 3  # a tie goes to the highest
    assert resolve(["1", "3", "1"], "majority") == "1"
    assert resolve([2, 1], "last") == 1
    merged = merge_labels([("a", "b", 1, None), ("a ", "b", 1, None)])
    assert (merged.merged, merged.conflicted) == (1, 0)


def test_import_reads_nli_jsonl_and_summedits(tmp_path: Path) -> None:
    nli = write_jsonl(
        tmp_path / "nli.jsonl",
        [
            {"premise": "It rained all day.", "hypothesis": "It was wet.", "label": "entailment"},
            {
                "premise": "It rained all day.",
                "hypothesis": "It was dry.",
                "label": "contradiction",
            },
            {"premise": "It rained all day.", "hypothesis": "It was cold.", "label": "neutral"},
        ],
    )
    se = tmp_path / "summedits_news.json"
    se.write_text(
        json.dumps([{"id": "x1", "doc": "Rain fell.", "summary": "It rained.", "label": "1"}])
    )
    cache = f"diskcache://{tmp_path / 'c'}"
    for path in (nli, se):
        done = judgecache(
            "import", str(path), "--judge", "human:x", "--task", "faithfulness", "--cache", cache
        )
        assert done.returncode == 0, done.stderr
    pairs = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"context": "It rained all day.", "answer": "It was wet."},
            {"context": "It rained all day.", "answer": "It was cold."},
            {"context": "Rain fell.", "answer": "It rained."},
        ],
    )
    out = tmp_path / "o.jsonl"
    done = judgecache(
        "score", str(pairs), "--judge", "human:x", "--task", "faithfulness", "--cache", cache,
        "-o", str(out), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [json.loads(x)["label"] for x in out.read_text().splitlines()] == [1, 0, 1]
    assert json.loads(done.stdout)["teacher_calls"] == 0


def test_nli_bad_label_and_wrong_task_are_named(tmp_path: Path) -> None:
    bad = write_jsonl(
        tmp_path / "nli.jsonl", [{"premise": "p", "hypothesis": "h", "label": "maybe"}]
    )
    done = judgecache("import", str(bad), "--judge", "human:x", "--task", "faithfulness")
    assert done.returncode == 1 and "line 1, field 'label'" in done.stderr
    assert "entailment" in done.stderr
    wrong = judgecache("import", str(bad), "--judge", "human:x", "--cache", "memory://")
    assert wrong.returncode == 3 and "--task faithfulness" in wrong.stderr


def test_human_judge_never_calls_anything(tmp_path: Path) -> None:
    pairs = write_jsonl(tmp_path / "p.jsonl", [{"query": "q", "doc": "d"}])
    out = tmp_path / "o.jsonl"
    done = judgecache(
        "score", str(pairs), "--judge", "human:trec-dl", "--cache", "memory://", "-o", str(out)
    )
    assert done.returncode == 1
    assert "never asked for" in json.loads(out.read_text())["error"]
