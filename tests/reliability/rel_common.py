"""Helpers shared by the reliability tests: the console script (from ``tests/console.py``), the
recording judge's environment, and small file helpers."""

from __future__ import annotations

import json
import os
from pathlib import Path

from console import console_script, write_jsonl
from console import judgecache as jc

__all__ = [
    "HERE",
    "SPEC",
    "console_script",
    "count_lines",
    "env_for",
    "jc",
    "pairs",
    "read_jsonl",
    "write_jsonl",
]  # fmt: skip

SPEC = "python:jc_rel_teachers:grade"
HERE = Path(__file__).parent


def env_for(calls: Path, **extra: str) -> dict[str, str]:
    """The environment of a run whose `python:jc_rel_teachers:*` judge logs calls to ``calls``."""
    return {**os.environ, "JC_CALLS": str(calls), "PYTHONPATH": str(HERE), **extra}


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def count_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def pairs(n: int, prefix: str = "topic") -> list[dict[str, object]]:
    return [
        {"id": str(i), "query": f"{prefix} {i} words", "doc": f"words about {prefix} {i}"}
        for i in range(n)
    ]
