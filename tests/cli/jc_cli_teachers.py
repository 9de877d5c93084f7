"""Callables used as `python:` judge specs by the CLI tests (importable in child processes)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.keys import JudgeIdentity


def grade(query: str, doc: str) -> int:
    """Relevance 0-3 from word overlap; logs one line per call to $JC_CALLS when set."""
    calls = os.environ.get("JC_CALLS")
    if calls:
        path = Path(calls)
        with path.open("a") as f:
            f.write(query + "\n")
        # Simulate a process killed mid-run (no cleanup, no flush of anything in flight).
        die_after = int(os.environ.get("JC_DIE_AFTER", "0"))
        if die_after and len(path.read_text().splitlines()) >= die_after:
            os._exit(137)
    return min(3, len(set(query.lower().split()) & set(doc.lower().split())))


def grade_or_fail(query: str, doc: str) -> int:
    """Like ``grade``, but the teacher fails on any passage containing 'boom'."""
    if "boom" in doc:
        raise RuntimeError("teacher exploded on this pair")
    return grade(query, doc)


class SlowToLoad(Teacher):
    """Stands for a local model that takes seconds to load: construction leaves a mark in
    $JC_LOADED, so a test can tell whether the CLI got as far as loading it."""

    identity = JudgeIdentity("test", "slow-to-load", "1")

    def __init__(self) -> None:
        Path(os.environ["JC_LOADED"]).write_text("loaded")

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        label = grade(*inputs.values())
        return TeacherAnswer(label=label, raw_output=str(label))


def prob(query: str, doc: str) -> dict[str, object]:
    """A cascade student: grade by word overlap, with a probability of grade >= 2."""
    overlap = min(3, len(set(query.lower().split()) & set(doc.lower().split())))
    return {"label": overlap, "score": (0.05, 0.45, 0.6, 0.95)[overlap]}
