"""Recovery: a dead holder's lease is taken over at once, Redis is reconnected to within a
window, and a huge Retry-After cannot stall a pair past its deadline."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from judgecache import Judge
from judgecache.errors import RateLimitError, StorageError
from judgecache.judges.singleflight import holder_is_dead, lease_or_value, owner_id
from judgecache.redis_server import LocalRedisServer
from judgecache.store import open_store

PAIRS = [(f"query {i} tea", f"doc {i} about tea") for i in range(8)]


def grade(query: str, doc: str) -> int:
    return min(3, len(set(query.split()) & set(doc.split())))


def _dead_owner() -> str:
    """The owner name a process that has exited would have left on its leases."""
    code = "from judgecache.judges.singleflight import owner_id; print(owner_id())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _no_wait(seconds: float) -> None:
    raise AssertionError(f"waited {seconds}s for a lease whose holder is dead")


def test_owner_names_host_pid_and_start_time() -> None:
    host, pid, start, _ = owner_id().split(":")
    assert host == socket.gethostname() and int(pid) > 0 and int(start) > 0


def test_a_dead_holder_is_recognised_and_a_live_one_is_not() -> None:
    dead = _dead_owner()
    assert holder_is_dead(dead)
    assert not holder_is_dead(owner_id())  # this process: alive
    host, pid, start, rand = owner_id().split(":")
    assert holder_is_dead(f"{host}:{pid}:{int(start) + 1}:{rand}")  # pid reused by a newer one
    assert not holder_is_dead(f"other-host-name:{pid}:1:x")  # cannot tell: its TTL decides
    assert not holder_is_dead("crashed-process")


@pytest.mark.parametrize("backend", ["memory", "diskcache"])
def test_a_dead_holders_lease_is_taken_over_without_waiting(backend: str, tmp_path: Path) -> None:
    store = open_store("memory://" if backend == "memory" else f"diskcache://{tmp_path}")
    dead = _dead_owner()
    assert store.acquire_lease("k", dead, 600.0)
    me = owner_id()
    assert lease_or_value(store, "k", me, 30.0, sleep=_no_wait) is None  # we hold it now
    assert store.lease_holder("k") == me
    # A live holder is left alone (we would wait for it).
    waits: list[float] = []

    def record(seconds: float) -> None:
        waits.append(seconds)
        store.set("k", '"answered"')

    other = owner_id()
    assert lease_or_value(store, "k", other, 30.0, sleep=record) == '"answered"'
    assert waits and store.lease_holder("k") == me


@pytest.mark.redis
def test_redis_lease_take_over(redis_server: str) -> None:
    store = open_store(redis_server)
    dead = _dead_owner()
    assert store.acquire_lease("rk", dead, 600.0)
    assert not store.take_over_lease("rk", "someone-else", "me", 5.0)
    assert lease_or_value(store, "rk", "me:1:1:x", 30.0, sleep=_no_wait) is None
    assert store.lease_holder("rk") == "me:1:1:x"
    store.release_lease("rk", "me:1:1:x")


class SlowDown:
    """A teacher that always asks to come back in an hour."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, query: str, doc: str) -> int:
        self.calls += 1
        raise RateLimitError("rate limited", retry_after=3600.0)


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_huge_retry_after_cannot_pass_the_pair_deadline(driver: str) -> None:
    teacher = SlowDown()
    judge = Judge(teacher, name="slow", cache="memory://", pair_deadline_s=5.0, max_retries=5)
    if driver == "sync":
        result = judge.score_many_settled(PAIRS[:1])[0]
    else:
        result = asyncio.run(judge.ascore_many_settled(PAIRS[:1]))[0]
    assert isinstance(result, RateLimitError)
    assert "per-pair deadline of 5s" in "\n".join(result.__notes__)
    assert teacher.calls == 1  # the first wait (capped at 120 s) would already pass 5 s


@pytest.mark.redis
def test_redis_restarted_mid_run_is_reconnected() -> None:
    server = LocalRedisServer()
    url = server.start()
    try:
        judge = Judge(grade, name="g", version="1", cache=f"{url}/0?reconnect_s=30")
        assert [v.cached for v in judge.score_many(PAIRS[:4])] == [False] * 4
        server.kill()
        restarted = threading.Timer(0.5, server.start)  # same port, a moment later
        restarted.start()
        verdicts = judge.score_many(PAIRS)  # today: StorageError within ~30 ms
        restarted.join()
        assert [v.label for v in verdicts] == [grade(*p) for p in PAIRS]
        assert judge.lookup(*PAIRS[7]) is not None
        judge.close()
    finally:
        server.stop()


@pytest.mark.redis
def test_redis_gives_up_after_the_window() -> None:
    server = LocalRedisServer()
    url = server.start()
    try:
        store = open_store(f"{url}/0?reconnect_s=0.3")
        store.set("k", "1")
        server.kill()
        with pytest.raises(StorageError, match=r"gave up reconnecting after 0\.3s"):
            store.get("k")
    finally:
        server.stop()


@pytest.mark.redis
def test_redis_down_at_start_fails_at_once() -> None:
    server = LocalRedisServer()  # never started: nothing listens on its port
    with pytest.raises(StorageError, match="connect failed"):
        open_store(f"{server.url}/0?reconnect_s=600")


def test_bad_reconnect_setting_is_a_config_error() -> None:
    from judgecache.errors import ConfigError

    with pytest.raises(ConfigError, match="reconnect_s"):
        open_store("redis://127.0.0.1:1/0?reconnect_s=soon")
