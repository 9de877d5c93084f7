"""CallableTeacher: what a function may return, how errors surface, sync and async."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import numpy as np
import pytest

from judgecache import Judge
from judgecache.envelope import Label
from judgecache.errors import (
    ConfigError,
    JudgeAPIError,
    RateLimitError,
    VerdictParseError,
)
from judgecache.judges.rubric import get_rubric
from judgecache.judges.teachers.callable import CallableTeacher, answer_from_value

RELEVANCE = get_rubric("relevance")
FAITHFULNESS = get_rubric("faithfulness")


@pytest.mark.parametrize(
    ("value", "label", "score"),
    [
        (2, 2, None),
        ("3", 3, None),
        ("highly relevant", 2, None),
        ("##final score: 1", 1, None),
        (1.5, 2, 1.5),  # halves round up
        (2.4, 2, 2.4),
        (0.49, 0, 0.49),
        (3.0, 3, 3.0),
        (np.float32(2.75), 3, 2.75),
        (np.int64(1), 1, None),
        ({"label": 2, "reason": "partial"}, 2, None),
        ({"label": "1", "score": 1.2}, 1, 1.2),
        ({"score": 2.6}, 3, 2.6),
    ],
)
def test_graded_returns(value: object, label: Label, score: float | None) -> None:
    answer = answer_from_value(RELEVANCE, value)
    assert answer.label == label
    assert answer.score == (pytest.approx(score) if score is not None else None)


@pytest.mark.parametrize(
    ("value", "label", "score"),
    [
        (0.8, 1, 0.8),
        (0.5, 1, 0.5),
        (0.2, 0, 0.2),
        (1.0, 1, 1.0),
        (1, 1, None),
        (True, 1, None),
        (False, 0, None),
        ("supported", 1, None),
        ({"score": 0.1, "reason": "contradiction"}, 0, 0.1),
    ],
)
def test_binary_returns(value: object, label: Label, score: float | None) -> None:
    answer = answer_from_value(FAITHFULNESS, value)
    assert (answer.label, answer.score) == (label, score)


@pytest.mark.parametrize(
    ("rubric_name", "value", "message"),
    [
        ("relevance", 3.6, "outside the scale 0..3"),
        ("relevance", -0.2, "outside the scale"),
        ("relevance", 5, "not one of the labels"),
        ("relevance", True, "boolean"),
        ("relevance", float("nan"), "not finite"),
        ("relevance", None, "got NoneType"),
        ("relevance", [1, 2], "got list"),
        ("relevance", {"lable": 2}, "unknown keys ['lable']"),
        ("relevance", {"reason": "x"}, "neither 'label' nor 'score'"),
        ("relevance", {"label": 1, "score": "high"}, "'score' must be a finite number"),
        ("faithfulness", 1.3, "must be in [0, 1]"),
        ("faithfulness", "maybe", "no 'json' answer found"),
    ],
)
def test_bad_returns_are_parse_errors(rubric_name: str, value: object, message: str) -> None:
    with pytest.raises(VerdictParseError, match=message.replace("[", r"\[").replace("(", r"\(")):
        answer_from_value(get_rubric(rubric_name), value)


def test_identity_and_prompt_material_ignore_the_template() -> None:
    teacher = CallableTeacher(lambda q, d: 1, name="overlap", version="2")
    assert str(teacher.identity) == "callable:overlap@2"
    other_template = replace(RELEVANCE, template="Q: {query}\nD: {doc}\nGrade it.")
    assert teacher.prompt_material(RELEVANCE) == teacher.prompt_material(other_template)
    assert teacher.prompt_material(RELEVANCE) == {
        "rubric": "relevance",
        "task": "relevance",
        "labels": [0, 1, 2, 3],
        "fields": ["query", "doc"],
    }
    assert teacher.prompt_material(FAITHFULNESS) != teacher.prompt_material(RELEVANCE)


def test_receives_inputs_in_field_order() -> None:
    seen: list[tuple[str, str]] = []

    def fn(first: str, second: str) -> int:
        seen.append((first, second))
        return 1

    teacher = CallableTeacher(fn, name="order")
    teacher.judge(FAITHFULNESS, {"answer": "A", "context": "C"})
    assert seen == [("C", "A")]


def test_an_exception_is_a_teacher_error_with_its_cause() -> None:
    def broken(q: str, d: str) -> int:
        raise KeyError("vocab")

    with pytest.raises(JudgeAPIError, match="callable 'broken' raised KeyError") as info:
        CallableTeacher(broken, name="broken").judge(RELEVANCE, {"query": "q", "doc": "d"})
    assert isinstance(info.value.__cause__, KeyError)
    assert not info.value.retryable


def test_judgecache_errors_pass_through_for_retries() -> None:
    def limited(q: str, d: str) -> int:
        raise RateLimitError("upstream says slow down", retry_after=1.0)

    with pytest.raises(RateLimitError) as info:
        CallableTeacher(limited, name="wrapped").judge(RELEVANCE, {"query": "q", "doc": "d"})
    assert info.value.retry_after == 1.0


def test_construction_is_validated() -> None:
    with pytest.raises(ConfigError, match="non-empty name"):
        CallableTeacher(lambda q, d: 1, name=" ")
    with pytest.raises(ConfigError, match="needs a callable"):
        CallableTeacher(3, name="x")  # type: ignore[arg-type]


async def grade_async(query: str, doc: str) -> dict[str, object]:
    await asyncio.sleep(0)
    return {"label": 3 if query in doc else 0, "reason": "async"}


async def test_async_callable_is_awaited() -> None:
    teacher = CallableTeacher(grade_async, name="async-grade")
    answer = await teacher.ajudge(RELEVANCE, {"query": "tea", "doc": "tea is a drink"})
    assert (answer.label, answer.reason) == (3, "async")


def test_async_callable_from_sync_code() -> None:
    teacher = CallableTeacher(grade_async, name="async-grade")
    assert teacher.judge(RELEVANCE, {"query": "tea", "doc": "coffee"}).label == 0


async def test_async_callable_from_sync_judge_inside_a_loop_is_refused() -> None:
    teacher = CallableTeacher(grade_async, name="async-grade")
    with pytest.raises(ConfigError, match=r"use 'await teacher\.ajudge"):
        teacher.judge(RELEVANCE, {"query": "tea", "doc": "coffee"})


async def test_sync_callable_runs_off_the_event_loop() -> None:
    threads: list[int] = []

    def fn(q: str, d: str) -> int:
        threads.append(threading.get_ident())
        return 2

    answer = await CallableTeacher(fn, name="sync").ajudge(RELEVANCE, {"query": "q", "doc": "d"})
    assert answer.label == 2
    assert threads and threads[0] != threading.get_ident()


async def test_async_exception_is_wrapped() -> None:
    async def broken(q: str, d: str) -> int:
        raise ValueError("model not loaded")

    with pytest.raises(JudgeAPIError, match="ValueError: model not loaded") as info:
        await CallableTeacher(broken, name="b").ajudge(RELEVANCE, {"query": "q", "doc": "d"})
    assert isinstance(info.value.__cause__, ValueError)


def test_behind_the_judge_cache() -> None:
    calls: list[str] = []

    def fn(q: str, d: str) -> float:
        calls.append(q)
        return 0.9

    teacher = CallableTeacher(fn, name="prob", version="1")
    with Judge(teacher, task="faithfulness", cache="memory://") as judge:
        first = judge.score("ctx", "ans")
        again = judge.score("ctx", "ans")
    assert (first.label, first.score, again.cached) == (1, 0.9, True)
    assert calls == ["ctx"]
