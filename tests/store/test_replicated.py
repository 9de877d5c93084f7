"""Redis Cluster and Sentinel specifics: URLs, key placement, batching, and surviving a failover.

The backend contract itself runs on both through the parametrized ``store`` fixture
(tests/store/test_contract.py); this file checks what only a replicated topology has.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
import redis

from judgecache import Judge
from judgecache.errors import ConfigError, StorageError
from judgecache.redis_topology import LocalRedisCluster, LocalRedisSentinel
from judgecache.store import open_store
from judgecache.store.redis_cluster import RedisClusterStore
from judgecache.store.redis_sentinel import RedisSentinelStore


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://h:notaport", "bad host:port 'h:notaport'"),
        ("redis+cluster://h:1,:2", "bad host:port ':2'"),
        ("redis+cluster://h:1/3", "takes no path"),
        ("redis+cluster://h:1?colour=red", "unknown redis+cluster URL setting(s) ['colour']"),
        ("redis+cluster://h:1?wait_replicas=x", "wait_replicas='x' is not a number"),
        ("redis+cluster://h:1?wait_replicas=-1", "wait_replicas must be >= 0"),
        ("redis+sentinel://s:26379", "/service_name[/db]"),
        ("redis+sentinel://s:26379/svc/x", "/service_name[/db]"),
        ("redis+sentinel://:pw@s:1/svc?colour=1", "'redis+sentinel://:***@s:1/svc?colour=1'"),
    ],
)
def test_bad_urls_are_config_errors_naming_the_problem(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_store(url)
    assert message in str(info.value)
    assert "pw" not in str(info.value).replace("password", "")


@pytest.mark.redis
def test_cluster_spreads_one_namespace_over_every_master_and_batches_reads(
    redis_cluster: LocalRedisCluster,
) -> None:
    store = open_store(redis_cluster.url, f"spread-{uuid.uuid4().hex[:8]}")
    assert isinstance(store, RedisClusterStore)
    items = {f"key-{i}": str(i) for i in range(300)}
    store.set_many(items)
    masters = [
        n for n in redis_cluster.alive() if _node(n.port).info("replication")["role"] == "master"
    ]
    assert len(masters) == 3
    pattern = f"judgecache:{store.namespace}:v:*"
    per_master = [len(list(_node(n.port).scan_iter(match=pattern, count=1000))) for n in masters]
    assert sum(per_master) == 300
    assert min(per_master) > 50  # no hash tag pins the namespace (or a judge) to one master
    for n in masters:
        _node(n.port).config_resetstat()
    keys = [*items, "missing"]
    assert store.get_many(keys) == [*items.values(), None]
    stats = [_node(n.port).info("commandstats") for n in masters]
    assert sum(s.get("cmdstat_get", {}).get("calls", 0) for s in stats) == 0
    assert all(s["cmdstat_mget"]["calls"] > 0 for s in stats)  # MGET per slot on every master
    assert store.count() == 300
    assert store.clear() == 300
    assert store.info()["masters"] == 3


@pytest.mark.redis
def test_sentinel_store_reports_its_service_and_master(redis_sentinel: LocalRedisSentinel) -> None:
    store = open_store(redis_sentinel.url, f"info-{uuid.uuid4().hex[:8]}")
    assert isinstance(store, RedisSentinelStore)
    store.set("k", "1")
    facts = store.info()
    assert facts["service"] == "judgecache-test"
    assert facts["master"] == f"127.0.0.1:{redis_sentinel.master_port()}"
    assert facts["entries"] == 1
    store.clear()


def _node(port: int) -> redis.Redis:
    return redis.Redis(port=port, decode_responses=True)


class CountingTeacher:
    """A relevance teacher that counts its calls per query (thread-safe)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, query: str, doc: str) -> int:
        with self._lock:
            self.calls[query] += 1
        threading.Event().wait(0.002)  # a teacher takes time; lets workers overlap
        return len(query) % 4


@pytest.mark.redis
@pytest.mark.slow
def test_killing_a_cluster_master_mid_run_loses_no_label_and_pays_no_pair_twice(
    doomed_cluster: LocalRedisCluster,
) -> None:
    url = doomed_cluster.url + "?wait_replicas=1"
    namespace = f"failover-{uuid.uuid4().hex[:8]}"
    pairs = [(f"query {i}", f"doc {i}") for i in range(240)]
    teacher = CountingTeacher()
    half_done = threading.Event()
    errors: list[str] = []

    def worker(seed: int) -> None:
        judge = Judge(teacher, name="counting", cache=open_store(url, namespace), concurrency=4)
        order = pairs[seed::4] + pairs  # each starts elsewhere, then walks over everything
        for start in range(0, len(order), 10):
            batch = order[start : start + 10]
            for _attempt in range(20):
                try:
                    judge.score_many(batch)
                    break
                except StorageError as exc:  # past failover_window_s only
                    errors.append(str(exc))
            if sum(teacher.calls.values()) >= len(pairs) // 2:
                half_done.set()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    assert half_done.wait(120)
    reader = open_store(url, namespace)
    keys = [k for k in reader.keys()]
    before = dict(zip(keys, reader.get_many(keys), strict=True))  # acknowledged labels so far
    victim = keys[0]
    raw_victim = f"judgecache:{namespace}:v:{victim}"
    replicas = doomed_cluster.replicas_of(doomed_cluster.master_of(raw_victim).port)
    doomed_cluster.allow_failover(replicas, False)  # hold the window open while we look inside
    dead = doomed_cluster.kill_master_of(raw_victim)
    # Inside the window a client that does not wait for the failover gets a clear error.
    impatient = open_store(doomed_cluster.url + "?failover_window_s=0", namespace)
    with pytest.raises(StorageError, match=r"redis cache redis\+cluster://.*GET failed"):
        impatient.get(victim)
    doomed_cluster.allow_failover(replicas, True)
    promoted = doomed_cluster.wait_for_failover(raw_victim, dead)
    for t in threads:
        t.join(180)
    assert not any(t.is_alive() for t in threads)

    assert promoted != dead
    after = reader.get_many(list(before))
    assert after == list(before.values())  # 0 acknowledged labels lost
    assert reader.count() == len(pairs)
    assert max(teacher.calls.values()) == 1  # 0 duplicate teacher calls
    assert len(teacher.calls) == len(pairs)
    assert errors == []  # retries inside failover_window_s hid the failover from the judges


@pytest.mark.redis
@pytest.mark.slow
def test_sentinel_failover_keeps_acknowledged_labels() -> None:
    setup = LocalRedisSentinel(service="doomed", replicas=2)
    setup.start()
    try:
        store = open_store(setup.url + "?wait_replicas=1", "failover")
        store.set_many({f"k{i}": str(i) for i in range(100)})
        assert store.acquire_lease("held", "worker-1", 60.0)
        dead = setup.kill_master()
        promoted = setup.wait_for_failover(dead)
        assert promoted != dead
        assert store.get_many([f"k{i}" for i in range(100)]) == [str(i) for i in range(100)]
        assert store.acquire_lease("held", "worker-2", 60.0) is False  # the lease survived too
        store.set("after", "1")  # writes go to the promoted master
        assert store.info()["master"] == f"127.0.0.1:{promoted}"
    finally:
        setup.stop()


@pytest.mark.redis
def test_a_slot_migrating_mid_run_is_followed_through_ask_and_moved(
    redis_cluster: LocalRedisCluster,
) -> None:
    store = open_store(redis_cluster.url + "?wait_replicas=1", f"moving-{uuid.uuid4().hex[:8]}")
    store.set_many({"stays": "1", "moves": "2"})
    assert store.acquire_lease("moves", "holder", 60.0)
    raw = f"judgecache:{store.namespace}:v:moves"
    lease = f"judgecache:{store.namespace}:lease:moves"
    source = redis_cluster.master_of(raw)
    target = next(
        n
        for n in redis_cluster.alive()
        if n.port != source.port and _node(n.port).info("replication")["role"] == "master"
    )
    src, dst = _node(source.port), _node(target.port)
    slot = int(src.cluster("keyslot", raw))
    src_id, dst_id = src.cluster("myid"), dst.cluster("myid")
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    movers = [k for k in src.cluster("getkeysinslot", slot, 100)]
    assert raw in movers
    src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *movers)
    # Mid-migration the source answers ASK for the moved keys: redis-py follows it.
    assert store.get_many(["stays", "moves"]) == ["1", "2"]
    if lease in movers:
        assert store.acquire_lease("moves", "intruder", 60.0) is False
    for node in (src, dst):
        node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    # Now the source answers MOVED and the client learns the new owner.
    assert store.get("moves") == "2"
    store.set("moves", "3")
    assert dst.get(raw) == "3"
    assert store.acquire_lease("moves", "intruder", 60.0) is False  # still held, wherever it lives
    store.clear()


@pytest.mark.redis
@pytest.mark.parametrize("topology", ["redis_cluster", "redis_sentinel"])
def test_a_write_fewer_replicas_acknowledge_than_asked_is_a_clear_error(
    topology: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(topology).url  # one replica per master
    store = open_store(f"{url}?wait_replicas=2&wait_timeout_ms=50", f"short-{uuid.uuid4().hex[:8]}")
    with pytest.raises(StorageError, match=r"only 1 of 2 replicas acknowledged it within 50 ms"):
        store.set("k", "1")
    with pytest.raises(StorageError, match=r"lease grant reached the master but only 1 of 2"):
        store.acquire_lease("k", "me", 5.0)
    assert store.get("k") == "1"  # on the master, but not promised to survive its loss
    store.clear()
