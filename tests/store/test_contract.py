"""The one backend contract, run against memory://, diskcache:// and a real redis-server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from judgecache.store.base import Store

StoreFactory = Callable[[str], Store]
REPO = Path(__file__).resolve().parents[2]


def run_in_threads(n: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` in ``n`` threads released together; return the results in thread order."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_get_set_add_delete(store: Store) -> None:
    assert store.get("k") is None
    store.set("k", '{"a": 1}')
    assert store.get("k") == '{"a": 1}'
    store.set("k", '{"a": 2}')
    assert store.get("k") == '{"a": 2}'
    assert store.add("k", '{"a": 3}') is False
    assert store.get("k") == '{"a": 2}'
    assert store.add("new", "1") is True
    assert store.delete("k") is True
    assert store.delete("k") is False
    assert store.get("k") is None
    assert store.add("k", "again") is True


def test_get_many_keeps_order_and_reports_missing(store: Store) -> None:
    store.set_many({"a": "1", "b": "2", "c": "3"})
    assert store.get_many(["c", "missing", "a", "a", "b"]) == ["3", None, "1", "1", "2"]
    assert store.get_many([]) == []


def test_read_many_gives_the_get_many_values_as_text_or_utf8_bytes(store: Store) -> None:
    # The judge's hit path reads through read_many; a backend may skip its str decode.
    store.set_many({"a": '{"x": "caf\u00e9"}', "b": "2"})
    keys = ["b", "missing", "a", "b"]
    got = [v.decode("utf-8") if isinstance(v, bytes) else v for v in store.read_many(keys)]
    assert got == store.get_many(keys) == ["2", None, '{"x": "caf\u00e9"}', "2"]


def test_set_many_keys_and_count_list_only_values(store: Store) -> None:
    items = {f"key-{i}": f'{{"i": {i}}}' for i in range(50)}
    store.set_many(items)
    store.acquire_lease("lease-only", "me", 5.0)
    store.incr_counters("ledger|x|*", {"calls": 1})
    assert sorted(store.keys()) == sorted(items)
    assert store.count() == 50
    assert store.get_many(list(items)) == list(items.values())


def test_namespaces_do_not_see_each_other(make_store: StoreFactory) -> None:
    a, b = make_store("alpha"), make_store("beta")
    a.set("shared-key", "from-a")
    a.acquire_lease("shared-key", "owner-a", 5.0)
    a.incr_counters("g", {"calls": 2})
    b.set("only-b", "from-b")

    assert b.get("shared-key") is None
    assert list(a.keys()) == ["shared-key"]
    assert list(b.keys()) == ["only-b"]
    assert (a.count(), b.count()) == (1, 1)
    assert b.acquire_lease("shared-key", "owner-b", 5.0) is True
    assert b.get_counters("g") == {}
    assert b.counter_groups() == []

    assert b.clear() == 1
    assert a.get("shared-key") == "from-a"
    assert a.get_counters("g") == {"calls": 2.0}
    assert a.acquire_lease("shared-key", "intruder", 5.0) is False


def test_clear_removes_values_leases_and_counters(store: Store) -> None:
    store.set_many({"a": "1", "b": "2"})
    store.acquire_lease("a", "me", 30.0)
    store.incr_counters("g", {"calls": 1})
    assert store.clear() == 2
    assert store.count() == 0
    assert list(store.keys()) == []
    assert store.get("a") is None
    assert store.acquire_lease("a", "someone-else", 30.0) is True
    assert store.counter_groups() == []
    assert store.get_counters("g") == {}


@pytest.mark.parametrize(
    "value",
    [
        '{"label": "Grüße aus Köln — 東京 🎉", "raw": "ﬁ\\u00e9"}',
        "café (NFC) vs cafe\u0301 (NFD) stay distinct\nsecond line\ttab",
        '{"big": "' + "ä🙂" * 40_000 + '"}',  # past diskcache's 32 KiB inline limit: a text file
    ],
    ids=["unicode-json", "nfd-newlines", "large"],
)
def test_unicode_values_roundtrip(store: Store, value: str) -> None:
    store.set("κλειδί-🔑", value)
    assert store.get("κλειδί-🔑") == value
    assert store.get_many(["κλειδί-🔑"]) == [value]
    assert list(store.keys()) == ["κλειδί-🔑"]


def test_lease_acquire_contend_release(store: Store) -> None:
    assert store.acquire_lease("k", "worker-1", 5.0) is True
    assert store.acquire_lease("k", "worker-2", 5.0) is False
    assert store.acquire_lease("other", "worker-2", 5.0) is True
    store.release_lease("k", "worker-1")
    assert store.acquire_lease("k", "worker-2", 5.0) is True


def test_holder_can_renew_its_lease(store: Store) -> None:
    assert store.acquire_lease("k", "worker-1", 0.3) is True
    time.sleep(0.15)
    assert store.acquire_lease("k", "worker-1", 0.3) is True
    time.sleep(0.2)  # past the first expiry, within the renewed one
    assert store.acquire_lease("k", "worker-2", 0.3) is False


def test_lease_expires(store: Store) -> None:
    assert store.acquire_lease("k", "crashed-worker", 0.2) is True
    assert store.acquire_lease("k", "worker-2", 0.2) is False
    time.sleep(0.3)
    assert store.acquire_lease("k", "worker-2", 5.0) is True
    assert store.acquire_lease("k", "crashed-worker", 5.0) is False


def test_release_by_non_owner_does_nothing(store: Store) -> None:
    assert store.acquire_lease("k", "owner", 5.0) is True
    store.release_lease("k", "not-the-owner")
    store.release_lease("never-leased", "not-the-owner")
    assert store.acquire_lease("k", "not-the-owner", 5.0) is False


def test_counters_add_up_per_group(store: Store) -> None:
    assert store.get_counters("ledger|judge|*") == {}
    store.incr_counters("ledger|judge|*", {"calls": 1, "input_tokens": 120, "cost_usd": 0.1})
    store.incr_counters("ledger|judge|*", {"calls": 2, "cost_usd": 0.2})
    store.incr_counters("ledger|judge|nightly", {"hits": 5})
    store.incr_counters("ledger|judge|empty", {})
    got = store.get_counters("ledger|judge|*")
    assert got["calls"] == 3.0
    assert got["input_tokens"] == 120.0
    assert got["cost_usd"] == pytest.approx(0.3)
    assert set(store.counter_groups()) >= {"ledger|judge|*", "ledger|judge|nightly"}
    assert store.get_counters("ledger|judge|empty") == {}
    assert store.get_counters("ledger|judge|nightly") == {"hits": 5.0}


def test_counters_are_atomic_under_threads(store: Store) -> None:
    def work(_: int) -> None:
        for _ in range(200):
            store.incr_counters("g", {"calls": 1, "output_tokens": 7, "cost_usd": 0.25})

    run_in_threads(8, work)
    assert store.get_counters("g") == {"calls": 1600.0, "output_tokens": 11200.0, "cost_usd": 400.0}


def test_add_is_atomic_under_threads(store: Store) -> None:
    won = run_in_threads(8, lambda i: store.add("contended", f"writer-{i}"))
    assert won.count(True) == 1
    assert store.get("contended") == f"writer-{won.index(True)}"


def test_info_names_the_backend(store: Store) -> None:
    store.set_many({"a": "1", "b": "2"})
    info = store.info()
    assert info["url"] == store.url
    assert info["namespace"] == store.namespace
    assert info["entries"] == 2


WORKER = """
import sys
from judgecache.store import open_store

url, namespace, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = open_store(url, namespace)
print("ready", flush=True)
sys.stdin.readline()  # start together with the other process
for _ in range(n):
    store.incr_counters("g", {"calls": 1, "input_tokens": 3, "cost_usd": 0.25})
print("won" if store.add("race", name) else "lost", flush=True)
"""


def test_counters_and_add_are_atomic_across_processes(make_shared_store: StoreFactory) -> None:
    store = make_shared_store("v")
    n = 300
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, store.url, store.namespace, f"proc-{i}", str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for i in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outcomes = [p.communicate(timeout=60)[0].strip() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0]
    assert sorted(outcomes) == ["lost", "won"]
    assert store.get_counters("g") == {"calls": 600.0, "input_tokens": 1800.0, "cost_usd": 150.0}
    assert store.get("race") == f"proc-{outcomes.index('won')}"
