"""A Python function as a teacher: heuristics, local models, or a wrapper around your own client.

``fn(first, second)`` gets the two task inputs in the rubric's field order (``query, doc`` or
``context, answer``) and returns one of:

- a label (``2``, ``"supported"``) or any text :func:`~judgecache.judges.parsing.parse_output`
  reads (``"##final score: 2"``);
- a float. On a two-label rubric a float in [0, 1] is the probability of the positive label:
  ``score=p`` and the positive label when ``p >= 0.5``. On an integer scale (e.g. relevance 0-3)
  a float inside the scale is a graded score: ``score`` keeps it and the label is the nearest
  grade (halves round up, so 1.5 -> 2). A float outside the scale is an error, never clipped;
- a dict with ``label`` and/or ``score`` and an optional ``reason`` (no other keys). Without a
  ``label``, the ``score`` is read by the float rule above.

The function's code is not part of the cache key (only ``name`` and ``version`` are): bump
``version`` when you change what it does. An exception from ``fn`` is a teacher error
(:class:`~judgecache.errors.JudgeAPIError` with the original as ``__cause__``), never a label;
judgecache's own errors (say a ``RateLimitError`` raised by a wrapped client) pass through so
the Judge can retry them. Coroutine functions are awaited by :meth:`CallableTeacher.ajudge`.

Example:
    >>> from judgecache.judges.rubric import get_rubric
    >>> t = CallableTeacher(lambda c, a: 0.8, name="always-likely", version="1")
    >>> ans = t.judge(get_rubric("faithfulness"), {"context": "c", "answer": "a"})
    >>> ans.label, ans.score
    (1, 0.8)
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import numbers
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from judgecache.envelope import Label
from judgecache.errors import ConfigError, JudgeAPIError, JudgecacheError, VerdictParseError
from judgecache.judges.parsing import coerce_value, parse_output
from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.keys import JudgeIdentity

DICT_KEYS = ("label", "score", "reason")


def _raw(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def _from_number(rubric: Rubric, x: float, raw: str) -> tuple[Label, float]:
    if not math.isfinite(x):
        raise VerdictParseError(f"the score {x!r} is not finite", raw_output=raw)
    if len(rubric.labels) == 2:
        if not 0.0 <= x <= 1.0:
            raise VerdictParseError(
                f"a float on the two-label scale {list(rubric.labels)} is a probability and "
                f"must be in [0, 1], got {x!r}",
                raw_output=raw,
            )
        negative = next(label for label in rubric.labels if label != rubric.positive_from)
        return (rubric.positive_from if x >= 0.5 else negative), x
    grades = [g for g in rubric.labels if isinstance(g, int) and not isinstance(g, bool)]
    if len(grades) != len(rubric.labels):
        raise VerdictParseError(
            f"a number cannot be mapped onto the labels {list(rubric.labels)}", raw_output=raw
        )
    if not min(grades) <= x <= max(grades):
        raise VerdictParseError(
            f"the score {x!r} is outside the scale {min(grades)}..{max(grades)}", raw_output=raw
        )
    # Nearest grade; on a tie the higher one (half up, not banker's rounding).
    nearest = min(grades, key=lambda g: (abs(g - x), -g))
    return nearest, x


def answer_from_value(rubric: Rubric, value: object) -> TeacherAnswer:
    """Turn what a callable returned into a :class:`TeacherAnswer` (see the module rules).

    >>> from judgecache.judges.rubric import get_rubric
    >>> a = answer_from_value(get_rubric("relevance"), {"score": 2.4, "reason": "close"})
    >>> a.label, a.score, a.reason
    (2, 2.4, 'close')
    """
    # numpy and other numeric types register with the numbers ABCs; treat them as Python numbers.
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = float(value)
    raw = _raw(value)
    if isinstance(value, Mapping):
        return _from_mapping(rubric, value, raw)
    if isinstance(value, str):
        parsed = parse_output(rubric, value)
        return TeacherAnswer(parsed.label, value, parsed.score, parsed.reason)
    if isinstance(value, float):
        label, score = _from_number(rubric, value, raw)
        return TeacherAnswer(label, raw, score)
    if isinstance(value, int):  # bool included: coerce_value accepts it on two-label scales
        return TeacherAnswer(_coerce(rubric, value, raw), raw)
    raise VerdictParseError(
        f"a callable must return a label, a number, text or a dict with {list(DICT_KEYS)}, "
        f"got {type(value).__name__}",
        raw_output=raw,
    )


def _coerce(rubric: Rubric, value: object, raw: str, what: str = "value") -> Label:
    try:
        return coerce_value(rubric, value, what)
    except ValueError as exc:
        raise VerdictParseError(str(exc), raw_output=raw) from None


def _from_mapping(rubric: Rubric, value: Mapping[Any, Any], raw: str) -> TeacherAnswer:
    unknown = sorted(str(k) for k in value if k not in DICT_KEYS)
    if unknown:
        raise VerdictParseError(
            f"unknown keys {unknown} in the callable's dict; allowed: {list(DICT_KEYS)}",
            raw_output=raw,
        )
    reason = value.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise VerdictParseError("'reason' must be a string", raw_output=raw)
    score = value.get("score")
    if score is not None and (
        isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score)
    ):
        raise VerdictParseError(f"'score' must be a finite number, got {score!r}", raw_output=raw)
    if value.get("label") is not None:
        label = _coerce(rubric, value["label"], raw, "label")
        return TeacherAnswer(label, raw, None if score is None else float(score), reason)
    if score is None:
        raise VerdictParseError("the dict has neither 'label' nor 'score'", raw_output=raw)
    label, number = _from_number(rubric, float(score), raw)
    return TeacherAnswer(label, raw, number, reason)


class CallableTeacher(Teacher):
    """Wrap ``fn(first, second)`` (sync or async) as a teacher with identity ``callable:name@version``."""

    def __init__(
        self,
        fn: Callable[[str, str], Any] | Callable[[str, str], Awaitable[Any]],
        *,
        name: str,
        version: str = "",
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"CallableTeacher needs a callable, got {type(fn).__name__}")
        if not name or not name.strip():
            raise ConfigError(
                "CallableTeacher needs a non-empty name (it is part of the cache key)"
            )
        self.fn = fn
        self.name = name
        self.identity = JudgeIdentity("callable", name, version)

    def prompt_material(self, rubric: Rubric) -> dict[str, Any]:
        """A callable never sees the prompt, so only what defines the task goes into the key."""
        return {
            "rubric": rubric.name,
            "task": rubric.task,
            "labels": list(rubric.labels),
            "fields": list(rubric.fields),
        }

    def _args(self, rubric: Rubric, inputs: Mapping[str, str]) -> tuple[str, str]:
        return inputs[rubric.fields[0]], inputs[rubric.fields[1]]

    def _failed(self, exc: Exception) -> JudgeAPIError:
        return JudgeAPIError(f"callable {self.name!r} raised {type(exc).__name__}: {exc}")

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        first, second = self._args(rubric, inputs)
        try:
            result = self.fn(first, second)
            if inspect.isawaitable(result):
                result = self._run_awaitable(result)
        except JudgecacheError:
            raise
        except Exception as exc:
            raise self._failed(exc) from exc
        return answer_from_value(rubric, result)

    def _run_awaitable(self, result: Awaitable[Any]) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            if inspect.iscoroutine(result):
                result.close()  # never awaited: close it so Python does not warn
            raise ConfigError(
                f"callable {self.name!r} is async and an event loop is running here: "
                "use 'await teacher.ajudge(...)'"
            )

        async def wait() -> Any:
            return await result

        return asyncio.run(wait())

    async def ajudge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        first, second = self._args(rubric, inputs)
        try:
            if inspect.iscoroutinefunction(self.fn):
                result = await self.fn(first, second)
            else:
                # A sync function may block (a local model): keep it off the event loop.
                result = await asyncio.to_thread(self.fn, first, second)
                if inspect.isawaitable(result):
                    result = await result
        except JudgecacheError:
            raise
        except Exception as exc:
            raise self._failed(exc) from exc
        return answer_from_value(rubric, result)
