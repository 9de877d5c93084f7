"""Human labels as a judge identity: ``human:NAME`` (e.g. ``human:trec-dl``).

Human judgments are imported (``judgecache import --judge human:trec-dl ...``), never asked for:
the identity is ``human:NAME`` so they neither pretend to be a model nor share keys with one, and
a pair that was not imported is an :class:`~judgecache.errors.UnknownPairError` instead of a call.

Example:
    >>> from judgecache.judges.rubric import get_rubric
    >>> t = HumanLabels("trec-dl")
    >>> str(t.identity)
    'human:trec-dl'
    >>> t.judge(get_rubric("relevance"), {"query": "q", "doc": "d"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    judgecache.errors.UnknownPairError: human:trec-dl has no imported label for this pair...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judgecache.errors import ConfigError, UnknownPairError
from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.judges.teachers.replay import task_material
from judgecache.keys import JudgeIdentity


class HumanLabels(Teacher):
    """A judge that only answers from labels imported under ``human:NAME``."""

    def __init__(self, name: str, version: str = "") -> None:
        if not name.strip():
            raise ConfigError("human:NAME needs a name, e.g. human:trec-dl")
        self.identity = JudgeIdentity("human", name.strip(), version)

    def prompt_material(self, rubric: Rubric) -> dict[str, Any]:
        # No prompt: human labels depend on the task only, like recorded (replay) labels.
        return task_material(rubric)

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        raise UnknownPairError(
            f"{self.identity} has no imported label for this pair (human labels are imported "
            "with `judgecache import --judge human:NAME`, never asked for)"
        )
