"""The batched hit path on real backends: one bulk read per batch, and every guarantee kept.

A corrupt entry inside a bulk read is a miss that is named, counted and overwritten; repeats in a
batch are read once and counted as coalesced; the ledger keeps requests == hits + calls +
coalesced. Run on diskcache (one ``SELECT ... IN`` per batch) and on a real redis-server (``MGET``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from jc_test_teachers import CountingTeacher, overlap_grade

from judgecache import Judge
from judgecache.envelope import Envelope
from judgecache.judges.rubric import RELEVANCE
from judgecache.prices import PriceTable
from judgecache.store.base import Store
from judgecache.store.disk import READ_CHUNK, DiskStore

PAIRS = [(f"query {i} tea", f"doc {i} about tea and query words") for i in range(8)]


@pytest.fixture(params=["diskcache", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "diskcache":
        opened: Store = DiskStore(tmp_path / "cache")
    else:
        from judgecache.store.redis_store import RedisStore

        opened = RedisStore(request.getfixturevalue("redis_server"), f"hit-{tmp_path.name}")
    yield opened
    if request.param == "redis":
        opened.clear()
    opened.close()


def seeded(store: Store) -> tuple[Judge, CountingTeacher]:
    teacher = CountingTeacher()
    judge = Judge(teacher, cache=store)
    judge.score_many(PAIRS)
    assert teacher.calls == len(PAIRS)
    teacher.calls = 0
    return judge, teacher


def invariant_holds(judge: Judge) -> bool:
    t = judge.ledger.totals(judge.name)
    return t["requests"] == t["hits"] + t["calls"] + t["coalesced"]


@pytest.mark.parametrize(
    "damage",
    ['{"version": 1, "label": 2', "[1, 2]", "usage", "label", "no-inputs"],
    ids=["truncated-json", "not-an-object", "usage-not-an-object", "label-bool", "inputs-missing"],
)
def test_a_corrupt_entry_in_a_bulk_read_is_a_named_counted_miss_then_overwritten(
    store: Store, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    judge, teacher = seeded(store)
    bad = judge.key(*PAIRS[3])
    if damage in ("usage", "label", "no-inputs"):  # valid JSON, one field wrong or missing
        row = json.loads(store.get(bad) or "")
        if damage == "no-inputs":
            del row["inputs"]
        else:
            row[damage] = 5 if damage == "usage" else True
        damage = json.dumps(row)
    store.set(bad, damage)

    results = judge.score_many(PAIRS)

    assert [v.label for v in results] == [overlap_grade(*p) for p in PAIRS]
    assert [v.cached for v in results] == [i != 3 for i in range(len(PAIRS))]
    assert teacher.calls == 1  # only the corrupt one is judged again
    assert bad in caplog.text  # named
    assert bad in judge._miss.corrupt_keys  # counted
    assert Envelope.from_json(store.get(bad) or "").label == overlap_grade(*PAIRS[3])  # repaired
    assert all(v.cached for v in judge.score_many(PAIRS)) and teacher.calls == 1
    assert invariant_holds(judge)


def test_a_hit_serves_the_keys_own_inputs_and_export_names_a_bad_stored_copy(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # The hit path decodes what a verdict serves; inputs and judge are the key's preimage, so a
    # hit carries the caller's. A stored copy of the wrong shape cannot change a verdict; the
    # export, which reads the stored copies, skips the entry and names it.
    from judgecache.export import iter_labels

    judge, teacher = seeded(store)
    bad = judge.key(*PAIRS[3])
    row = json.loads(store.get(bad) or "")
    store.set(bad, json.dumps({**row, "inputs": 5}))

    results = judge.score_many(PAIRS)

    assert all(v.cached for v in results) and teacher.calls == 0
    assert dict(results[3].envelope.inputs) == row["inputs"]
    assert dict(results[3].envelope.judge) == row["judge"]
    assert results[3].label == overlap_grade(*PAIRS[3])
    assert bad not in {r["key"] for r in iter_labels(store)}
    assert bad in caplog.text
    assert invariant_holds(judge)


def test_a_batch_with_duplicates_reads_each_key_once_and_counts_repeats(store: Store) -> None:
    judge, teacher = seeded(store)
    before = judge.ledger.totals(judge.name)
    batch = [PAIRS[0], PAIRS[1], PAIRS[0], PAIRS[2], PAIRS[0], PAIRS[1]]

    results = judge.score_many(batch)

    assert [v.label for v in results] == [overlap_grade(*p) for p in batch]
    assert all(v.cached for v in results) and teacher.calls == 0
    assert results[0] == results[2] == results[4]
    after = judge.ledger.totals(judge.name)
    grew = {k: after[k] - before[k] for k in ("requests", "hits", "coalesced", "calls")}
    assert grew == {"requests": 6, "hits": 3, "coalesced": 3, "calls": 0}
    assert invariant_holds(judge)


def test_repeats_of_a_corrupt_entry_make_one_teacher_call(store: Store) -> None:
    judge, teacher = seeded(store)
    bad = judge.key(*PAIRS[5])
    store.set(bad, '{"version": 1, "label": true}')

    results = judge.score_many([PAIRS[5], PAIRS[0], PAIRS[5], PAIRS[5]])

    assert [v.label for v in results] == [overlap_grade(*PAIRS[i]) for i in (5, 0, 5, 5)]
    assert teacher.calls == 1
    assert invariant_holds(judge)


def test_a_bulk_read_spanning_several_statements_keeps_order_and_long_values(
    tmp_path: Path,
) -> None:
    store = DiskStore(tmp_path)
    keys = [f"k{i}" for i in range(READ_CHUNK * 2 + 7)]
    store.set_many({k: json.dumps({"n": i}) for i, k in enumerate(keys) if i % 3})
    long_value = json.dumps({"text": "x" * 100_000})  # past diskcache's 32 KB: its own file
    store.set(keys[1], long_value)

    stored = {k: json.dumps({"n": i}) for i, k in enumerate(keys) if i % 3}
    stored[keys[1]] = long_value
    asked = [*reversed(keys), "absent", keys[1], keys[1]]

    assert store.get_many(asked) == [stored.get(k) for k in asked]
    assert sum(v is None for v in store.get_many(asked)) == len(keys) - len(stored) + 1


def test_a_pickled_row_in_a_bulk_read_is_counted_named_and_the_rest_still_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import diskcache

    store = DiskStore(tmp_path)
    store.set_many({"a": '{"a": 1}', "c": '{"c": 3}'})
    foreign = diskcache.Cache(str(tmp_path / "v" / "values"))
    foreign.set("b", {"pickled": True})
    foreign.set("n", 5)  # a number row: raw in SQLite, but not text
    foreign.close()

    assert store.get_many(["a", "b", "c", "n", "b"]) == ['{"a": 1}', None, '{"c": 3}', None, None]
    assert store.unreadable == 2  # the rows b (asked twice, one row) and n
    assert "cache entry b is not JSON text" in caplog.text


def test_saved_dollars_of_imported_labels_match_the_rendered_prompt_estimate() -> None:
    judge = Judge(overlap_grade, name="f", version="1", cache="memory://", price_model="gpt-4o")
    for q, d in PAIRS[:3]:
        judge.put(q, d, overlap_grade(q, d))

    judge.score_many(PAIRS[:3])

    table = PriceTable.load()
    expected = sum(
        table.estimate_prompt_cost(
            "gpt-4o", RELEVANCE.system + RELEVANCE.render({"query": q, "doc": d})
        )
        for q, d in PAIRS[:3]
    )
    assert expected > 0
    assert judge.ledger.totals(judge.name)["saved_usd"] == pytest.approx(expected)
