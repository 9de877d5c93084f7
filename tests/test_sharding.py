"""Sharding a score run over a fleet of workers, and merging their outputs (pure parts)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from judgecache.errors import ConfigError, JudgecacheError
from judgecache.sharding import Shard, merge_outputs, parse_shard


@pytest.mark.parametrize("text", ["", "1", "4/4", "-1/4", "a/b", "1/0", "1/2/3", "1.0/2"])
def test_bad_shard_names_the_rule(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--shard must be I/N with whole numbers 0 <= I < N"):
        parse_shard(text)


def test_every_key_lands_in_exactly_one_shard_and_shares_are_even() -> None:
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(4000)]
    shards = [parse_shard(f"{i}/4") for i in range(4)]
    owners = [[s.index for s in shards if s.takes(k)] for k in keys]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(o == [i] for o in owners) for i in range(4)]
    assert min(sizes) > 850  # 1000 expected each; a skewed hash would fail this
    assert [Shard(2, 4).takes(k) for k in keys] == [Shard(2, 4).takes(k) for k in keys]


def _part(path: Path, lines: list[int]) -> Path:
    path.write_text("".join(json.dumps({"q": f"q{n}", "input_line": n}) + "\n" for n in lines))
    return path


def test_merge_restores_input_order_and_drops_the_line_field(tmp_path: Path) -> None:
    a = _part(tmp_path / "a.jsonl", [1, 4, 5])
    b = _part(tmp_path / "b.jsonl", [2, 3, 6])
    assert merge_outputs([a, b], tmp_path / "all.jsonl") == 6
    rows = [json.loads(x) for x in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert rows == [{"q": f"q{n}"} for n in range(1, 7)]


@pytest.mark.parametrize(
    ("second", "message"),
    [([2, 6], "input line 3 is missing (next is 4)"), ([1, 2, 3, 6], "input line 2 is repeated")],
)
def test_merge_refuses_a_missing_or_repeated_line(
    tmp_path: Path, second: list[int], message: str
) -> None:
    a = _part(tmp_path / "a.jsonl", [1, 4, 5])
    b = _part(tmp_path / "b.jsonl", second)
    with pytest.raises(JudgecacheError, match=re.escape(message)):
        merge_outputs([a, b], tmp_path / "all.jsonl")
    assert not (tmp_path / "all.jsonl").exists()
    assert not (tmp_path / "all.jsonl.partial").exists()


def test_merge_cli_exit_codes(tmp_path: Path) -> None:
    a = _part(tmp_path / "a.jsonl", [1, 3])
    b = tmp_path / "b.jsonl"
    b.write_text('{"q": "unsharded"}\n')
    bad = subprocess.run(
        ["judgecache", "merge", str(a), str(b), "-o", str(tmp_path / "o.jsonl")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert "b.jsonl:1: no positive integer 'input_line'" in bad.stderr
    _part(b, [2])
    good = subprocess.run(
        ["judgecache", "merge", str(a), str(b), "-o", str(tmp_path / "o.jsonl")],
        capture_output=True,
        text=True,
    )
    assert good.returncode == 0, good.stderr
    assert "3 lines" in good.stdout


def test_score_rejects_a_bad_shard_with_a_usage_error(tmp_path: Path) -> None:
    pairs = tmp_path / "in.jsonl"
    pairs.write_text('{"query": "q", "doc": "d"}\n')
    done = subprocess.run(
        ["judgecache", "score", str(pairs), "--judge", "python:os:getcwd", "--shard", "4/4",
         "-o", str(tmp_path / "o.jsonl"), "--cache", "memory://"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 3  # the CLI's exit code for a configuration or usage error
    assert "Invalid value for '--shard': --shard must be I/N" in done.stderr
