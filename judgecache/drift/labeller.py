"""Teacher labels for a drift run, under one call budget.

Sampled pairs go through the Judge, so through its cache: hits are free, a rerun pays only for what
is missing, and a pair whose call fails is *unscored* (recorded with its error), never a verdict.
Anchor pairs are the exception on purpose: they are re-asked of the teacher itself each period,
because a cached answer can never reveal that the teacher changed; their fresh answers are memoized
per period in the ``driftanchor`` namespace so a rerun of the same period does not pay twice.

Example:
    >>> from judgecache import Judge
    >>> judge = Judge(lambda q, d: 3 if q in d else 0, name="contains", version="1",
    ...               cache="memory://")
    >>> out = TeacherLabeller(judge, max_calls=1).label_pairs(
    ...     [("a", ("x", "x y")), ("b", ("z", "y"))])
    >>> out.labels, out.teacher_calls, sorted(out.not_asked)
    ({'a': 3}, 1, ['b'])
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from judgecache.envelope import Envelope, Label
from judgecache.errors import (
    AuthError,
    BudgetExceededError,
    JudgeAPIError,
    JudgecacheError,
    StorageError,
)
from judgecache.keys import normalize_text
from judgecache.store.base import Store
from judgecache.store.memory import MemoryStore

if TYPE_CHECKING:
    from judgecache.judges.judge import Judge

_CHUNK = 32

Pair = tuple[str, str]


@dataclass
class LabelOutcome:
    """Labels by item id, plus what was not labelled and why."""

    labels: dict[str, Label] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    not_asked: list[str] = field(default_factory=list)
    teacher_calls: int = 0
    cache_hits: int = 0
    budget_exhausted: bool = False
    unreachable: str | None = None

    def summary(self) -> dict[str, object]:
        return {
            "labelled": len(self.labels),
            "failed": len(self.errors),
            "not_asked": len(self.not_asked),
            "teacher_calls": self.teacher_calls,
            "cache_hits": self.cache_hits,
            "budget_exhausted": self.budget_exhausted,
            "unreachable": self.unreachable,
            "errors": dict(list(self.errors.items())[:10]),
        }


_MEMORY_MEMOS: weakref.WeakKeyDictionary[Store, Store] = weakref.WeakKeyDictionary()


def anchor_memo(store: Store) -> Store:
    """The ``driftanchor`` namespace beside a verdict store (same server or directory).

    An in-process ``memory://`` store gets one companion memo for as long as it lives.
    """
    if isinstance(store, MemoryStore):
        return _MEMORY_MEMOS.setdefault(store, MemoryStore(namespace="driftanchor"))
    return store.sibling("driftanchor")  # store.url masks a Redis password


def _stops_the_run(exc: BaseException) -> bool:
    # An auth failure or a teacher that keeps failing with API errors will not get better by
    # sending the rest of the sample: stop, keep what was answered, report the run inconclusive.
    return isinstance(exc, AuthError | JudgeAPIError)


class TeacherLabeller:
    """Asks one Judge's teacher for labels, never spending more than ``max_calls`` calls."""

    def __init__(self, judge: Judge, *, max_calls: int, memo: Store | None = None) -> None:
        self.judge = judge
        self.max_calls = max_calls
        self.calls = 0
        self.memo = memo if memo is not None else anchor_memo(judge.store)

    @property
    def remaining(self) -> int:
        return max(0, self.max_calls - self.calls)

    def label_pairs(self, items: Sequence[tuple[str, Pair]]) -> LabelOutcome:
        """Labels for ``(item_id, (first, second))`` in priority order, through the cache."""
        out = LabelOutcome()
        keys = [self.judge.key(*pair) for _, pair in items]
        missing: list[tuple[str, Pair]] = []
        for (item_id, pair), raw in zip(items, self.judge.store.get_many(keys), strict=True):
            if raw is None:
                missing.append((item_id, pair))
                continue
            try:
                out.labels[item_id] = Envelope.from_json(raw).label
                out.cache_hits += 1
            except StorageError:
                missing.append((item_id, pair))  # a corrupt entry is re-asked, never trusted
        affordable = min(len(missing), self.remaining)
        if affordable < len(missing):
            out.budget_exhausted = True
            out.not_asked.extend(i for i, _ in missing[affordable:])
        asked = missing[:affordable]
        for start in range(0, len(asked), _CHUNK):
            chunk = asked[start : start + _CHUNK]
            if out.unreachable:
                out.not_asked.extend(i for i, _ in asked[start:])
                break
            self.calls += len(chunk)
            results = self.judge.score_many_settled([pair for _, pair in chunk])
            self._collect(out, [i for i, _ in chunk], results)
        return out

    def _collect(
        self,
        out: LabelOutcome,
        ids: Sequence[str],
        results: Sequence[object],
    ) -> None:
        failures: list[BaseException] = []
        for item_id, result in zip(ids, results, strict=True):
            if isinstance(result, BudgetExceededError):
                out.budget_exhausted = True
                out.not_asked.append(item_id)
            elif isinstance(result, BaseException):
                out.errors[item_id] = f"{type(result).__name__}: {result}"
                failures.append(result)
            else:
                out.labels[item_id] = result.label  # type: ignore[attr-defined]
                if result.cached:  # type: ignore[attr-defined]
                    out.cache_hits += 1
                    continue
            out.teacher_calls += 0 if isinstance(result, BudgetExceededError) else 1
        if failures and len(failures) == len(ids) and all(map(_stops_the_run, failures)):
            out.unreachable = f"{type(failures[0]).__name__}: {failures[0]}"

    def label_anchors(
        self, anchors: Sequence[tuple[str, Mapping[str, str]]], period: str
    ) -> LabelOutcome:
        """Fresh teacher answers for anchor pairs, memoized per period (not the verdict cache)."""
        out = LabelOutcome()
        teacher = self.judge.teacher
        prefix = f"{period}|{teacher.identity}|{self.judge.rubric.name}|"
        memo_keys = [prefix + item_id for item_id, _ in anchors]
        todo: list[tuple[str, str, Mapping[str, str]]] = []
        for (item_id, inputs), key, raw in zip(
            anchors, memo_keys, self.memo.get_many(memo_keys), strict=True
        ):
            if raw is not None:
                out.labels[item_id] = json.loads(raw)["label"]
                out.cache_hits += 1
            else:
                todo.append((item_id, key, {k: normalize_text(v) for k, v in inputs.items()}))
        budget = self.remaining
        if len(todo) > budget:
            out.budget_exhausted = True
            out.not_asked.extend(i for i, _, _ in todo[budget:])
            todo = todo[:budget]
        self.calls += len(todo)
        out.teacher_calls += len(todo)

        def ask(inputs: Mapping[str, str]) -> Label | BaseException:
            try:
                answer = self.judge.retry.call(lambda: teacher.judge(self.judge.rubric, inputs))
            except JudgecacheError as exc:
                return exc
            except Exception as exc:  # a broken teacher is unscored, not a crash
                return JudgeAPIError(f"teacher failed: {type(exc).__name__}: {exc}")
            return answer.label

        with ThreadPoolExecutor(max_workers=self.judge.concurrency) as pool:
            answers = list(pool.map(ask, [inp for _, _, inp in todo]))
        fresh: dict[str, str] = {}
        failures: list[BaseException] = []
        for (item_id, key, _), answer in zip(todo, answers, strict=True):
            if isinstance(answer, BaseException):
                out.errors[item_id] = f"{type(answer).__name__}: {answer}"
                failures.append(answer)
            else:
                out.labels[item_id] = answer
                fresh[key] = json.dumps({"label": answer})
        if fresh:
            self.memo.set_many(fresh)
        if failures and len(failures) == len(todo) and all(map(_stops_the_run, failures)):
            out.unreachable = f"{type(failures[0]).__name__}: {failures[0]}"
        return out
