"""``train_extra``: more labels of the same teacher, for training only; held-out queries stay unseen."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from distill_rows import make_rows, tiny_config, write_jsonl

from judgecache.distill.data import labels_from_rows
from judgecache.distill.pipeline import prepare

pytestmark = pytest.mark.distill


def test_extra_labels_join_the_training_split_only(tiny_bert: Path, tmp_path: Path) -> None:
    labels = labels_from_rows(make_rows(240, n_groups=8))
    extra_rows = make_rows(200, n_groups=10, seed=5)  # queries of 8 topics, and 2 new ones
    extra = write_jsonl(tmp_path / "extra.jsonl", extra_rows)
    without = prepare(tiny_config(tiny_bert, tmp_path / "a", by="group"), labels)
    with_extra = tiny_config(tiny_bert, tmp_path / "b", by="group").with_values(
        {"train_extra": str(extra)}
    )
    got = prepare(with_extra, labels)

    for name, part in without.splits.items():
        if name != "train":
            assert got.splits[name].pairs == part.pairs  # held-out splits untouched
    held_queries = {p.first for n, s in without.splits.items() if n != "train" for p in s.pairs}
    train = got.splits["train"].pairs
    assert train[: len(without.splits["train"])] == without.splits["train"].pairs
    added = train[len(without.splits["train"]) :]
    expected = [
        (r["inputs"]["query"], r["inputs"]["doc"])
        for r in extra_rows
        if r["inputs"]["query"] not in held_queries
    ]
    assert [(p.first, p.second) for p in added] == expected
    assert 0 < len(added) < len(extra_rows)  # some extra queries were held out, some not
    assert {"what about copper", "what about garden"} <= {p.first for p in added}


def test_another_teachers_extra_labels_are_refused_by_the_console_script(
    tiny_bert: Path, tmp_path: Path
) -> None:
    labels = write_jsonl(tmp_path / "labels.jsonl", make_rows(200))
    other = {"provider": "replay", "model": "another-teacher", "version": ""}
    extra = write_jsonl(tmp_path / "extra.jsonl", make_rows(50, judge=other))
    exe = shutil.which("judgecache", path=str(Path(sys.executable).parent)) or "judgecache"
    out = tmp_path / "student"
    args = ["distill", "--labels", str(labels), "--train-extra", str(extra), "--output", str(out),
            "--base-model", str(tiny_bert), "--no-progress"]  # fmt: skip
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 3, done.stderr
    assert "train_extra" in done.stderr and "replay:another-teacher" in done.stderr
    assert "replay:synthetic" in done.stderr
    assert not out.exists()  # refused before any model was built
