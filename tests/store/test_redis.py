"""redis:// and rediss:// specifics against a real redis-server, and the fallback policy."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator

import pytest
import redis

from judgecache.errors import ConfigError, StorageError
from judgecache.store import open_store
from judgecache.store.disk import DiskStore
from judgecache.store.policy import CacheFallbackWarning, FallbackStore
from judgecache.store.redis_store import MGET_CHUNK, RedisStore, parse_settings

pytestmark = pytest.mark.redis


def closed_port() -> int:
    """A loopback port nobody listens on (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def raw(redis_server: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def local_cache_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Point the local diskcache default (the fallback target) at a fresh directory."""
    path = tmp_path_factory.mktemp("local-cache")
    monkeypatch.setenv("JUDGECACHE_DIR", str(path))
    return str(path)


def test_key_layout(redis_server: str, raw: redis.Redis, namespace: str) -> None:
    store = RedisStore(redis_server, namespace)
    store.set("k", '{"a": 1}')
    store.acquire_lease("k", "owner-1", 30.0)
    store.incr_counters("ledger|j|*", {"calls": 1, "cost_usd": 0.5})
    p = f"judgecache:{namespace}:"
    assert sorted(raw.scan_iter(match=p + "*")) == [p + "ctr:ledger|j|*", p + "lease:k", p + "v:k"]
    assert raw.get(p + "v:k") == '{"a": 1}'
    assert raw.get(p + "lease:k") == "owner-1"
    assert 0 < int(raw.pttl(p + "lease:k")) <= 30_000
    assert raw.hgetall(p + "ctr:ledger|j|*") == {"calls": "1", "cost_usd": "0.5"}
    store.clear()
    assert list(raw.scan_iter(match=p + "*")) == []


def test_db_number_in_the_path_selects_the_database(redis_server: str, namespace: str) -> None:
    store = RedisStore(f"{redis_server}/3", namespace)
    store.set("k", "in-db-3")
    db3 = redis.Redis.from_url(f"{redis_server}/3", decode_responses=True)
    db0 = redis.Redis.from_url(f"{redis_server}/0", decode_responses=True)
    key = f"judgecache:{namespace}:v:k"
    assert (db3.get(key), db0.get(key)) == ("in-db-3", None)
    assert RedisStore(f"{redis_server}/0", namespace).get("k") is None
    store.clear()
    db3.close()
    db0.close()


def test_password_authenticates_and_is_masked_on_failure(
    redis_server: str, raw: redis.Redis, namespace: str
) -> None:
    user = f"jc-{namespace}"
    raw.acl_setuser(user, enabled=True, passwords=["+s3cret-pw"], keys=["*"], commands=["+@all"])
    try:
        host = redis_server.removeprefix("redis://")
        store = RedisStore(f"redis://{user}:s3cret-pw@{host}/0", namespace)
        store.set("k", "v")
        assert store.get("k") == "v"
        assert "s3cret-pw" not in str(store.info())
        store.clear()
        with pytest.raises(StorageError) as caught:
            RedisStore(f"redis://{user}:wrong-pw@{host}/0", namespace)
        message = str(caught.value)
        assert f"redis://{user}:***@{host}/0" in message
        assert "wrong-pw" not in message
        assert "AuthenticationError" in message
    finally:
        raw.acl_deluser(user)


def test_unreachable_server_raises_storage_error_with_masked_password() -> None:
    port = closed_port()
    with pytest.raises(StorageError) as caught:
        RedisStore(f"redis://:hunter2@127.0.0.1:{port}/0?password=hunter2")
    message = str(caught.value)
    assert f"redis://:***@127.0.0.1:{port}/0" in message
    assert "hunter2" not in message
    assert "ConnectionError" in message


def test_url_settings_are_connection_settings() -> None:
    # A server that accepts connections but never answers: only socket_timeout ends the wait.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StorageError, match="Timeout"):
            RedisStore(f"redis://127.0.0.1:{port}/0?socket_timeout=0.1&socket_connect_timeout=0.1")
        assert time.monotonic() - started < 3.0  # the built-in default would wait 10 s


def test_rediss_speaks_tls() -> None:
    first_bytes: list[bytes] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]

        def record_hello() -> None:
            conn, _ = server.accept()
            with conn:
                first_bytes.append(conn.recv(5))

        listener = threading.Thread(target=record_hello)
        listener.start()
        url = f"rediss://:pw@127.0.0.1:{port}/0?ssl_cert_reqs=none&socket_timeout=0.2"
        with pytest.raises(StorageError, match=r"rediss://:\*\*\*@127\.0\.0\.1"):
            RedisStore(url)
        listener.join(timeout=5)
    assert first_bytes and first_bytes[0][:1] == b"\x16"  # a TLS handshake record, not RESP


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis://h/0?sockettimeout=1", "unknown Redis URL setting"),
        ("redis://h/0?ssl_cert_reqs=none", "valid for redis://"),
        ("redis://h/zero", "db number"),
        ("redis://h:notaport/0", "invalid Redis URL"),
        ("redis:///0", "no host"),
        ("redis://:secret@h/0?socket_timeout=soon", "socket_timeout"),
    ],
)
def test_bad_urls_are_config_errors(url: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint) as caught:
        RedisStore(url)
    assert "secret" not in str(caught.value)


def test_parse_settings_lists_valid_settings() -> None:
    assert parse_settings("rediss://h:6380/1?ssl_cert_reqs=none&socket_timeout=2") == {
        "ssl_cert_reqs": "none",
        "socket_timeout": "2",
    }
    with pytest.raises(ConfigError, match="socket_connect_timeout"):
        parse_settings("redis://h?connect_timeout=1")


def test_get_many_and_set_many_batch_past_the_chunk_size(
    redis_server: str, raw: redis.Redis, namespace: str
) -> None:
    store = RedisStore(redis_server, namespace)
    n = 2 * MGET_CHUNK + 500
    store.set_many({f"k{i}": f'{{"i": {i}}}' for i in range(n)})
    asked = [f"k{i}" if i % 3 else f"missing{i}" for i in range(n)]
    before = raw.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)
    got = store.get_many(asked)
    after = raw.info("commandstats")["cmdstat_mget"]["calls"]
    assert after - before == 3  # ceil(2,500 / 1,000) round trips, each bounded
    assert got == [f'{{"i": {i}}}' if i % 3 else None for i in range(n)]
    assert store.count() == n
    assert store.clear() == n


def test_fallback_is_lazy_warns_once_and_keeps_working_locally(
    local_cache_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    url = f"redis://:hunter2@127.0.0.1:{port}/0"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # building it must not even try to connect
        store = open_store(url, on_error="fallback")
    assert isinstance(store, FallbackStore)

    with pytest.warns(CacheFallbackWarning) as record, caplog.at_level(logging.WARNING):
        store.set("k", '{"a": 1}')
        assert store.get("k") == '{"a": 1}'
        store.set_many({"x": "1", "y": "2"})
        assert store.acquire_lease("k", "me", 5.0) is True
        store.incr_counters("g", {"calls": 1})
        assert sorted(store.keys()) == ["k", "x", "y"]
    assert len(record) == 1
    message = str(record[0].message)
    assert f"redis://:***@127.0.0.1:{port}/0" in message and "hunter2" not in message
    assert "ConnectionError" in message and local_cache_dir in message
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [message]
    info = store.info()
    assert info["fallback"] is True and info["entries"] == 3
    # It really is the local default diskcache, which the next run can read.
    assert DiskStore(local_cache_dir, "v").get("k") == '{"a": 1}'


def test_fallback_warns_once_when_threads_fail_together(local_cache_dir: str) -> None:
    store = open_store(f"redis://127.0.0.1:{closed_port()}/0", on_error="fallback")
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        store.set(f"k{i}", str(i))

    with pytest.warns(CacheFallbackWarning) as record:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(record) == 1
    assert sorted(store.keys()) == [f"k{i}" for i in range(8)]


def test_fallback_does_not_warn_while_the_server_is_fine(
    redis_server: str, namespace: str, local_cache_dir: str
) -> None:
    store = open_store(redis_server, namespace, on_error="fallback")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.set("k", "v")
        assert store.get("k") == "v"
        assert store.info()["fallback"] is False
    store.clear()
    assert DiskStore(local_cache_dir, namespace).count() == 0


def test_server_killed_mid_run(
    doomed_redis: tuple[str, Callable[[], None]], local_cache_dir: str
) -> None:
    url, kill = doomed_redis
    strict = open_store(url)
    tolerant = open_store(url, on_error="fallback")
    strict.set("before", "1")
    assert tolerant.get("before") == "1"

    kill()

    with pytest.raises(StorageError, match=f"redis cache {url}"):
        strict.get("before")
    with pytest.warns(CacheFallbackWarning, match="unavailable") as record:
        assert tolerant.get("before") is None  # the local cache never had it
        tolerant.set("after", "2")
        assert tolerant.get_many(["after", "before"]) == ["2", None]
        assert tolerant.count() == 1
    assert len(record) == 1
    assert tolerant.info()["fallback"] is True
    assert DiskStore(local_cache_dir, "v").get("after") == "2"


def test_the_hit_path_read_falls_back_like_every_other_read(
    doomed_redis: tuple[str, Callable[[], None]], local_cache_dir: str
) -> None:
    url, kill = doomed_redis
    tolerant = open_store(url + "?reconnect_s=0", on_error="fallback")
    tolerant.set("k", "1")
    assert tolerant.read_many(["k", "absent"]) == [b"1", None]  # Redis: the stored bytes

    kill()

    with pytest.warns(CacheFallbackWarning, match="unavailable"):
        assert tolerant.read_many(["k"]) == [None]  # the local cache never had it
    tolerant.set("k", "2")
    assert tolerant.read_many(["k"]) == ["2"] and tolerant.info()["fallback"] is True


def test_info_reports_server_eviction_facts(redis_server: str, namespace: str) -> None:
    store = RedisStore(redis_server, namespace)
    store.set("k", "v")
    info = store.info()
    assert info["entries"] == 1
    assert info["eviction_policy"] == "noeviction"
    assert info["size_limit"] is None  # maxmemory 0: unbounded
    assert info["evictions"] == 0
    assert info["size_bytes"] > 0
    store.clear()
