"""The drop-in judge client: hits, misses, dedup, single-flight, retries, budget, ledger."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from jc_test_teachers import CountingTeacher, count_calls, overlap_grade, worker

from judgecache import Judge
from judgecache.errors import (
    AuthError,
    BudgetExceededError,
    ConfigError,
    InputError,
    JudgecacheError,
    RateLimitError,
    ServerError,
)
from judgecache.store import open_store

PAIRS = [(f"query {i} tea", f"doc {i} about tea and query words") for i in range(40)]


def make_judge(teacher: CountingTeacher, cache: str = "memory://", **kw: object) -> Judge:
    return Judge(teacher, cache=cache, **kw)  # type: ignore[arg-type]


def test_miss_then_hit_with_key_and_envelope() -> None:
    teacher = CountingTeacher()
    judge = make_judge(teacher)
    first = judge.score("green tea", "green tea is a drink")
    again = judge.score("green tea", "green tea is a drink")
    assert (first.label, first.cached, again.cached) == (2, False, True)
    assert first.key == again.key == judge.key("green tea", "green tea is a drink")
    assert teacher.calls == 1
    env = again.envelope
    assert env.inputs == {"query": "green tea", "doc": "green tea is a drink"}
    assert env.usage.input_tokens == 100 and env.cost_usd == pytest.approx(0.001)
    assert env.model_answered == "overlap-1" and env.source == "teacher"


def test_score_many_keeps_order_and_judges_duplicates_once() -> None:
    teacher = CountingTeacher()
    judge = make_judge(teacher)
    pairs = [PAIRS[0], PAIRS[1], PAIRS[0], PAIRS[2], PAIRS[1], PAIRS[0]]
    verdicts = judge.score_many(pairs)
    assert [v.label for v in verdicts] == [overlap_grade(*p) for p in pairs]
    assert [v.key for v in verdicts] == [judge.key(*p) for p in pairs]
    assert teacher.calls == 3
    # Whitespace/Unicode variants of a pair are the same pair.
    assert judge.score(f"  {PAIRS[0][0]}\r\n", PAIRS[0][1]).cached


def test_threads_make_exactly_one_call_per_pair() -> None:
    teacher = CountingTeacher(delay_s=0.01)
    judge = make_judge(teacher, concurrency=8)
    barrier = threading.Barrier(8)

    def run(_: int) -> list[int]:
        barrier.wait()
        return [v.label for v in judge.score_many(PAIRS[:20])]  # type: ignore[misc]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, range(8)))
    assert teacher.calls == 20
    assert all(r == results[0] for r in results)
    totals = judge.ledger.totals(judge.name)
    assert totals["calls"] == 20 and totals["requests"] == 160


async def test_asyncio_tasks_make_exactly_one_call_per_pair() -> None:
    teacher = CountingTeacher(delay_s=0.01)
    judge = make_judge(teacher, concurrency=4)
    runs = await asyncio.gather(*(judge.ascore_many(PAIRS[:10]) for _ in range(6)))
    assert teacher.calls == 10
    assert [v.label for v in runs[0]] == [overlap_grade(*p) for p in PAIRS[:10]]
    assert (await judge.ascore(*PAIRS[0])).cached


def test_processes_and_threads_make_exactly_one_call_per_pair(tmp_path: Path) -> None:
    calls_file = tmp_path / "calls.tsv"
    cache = f"diskcache://{tmp_path / 'cache'}"
    pairs = PAIRS[:30]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        done = pool.starmap(worker, [(cache, str(calls_file), pairs, 4)] * 2)
    assert done == [120, 120]
    assert count_calls(calls_file) == 30
    pids = {line.split("\t")[0] for line in calls_file.read_text().splitlines()}
    assert len(pids) >= 1


def test_expired_lease_of_a_crashed_holder_does_not_block(tmp_path: Path) -> None:
    teacher = CountingTeacher()
    judge = make_judge(teacher, cache=f"diskcache://{tmp_path}")
    key = judge.key(*PAIRS[0])
    assert judge.store.acquire_lease(key, "crashed-process", 0.3)
    t0 = time.monotonic()
    verdict = judge.score(*PAIRS[0])
    waited = time.monotonic() - t0
    assert not verdict.cached and teacher.calls == 1
    assert 0.2 < waited < 5.0


def test_retries_rate_limits_and_server_errors_honouring_retry_after() -> None:
    teacher = CountingTeacher(
        errors=[RateLimitError("slow down", retry_after=0.05), ServerError("boom", status=503)]
    )
    judge = make_judge(teacher, max_retries=3)
    slept: list[float] = []
    judge.retry.base_delay_s = 0.001
    original = judge.retry.call
    judge.retry.call = lambda fn, sleep=slept.append: original(fn, sleep)  # type: ignore[method-assign]
    verdict = judge.score(*PAIRS[0])
    assert verdict.label == overlap_grade(*PAIRS[0])
    assert teacher.calls == 3
    assert slept[0] == pytest.approx(0.05)  # the server's Retry-After, not our backoff
    assert 0 <= slept[1] <= 0.002


def test_non_retryable_errors_fail_at_once_and_are_never_stored() -> None:
    teacher = CountingTeacher(errors=[AuthError("bad key", status=401)])
    judge = make_judge(teacher, max_retries=5)
    with pytest.raises(AuthError):
        judge.score(*PAIRS[0])
    assert teacher.calls == 1
    assert judge.store.count() == 0
    assert judge.ledger.totals(judge.name)["errors"] == 1


def test_one_failing_pair_does_not_lose_the_others() -> None:
    teacher = CountingTeacher(fail_on={PAIRS[3][0]})
    judge = make_judge(teacher)
    with pytest.raises(JudgecacheError, match="refusing") as info:
        judge.score_many(PAIRS[:10])
    assert "9 of 10 pairs judged" in "\n".join(info.value.__notes__)
    assert judge.store.count() == 9
    settled = judge.score_many_settled(PAIRS[:10])
    assert isinstance(settled[3], JudgecacheError)
    assert sum(v.cached for v in settled if not isinstance(v, Exception)) == 9


def test_budget_stops_cleanly_and_a_rerun_pays_only_for_the_rest(tmp_path: Path) -> None:
    cache = f"diskcache://{tmp_path}"
    first = CountingTeacher()
    with pytest.raises(BudgetExceededError, match="3/3 teacher calls"):
        make_judge(first, cache=cache, max_calls=3, concurrency=1).score_many(PAIRS[:10])
    assert first.calls == 3
    second = CountingTeacher()
    verdicts = make_judge(second, cache=cache).score_many(PAIRS[:10])
    assert second.calls == 7
    assert sum(v.cached for v in verdicts) == 3


def test_dollar_budget() -> None:
    teacher = CountingTeacher()  # $0.001 a call
    judge = make_judge(teacher, max_cost_usd=0.0025, concurrency=1)
    with pytest.raises(BudgetExceededError):
        judge.score_many(PAIRS[:10])
    # The budget holds: a third $0.001 call would cross $0.0025, so it is never made.
    assert teacher.calls == 2


@pytest.mark.parametrize(
    "pair, field",
    [(("", "doc"), "query"), (("q", None), "doc"), ((3, "doc"), "query"), (("q", "   "), "doc")],
)
def test_bad_inputs_name_the_field(pair: tuple[object, object], field: str) -> None:
    judge = make_judge(CountingTeacher())
    with pytest.raises(InputError, match=f"field '{field}'"):
        judge.score(*pair)


def test_faithfulness_names_its_fields() -> None:
    judge = Judge(CountingTeacher(), task="faithfulness", cache="memory://")
    with pytest.raises(InputError, match="field 'answer'"):
        judge.score("context", "")


def test_callable_judge_needs_a_name() -> None:
    with pytest.raises(ConfigError, match="name="):
        Judge(lambda q, d: 1, cache="memory://")


def test_ledger_is_shared_through_the_store(tmp_path: Path) -> None:
    cache = f"diskcache://{tmp_path}"
    a = make_judge(CountingTeacher(), cache=cache, tag="dashboard")
    a.score_many(PAIRS[:5])
    b = make_judge(CountingTeacher(), cache=cache, tag="nightly")
    b.score_many(PAIRS[:8])
    rows = {(r.judge, r.tag): r.totals for r in a.ledger.persisted()}
    total = rows[("test:overlap@1", "*")]
    assert total["requests"] == 13 and total["calls"] == 8 and total["hits"] == 5
    assert total["cost_usd"] == pytest.approx(0.008)
    assert total["saved_usd"] == pytest.approx(0.005)  # hits saved what their calls had cost
    assert rows[("test:overlap@1", "nightly")]["hits"] == 5


def test_put_lookup_and_put_many_seed_the_cache() -> None:
    teacher = CountingTeacher()
    judge = make_judge(teacher)
    assert judge.lookup(*PAIRS[0]) is None
    judge.put(*PAIRS[0], "3", meta={"qid": "7"})
    seeded = judge.lookup(*PAIRS[0])
    assert seeded is not None and seeded.label == 3 and seeded.envelope.meta == {"qid": "7"}
    n = judge.put_many((q, d, 1, None) for q, d in PAIRS[1:6])
    assert n == 5
    assert all(v.cached for v in judge.score_many(PAIRS[:6]))
    assert teacher.calls == 0
    with pytest.raises(JudgecacheError, match="not one of the labels"):
        judge.put("q", "d", 7)


def test_unreadable_entry_is_judged_again_not_returned() -> None:
    teacher = CountingTeacher()
    store = open_store("memory://")
    judge = Judge(teacher, cache=store)
    store.set(judge.key(*PAIRS[0]), json.dumps({"version": 1, "label": "garbage"}))
    assert not judge.score(*PAIRS[0]).cached
    assert teacher.calls == 1


def test_a_call_longer_than_the_lease_ttl_is_not_duplicated(tmp_path: Path) -> None:
    # Two judges = two lease owners (as two processes would be) on one cache directory. The call
    # takes 3x the TTL; the holder's renewals must keep the other from calling too.
    teacher = CountingTeacher(delay_s=0.9)
    cache = f"diskcache://{tmp_path}"
    a = make_judge(teacher, cache=cache, lease_ttl_s=0.3)
    b = make_judge(teacher, cache=cache, lease_ttl_s=0.3)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(a.score, *PAIRS[0])
        time.sleep(0.05)
        second = pool.submit(b.score, *PAIRS[0])
        verdicts = [first.result(), second.result()]
    assert teacher.calls == 1
    assert sorted(v.cached for v in verdicts) == [False, True]


def test_a_rejected_credential_stops_further_calls() -> None:
    teacher = CountingTeacher(errors=[AuthError("invalid api key", status=401)])
    judge = make_judge(teacher, concurrency=1)
    results = judge.score_many_settled(PAIRS[:10])
    assert teacher.calls == 1  # not ten refused calls
    assert all(isinstance(r, AuthError) for r in results)
    assert "invalid api key" in str(results[-1])
