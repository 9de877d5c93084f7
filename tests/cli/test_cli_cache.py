"""The cache commands end to end: score, stats, import, export, cache info/key/clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from judgecache.cli.main import main

SPEC = "python:jc_cli_teachers:grade"
ROWS = [
    {"id": "a", "query": "green tea benefits", "doc": "green tea has benefits for health"},
    {"id": "b", "query": "python list sort", "doc": "use sorted() to sort a python list"},
    {"id": "c", "query": "capital of france", "doc": "paris is the capital of france"},
    {"id": "d", "query": "green tea benefits", "doc": "green tea has benefits for health"},
    {"id": "e", "query": "rust borrow checker", "doc": "the borrow checker enforces rust rules"},
    {"id": "f", "query": "tallest mountain", "doc": "a recipe for pancakes"},
]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the CLI through ``main`` so errors map to exit codes exactly as in a shell."""

    @click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def shim(argv: tuple[str, ...]) -> None:
        main(list(argv))

    return CliRunner().invoke(shim, list(args), env=env)


@pytest.fixture
def cache(tmp_path: Path) -> str:
    return f"diskcache://{tmp_path / 'cache'}"


def test_score_writes_labels_then_the_rerun_is_all_hits(tmp_path: Path, cache: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    first = run(
        "score", str(src), "--judge", SPEC, "--cache", cache, "-o", str(out), "--no-progress"
    )
    assert first.exit_code == 0, first.output
    assert "pairs 6 · hits 0 · teacher calls 5" in first.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c", "d", "e", "f"]
    assert rows[0]["label"] == 3 and rows[5]["label"] == 0
    assert rows[0]["key"] == rows[3]["key"] and rows[0]["key"].startswith("jc1:")
    second = run(
        "score",
        str(src),
        "--judge",
        SPEC,
        "--cache",
        cache,
        "-o",
        str(out),
        "--no-progress",
        "--json",
    )
    summary = json.loads(second.output.strip().splitlines()[-1])
    assert summary["teacher_calls"] == 0 and summary["hits"] == 5 and summary["pairs"] == 6
    assert all(json.loads(line)["cached"] for line in out.read_text().splitlines())


def test_malformed_line_names_its_number(tmp_path: Path, cache: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(ROWS[0]) + "\n\n" + '{"query": "x", "doc": \n')
    result = run(
        "score",
        str(src),
        "--judge",
        SPEC,
        "--cache",
        cache,
        "-o",
        str(tmp_path / "o"),
        "--no-progress",
    )
    assert result.exit_code == 1
    assert "line 3" in result.output


@pytest.mark.parametrize(
    "row, field",
    [
        ({"query": "q"}, "doc"),
        ({"query": "", "doc": "d"}, "query"),
        ({"query": "q", "doc": 5}, "doc"),
    ],
)
def test_missing_empty_or_non_string_field(
    tmp_path: Path, cache: str, row: dict[str, object], field: str
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [ROWS[0], row])
    result = run(
        "score",
        str(src),
        "--judge",
        SPEC,
        "--cache",
        cache,
        "-o",
        str(tmp_path / "o"),
        "--no-progress",
    )
    assert result.exit_code == 1
    assert "line 2" in result.output and field in result.output


def test_unknown_judge_spec_is_a_configuration_error(tmp_path: Path, cache: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = run(
        "score", str(src), "--judge", "gemini:pro", "--cache", cache, "-o", str(tmp_path / "o")
    )
    assert result.exit_code == 3
    assert "unknown judge provider 'gemini'" in result.output


def test_budget_stops_cleanly_and_the_rerun_pays_only_the_rest(tmp_path: Path, cache: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    calls = tmp_path / "calls.txt"
    env = {"JC_CALLS": str(calls)}
    args = (
        "score",
        str(src),
        "--judge",
        SPEC,
        "--cache",
        cache,
        "--no-progress",
        "--concurrency",
        "1",
    )
    stopped = run(*args, "-o", str(tmp_path / "o1"), "--max-calls", "2", env=env)
    assert stopped.exit_code == 1 and "stopped early" in stopped.output
    assert len(calls.read_text().splitlines()) == 2
    assert (
        len((tmp_path / "o1").read_text().splitlines()) == 2 + 1
    )  # 2 judged, plus the duplicate of 'a'
    rerun = run(*args, "-o", str(tmp_path / "o2"), env=env)
    assert rerun.exit_code == 0
    assert len(calls.read_text().splitlines()) == 5
    assert len((tmp_path / "o2").read_text().splitlines()) == 6


def test_a_killed_run_loses_nothing_it_finished(tmp_path: Path, cache: str) -> None:
    rows = [{"query": f"topic {i} words", "doc": f"words about topic {i}"} for i in range(12)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    calls = tmp_path / "calls.txt"
    env = {**os.environ, "JC_CALLS": str(calls), "PYTHONPATH": str(Path(__file__).parent)}
    cmd = [sys.executable, "-m", "judgecache.cli.main", "score", str(src), "--judge", SPEC,
           "--cache", cache, "-o", str(tmp_path / "o"), "--no-progress", "--concurrency", "1",
           "--lease-ttl", "1"]  # fmt: skip
    killed = subprocess.run(cmd, env={**env, "JC_DIE_AFTER": "5"}, capture_output=True, text=True)
    assert killed.returncode == 137
    assert (
        len(calls.read_text().splitlines()) == 5
    )  # the 5th call died before its answer was stored
    finished = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    # 4 answers were stored before the kill: the rerun pays for the other 8, not for all 12, and
    # the dead holder's lease on the 5th pair lapsed within the 1 s TTL instead of blocking.
    assert len(calls.read_text().splitlines()) == 5 + 8


def test_import_export_round_trip_and_stats(tmp_path: Path, cache: str) -> None:
    labelled = [{**r, "label": i % 4, "meta": {"src": r["id"]}} for i, r in enumerate(ROWS[:3])]
    src = write_jsonl(tmp_path / "labels.jsonl", labelled)
    imported = run("import", str(src), "--judge", SPEC, "--cache", cache, "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output)["imported"] == 3
    out = tmp_path / "export.jsonl"
    exported = run("export", "--cache", cache, "-o", str(out))
    assert exported.exit_code == 0, exported.output
    rows = sorted(
        (json.loads(line) for line in out.read_text().splitlines()), key=lambda r: r["meta"]["src"]
    )
    assert [(r["inputs"]["query"], r["label"], r["source"]) for r in rows] == [
        (ROWS[0]["query"], 0, "import"),
        (ROWS[1]["query"], 1, "import"),
        (ROWS[2]["query"], 2, "import"),
    ]
    # Imported labels are hits: scoring the same pairs calls nobody.
    scored = run(
        "score",
        str(src),
        "--judge",
        SPEC,
        "--cache",
        cache,
        "-o",
        str(tmp_path / "o"),
        "--no-progress",
        "--json",
        "--tag",
        "nightly",
    )
    assert json.loads(scored.output.strip().splitlines()[-1])["teacher_calls"] == 0
    stats = json.loads(run("stats", "--cache", cache, "--json").output)
    by_tag = {r["tag"]: r for r in stats["rows"]}
    assert by_tag["nightly"]["hits"] == 3 and by_tag["*"]["calls"] == 0


def test_import_rejects_labels_outside_the_rubric(tmp_path: Path, cache: str) -> None:
    src = write_jsonl(tmp_path / "labels.jsonl", [{**ROWS[0], "label": 9}])
    result = run("import", str(src), "--judge", SPEC, "--cache", cache)
    assert result.exit_code == 1 and "not one of the labels" in result.output


def test_import_trec_files(tmp_path: Path, cache: str) -> None:
    (tmp_path / "topics.tsv").write_text("1\tgreen tea benefits\n2\tcapital of france\n")
    (tmp_path / "collection.tsv").write_text(
        "d1\tgreen tea has benefits\nd2\tparis is the capital\n"
    )
    (tmp_path / "qrels.txt").write_text("1 0 d1 3\n2 0 d2 2\n2 0 d1 0\n")
    result = run("import", "--judge", SPEC, "--cache", cache, "--qrels", str(tmp_path / "qrels.txt"),
                 "--topics", str(tmp_path / "topics.tsv"), "--collection", str(tmp_path / "collection.tsv"), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["new_entries"] == 3
    info = json.loads(run("cache", "info", "--cache", cache, "--json").output)
    assert info["entries"] == 3
    assert info["judges"][0]["entries"] == 3


def test_cache_key_explains_and_clear_empties(tmp_path: Path, cache: str) -> None:
    shown = run(
        "cache",
        "key",
        "green tea",
        "green tea is good",
        "--judge",
        SPEC,
        "--cache",
        cache,
        "--json",
    )
    data = json.loads(shown.output)
    assert data["cached"] is False
    assert data["material"]["inputs"] == {"query": "green tea", "doc": "green tea is good"}
    assert data["material"]["judge"]["provider"] == "callable"
    src = write_jsonl(tmp_path / "in.jsonl", [{"query": "green tea", "doc": "green tea is good"}])
    run(
        "score",
        str(src),
        "--judge",
        SPEC,
        "--cache",
        cache,
        "-o",
        str(tmp_path / "o"),
        "--no-progress",
    )
    again = json.loads(
        run(
            "cache",
            "key",
            "green tea",
            "green tea is good",
            "--judge",
            SPEC,
            "--cache",
            cache,
            "--json",
        ).output
    )
    assert again["cached"] is True and again["key"] == data["key"] and again["value"]["label"] == 2
    cleared = run("cache", "clear", "--cache", cache, "--yes")
    assert cleared.exit_code == 0 and "cleared 1 entries" in cleared.output


@pytest.mark.redis
def test_unreachable_redis_fails_or_falls_back(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:2])
    dead = "redis://:hunter2@127.0.0.1:1/0"
    failed = run(
        "score",
        str(src),
        "--judge",
        SPEC,
        "--cache",
        dead,
        "-o",
        str(tmp_path / "o"),
        "--no-progress",
    )
    assert failed.exit_code == 1
    assert "127.0.0.1:1" in failed.output and "hunter2" not in failed.output
    env = {"JUDGECACHE_DIR": str(tmp_path / "local")}
    fell_back = run("score", str(src), "--judge", SPEC, "--cache", dead, "-o", str(tmp_path / "o"),
                    "--no-progress", "--on-storage-error", "fallback", env=env)  # fmt: skip
    assert fell_back.exit_code == 0, fell_back.output
    # One line on the command line (the log record), not the warning again with its source line.
    assert fell_back.output.count("is unavailable") == 1 and "127.0.0.1:1" in fell_back.output
    assert (tmp_path / "local").exists()
