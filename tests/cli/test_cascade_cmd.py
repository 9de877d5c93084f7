"""Cascades from the command line: honest score summaries, one cache per run, cascade fit/report."""

from __future__ import annotations

import json
from pathlib import Path

from console import judgecache, write_jsonl

from judgecache.cascade.band import Band
from judgecache.cascade.record import save_selection
from judgecache.cascade.selection import BandSelection

TEACHER = "python:jc_cli_teachers:grade"
CASCADE = f"cascade:python:jc_cli_teachers:prob>{TEACHER}"
ROWS = [
    {"query": "green tea benefits", "doc": "green tea has benefits"},  # p 0.95: kept
    {"query": "python list sort", "doc": "sort a python list"},  # kept
    {"query": "capital of france", "doc": "paris is nice"},  # p 0.05: kept
    {"query": "tea time", "doc": "tea is hot"},  # p 0.45: escalated (imported: a cache hit)
    {"query": "rust borrow", "doc": "rust borrow rules"},  # p 0.6: escalated, a real call
    {"query": "red apple", "doc": "red car"},  # escalated, a real call
]


def _band_file(path: Path) -> Path:
    sel = BandSelection(Band(0.3, 0.7), {"kind": "escalation", "max_escalation": 0.5}, 6, 3, 3, 0,
                        0.5, 1, True)  # fmt: skip
    return save_selection(sel, path)


def test_score_through_a_cascade_separates_student_escalations_and_teacher(
    tmp_path: Path,
) -> None:
    pairs = write_jsonl(tmp_path / "pairs.jsonl", ROWS)
    cache = f"diskcache://{tmp_path / 'run-cache'}"
    seed = write_jsonl(tmp_path / "seed.jsonl", [{**ROWS[3], "label": 1}])
    assert judgecache("import", str(seed), "--judge", TEACHER, "--cache", cache).returncode == 0
    band = _band_file(tmp_path / "band.json")
    calls = tmp_path / "calls.txt"
    env = {"JC_CALLS": str(calls), "JUDGECACHE_CACHE": f"diskcache://{tmp_path / 'env-cache'}"}
    args = ["score", str(pairs), "--judge", CASCADE, "--cache", cache, "--band", str(band)]
    done = judgecache(*args, "-o", str(tmp_path / "o.jsonl"), "--json", env=env)
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    assert (s["pairs"], s["student_answers"], s["escalations"]) == (6, 3, 3)
    assert (s["teacher_calls"], s["teacher_cache_hits"]) == (2, 1)
    assert len(calls.read_text().splitlines()) == 2  # the real teacher was called twice
    # The escalations went to --cache, not to $JUDGECACHE_CACHE.
    assert not (tmp_path / "env-cache").exists()
    text = judgecache(*args, "-o", str(tmp_path / "o2.jsonl"), env=env)
    assert "student answers 0 · escalations 0" in text.stdout  # all cascade cache hits now
    assert len(calls.read_text().splitlines()) == 2


def test_band_only_for_cascades(tmp_path: Path) -> None:
    pairs = write_jsonl(tmp_path / "pairs.jsonl", ROWS)
    band = _band_file(tmp_path / "band.json")
    done = judgecache("score", str(pairs), "--judge", TEACHER, "--band", str(band), "-o",
                      str(tmp_path / "o.jsonl"), "--cache", "memory://")  # fmt: skip
    assert done.returncode != 0 and "--band applies to cascade: judges only" in done.stderr
