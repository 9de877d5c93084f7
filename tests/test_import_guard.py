"""`import judgecache` and `judgecache --help` stay light: no torch, transformers or peft."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "sklearn", "matplotlib")

PROBE = """
import sys
{body}
heavy = [m for m in {heavy!r} if m in sys.modules]
print("HEAVY=" + ",".join(heavy))
"""


def run_probe(body: str) -> str:
    code = PROBE.format(body=body, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    marker = [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")]
    return marker[-1].removeprefix("HEAVY=")


def test_import_judgecache_imports_no_heavy_dependency() -> None:
    assert run_probe("import judgecache; judgecache.Judge") == ""


def test_cli_help_imports_no_heavy_dependency() -> None:
    body = (
        "from judgecache.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert run_probe(body) == ""


def test_the_probe_would_notice_torch() -> None:
    # Guard the guard: importing torch must show up, or the tests above prove nothing.
    assert run_probe("import torch") == "torch"
