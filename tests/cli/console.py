"""Run the installed ``judgecache`` console script in a subprocess (exit codes as in a shell)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def judgecache(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Any:
    """``judgecache ARGS`` from the venv's bin; ``tests/cli`` is on PYTHONPATH for python: specs."""
    exe = shutil.which("judgecache", path=str(Path(sys.executable).parent)) or "judgecache"
    full = {**os.environ, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join([str(HERE), full.get("PYTHONPATH", "")])
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, env=full, timeout=timeout, check=False
    )


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
