"""One miss path for sync and async: twin wait, lease, auth stop, budget, call, ledger and store.

The rules of a cache miss are written once, in :meth:`MissPath.steps`: a generator that yields
each blocking thing it needs done (wait for an identical request in flight, take the lease,
reserve budget, call the teacher, write, release) and receives the result. :func:`run_sync` and
:func:`run_async` only *perform* those steps, one with blocking calls and one with awaits, so a
rule cannot be added to one driver and forgotten in the other.

Example:
    >>> from judgecache import Judge
    >>> judge = Judge(lambda q, d: 1, name="one", version="1", cache="memory://")
    >>> inputs = {"query": "q", "doc": "d"}
    >>> key = judge._keys.digest(inputs)
    >>> run_sync(judge._miss, judge._miss.steps(key, inputs, None)).cached
    False
    >>> import asyncio
    >>> asyncio.run(run_async(judge._miss, judge._miss.steps(key, inputs, None))).cached
    True
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from judgecache.envelope import Envelope
from judgecache.errors import (
    AuthError,
    BudgetExceededError,
    JudgeAPIError,
    JudgecacheError,
    StorageError,
    VerdictParseError,
)
from judgecache.judges.budget import Budget
from judgecache.judges.retry import RetryPolicy
from judgecache.judges.rubric import Rubric
from judgecache.judges.singleflight import InflightRegistry, LeaseKeeper, lease_or_value
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.judges.verdict import Verdict
from judgecache.ledger import Ledger
from judgecache.store.base import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WaitTwin:
    """Wait for the identical request already in flight in this process."""

    future: Future[Any]


@dataclass(frozen=True)
class TakeLease:
    """The stored value of ``key`` once one exists, or ``None`` once we hold its lease."""

    key: str


@dataclass(frozen=True)
class Reserve:
    """Reserve one call in the budget (waits while calls in flight decide)."""


@dataclass(frozen=True)
class CallTeacher:
    """One teacher call with the retry policy."""

    inputs: Mapping[str, str]


@dataclass(frozen=True)
class Write:
    """Store the answer."""

    key: str
    value: str


@dataclass(frozen=True)
class Release:
    """Release the lease on ``key``."""

    key: str


Step = WaitTwin | TakeLease | Reserve | CallTeacher | Write | Release
Steps = Generator[Step, Any, Verdict]


def decode_entry(key: str, raw: str | bytes) -> Envelope | None:
    """The envelope stored under ``key``, or ``None`` (with a warning naming it) when unreadable.

    An unreadable entry is a miss, never an error: the next answer overwrites it.

    >>> decode_entry("jc1:x", '{"version": 1, "label": 2}') is None
    True
    """
    try:
        return Envelope.from_json(raw)
    except StorageError as exc:
        log.warning("unreadable cache entry %s is treated as a miss (%s)", key, exc)
        return None


class MissPath:
    """What a judge does for a key the cache does not hold; shared by every driver."""

    def __init__(
        self,
        *,
        name: str,
        teacher: Teacher,
        rubric: Rubric,
        store: Store,
        ledger: Ledger,
        budget: Budget,
        retry: RetryPolicy,
        owner: str,
        lease_ttl_s: float,
    ) -> None:
        self.name = name
        self.teacher = teacher
        self.rubric = rubric
        self.store = store
        self.ledger = ledger
        self.budget = budget
        self.retry = retry
        self.owner = owner
        self.lease_ttl_s = lease_ttl_s
        self.leases = LeaseKeeper(store, owner, lease_ttl_s)
        self.inflight = InflightRegistry()
        self.corrupt_keys: set[str] = set()
        self._lock = threading.Lock()
        # A rejected credential fails every later call the same way: stop calling after the first.
        self.auth_failure: AuthError | None = None

    # ------------------------------------------------------------------------- the rules

    def steps(self, key: str, inputs: Mapping[str, str], tag: str | None) -> Steps:
        """Resolve one missing key: a twin's answer, another process's answer, or one call."""
        fut, owner = self.inflight.claim(key)
        if not owner:
            env: Envelope = yield WaitTwin(fut)
            self.ledger.record(self.name, tag, coalesced=1)
            return Verdict.from_envelope(env, key=key, cached=True)
        try:
            env, called = yield from self._fetch(key, inputs, tag)
        except BaseException as exc:
            self.inflight.resolve(key, error=exc)
            raise
        self.inflight.resolve(key, env)
        return Verdict.from_envelope(env, key=key, cached=not called)

    def _fetch(
        self, key: str, inputs: Mapping[str, str], tag: str | None
    ) -> Generator[Step, Any, tuple[Envelope, bool]]:
        self.check_may_call()
        raw = yield TakeLease(key)
        if raw is not None:  # another process or machine paid for it while we waited
            self.ledger.record(self.name, tag, coalesced=1)
            return Envelope.from_json(raw), False
        self.leases.held(key)
        try:
            self.check_may_call()  # a 401 may have arrived while we waited for the lease
            yield Reserve()
            t0 = time.perf_counter()
            try:
                answer = yield CallTeacher(inputs)
            except BaseException as exc:
                raise self.failed(exc, tag) from exc
            env = self.envelope(inputs, answer, time.perf_counter() - t0, tag)
            yield Write(key, env.to_json())
        finally:
            yield Release(key)
        return env, True

    def check_may_call(self) -> None:
        """Raise instead of calling when the budget is spent or the credential was rejected."""
        if self.budget.exhausted:
            raise BudgetExceededError(self.budget.describe())
        failure = self.auth_failure
        if failure is not None:
            raise AuthError(f"not called: {failure}", status=failure.status)

    def accept(self, key: str) -> Callable[[str], bool]:
        """Whether a stored value is a finished answer (an unreadable one is a miss, counted)."""

        def readable(raw: str) -> bool:
            if decode_entry(key, raw) is not None:
                return True
            self.note_corrupt(key)
            return False

        return readable

    def note_corrupt(self, key: str) -> None:
        """Count an unreadable entry (it is judged again and overwritten)."""
        with self._lock:
            self.corrupt_keys.add(key)

    def failed(self, exc: BaseException, tag: str | None) -> JudgecacheError:
        """Account for a failed call (its reservation is given back) and return the error."""
        self.budget.release()
        self.ledger.record(self.name, tag, errors=1)
        if isinstance(exc, AuthError):
            self.auth_failure = exc
        return as_judge_error(exc)

    def envelope(
        self, inputs: Mapping[str, str], answer: TeacherAnswer, latency_s: float, tag: str | None
    ) -> Envelope:
        """Pay for the answer (budget, ledger), check its label, and wrap it for the store."""
        self.budget.commit(answer.cost_usd)
        self.ledger.record(
            self.name,
            tag,
            calls=1,
            input_tokens=answer.usage.input_tokens,
            output_tokens=answer.usage.output_tokens,
            cost_usd=answer.cost_usd,
        )
        if answer.label not in self.rubric.labels:
            # Never store a label outside the rubric: it would poison every later hit.
            raise VerdictParseError(
                f"label {answer.label!r} is not one of {list(self.rubric.labels)}",
                raw_output=answer.raw_output,
            )
        return Envelope(
            label=answer.label,
            score=answer.score,
            raw_output=answer.raw_output,
            task=self.rubric.task,
            rubric=self.rubric.name,
            judge=self.teacher.identity.as_dict(),
            inputs=dict(inputs),
            reason=answer.reason,
            usage=answer.usage,
            cost_usd=answer.cost_usd,
            latency_s=round(latency_s, 6),
            model_answered=answer.model_answered,
            meta=dict(answer.meta),
        )

    def batched(
        self,
        missing: Mapping[str, Mapping[str, str]],
        tag: str | None,
        batch_size: int,
        step: Callable[[str], None] | None = None,
    ) -> dict[str, Verdict | JudgecacheError]:
        """Local models: one forward pass per chunk, no leases (recomputing costs no money)."""
        out: dict[str, Verdict | JudgecacheError] = {}
        pending = list(missing)
        while pending:
            chunk: list[str] = []
            while pending and len(chunk) < batch_size:
                try:
                    # Wait only when no chunk of ours holds the reservations being waited on.
                    if chunk and not self.budget.try_reserve():
                        break  # the rest waits for this chunk's costs
                    if not chunk:
                        self.budget.reserve()
                except BudgetExceededError as exc:
                    out[pending.pop(0)] = exc
                    continue
                chunk.append(pending.pop(0))
            if chunk:
                out.update(self._judge_chunk(chunk, missing, tag, step))
        return out

    def _judge_chunk(
        self,
        chunk: list[str],
        missing: Mapping[str, Mapping[str, str]],
        tag: str | None,
        step: Callable[[str], None] | None,
    ) -> dict[str, Verdict | JudgecacheError]:
        out: dict[str, Verdict | JudgecacheError] = {}
        t0 = time.perf_counter()
        answers = self.teacher.judge_batch(self.rubric, [missing[k] for k in chunk])
        latency = (time.perf_counter() - t0) / len(chunk)
        writes: dict[str, str] = {}
        for key, answer in zip(chunk, answers, strict=True):
            try:
                if isinstance(answer, BaseException):
                    raise self.failed(answer, tag)
                env = self.envelope(missing[key], answer, latency, tag)
                writes[key] = env.to_json()
                out[key] = Verdict.from_envelope(env, key=key, cached=False)
            except JudgecacheError as exc:
                out[key] = exc
            if step is not None:
                step(key)
        self.store.set_many(writes)
        return out

    # ----------------------------------------------------------- performing the steps

    def perform(self, step: Step) -> Any:
        """Do one step, blocking."""
        if isinstance(step, WaitTwin):
            return step.future.result()
        if isinstance(step, TakeLease):
            return self._take_lease(step.key)
        if isinstance(step, Reserve):
            return self.budget.reserve()
        if isinstance(step, CallTeacher):
            inputs = step.inputs
            return self.retry.call(lambda: self.teacher.judge(self.rubric, inputs))
        if isinstance(step, Write):
            return self.store.set(step.key, step.value)
        return self.leases.release(step.key)

    async def aperform(self, step: Step) -> Any:
        """Do one step without blocking the event loop."""
        if isinstance(step, WaitTwin):
            return await asyncio.wrap_future(step.future)
        if isinstance(step, TakeLease):
            return await asyncio.to_thread(self._take_lease, step.key)
        if isinstance(step, Reserve):
            return await self.budget.areserve()
        if isinstance(step, CallTeacher):
            inputs = step.inputs
            return await self.retry.acall(lambda: self.teacher.ajudge(self.rubric, inputs))
        if isinstance(step, Write):
            return await asyncio.to_thread(self.store.set, step.key, step.value)
        return await asyncio.to_thread(self.leases.release, step.key)

    def _take_lease(self, key: str) -> str | None:
        return lease_or_value(
            self.store, key, self.owner, self.lease_ttl_s, accept=self.accept(key)
        )


def run_sync(path: MissPath, steps: Steps) -> Verdict:
    """Drive ``steps`` to its verdict with blocking calls."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            result: Verdict = stop.value
            return result
        value, error = None, None
        try:
            value = path.perform(step)
        except BaseException as exc:
            error = exc


async def run_async(path: MissPath, steps: Steps) -> Verdict:
    """Drive ``steps`` to its verdict with awaits."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            result: Verdict = stop.value
            return result
        value, error = None, None
        try:
            value = await path.aperform(step)
        except BaseException as exc:
            error = exc


def as_judge_error(exc: BaseException) -> JudgecacheError:
    """``exc`` if it is a judgecache error, else a :class:`JudgeAPIError` wrapping it."""
    if isinstance(exc, JudgecacheError):
        return exc
    err = JudgeAPIError(f"teacher failed: {type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err
