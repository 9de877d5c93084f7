"""``judgecache evaluate`` through the console script: balanced accuracy, a bar, the cache it names."""

from __future__ import annotations

import json
from pathlib import Path

from console import judgecache, write_jsonl

JUDGE = "python:jc_cli_teachers:grade"
PAIRS = [
    ("green tea benefits", "green tea has benefits", 3),
    ("python list sort", "sort a python list", 3),
    ("capital of france", "paris is nice", 0),
    ("tea time", "tea is hot", 1),
    ("rust borrow", "rust borrow rules", 2),
    ("red apple", "red car", 1),
]


def _labels(path: Path) -> Path:
    rows = [
        {"task": "relevance", "judge": {"provider": "openai", "model": "gpt-4o", "version": ""},
         "inputs": {"query": q, "doc": d}, "label": y}
        for q, d, y in PAIRS
    ]  # fmt: skip
    return write_jsonl(path, rows)


def test_evaluate_prints_balanced_accuracy_and_uses_the_default_cache(tmp_path: Path) -> None:
    labels = _labels(tmp_path / "labels.jsonl")
    env = {"JUDGECACHE_CACHE": f"diskcache://{tmp_path / 'team-cache'}"}
    done = judgecache("evaluate", "--judge", JUDGE, "--labels", str(labels), "--bootstrap", "10",
                      env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "balanced_accuracy" in done.stdout and "evaluate: 100%" in done.stderr
    # --help says $JUDGECACHE_CACHE is the default: the answers are there for the next run.
    stats = judgecache("stats", "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    assert "jc_cli_teachers:grade" in stats.stdout
    again = judgecache("evaluate", "--judge", JUDGE, "--labels", str(labels), "--bootstrap", "10",
                       "--json", "--no-progress", env=env)  # fmt: skip
    result = json.loads(again.stdout)
    assert result["judged"]["balanced_accuracy"]["value"] == 1.0  # the labels are its own grades
    rows = json.loads(judgecache("stats", "--json", env=env).stdout)["rows"]
    assert sum(r["hits"] for r in rows if "jc_cli_teachers:grade" in r["judge"]) == 6
