"""One bad entry never poisons a batch: it is a miss, named, counted and overwritten."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import diskcache
import pytest
from rel_common import SPEC, count_lines, env_for, jc, pairs, read_jsonl, write_jsonl

from judgecache import Judge
from judgecache.envelope import Envelope
from judgecache.errors import StorageError
from judgecache.judges.verdict import Verdict
from judgecache.store.disk import DiskStore

PAIRS = [(f"query {i} tea", f"doc {i} about tea") for i in range(6)]


def grade(query: str, doc: str) -> int:
    return min(3, len(set(query.split()) & set(doc.split())))


def _judge(cache: object) -> Judge:
    return Judge(grade, name="overlap", version="1", cache=cache)  # type: ignore[arg-type]


def test_a_pickled_row_is_a_miss_that_is_overwritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    judge = _judge(f"diskcache://{tmp_path}")
    bad = judge.key(*PAIRS[2])
    foreign = diskcache.Cache(str(tmp_path / "v" / "values"))
    foreign.set(bad, {"pickled": True})
    foreign.close()
    results = judge.score_many(PAIRS)  # today: StorageError for the whole batch, forever
    assert [v.label for v in results] == [grade(*p) for p in PAIRS]
    assert bad in caplog.text
    again = judge.score_many(PAIRS)
    assert all(v.cached for v in again)  # repaired: the answer replaced the pickled row
    assert json.loads(judge.store.get(bad) or "")["label"] == grade(*PAIRS[2])


@pytest.mark.parametrize(
    "damage",
    [
        {"usage": 5},
        {"meta": [1, 2]},
        {"label": [1]},
        {"score": "NaN"},
        {"cost_usd": {"a": 1}},
    ],
)
def test_a_malformed_envelope_is_a_clear_error_and_a_miss(damage: dict[str, object]) -> None:
    judge = _judge("memory://")
    v = judge.score(*PAIRS[0])
    row = {**v.envelope.to_dict(), **damage}
    with pytest.raises(StorageError, match="corrupt cache envelope"):
        Envelope.from_json(json.dumps(row))
    judge.store.set(v.key, json.dumps(row))
    again = judge.score(*PAIRS[0])
    assert not again.cached and again.label == v.label
    assert Envelope.from_json(judge.store.get(v.key) or "").label == v.label


def test_a_malformed_stored_copy_of_the_inputs_cannot_change_a_verdict() -> None:
    # A hit carries the key's own preimage (the caller's inputs, the judge's identity); the stored
    # copies are only parsed. One of the wrong shape still makes the entry unreadable to a full
    # reader (the export skips and names it), but the verdict served is the stored label.
    judge = _judge("memory://")
    v = judge.score(*PAIRS[0])
    row = {**v.envelope.to_dict(), "inputs": "x", "judge": 7}
    with pytest.raises(StorageError, match="corrupt cache envelope"):
        Envelope.from_json(json.dumps(row))
    judge.store.set(v.key, json.dumps(row))
    again = judge.score(*PAIRS[0])
    assert again.cached and again.label == v.label
    assert again.envelope.inputs == v.envelope.inputs and again.envelope.judge == v.envelope.judge


class FlakyStore(DiskStore):
    """A real diskcache whose reads of one key, or whose counter writes, fail (a bad sector)."""

    bad_key = ""
    fail_counters = False

    def get_many(self, keys: list[str]) -> list[str | None]:  # type: ignore[override]
        if self.bad_key in keys:
            raise StorageError("disk I/O error")
        return super().get_many(keys)

    def get(self, key: str) -> str | None:
        if key == self.bad_key:
            raise StorageError("disk I/O error")
        return super().get(key)

    def incr_counters(self, group: str, amounts: Mapping[str, float]) -> None:
        if self.fail_counters:
            raise StorageError("database is locked")
        super().incr_counters(group, amounts)


def test_storage_errors_are_settled_per_pair(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path)
    judge = _judge(store)
    judge.score_many(PAIRS)
    store.bad_key = judge.key(*PAIRS[1])
    store.fail_counters = True
    results = judge.score_many_settled(PAIRS)
    assert isinstance(results[1], StorageError)
    assert bad_key_named(results[1], store.bad_key)
    assert all(isinstance(r, Verdict) and r.cached for i, r in enumerate(results) if i != 1)
    assert judge.ledger.unpersisted > 0  # counted in memory, said in a warning
    assert judge.ledger.totals(judge.name)["hits"] == len(PAIRS) - 1


def bad_key_named(exc: BaseException, key: str) -> bool:
    return key in "\n".join(getattr(exc, "__notes__", []))


def test_cli_survives_a_pickled_value_and_a_pickled_key(tmp_path: Path) -> None:
    cache = f"diskcache://{tmp_path / 'cache'}"
    calls = tmp_path / "calls.txt"
    env = env_for(calls)
    rows = pairs(50)
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    first = jc("score", str(src), "--judge", SPEC, "--cache", cache, "-o", str(tmp_path / "o1"),
               "--no-progress", env=env)  # fmt: skip
    assert first.returncode == 0, first.stderr
    key = str(read_jsonl(tmp_path / "o1")[7]["key"])
    foreign = diskcache.Cache(str(tmp_path / "cache" / "v" / "values"))
    foreign.set(key, {"pickled": True})
    foreign.set(("tuple", "key"), "x")
    foreign.close()
    second = jc("score", str(src), "--judge", SPEC, "--cache", cache, "-o", str(tmp_path / "o2"),
                "--no-progress", env=env)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert len(read_jsonl(tmp_path / "o2")) == 50  # today: 0 of 50 lines
    assert count_lines(calls) == 51  # only the bad entry was paid for again
    assert key in second.stderr
    info = jc("cache", "info", "--cache", cache, "--json", env=env)
    assert info.returncode == 0, info.stderr
    out = tmp_path / "export.jsonl"
    exported = jc("export", "--cache", cache, "-o", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    assert len(read_jsonl(out)) == 50
