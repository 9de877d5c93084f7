"""Odd input gives a clear JudgecacheError naming what was wrong, never a traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rel_common import SPEC, env_for, jc, write_jsonl

from judgecache import Judge
from judgecache.errors import ConfigError, InputError
from judgecache.io.jsonl import read_pairs

SURROGATE = "tea \ud800 time"


def _judge() -> Judge:
    return Judge(lambda q, d: 1, name="one", version="1", cache="memory://")


@pytest.mark.parametrize("pair, field", [((SURROGATE, "doc"), "query"), (("q", SURROGATE), "doc")])
def test_lone_surrogate_is_an_input_error_naming_the_field(
    pair: tuple[str, str], field: str
) -> None:
    judge = _judge()
    for call in (
        lambda: judge.score(*pair),
        lambda: judge.key(*pair),
        lambda: judge.put(*pair, 1),
        lambda: asyncio.run(judge.ascore(*pair)),
    ):
        with pytest.raises(InputError, match=f"field '{field}'.*lone surrogate"):
            call()
    assert judge.store.count() == 0
    # A real surrogate *pair* (an emoji written as two escapes) is fine.
    assert judge.score("tea \ud83d\ude00".encode("utf-16", "surrogatepass").decode("utf-16"), "d")


def _bad_lines(tmp_path: Path) -> dict[str, tuple[str, str]]:
    return {
        "surrogate": ('{"query": "a \\ud800", "doc": "d"}', "lone surrogate"),
        "nested": ("[" * 100_000, "nested too deeply"),
        "nan": ('{"query": "q", "doc": "d", "score": NaN}', "NaN is not a JSON number"),
        "inf": ('{"query": "q", "doc": "d", "score": -Infinity}', "-Infinity is not a JSON"),
    }


@pytest.mark.parametrize("case", ["surrogate", "nested", "nan", "inf"])
def test_bad_jsonl_line_is_named_by_number(tmp_path: Path, case: str) -> None:
    text, message = _bad_lines(tmp_path)[case]
    src = tmp_path / "in.jsonl"
    src.write_text('{"query": "fine", "doc": "fine"}\n' + text + "\n")
    with pytest.raises(InputError, match=f"line 2: .*{message}"):
        list(read_pairs(src, ("query", "doc"), with_labels=True))


@pytest.mark.parametrize("case", ["surrogate", "nested", "nan"])
def test_cli_reports_bad_lines_without_a_traceback(tmp_path: Path, case: str) -> None:
    text, message = _bad_lines(tmp_path)[case]
    src = tmp_path / "in.jsonl"
    src.write_text('{"query": "fine", "doc": "fine"}\n' + text + "\n")
    out = tmp_path / "out.jsonl"
    run = jc("score", str(src), "--judge", SPEC, "--cache", "memory://", "-o", str(out),
             "--no-progress", env=env_for(tmp_path / "calls"))  # fmt: skip
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "line 2" in run.stderr and message in run.stderr
    assert not out.exists() or "NaN" not in out.read_text()


def test_scores_in_output_files_are_never_nan(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"query": "q", "doc": "d", "score": 1e308}])
    out = tmp_path / "out.jsonl"
    run = jc("score", str(src), "--judge", SPEC, "--cache", "memory://", "-o", str(out),
             "--no-progress", env=env_for(tmp_path / "calls"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "NaN" not in out.read_text() and "Infinity" not in out.read_text()


@pytest.mark.parametrize("timeout", [-1, 0, float("nan"), "soon", True])
def test_bad_teacher_options_are_config_errors(timeout: object) -> None:
    with pytest.raises(ConfigError, match="timeout_s"):
        Judge("openai:gpt-4o-mini", options={"timeout_s": timeout}, cache="memory://")


@pytest.mark.parametrize("kw", [{"max_calls": -1}, {"max_cost_usd": -0.5}, {"concurrency": 0}])
def test_bad_judge_settings_are_config_errors(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Judge(lambda q, d: 1, name="one", cache="memory://", **kw)  # type: ignore[arg-type]
