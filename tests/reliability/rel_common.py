"""Helpers shared by the reliability tests: run the installed console script, count calls."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

SPEC = "python:jc_rel_teachers:grade"
HERE = Path(__file__).parent


def console_script() -> str:
    """The `judgecache` on PATH (the installed console script)."""
    exe = shutil.which("judgecache")
    assert exe is not None, "the judgecache console script is not on PATH (pip install -e .)"
    return exe


def env_for(calls: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "JC_CALLS": str(calls), "PYTHONPATH": str(HERE), **extra}


def jc(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``judgecache ARGS`` as a user would, capturing stdout and stderr."""
    return subprocess.run(
        [console_script(), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def count_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def pairs(n: int, prefix: str = "topic") -> list[dict[str, object]]:
    return [
        {"id": str(i), "query": f"{prefix} {i} words", "doc": f"words about {prefix} {i}"}
        for i in range(n)
    ]
