"""A fleet of ``judgecache score --shard I/N`` workers over one Redis Cluster (console script)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from judgecache.redis_topology import LocalRedisCluster

TEACHERS = Path(__file__).resolve().parents[1] / "cli"  # jc_cli_teachers: logs each call
SPEC = "python:jc_cli_teachers:grade"


@pytest.mark.redis
@pytest.mark.slow
def test_four_sharded_workers_pay_once_per_pair_and_merge_into_one_result(
    tmp_path: Path, redis_cluster: LocalRedisCluster
) -> None:
    rows = [
        {"query": f"topic {i} words", "doc": f"words on topic {i}", "id": i} for i in range(100)
    ]
    rows += rows[::5]  # repeated pairs: the same key, so the same worker
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    calls = tmp_path / "calls.txt"
    cache = f"{redis_cluster.url}?wait_replicas=1"
    env = {**os.environ, "JC_CALLS": str(calls), "PYTHONPATH": str(TEACHERS),
           "JUDGECACHE_DIR": str(tmp_path / "local")}  # fmt: skip
    namespace_env = {**env, "JUDGECACHE_CACHE": cache}
    tag = f"fleet-{uuid.uuid4().hex[:6]}"

    def worker(i: int, out: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["judgecache", "score", str(src), "--judge", SPEC, "--shard", f"{i}/4",
             "--cache", cache, "-o", str(out), "--no-progress", "--json",
             "--tag", tag],
            env=namespace_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    parts = [tmp_path / f"part{i}.jsonl" for i in range(4)]
    procs = [worker(i, parts[i]) for i in range(4)]
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [o[1] for o in outcomes]

    called = calls.read_text().splitlines()
    assert len(called) == 100 == len(set(called))  # exactly one teacher call per unique pair
    stats = subprocess.run(["judgecache", "stats", "--cache", cache, "--json"],
                           env=env, capture_output=True, text=True)  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    (row,) = [r for r in json.loads(stats.stdout)["rows"] if r["tag"] == tag]
    assert row["calls"] == 100  # the shared ledger, updated by 4 processes at once, adds up
    shares = [len(p.read_text().splitlines()) for p in parts]
    assert sum(shares) == len(rows) and min(shares) > 0

    merged = tmp_path / "judged.jsonl"
    done = subprocess.run(["judgecache", "merge", *map(str, parts), "-o", str(merged)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in merged.read_text().splitlines()]
    assert [(o["query"], o["id"]) for o in out] == [(r["query"], r["id"]) for r in rows]
    assert all("input_line" not in o and o["label"] in (0, 1, 2, 3) for o in out)

    # A rerun of one shard takes the same lines, all from the cache now.
    again = worker(2, tmp_path / "again2.jsonl")
    assert again.communicate(timeout=120) and again.returncode == 0
    first = [json.loads(x) for x in parts[2].read_text().splitlines()]
    second = [json.loads(x) for x in (tmp_path / "again2.jsonl").read_text().splitlines()]
    assert [r["input_line"] for r in second] == [r["input_line"] for r in first]
    assert all(r["cached"] for r in second)
    assert len(calls.read_text().splitlines()) == 100
