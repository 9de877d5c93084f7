"""The teacher protocol: anything that can answer one judging request.

A teacher knows its identity (part of the cache key) and its output-affecting parameters. The
:class:`~judgecache.judges.judge.Judge` wraps a teacher with the cache, single-flight, retries,
budget and ledger; a teacher itself does one honest call and raises a typed error when it fails.

Example:
    >>> from judgecache.judges.rubric import get_rubric
    >>> from judgecache.judges.teachers.callable import CallableTeacher
    >>> t = CallableTeacher(lambda q, d: 3 if q in d else 0, name="contains", version="1")
    >>> t.judge(get_rubric("relevance"), {"query": "x", "doc": "x is y"}).label
    3
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from judgecache.envelope import Label, Usage
from judgecache.errors import InputError
from judgecache.judges.rubric import Rubric
from judgecache.keys import JudgeIdentity


@dataclass(frozen=True)
class TeacherAnswer:
    """What one successful teacher call returned, already parsed into an allowed label."""

    label: Label
    raw_output: str
    score: float | None = None
    reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    model_answered: str | None = None
    # Stored in the envelope's ``meta`` (not part of the key): e.g. a cascade's route and scores.
    meta: Mapping[str, str] = field(default_factory=dict)


class Teacher(abc.ABC):
    """Base class of all teachers (HTTP APIs, callables, replayed labels, students)."""

    identity: JudgeIdentity

    def key_params(self) -> dict[str, Any]:
        """Output-affecting parameters (filtered through the key allow-list by the caller)."""
        return {}

    def prompt_material(self, rubric: Rubric) -> dict[str, Any]:
        """The prompt part of the cache key. Teachers that ignore the prompt may narrow it."""
        return rubric.key_material()

    @abc.abstractmethod
    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        """Answer one request or raise a :class:`~judgecache.errors.JudgecacheError`."""

    async def ajudge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        """Async variant; the default runs :meth:`judge` in a worker thread."""
        return await asyncio.to_thread(self.judge, rubric, inputs)

    def judge_batch(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[TeacherAnswer | BaseException]:
        """Answer many requests; ``None``-free, an exception in place of each failure.

        Local models (students) override this to run one batched forward pass. Remote teachers
        keep the default: the Judge fans single calls out over its own bounded thread pool.
        """
        out: list[TeacherAnswer | BaseException] = []
        for inputs in batch:
            try:
                out.append(self.judge(rubric, inputs))
            except Exception as exc:
                out.append(exc)
        return out

    @property
    def batched(self) -> bool:
        """True when :meth:`judge_batch` is faster than single calls (local models)."""
        return False

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and models."""


class BatchTeacher(Teacher):
    """A local model judged a batch at a time (students, embedding judges, cascades).

    Subclasses implement :meth:`judge_batch`; a single :meth:`judge` is a batch of one.
    """

    @property
    def batched(self) -> bool:
        return True

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        result = self.judge_batch(rubric, [inputs])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    @abc.abstractmethod
    def judge_batch(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[TeacherAnswer | BaseException]:
        """Answer every request of ``batch``, an exception in place of each failure."""


def valid_pairs(
    rubric: Rubric, batch: Sequence[Mapping[str, str]]
) -> tuple[list[TeacherAnswer | BaseException], list[int], list[tuple[str, str]]]:
    """Validate a batch: per-item results pre-filled with input errors, the valid indices, their pairs.

    >>> from judgecache.judges.rubric import get_rubric
    >>> out, good, pairs = valid_pairs(get_rubric("relevance"), [{"query": "q", "doc": "d"}, {"query": ""}])
    >>> good, pairs, type(out[1]).__name__
    ([0], [('q', 'd')], 'InputError')
    """
    first, second = rubric.fields
    out: list[TeacherAnswer | BaseException] = [InputError("not judged")] * len(batch)
    good: list[int] = []
    pairs: list[tuple[str, str]] = []
    for i, inputs in enumerate(batch):
        try:
            clean = rubric.inputs(inputs.get(first), inputs.get(second))
        except InputError as exc:
            out[i] = exc
            continue
        good.append(i)
        pairs.append((clean[first], clean[second]))
    return out, good, pairs
