"""One miss path, two drivers: every miss scenario gives the same outcome and ledger sync and async."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from jc_test_teachers import CountingTeacher

from judgecache import Judge
from judgecache.errors import AuthError, RateLimitError, ServerError
from judgecache.judges.verdict import Verdict
from judgecache.store import open_store

PAIRS = [(f"query {i} tea", f"doc {i} about tea and query words") for i in range(12)]


@dataclass
class Scenario:
    name: str
    pairs: list[tuple[str, str]] = field(default_factory=lambda: PAIRS[:8])
    teacher: Callable[[], CountingTeacher] = CountingTeacher
    judge_kw: dict[str, object] = field(default_factory=dict)
    prepare: Callable[[Judge], None] = lambda judge: None
    invariant: bool = True  # every pair settled as a hit, a call or a coalesced answer


def _seed_half(judge: Judge) -> None:
    judge.put_many((q, d, 1, None) for q, d in PAIRS[:4])


def _corrupt_one(judge: Judge) -> None:
    judge.store.set(judge.key(*PAIRS[0]), json.dumps({"version": 1, "usage": 5}))


def _other_process_answers(judge: Judge) -> None:
    # Another owner holds the lease on PAIRS[0] and writes its answer a little later.
    key = judge.key(*PAIRS[0])
    other = Judge(CountingTeacher(), cache=judge.store)
    assert judge.store.acquire_lease(key, "other-host:1:x", 30.0)

    def answer() -> None:
        other.put(*PAIRS[0], 2, source="teacher")
        judge.store.release_lease(key, "other-host:1:x")

    threading.Timer(0.2, answer).start()


SCENARIOS = [
    Scenario("misses with repeats", pairs=PAIRS[:6] + PAIRS[:3]),
    Scenario("half cached", prepare=_seed_half),
    Scenario("unreadable entry is a miss", prepare=_corrupt_one),
    Scenario("another process pays", prepare=_other_process_answers, pairs=PAIRS[:3]),
    Scenario(
        "retries then answers",
        teacher=lambda: CountingTeacher(
            errors=[RateLimitError("slow", retry_after=0.0), ServerError("boom", status=503)]
        ),
        judge_kw={"max_retries": 3},
    ),
    Scenario(
        "401 stops the calls",
        teacher=lambda: CountingTeacher(errors=[AuthError("invalid key", status=401)]),
        judge_kw={"concurrency": 1},
        invariant=False,
    ),
    Scenario("call budget", judge_kw={"max_calls": 3, "concurrency": 1}, invariant=False),
    Scenario("dollar budget", judge_kw={"max_cost_usd": 0.0035, "concurrency": 1}, invariant=False),
    Scenario(
        "one pair fails",
        teacher=lambda: CountingTeacher(fail_on={PAIRS[2][0]}),
        invariant=False,
    ),
]


def _outcome(result: Verdict | Exception) -> tuple[object, ...]:
    if isinstance(result, Verdict):
        return ("ok", result.label, result.cached)
    return ("error", type(result).__name__, str(result))


def _run(scenario: Scenario, driver: str, tmp_path: Path) -> dict[str, object]:
    teacher = scenario.teacher()
    cache = open_store(f"diskcache://{tmp_path / driver}")
    judge = Judge(teacher, cache=cache, **scenario.judge_kw)  # type: ignore[arg-type]
    judge.retry.base_delay_s = 0.0
    scenario.prepare(judge)
    if driver == "sync":
        results = judge.score_many_settled(scenario.pairs)
    else:
        results = asyncio.run(judge.ascore_many_settled(scenario.pairs))
    stored = {k: json.loads(judge.store.get(k) or "{}").get("label") for k in judge.store.keys()}
    return {
        "outcomes": [_outcome(r) for r in results],
        "ledger": judge.ledger.totals(judge.name),
        "teacher_calls": teacher.calls,
        "stored": stored,
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_sync_and_async_drivers_agree(scenario: Scenario, tmp_path: Path) -> None:
    sync = _run(scenario, "sync", tmp_path)
    asyn = _run(scenario, "async", tmp_path)
    assert asyn == sync
    ledger = sync["ledger"]
    assert isinstance(ledger, dict)
    if scenario.invariant:
        assert ledger["requests"] == ledger["hits"] + ledger["calls"] + ledger["coalesced"]
        assert all(o[0] == "ok" for o in sync["outcomes"])  # type: ignore[attr-defined]


def test_401_stops_both_drivers_after_one_call(tmp_path: Path) -> None:
    run = _run(SCENARIOS[5], "async", tmp_path)
    assert run["teacher_calls"] == 1
    assert run["stored"] == {}


def test_budget_messages_are_true(tmp_path: Path) -> None:
    calls = _run(SCENARIOS[6], "async", tmp_path)
    assert calls["teacher_calls"] == 3
    errors = [o for o in calls["outcomes"] if o[0] == "error"]  # type: ignore[attr-defined]
    assert len(errors) == 5
    assert all(o[2] == "budget exhausted: 3/3 teacher calls" for o in errors)
    dollars = _run(SCENARIOS[7], "sync", tmp_path)
    # $0.001 a call and $0.0035 allowed: three calls fit, a fourth would not.
    assert dollars["teacher_calls"] == 3
    assert dollars["ledger"]["cost_usd"] == pytest.approx(0.003)  # type: ignore[index]


def test_another_process_answer_is_counted_as_coalesced(tmp_path: Path) -> None:
    run = _run(SCENARIOS[3], "async", tmp_path)
    assert run["teacher_calls"] == 2
    assert run["ledger"]["coalesced"] == 1  # type: ignore[index]


def test_unreadable_entry_is_overwritten(tmp_path: Path) -> None:
    run = _run(SCENARIOS[2], "sync", tmp_path)
    assert run["teacher_calls"] == 8
    assert len(run["stored"]) == 8 and None not in run["stored"].values()  # type: ignore[attr-defined]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_budgets_hold_at_concurrency_8(driver: str) -> None:
    # Slow calls so all eight workers are in flight together, as in the reported overshoot.
    for kw, calls in (({"max_calls": 3}, 3), ({"max_cost_usd": 0.0025}, 2)):
        teacher = CountingTeacher(delay_s=0.02)
        judge = Judge(teacher, cache="memory://", concurrency=8, **kw)  # type: ignore[arg-type]
        if driver == "sync":
            results = judge.score_many_settled(PAIRS)
        else:
            results = asyncio.run(judge.ascore_many_settled(PAIRS))
        assert teacher.calls == calls, kw
        assert judge.budget.calls == calls and judge.budget.in_flight == 0
        assert sum(isinstance(r, Verdict) for r in results) == calls
        assert judge.ledger.totals(judge.name)["cost_usd"] == pytest.approx(0.001 * calls)


async def test_ledger_invariant_holds_for_concurrent_async_batches() -> None:
    teacher = CountingTeacher(delay_s=0.005)
    judge = Judge(teacher, cache="memory://", concurrency=4)
    batches = [PAIRS[i % 5 : i % 5 + 6] + PAIRS[:2] for i in range(10)]
    await asyncio.gather(*(judge.ascore_many(b) for b in batches))
    totals = judge.ledger.totals(judge.name)
    assert teacher.calls == len({p for b in batches for p in b})
    assert totals["requests"] == sum(len(b) for b in batches)
    assert totals["requests"] == totals["hits"] + totals["calls"] + totals["coalesced"]
