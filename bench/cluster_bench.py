"""Scale-out benchmark (issue 16): one Redis node vs a 3-master Redis Cluster, side by side in one run.

    python bench/cluster_bench.py            # 10,000 real TREC DL pairs (a few minutes on 2 cores)
    python bench/cluster_bench.py --quick    # 2,000 pairs, for a smoke test

Measures, on the same pairs:
  1. cached-hit throughput of ``Judge.score_many`` and of raw ``get_many``, one node vs cluster;
  2. per-operation server CPU (hit read, lease grant + release, ledger update, label write) from
     the servers' own ``used_cpu_*`` counters: the basis of the capacity estimates in
     docs/scaling.md (a Redis node runs commands on one core);
  3. teacher calls under 2 processes x 8 threads on the cluster (must be exactly one per pair);
  4. a master killed mid-run under 4 judges, with and without ``wait_replicas=1``: labels
     acknowledged before the kill and lost after it, duplicate teacher calls, errors surfaced,
     failover seconds;
  5. the envelope size distribution of the DL20 GPT-4o labels as imported, and Redis memory per
     label (``MEMORY USAGE``), for the memory-per-million-labels figure.
Prints Markdown (for docs/benchmarks.md) and writes JSON with --json-out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import redis
from bench_common import median_time, real_pairs, require_data, trec_files
from bench_teachers import overlap_grade
from cache_bench import singleflight

from judgecache import Judge
from judgecache.errors import StorageError
from judgecache.redis_server import LocalRedisServer
from judgecache.redis_topology import LocalRedisCluster
from judgecache.store import open_store
from judgecache.store.base import Store

Pairs = list[tuple[str, str]]


def _ports(url: str) -> list[int]:
    hosts = url.partition("://")[2].split("?")[0].split("/")[0]
    return [int(h.rpartition(":")[2]) for h in hosts.split(",")]


def server_cpu_s(ports: list[int]) -> float:
    """CPU seconds (user + sys) the live Redis servers on ``ports`` have used so far."""
    total = 0.0
    for port in ports:
        try:
            info = redis.Redis(port=port).info("cpu")
        except redis.ConnectionError:
            continue  # a killed node
        total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return total


def hit_throughput(pairs: Pairs, urls: dict[str, str]) -> dict[str, dict[str, float]]:
    """Cached pairs/s through the Judge and through raw get_many, one node vs cluster, interleaved."""
    judges = {}
    for name, url in urls.items():
        judge = Judge(overlap_grade, name="bench-overlap", version="1", cache=url)
        judge.put_many((q, d, overlap_grade(q, d), None) for q, d in pairs)
        judges[name] = (judge, [judge.key(q, d) for q, d in pairs])
    samples: dict[str, dict[str, list[float]]] = {
        name: {"judge": [], "raw": [], "cpu": []} for name in urls
    }
    for _round in range(3):  # interleave so machine noise hits both alike
        for name, (judge, keys) in judges.items():
            ports = _ports(urls[name])
            cpu0 = server_cpu_s(ports)
            t = median_time(lambda j=judge: j.score_many(pairs), repeats=1)  # type: ignore[misc]
            cpu = server_cpu_s(ports) - cpu0
            raw = median_time(lambda j=judge, k=keys: j.store.get_many(k), repeats=1)  # type: ignore[misc]
            samples[name]["judge"].append(len(pairs) / t)
            samples[name]["raw"].append(len(pairs) / raw)
            samples[name]["cpu"].append(cpu * 1e6 / len(pairs))
    out: dict[str, dict[str, float]] = {}
    for name, (judge, _keys) in judges.items():
        out[name] = {
            "judge_pairs_per_s": statistics.median(samples[name]["judge"]),
            "raw_get_many_per_s": statistics.median(samples[name]["raw"]),
            "server_cpu_us_per_hit": statistics.median(samples[name]["cpu"]),
        }
        judge.store.clear()
        judge.close()
    return out


def op_costs(url: str, n: int) -> dict[str, dict[str, float]]:
    """Client rate and server CPU per operation for leases, ledger updates and label writes."""
    store = open_store(url, f"ops-{uuid.uuid4().hex[:8]}")
    ports = _ports(url)
    keys = [f"{i:064x}" for i in range(n)]
    value = json.dumps({"v": 1, "label": 2, "source": "import", "pad": "x" * 200})

    def leases() -> None:
        for k in keys:
            store.acquire_lease(k, "bench-owner", 30.0)
            store.release_lease(k, "bench-owner")

    def counters() -> None:
        for _ in keys:
            store.incr_counters("ledger|bench|*", {"requests": 1, "hits": 1, "saved_usd": 0.001})

    def writes() -> None:
        store.set_many(dict.fromkeys(keys, value))

    out = {}
    for name, fn in (("lease_grant_release", leases), ("ledger_update", counters),
                     ("label_write_batched", writes)):  # fmt: skip
        cpu0, t0 = server_cpu_s(ports), time.perf_counter()
        fn()
        wall, cpu = time.perf_counter() - t0, server_cpu_s(ports) - cpu0
        out[name] = {"client_ops_per_s": n / wall, "server_cpu_us_per_op": cpu * 1e6 / n}
    store.clear()
    store.close()
    return out


class _CountingTeacher:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, query: str, doc: str) -> int:
        with self._lock:
            self.calls[query + "\x00" + doc] += 1
        time.sleep(0.002)
        return overlap_grade(query, doc)


def failover_counts(pairs: Pairs, wait_replicas: int) -> dict[str, float]:
    """:func:`failover` on a fresh 3-master, 2-replica cluster."""
    cluster = LocalRedisCluster(masters=3, replicas=2)
    cluster.start()
    try:
        return _failover_on(cluster, pairs, wait_replicas)
    finally:
        cluster.stop()


def envelope_memory(url: str) -> dict[str, float]:
    """Stored envelope sizes of the DL20 GPT-4o UMBRELA labels (as imported) and Redis bytes per label."""
    from judgecache.io.trec import iter_trec_pairs

    judge = Judge(overlap_grade, name="gpt-4o-umbrela", version="dl20", cache=url)
    rows = list(iter_trec_pairs(*trec_files("20")))
    client = redis.Redis.from_url(url, decode_responses=True)
    mem0 = int(client.info("memory")["used_memory"])
    judge.put_many((p.query, p.doc, int(p.grade), {"qid": p.qid, "docid": p.docid}) for p in rows)
    keys = list(dict.fromkeys(judge.key(p.query, p.doc) for p in rows))
    mem = int(client.info("memory")["used_memory"]) - mem0
    sizes = sorted(len(v.encode()) for v in judge.store.get_many(keys) if v is not None)
    usage = [int(client.memory_usage(f"judgecache:v:v:{k}") or 0) for k in keys[::10]]

    def q(p: float) -> float:
        return float(sizes[min(len(sizes) - 1, int(p * len(sizes)))])

    out = {
        "labels": len(keys),
        "envelope_bytes_p50": q(0.5),
        "envelope_bytes_p90": q(0.9),
        "envelope_bytes_p99": q(0.99),
        "envelope_bytes_max": float(sizes[-1]),
        "envelope_bytes_mean": statistics.fmean(sizes),
        "memory_usage_bytes_mean": statistics.fmean(usage),
        "used_memory_delta_per_label": mem / len(keys),
    }
    judge.store.clear()
    judge.close()
    return out


def _failover_on(cluster: LocalRedisCluster, pairs: Pairs, wait_replicas: int) -> dict[str, float]:
    """Kill the master of a stored label mid-run under 4 judges; count what was lost or paid twice."""
    url = cluster.url + (f"?wait_replicas={wait_replicas}" if wait_replicas else "")
    namespace = f"failover-{wait_replicas}"
    teacher, half = _CountingTeacher(), threading.Event()
    errors: list[str] = []

    def worker(seed: int) -> None:
        judge = Judge(teacher, name="counting", cache=open_store(url, namespace), concurrency=4)
        order = pairs[seed::4] + pairs
        for start in range(0, len(order), 10):
            for _attempt in range(20):
                try:
                    judge.score_many(order[start : start + 10])
                    break
                except StorageError as exc:
                    errors.append(str(exc))
            if sum(teacher.calls.values()) >= len(pairs) // 2:
                half.set()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    half.wait(300)
    reader: Store = open_store(url, namespace)
    keys = list(reader.keys())
    before = dict(zip(keys, reader.get_many(keys), strict=True))
    victim = f"judgecache:{namespace}:v:{keys[0]}"
    t0 = time.perf_counter()
    dead = cluster.kill_master_of(victim)
    cluster.wait_for_failover(victim, dead)
    failover_s = time.perf_counter() - t0
    for t in threads:
        t.join()
    after = reader.get_many(list(before))
    return {
        "wait_replicas": wait_replicas,
        "pairs": len(pairs),
        "labels_acknowledged_before_kill": len(before),
        "acknowledged_labels_lost": sum(
            a != b for a, b in zip(after, before.values(), strict=True)
        ),
        "labels_at_end": reader.count(),
        "teacher_calls": sum(teacher.calls.values()),
        "duplicate_teacher_calls": sum(c - 1 for c in teacher.calls.values()),
        "errors_surfaced_to_judges": len(errors),
        "failover_s": failover_s,
    }


def _table(title: str, rows: dict[str, dict[str, float]]) -> str:
    cols = list(next(iter(rows.values())))
    lines = [f"**{title}**", "", "| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in rows.items():
        cells = [f"{r[c]:,.1f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 pairs instead of 10,000")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    require_data()
    n = 2000 if args.quick else 10000
    pairs = real_pairs(n)
    report: dict[str, Any] = {"pairs": len(pairs)}
    single = LocalRedisServer()
    cluster = LocalRedisCluster(masters=3, replicas=1)
    single.start()
    cluster.start()
    try:
        urls = {"one node": single.url, "cluster 3+3": cluster.url}
        report["hits"] = hit_throughput(pairs, urls)
        report["ops"] = {name: op_costs(url, n // 5) for name, url in urls.items()}
        with tempfile.TemporaryDirectory() as tmp:
            report["singleflight_cluster_2x8"] = singleflight(pairs[:400], cluster.url, Path(tmp))
        report["memory"] = envelope_memory(single.url)
    finally:
        cluster.stop()
        single.stop()
    fail_pairs = pairs[:240]
    report["failover"] = {f"wait_replicas={w}": failover_counts(fail_pairs, w) for w in (1, 0)}
    print(f"# cluster_bench: {len(pairs):,} real TREC DL pairs\n")
    print(_table("Cached hits (pairs/s; server CPU per hit summed over all nodes)", report["hits"]))
    for name, ops in report["ops"].items():
        print(_table(f"Per-operation cost, {name}", ops))
    print(
        "**2 processes x 8 threads on the cluster**:",
        json.dumps(report["singleflight_cluster_2x8"]),
        "\n",
    )
    print(
        _table(
            "Master killed mid-run (cluster 3 masters x 2 replicas, 4 judges)", report["failover"]
        )
    )
    print(_table("DL20 GPT-4o labels as stored", {"envelope": report["memory"]}))
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
