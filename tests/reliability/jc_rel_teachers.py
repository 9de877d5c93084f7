"""A `python:` judge for the reliability tests (importable by `judgecache` child processes).

Each call appends one line to ``$JC_CALLS`` *before* answering (so a call killed mid-way is still
counted as paid) and optionally sleeps ``$JC_DELAY_S`` seconds, leaving room for a SIGKILL.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from judgecache.judges.teachers.openai import OpenAICompatibleTeacher


def grade(query: str, doc: str) -> int:
    """Relevance 0-3 from word overlap; one line per call in $JC_CALLS."""
    calls = os.environ.get("JC_CALLS")
    if calls:
        with Path(calls).open("a") as f:
            f.write(f"{query}\t{doc}\n")
    time.sleep(float(os.environ.get("JC_DELAY_S", "0")))
    return min(3, len(set(query.lower().split()) & set(doc.lower().split())))


class LocalOpenAI(OpenAICompatibleTeacher):
    """An OpenAI teacher on the loopback test server named by $JC_OPENAI_URL (key from env)."""

    def __init__(self) -> None:
        super().__init__(
            "gpt-4o-mini", base_url=os.environ["JC_OPENAI_URL"], api_key_env="JC_TEST_API_KEY"
        )
