"""The caches users would otherwise pick, side by side with judgecache on the same real DL pairs.

Runs in a SEPARATE virtual environment (the competitors are never judgecache dependencies)::

    python -m venv /tmp/compvenv && /tmp/compvenv/bin/pip install langchain-community litellm \\
        gptcache redis diskcache
    echo "$PWD" > /tmp/compvenv/lib/python3.11/site-packages/judgecache-src.pth
    JUDGECACHE_DATA=../shared/data /tmp/compvenv/bin/python bench/competitors_bench.py --pairs 2000

For each cache, in one run: cached-hit lookups one pair at a time (p50/p99 latency, throughput), and
the teacher calls made when 2 processes x 8 threads ask for the same pairs through it (a 5 ms teacher
that logs each call). Raw diskcache ``get`` and raw Redis ``GET`` are the floor. A cache that cannot
be set up here is reported with the reason instead of a figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import real_pairs, require_data

from judgecache import Judge
from judgecache.judges.rubric import get_rubric
from judgecache.redis_server import LocalRedisServer

RUBRIC = get_rubric("relevance")
LLM = "gpt-4o-mini|temperature=0"


def grade(query: str, doc: str) -> int:
    return min(3, len(set(query.lower().split()) & set(doc.lower().split())))


def prompt(query: str, doc: str) -> str:
    return RUBRIC.render({"query": query, "doc": doc})


# ------------------------------------------------------------------ one adapter per cache


class Adapter:
    """lookup/update by (query, doc) for one cache; ``judge`` does lookup-or-call-and-store."""

    name = ""

    def lookup(self, query: str, doc: str) -> Any:
        raise NotImplementedError

    def update(self, query: str, doc: str, label: int) -> None:
        raise NotImplementedError

    def judge(self, query: str, doc: str, teacher: Callable[[str, str], int]) -> Any:
        hit = self.lookup(query, doc)
        if hit is not None:
            return hit
        label = teacher(query, doc)
        self.update(query, doc, label)
        return label


class JudgecacheAdapter(Adapter):
    def __init__(self, url: str, teacher: Callable[[str, str], int] = grade) -> None:
        self.name = "judgecache " + url.split(":")[0]
        self.j = Judge(teacher, name="bench", version="1", cache=url, concurrency=1)

    def lookup(self, query: str, doc: str) -> Any:
        return self.j.score(query, doc).label  # every pair was seeded: a hit

    def update(self, query: str, doc: str, label: int) -> None:
        self.j.put(query, doc, label)

    def judge(self, query: str, doc: str, teacher: Callable[[str, str], int]) -> Any:
        return self.j.score(query, doc).label


class LangChainAdapter(Adapter):
    def __init__(self, cache: Any, name: str) -> None:
        from langchain_core.outputs import Generation

        self.cache, self.name, self._gen = cache, name, Generation

    def lookup(self, query: str, doc: str) -> Any:
        return self.cache.lookup(prompt(query, doc), LLM)

    def update(self, query: str, doc: str, label: int) -> None:
        self.cache.update(prompt(query, doc), LLM, [self._gen(text=f"##final score: {label}")])


class LiteLLMAdapter(Adapter):
    def __init__(self, cache: Any, name: str) -> None:
        self.cache, self.name = cache, name

    def _kw(self, query: str, doc: str) -> dict[str, Any]:
        return {"model": "gpt-4o-mini", "temperature": 0,
                "messages": [{"role": "user", "content": prompt(query, doc)}]}  # fmt: skip

    def lookup(self, query: str, doc: str) -> Any:
        return self.cache.get_cache(**self._kw(query, doc))

    def update(self, query: str, doc: str, label: int) -> None:
        self.cache.add_cache({"label": label}, **self._kw(query, doc))


class GPTCacheAdapter(Adapter):
    def __init__(self, folder: str) -> None:
        from gptcache import Cache
        from gptcache.adapter.api import get, put
        from gptcache.manager import get_data_manager
        from gptcache.processor.pre import get_prompt

        self.name = "GPTCache (exact match, sqlite)"
        self.cache = Cache()
        self.cache.init(
            pre_embedding_func=get_prompt,
            # The default map keeps 1,000 entries and evicts the rest: room for every pair.
            data_manager=get_data_manager(
                data_path=str(Path(folder) / "gptcache.txt"), max_size=1_000_000
            ),
        )
        self._get, self._put = get, put

    def lookup(self, query: str, doc: str) -> Any:
        return self._get(prompt(query, doc), cache_obj=self.cache)

    def update(self, query: str, doc: str, label: int) -> None:
        self._put(prompt(query, doc), str(label), cache_obj=self.cache)


def make_adapter(
    kind: str, folder: str, redis_url: str, teacher: Callable[[str, str], int] = grade
) -> Adapter:
    host, port = redis_url.removeprefix("redis://").split(":")
    if kind == "jc-disk":
        return JudgecacheAdapter(f"diskcache://{folder}/jc", teacher)
    if kind == "jc-redis":
        return JudgecacheAdapter(f"{redis_url}/0", teacher)
    if kind == "lc-sqlite":
        from langchain_community.cache import SQLiteCache

        return LangChainAdapter(SQLiteCache(f"{folder}/lc.db"), "LangChain SQLiteCache")
    if kind == "lc-redis":
        import redis
        from langchain_community.cache import RedisCache

        client = redis.Redis(host=host, port=int(port), db=1)
        return LangChainAdapter(RedisCache(redis_=client), "LangChain RedisCache")
    if kind == "litellm-disk":
        from litellm.caching.caching import Cache

        return LiteLLMAdapter(
            Cache(type="disk", disk_cache_dir=f"{folder}/litellm"), "LiteLLM disk"
        )
    if kind == "litellm-redis":
        from litellm.caching.caching import Cache

        cache = Cache(type="redis", host=host, port=port, namespace="litellm")
        return LiteLLMAdapter(cache, "LiteLLM Redis")
    if kind == "gptcache":
        return GPTCacheAdapter(folder)
    raise ValueError(kind)


KINDS = [
    "jc-disk",
    "jc-redis",
    "lc-sqlite",
    "lc-redis",
    "litellm-disk",
    "litellm-redis",
    "gptcache",
]


# --------------------------------------------------------------------------- measurements


def hit_latency(adapter: Adapter, pairs: list[tuple[str, str]]) -> dict[str, float]:
    for q, d in pairs:
        adapter.update(q, d, grade(q, d))
    for q, d in pairs[:50]:
        assert adapter.lookup(q, d) is not None, f"{adapter.name}: seeded pair missed"
    times = []
    t_all = time.perf_counter()
    for q, d in pairs:
        t0 = time.perf_counter()
        adapter.lookup(q, d)
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - t_all
    times.sort()
    return {
        "p50_us": statistics.median(times) * 1e6,
        "p99_us": times[int(len(times) * 0.99)] * 1e6,
        "hits_per_s": len(pairs) / wall,
    }


def raw_floor(pairs: list[tuple[str, str]], folder: str, redis_url: str) -> dict[str, Any]:
    import diskcache
    import redis

    c = diskcache.Cache(f"{folder}/raw")
    r = redis.Redis.from_url(f"{redis_url}/2", decode_responses=True)
    keys = [f"k{i}" for i in range(len(pairs))]
    for k in keys:
        c.set(k, '{"label": 2}')
        r.set(k, '{"label": 2}')
    out: dict[str, Any] = {}
    for name, get in (("raw diskcache get", c.get), ("raw Redis GET", r.get)):
        times = []
        for k in keys:
            t0 = time.perf_counter()
            get(k)
            times.append(time.perf_counter() - t0)
        times.sort()
        out[name] = {"p50_us": statistics.median(times) * 1e6,
                     "p99_us": times[int(len(times) * 0.99)] * 1e6,
                     "hits_per_s": len(keys) / sum(times)}  # fmt: skip
    return out


def slow_logged_grade(query: str, doc: str) -> int:
    time.sleep(0.005)
    with Path(os.environ["BENCH_CALLS_FILE"]).open("a") as f:
        f.write(f"{os.getpid()}\n")
    return grade(query, doc)


def _worker(
    kind: str, folder: str, redis_url: str, pairs: list[tuple[str, str]], start_at: float
) -> int:
    os.environ["BENCH_CALLS_FILE"] = str(Path(folder) / "calls.txt")
    adapter = make_adapter(kind, folder, redis_url, slow_logged_grade)
    time.sleep(max(0.0, start_at - time.time()))  # both processes start asking together

    def one(pair: tuple[str, str]) -> bool:
        try:
            adapter.judge(pair[0], pair[1], slow_logged_grade)
            return True
        except Exception:  # counted: a cache that fails under concurrent writers
            return False

    with ThreadPoolExecutor(8) as pool:
        ok = list(pool.map(one, pairs))
    return sum(ok)


def concurrent_calls(kind: str, pairs: list[tuple[str, str]], redis_url: str) -> dict[str, Any]:
    """Teacher calls when 2 processes x 8 threads ask for the same fresh pairs at once."""
    with tempfile.TemporaryDirectory(prefix="jc-comp-sf-") as folder:
        calls = Path(folder) / "calls.txt"
        os.environ["BENCH_CALLS_FILE"] = str(calls)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(2) as pool:
            start_at = time.time() + 20.0  # after both spawned workers have imported
            done = pool.starmap(_worker, [(kind, folder, redis_url, pairs, start_at)] * 2)
        n_calls = len(calls.read_text().splitlines()) if calls.exists() else 0
    return {
        "requests": 2 * len(pairs),
        "failed": 2 * len(pairs) - sum(done),
        "teacher_calls": n_calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=2000, help="cached pairs for the hit path")
    parser.add_argument("--sf-pairs", type=int, default=200, help="pairs for the calls part")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--only", choices=KINDS, action="append", help="run only these caches")
    args = parser.parse_args()
    require_data()
    pairs = real_pairs(args.pairs)
    fresh = real_pairs(args.pairs + args.sf_pairs)[args.pairs :]
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="jc-comp-") as folder, LocalRedisServer() as url:
        report.update(raw_floor(pairs, folder, url))
        for kind in args.only or KINDS:
            print(f"{kind} ...", file=sys.stderr)
            row: dict[str, Any] = {}
            for part in (lambda k=kind: hit_latency(make_adapter(k, folder, url), pairs),
                         lambda k=kind: concurrent_calls(k, fresh, url)):  # fmt: skip
                try:
                    row.update(part())
                except Exception as exc:  # report, do not hide: a cache that cannot run here
                    row.setdefault("error", f"{type(exc).__name__}: {exc}".splitlines()[0][:160])
            report[kind] = row
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))
    print(render(report, args.pairs, args.sf_pairs))


def render(report: dict[str, Any], n: int, n_sf: int) -> str:
    lines = [
        f"| cache | hit p50 | hit p99 | hits/s (one at a time, {n:,} pairs) | teacher calls for "
        f"{n_sf} pairs, 2 processes x 8 threads |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in report.items():
        hit = (
            f"{row['p50_us']:.0f} us | {row['p99_us']:.0f} us | {row['hits_per_s']:,.0f}"
            if "p50_us" in row
            else "- | - | -"
        )
        if "teacher_calls" in row:
            calls = f"{row['teacher_calls']:,} for {row['requests']:,} requests"
            if row["failed"]:
                calls += f" ({row['failed']:,} requests failed)"
        else:
            calls = "(floor)" if "error" not in row else ""
        error = f" (error: {row['error']})" if "error" in row else ""
        lines.append(f"| {name}{error} | {hit} | {calls} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
