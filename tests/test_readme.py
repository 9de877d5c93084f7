"""The README's runnable example really runs (the block after a `<!-- doctest -->` marker)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- doctest[^>]*-->\s*```python\n(.*?)```", re.DOTALL)


def test_readme_starts_with_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)[:2]
    assert "judgecache quickstart" in commands[0]
    assert commands[1].strip().endswith("python -m pytest")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "\npython -m pytest\n" in ci, ".ci/run must call the README's test command"


def test_readme_examples_run() -> None:
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert blocks, "no runnable README block found"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
