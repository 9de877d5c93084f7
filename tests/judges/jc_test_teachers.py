"""Small real teachers for the Judge tests (importable by spawned worker processes)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from judgecache.envelope import Usage
from judgecache.errors import JudgecacheError
from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.keys import JudgeIdentity


def overlap_grade(query: str, doc: str) -> int:
    """A deterministic relevance grade 0-3 from word overlap (a real, if simple, judge)."""
    q = set(query.lower().split())
    d = set(doc.lower().split())
    return min(3, len(q & d))


class CountingTeacher(Teacher):
    """Grades by word overlap; counts calls in memory and, optionally, one line per call in a file
    (so calls made by several processes can be counted)."""

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        calls_file: Path | None = None,
        fail_on: set[str] | None = None,
        errors: list[BaseException] | None = None,
    ) -> None:
        self.identity = JudgeIdentity("test", "overlap", "1")
        self.delay_s = delay_s
        self.calls_file = calls_file
        self.fail_on = fail_on or set()
        self.errors = list(errors or [])  # raised in order by the first calls
        self.calls = 0
        self._lock = threading.Lock()

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        with self._lock:
            self.calls += 1
            error = self.errors.pop(0) if self.errors else None
        if self.calls_file is not None:
            with self.calls_file.open("a") as f:
                f.write(f"{os.getpid()}\t{inputs['query']}\n")
        if error is not None:
            raise error
        if inputs["query"] in self.fail_on:
            raise JudgecacheError(f"refusing {inputs['query']!r}")
        time.sleep(self.delay_s)
        grade = overlap_grade(inputs["query"], inputs["doc"])
        return TeacherAnswer(
            label=grade,
            raw_output=f"##final score: {grade}",
            usage=Usage(100, 5),
            cost_usd=0.001,
            model_answered="overlap-1",
        )


def count_calls(calls_file: Path) -> int:
    return len(calls_file.read_text().splitlines()) if calls_file.exists() else 0


def worker(cache_url: str, calls_file: str, pairs: list[tuple[str, str]], threads: int) -> int:
    """One process of the cross-process single-flight test: ``threads`` threads score ``pairs``."""
    from concurrent.futures import ThreadPoolExecutor

    from judgecache import Judge

    judge = Judge(
        CountingTeacher(delay_s=0.002, calls_file=Path(calls_file)), cache=cache_url, concurrency=4
    )
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda _: judge.score_many(pairs), range(threads)))
    judge.close()
    return sum(len(r) for r in results)
