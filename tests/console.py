"""Run the installed ``judgecache`` console script in a subprocess, the way cron or CI calls it.

Tests of exit codes go through here rather than click's test runner: the runner bypasses the
entry point, which is exactly where exit codes were once dropped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).parent


def console_script() -> str:
    """Path of the ``judgecache`` script installed beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "judgecache"
    found = str(beside) if beside.exists() else shutil.which("judgecache")
    if found is None:
        pytest.fail("the judgecache console script is not installed: pip install -e .", False)
    return found


def judgecache(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``judgecache ARGS...`` in a subprocess; test helper modules are importable by the child."""
    child_env = {**os.environ, **(env or {})}
    extra = os.pathsep.join(str(TESTS / d) for d in ("cli", "judges"))
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (extra, child_env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [console_script(), *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """One JSON object per line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
