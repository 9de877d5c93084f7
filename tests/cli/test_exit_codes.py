"""Every documented exit code, through the installed console script in a subprocess.

docs/cli.md: 0 success, 1 failure, 3 configuration or usage error (drift's own 0/1/2/3 are
covered in tests/drift/test_drift_cli.py, also through the console script).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from console import judgecache

SPEC = "python:jc_cli_teachers:grade"
FAILING = "python:jc_cli_teachers:grade_or_fail"


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    return _jsonl(
        tmp_path / "pairs.jsonl",
        [
            {"query": "green tea", "doc": "green tea is a drink"},
            {"query": "rust", "doc": "boom: the teacher fails here"},
        ],
    )


@pytest.fixture
def cache(tmp_path: Path) -> str:
    return f"diskcache://{tmp_path / 'cache'}"


def test_help_and_version_exit_0() -> None:
    assert judgecache("--help").returncode == 0
    assert judgecache("--version").returncode == 0


def test_score_exit_0_when_every_pair_is_judged(tmp_path: Path, pairs: Path, cache: str) -> None:
    good = _jsonl(tmp_path / "good.jsonl", [{"query": "green tea", "doc": "green tea is a drink"}])
    res = judgecache("score", str(good), "--judge", SPEC, "--cache", cache,
                     "-o", str(tmp_path / "o.jsonl"), "--no-progress")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "teacher calls 1" in res.stdout


def test_score_exit_1_when_a_pair_fails(tmp_path: Path, pairs: Path, cache: str) -> None:
    out = tmp_path / "o.jsonl"
    res = judgecache("score", str(pairs), "--judge", FAILING, "--cache", cache,
                     "-o", str(out), "--no-progress")  # fmt: skip
    assert res.returncode == 1, res.stderr
    assert "1 pair(s) failed" in res.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [("error" in r) for r in rows] == [False, True]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["score", "{pairs}", "-o", "{out}", "--judge", "no-such-provider:x"],
            "unknown judge provider",
        ),
        (["score", "/no/such/file.jsonl", "-o", "{out}", "--judge", SPEC], "does not exist"),
        (
            ["score", "{pairs}", "-o", "{out}", "--judge", SPEC, "--no-such-option"],
            "No such option",
        ),
        (["cache", "key", "q", "d", "--judge", "no-such-provider:x"], "unknown judge provider"),
        (["import", "/no/such/labels.jsonl", "--judge", SPEC], "does not exist"),
        (["evaluate", "--judge", SPEC, "--labels", "/no/such/labels.jsonl"], "does not exist"),
        (["distill", "--config", "{bad_config}", "--labels", "{pairs}"], "budjet"),
        (["drift", "run", "--config", "/no/such/weekly.yaml"], "does not exist"),
        (["drift", "baseline", "--config", "{bad_config}"], "budjet"),
        (["report", "--config", "{bad_config}"], "budjet"),
        (["report", "--report-dir", "{empty_dir}"], "no drift report"),
        (["no-such-command"], "No such command"),
    ],
)
def test_configuration_and_usage_errors_exit_3(
    tmp_path: Path, pairs: Path, cache: str, args: list[str], message: str
) -> None:
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("budjet: 10\n")
    empty_dir = tmp_path / "reports"
    empty_dir.mkdir()
    values = {
        "pairs": str(pairs),
        "out": str(tmp_path / "o.jsonl"),
        "bad_config": str(bad_config),
        "empty_dir": str(empty_dir),
    }
    argv = [a.format(**values) for a in args]
    res = judgecache(*argv, env={"JUDGECACHE_CACHE": cache})
    assert res.returncode == 3, (argv, res.stdout, res.stderr)
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_output_folder_is_a_usage_error_before_any_work(pairs: Path, cache: str) -> None:
    for command in (["score", str(pairs), "--judge", SPEC], ["export"]):
        res = judgecache(*command, "--cache", cache, "-o", "/no/such/dir/out.jsonl")
        assert res.returncode == 3, res.stderr
        assert "the folder /no/such/dir does not exist" in res.stderr
        assert "Traceback" not in res.stderr


def test_empty_input_says_so(tmp_path: Path, cache: str) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    scored = judgecache("score", str(empty), "--judge", SPEC, "--cache", cache,
                        "-o", str(tmp_path / "o.jsonl"), "--no-progress")  # fmt: skip
    assert scored.returncode == 0 and f"0 pairs read from {empty}" in scored.stderr
    imported = judgecache("import", str(empty), "--judge", SPEC, "--cache", cache)
    assert imported.returncode == 0 and f"0 labels read from {empty}" in imported.stderr


def test_unreachable_cache_fails_before_the_teacher_loads(tmp_path: Path, pairs: Path) -> None:
    loaded = tmp_path / "loaded"
    res = judgecache("score", str(pairs), "--judge", "python:jc_cli_teachers:SlowToLoad",
                     "--cache", "redis://127.0.0.1:1/0", "-o", str(tmp_path / "o.jsonl"),
                     env={"JC_LOADED": str(loaded)})  # fmt: skip
    assert res.returncode == 1 and "connect failed" in res.stderr
    assert not loaded.exists()  # the model would have loaded for nothing


def test_cache_fallback_warns_once_on_one_line(tmp_path: Path, pairs: Path) -> None:
    good = _jsonl(tmp_path / "good.jsonl", [{"query": "green tea", "doc": "green tea is a drink"}])
    res = judgecache("score", str(good), "--judge", SPEC, "--cache", "redis://127.0.0.1:1/0",
                     "--on-storage-error", "fallback", "-o", str(tmp_path / "o.jsonl"),
                     "--no-progress", env={"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)})  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stderr.splitlines() if "unavailable" in line]
    assert len(lines) == 1 and lines[0].startswith("judgecache: warning: cache redis://")
    assert "warnings.warn" not in res.stderr
