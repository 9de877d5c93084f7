"""``judgecache cascade refresh``: a student continued on the labels its cache gained since.

Through the installed console script on a tiny local BERT: the record distill writes, the skip
when nothing is new, a kept refresh (forced with a tolerance no delta can miss) written beside
the old student, refusals (another teacher, no record, not a student) with exit code 3. Whether
a given training run keeps or rejects is not asserted; only that the exit code says which.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from console import judgecache
from distill_rows import make_rows, write_jsonl

from judgecache.distill.memory import pair_key
from judgecache.distill.refresh import RefreshOptions, keeps, next_version_dir
from judgecache.errors import ConfigError

pytestmark = pytest.mark.distill


def _keys(rows: list[dict[str, Any]]) -> set[str]:
    return {pair_key(r["inputs"]["query"], r["inputs"]["doc"]) for r in rows}


def _new_rows(n: int, seed: int, old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Labels the cache gained later: other documents of the same queries (none already old)."""
    seen = _keys(old)
    rows = [r for r in make_rows(n, seed=seed) if not _keys([r]) <= seen]
    for i, r in enumerate(rows):
        r["key"] = f"new{seed}-{i}"
    return rows


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> dict[str, Any]:
    """A student distilled from ``old`` labels, and a labels file that also holds ``new`` ones."""
    root = tmp_path_factory.mktemp("refresh")
    old = make_rows(240, seed=0)
    new = _new_rows(200, seed=1, old=old)
    old_file = write_jsonl(root / "old.jsonl", old)
    both = write_jsonl(root / "both.jsonl", old + new)
    done = judgecache(
        "distill", "--labels", str(old_file), "--output", str(root / "rel"),
        "--base-model", str(tiny_bert), "--epochs", "1", "--no-progress",
        "--set", "lora.layers=null", "--set", "split.min_examples=20", "--set", "eval.bootstrap=10",
        "--set", "train.max_length=32", "--set", "train.lexical=false",
        "--set", "train.maxsim=false",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {"root": root, "student": root / "rel", "old": old, "new": new, "both": both,
            "old_file": old_file}  # fmt: skip


def _refresh(student: Path, labels: Path, *more: str) -> Any:
    return judgecache(
        "cascade", "refresh", "--student", str(student), "--labels", str(labels),
        "--bootstrap", "50", "--max-steps", "4", "--no-progress", *more,
    )  # fmt: skip


def test_distill_records_what_it_read(world: dict[str, Any]) -> None:
    rec = json.loads((world["student"] / "trained_on.json").read_text())
    assert rec["teacher"] == "replay:synthetic"
    train, held = set(rec["train"]), set(rec["held_out"])
    assert train and held and not train & held
    assert train | held == _keys(world["old"])


def test_nothing_new_skips_and_writes_nothing(world: dict[str, Any]) -> None:
    done = _refresh(world["student"], world["old_file"], "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "skipped" and out["counts"] == {"labels": 240, "new": 0}
    assert "0 new label(s)" in out["reason"]
    assert not next_version_dir(world["student"]).with_name("rel-r1").exists()


def test_kept_refresh_is_written_beside_the_old_student(world: dict[str, Any]) -> None:
    # A tolerance no kappa delta can miss: this run is kept whatever its training gave.
    done = _refresh(world["student"], world["both"], "--json", "--tolerance", "2")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    n_new = len(world["new"])
    c = out["counts"]
    assert out["status"] == "kept" and c["new"] == n_new
    assert c["train_new"] + c["calib_new"] + c["holdout"] == n_new
    assert c["replay_old"] == min(c["train_new"], 144)  # replay 1.0: as many old as new
    assert out["steps"] == 4 and out["metric"] == "weighted_kappa"
    d = out["delta"]["weighted_kappa"]
    assert d["lo"] <= d["value"] <= d["hi"]
    assert out["new"]["weighted_kappa"] - out["old"]["weighted_kappa"] == pytest.approx(
        d["value"], abs=2e-4
    )
    new_dir = Path(out["output"])
    assert new_dir == world["root"] / "rel-r1"
    old_spec = json.loads((world["student"] / "student.json").read_text())
    new_spec = json.loads((new_dir / "student.json").read_text())
    assert new_spec["version"] != old_spec["version"] and new_spec["teacher"] == old_spec["teacher"]
    parent = json.loads((new_dir / "refresh.json").read_text())["parent_version"]
    assert parent == old_spec["version"]
    # The new student records the new labels; nothing is new to it any more.
    rec = json.loads((new_dir / "trained_on.json").read_text())
    assert _keys(world["new"]) <= set(rec["train"]) | set(rec["held_out"])
    again = _refresh(new_dir, world["both"], "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "skipped"
    # And it serves as a judge.
    scored = judgecache(
        "evaluate", "--judge", f"student:{new_dir}", "--labels", str(world["both"]),
        "--cache", "memory://", "--bootstrap", "10", "--no-progress",
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr


def test_exit_code_says_whether_the_refresh_was_kept(world: dict[str, Any]) -> None:
    out_dir = world["root"] / "plain"
    done = _refresh(world["student"], world["both"], "--output", str(out_dir))
    assert done.returncode in (0, 1), done.stderr
    kept = done.returncode == 0
    assert done.stdout.startswith("kept: " if kept else "rejected: ")
    assert "weighted_kappa delta" in done.stdout
    assert out_dir.exists() == kept
    if not kept:
        assert f"{world['student']} stays" in done.stdout


def test_refusals_are_configuration_errors(world: dict[str, Any], tmp_path: Path) -> None:
    other = make_rows(60, seed=5, judge={"provider": "openai", "model": "gpt-4o", "version": ""})
    other_file = write_jsonl(tmp_path / "other.jsonl", other)
    done = _refresh(world["student"], other_file)
    assert done.returncode == 3
    assert "openai:gpt-4o" in done.stderr and "replay:synthetic" in done.stderr

    bare = tmp_path / "bare"
    shutil.copytree(world["student"], bare)
    (bare / "trained_on.json").unlink()
    done = _refresh(bare, world["both"])
    assert done.returncode == 3 and "trained_on.json" in done.stderr

    done = _refresh(tmp_path, world["both"])
    assert done.returncode == 3 and "not a student directory" in done.stderr

    done = _refresh(world["student"], world["both"], "--holdout", "1.5")
    assert done.returncode == 3 and "--holdout" in done.stderr


def test_the_keep_rule_and_option_checks() -> None:
    assert keeps({"value": 0.0, "lo": -0.2, "hi": 0.2}, 0.0)
    assert not keeps({"value": -0.03, "lo": -0.1, "hi": 0.02}, 0.02)
    with pytest.raises(ConfigError, match="holdout"):
        RefreshOptions(holdout=0.6, calib=0.5)
