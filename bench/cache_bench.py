"""Cache benchmark (issue 2): hit-path speed, cross-process single-flight, streaming memory, and
the TREC DL19 import round trip. Every comparison is measured side by side in this one run.

    python bench/cache_bench.py            # full run (about 5-10 minutes on 2 cores)
    python bench/cache_bench.py --quick    # smaller sizes, for a smoke test

Prints a Markdown report (paste it into docs/benchmarks.md) and writes JSON with --json-out.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import diskcache
import redis
from bench_common import real_pairs, require_data, trec_files
from bench_teachers import overlap_grade, slow_logged_grade

from judgecache import Judge
from judgecache.redis_server import LocalRedisServer
from judgecache.store import open_store

HIT_REPEATS = 7


def hit_path(
    pairs: list[tuple[str, str]], disk_url: str, redis_url: str, repeats: int = HIT_REPEATS
) -> dict[str, Any]:
    """``Judge.score_many(pairs)`` over cached pairs against raw reads of the same keys.

    One ``score_many`` call over all the pairs reads its hits in the store's batches, so every
    floor reads the same keys (precomputed, in the same order) in those same batches and returns
    the stored JSON text without decoding it:

    * diskcache, strict floor: ``SELECT key, value FROM Cache WHERE key IN (...)``, 900 keys a
      statement (``DiskStore.get_many``'s batch), on a plain ``diskcache.Cache``'s own connection:
      the fastest way to read those rows. API floor: a ``Cache.get`` loop, what diskcache offers.
    * Redis, strict floor: ``MGET``, 1,000 keys a call (``RedisStore.get_many``'s batch), on a
      plain redis-py client returning bytes. API floor: the same returning ``str``
      (``decode_responses=True``, as judgecache's client). Strictest: judgecache's own one-pass
      ``MGET`` reader (:mod:`judgecache.store.redis_mget`, what ``score_many`` reads with) alone.

    The judgecache side does everything a caller gets: key every pair from its text, read, decode
    and check each envelope, build the verdicts, one ledger write. The sides run interleaved
    (rotating order) ``repeats`` times after one warm-up each; the ratio is the median of the
    per-repetition ratios, each measured back to back.
    """
    out: dict[str, Any] = {"pairs": len(pairs), "repeats": repeats}
    for name, url in (("diskcache", disk_url), ("redis", redis_url)):
        judge = Judge(overlap_grade, name="bench-overlap", version="1", cache=url)
        judge.put_many((q, d, overlap_grade(q, d), None) for q, d in pairs)
        keys = [judge.key(q, d) for q, d in pairs]
        floors = _disk_floors(url, keys) if name == "diskcache" else _redis_floors(url, keys)

        def cached(judge: Judge = judge) -> object:
            return judge.score_many(pairs)

        assert all(v.cached for v in judge.score_many(pairs))
        for read in floors.values():  # warm-up and a check: every key is there, as text
            assert all(v is not None for v in read()), "a floor missed a seeded key"
        sides: dict[str, Callable[[], object]] = {"judge": cached, **floors}
        times = _interleaved(sides, repeats)
        for side, ts in times.items():
            out[f"{name}_{side}_s"] = statistics.median(ts)
        for floor in floors:
            ratios = [j / f for j, f in zip(times["judge"], times[floor], strict=True)]
            out[f"{name}_{floor}_ratio"] = statistics.median(ratios)
        out[f"{name}_pairs_per_s"] = len(pairs) / out[f"{name}_judge_s"]
        judge.close()
    return out


def _interleaved(sides: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall times of each side, ``repeats`` rounds, the order rotating each round (load drifts)."""
    names = list(sides)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            sides[n]()
            times[n].append(time.perf_counter() - t0)
    return times


def _disk_floors(url: str, keys: list[str]) -> dict[str, Callable[[], list[Any]]]:
    from judgecache.store.disk import READ_CHUNK

    cache = diskcache.Cache(str(Path(url.removeprefix("diskcache://")) / "v" / "values"))
    select = "SELECT key, value FROM Cache WHERE key IN ({})"

    def strict(keys: list[str] = keys) -> list[Any]:
        found: dict[str, Any] = {}
        sql = cache._sql  # type: ignore[attr-defined]  # the Cache's own connection
        for i in range(0, len(keys), READ_CHUNK):
            chunk = keys[i : i + READ_CHUNK]
            found.update(sql(select.format(",".join("?" * len(chunk))), chunk).fetchall())
        return [found.get(k) for k in keys]

    def api(keys: list[str] = keys) -> list[Any]:
        get = cache.get
        return [get(k) for k in keys]

    return {"sql": strict, "get": api}


def _redis_floors(url: str, keys: list[str]) -> dict[str, Callable[[], list[Any]]]:
    from judgecache.store.redis_mget import mget as one_pass_mget
    from judgecache.store.redis_store import MGET_CHUNK

    raw_keys = [f"judgecache:v:v:{k}" for k in keys]

    def chunked(read_chunk: Callable[[list[str]], list[Any]]) -> Callable[[], list[Any]]:
        def read(raw_keys: list[str] = raw_keys) -> list[Any]:
            values: list[Any] = []
            for i in range(0, len(raw_keys), MGET_CHUNK):
                values.extend(read_chunk(raw_keys[i : i + MGET_CHUNK]))
            return values

        return read

    return {
        "mget_bytes": chunked(redis.Redis.from_url(url).mget),
        "mget_str": chunked(redis.Redis.from_url(url, decode_responses=True).mget),
        "one_pass": chunked(partial(one_pass_mget, redis.Redis.from_url(url).connection_pool)),
    }


def _singleflight_worker(
    url: str, calls_file: str, pairs: list[tuple[str, str]], threads: int
) -> int:
    os.environ["BENCH_CALLS_FILE"] = calls_file
    judge = Judge(slow_logged_grade, name="bench-slow", version="1", cache=url, concurrency=1)

    def run(seed: int) -> int:
        order = pairs[:]
        random.Random(seed).shuffle(order)  # every thread walks the pairs in its own order
        return len(judge.score_many(order))

    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(run, range(os.getpid(), os.getpid() + threads)))
    judge.close()
    return done


def singleflight(
    pairs: list[tuple[str, str]], url: str, tmp: Path, processes: int = 2, threads: int = 8
) -> dict[str, float]:
    calls_file = tmp / f"calls-{abs(hash(url))}.txt"
    ctx = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    with ctx.Pool(processes) as pool:
        done = pool.starmap(
            _singleflight_worker, [(url, str(calls_file), pairs, threads)] * processes
        )
    wall = time.perf_counter() - t0
    lines = calls_file.read_text().splitlines()
    return {
        "requests": sum(done),
        "teacher_calls": len(lines),
        "processes_that_called": len(set(lines)),
        "wall_s": wall,
    }


def _run_measured(cmd: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run ``cmd``; return (exit code, wall seconds, peak resident MB of that process, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 1024, stdout


def streaming(pairs: list[tuple[str, str]], tmp: Path, lines: list[int]) -> list[dict[str, float]]:
    """Peak memory of `judgecache score` on JSONL files of growing length (all hits after a seed)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent)}
    cache = f"diskcache://{tmp / 'stream-cache'}"
    spec = "python:bench_teachers:overlap_grade"
    base = [
        sys.executable,
        "-m",
        "judgecache.cli.main",
        "score",
        "--judge",
        spec,
        "--cache",
        cache,
        "--no-progress",
        "--json",
    ]
    seed_file = tmp / "seed.jsonl"
    with seed_file.open("w") as f:
        for i, (q, d) in enumerate(pairs):
            f.write(json.dumps({"id": i, "query": q, "doc": d}) + "\n")
    code, _, _, _ = _run_measured([*base, str(seed_file), "-o", str(tmp / "seed.out.jsonl")], env)
    assert code == 0, "seeding run failed"
    results = []
    for n in lines:
        path = tmp / f"stream-{n}.jsonl"
        with path.open("w") as f:
            for i in range(n):
                q, d = pairs[i % len(pairs)]
                f.write(json.dumps({"id": i, "query": q, "doc": d}) + "\n")
        code, wall, peak_mb, stdout = _run_measured(
            [*base, str(path), "-o", str(tmp / "stream.out.jsonl")], env
        )
        summary = json.loads(stdout.strip().splitlines()[-1])
        assert code == 0 and summary["teacher_calls"] == 0, summary
        results.append(
            {
                "lines": n,
                "peak_rss_mb": peak_mb,
                "wall_s": wall,
                "pairs_per_s": n / wall,
                "input_mb": path.stat().st_size / 2**20,
            }
        )
        path.unlink()
    return results


def dl19_round_trip(tmp: Path) -> dict[str, object]:
    """Import GPT-4o UMBRELA DL19 labels, then score the same pairs: zero teacher calls allowed."""
    from judgecache.io.trec import iter_trec_pairs

    qrels, topics, collection = trec_files("19")
    cache = f"diskcache://{tmp / 'dl19'}"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY",)}
    cli = [sys.executable, "-m", "judgecache.cli.main"]
    code, wall_import, _, out = _run_measured(
        [
            *cli,
            "import",
            "--judge",
            "openai:gpt-4o",
            "--cache",
            cache,
            "--qrels",
            str(qrels),
            "--topics",
            str(topics),
            "--collection",
            str(collection),
            "--json",
        ],
        env,
    )
    assert code == 0, "import failed"
    imported = json.loads(out)
    pairs_file = tmp / "dl19.jsonl"
    with pairs_file.open("w") as f:
        for qid, docid, query, doc, _ in iter_trec_pairs(qrels, topics, collection):
            f.write(json.dumps({"qid": qid, "docid": docid, "query": query, "doc": doc}) + "\n")
    # No API key in the environment: a single miss would be an AuthError, not a silent call.
    code, wall_score, _, out = _run_measured(
        [
            *cli,
            "score",
            str(pairs_file),
            "--judge",
            "openai:gpt-4o",
            "--cache",
            cache,
            "-o",
            str(tmp / "dl19.out.jsonl"),
            "--no-progress",
            "--json",
            "--price-model",
            "gpt-4o",
        ],
        env,
    )
    scored = json.loads(out.strip().splitlines()[-1])
    entries = open_store(cache).count()
    return {
        "imported": imported["imported"],
        "entries": entries,
        "scored_pairs": scored["pairs"],
        "hits": scored["hits"],
        "teacher_calls": scored["teacher_calls"],
        "errors": scored["errors"],
        "saved_usd": scored["saved_usd"],
        "exit_code": code,
        "import_s": wall_import,
        "score_s": wall_score,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument(
        "--hit-only", action="store_true", help="only the hit-path comparison (about 10 s)"
    )
    parser.add_argument(
        "--hit-stages",
        action="store_true",
        help="CPU time per pair of each stage of the hit path, both backends (about 20 s)",
    )
    args = parser.parse_args()
    require_data()
    n_hit, n_sf = (2_000, 200) if args.quick else (10_000, 1_000)
    if args.hit_stages:
        print(render_stages(hit_stages(real_pairs(n_hit)), n_hit))
        return
    if args.hit_only:
        print(render_hit(hit_only(real_pairs(n_hit)), n_hit))
        return
    stream_lines = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
    pairs = real_pairs(max(n_hit, n_sf))
    report: dict[str, object] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="jc-bench-") as tmpdir, LocalRedisServer() as redis_url:
        tmp = Path(tmpdir)
        print(f"hit path over {n_hit:,} cached pairs ...", file=sys.stderr)
        report["hit_path"] = hit_path(pairs[:n_hit], f"diskcache://{tmp / 'hits'}", redis_url)
        redis.Redis.from_url(redis_url).flushdb()
        for name, url in (("diskcache", f"diskcache://{tmp / 'sf'}"), ("redis", redis_url)):
            print(
                f"single-flight 2 processes x 8 threads over {n_sf:,} pairs on {name} ...",
                file=sys.stderr,
            )
            report[f"singleflight_{name}"] = singleflight(pairs[:n_sf], url, tmp)
        print(f"streaming {stream_lines} lines ...", file=sys.stderr)
        report["streaming"] = streaming(pairs[:10_000], tmp, stream_lines)
        print("DL19 import round trip ...", file=sys.stderr)
        report["dl19"] = dl19_round_trip(tmp)
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))
    print(render(report, n_hit, n_sf))


def hit_only(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jc-bench-") as tmpdir, LocalRedisServer() as url:
        return hit_path(pairs, f"diskcache://{Path(tmpdir) / 'hits'}", url)


def hit_stages(pairs: list[tuple[str, str]], repeats: int = HIT_REPEATS) -> dict[str, Any]:
    """Where a hit's time goes: CPU microseconds per pair (``time.process_time``, median of
    ``repeats``) of each stage of ``score_many`` on all hits, beside the strict raw floor.

    Stages are timed one by one through the judge's internals (keys, the store's bulk read, the
    envelope decode, the verdicts); "bookkeeping" is what ``score_many`` spends beyond them. CPU time,
    not wall time, so the figures are this process's own work (the Redis server's is not in them).
    """
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="jc-bench-") as tmp, LocalRedisServer() as redis_url:
        for name, url in (("diskcache", f"diskcache://{Path(tmp) / 'hits'}"), ("redis", redis_url)):
            judge = Judge(overlap_grade, name="bench-overlap", version="1", cache=url)
            judge.put_many((q, d, overlap_grade(q, d), None) for q, d in pairs)
            keys = [judge.key(q, d) for q, d in pairs]
            floors = _disk_floors(url, keys) if name == "diskcache" else _redis_floors(url, keys)
            out[name] = _stages(
                judge, pairs, floors["sql" if name == "diskcache" else "one_pass"], repeats
            )
            judge.close()
    return out


def _stages(
    judge: Judge, pairs: list[tuple[str, str]], floor: Callable[[], object], repeats: int
) -> dict[str, float]:
    from judgecache.envelope import decode_hit
    from judgecache.judges.verdict import verdict_of

    unique = judge._dedupe(pairs)[1]
    keys = list(unique)
    values = judge.store.read_many(keys)
    identity = judge.teacher.identity.as_dict()
    envelopes = [
        decode_hit(v or "", unique[k], identity) for k, v in zip(keys, values, strict=True)
    ]

    def cpu(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
        return statistics.median(times) / len(pairs) * 1e6

    stages = {
        "floor": cpu(floor),
        "keys": cpu(lambda: judge._dedupe(pairs)),
        "read": cpu(lambda: judge.store.read_many(keys)),
        "decode": cpu(
            lambda: [
                decode_hit(v or "", unique[k], identity) for k, v in zip(keys, values, strict=True)
            ]
        ),
        "verdicts": cpu(
            lambda: [
                verdict_of(e, k, True)
                for k, e in zip(keys, envelopes, strict=True)
                if e is not None
            ]
        ),
        "total": cpu(lambda: judge.score_many(pairs)),
    }
    stages["bookkeeping"] = stages["total"] - sum(
        stages[p] for p in ("keys", "read", "decode", "verdicts")
    )
    return stages


def render_stages(s: dict[str, Any], n_hit: int) -> str:
    rows = [
        ("raw read, strict floor (bulk SQL / one-pass `MGET`)", "floor"),
        ("judgecache: keys from the pairs' text (NFC, strip, quote, sha256)", "keys"),
        ("judgecache: the store's bulk read", "read"),
        ("judgecache: decode and type-check the envelopes", "decode"),
        ("judgecache: build the verdicts", "verdicts"),
        ("judgecache: batch bookkeeping (dedupe, order, ledger, loops)", "bookkeeping"),
        ("judgecache `score_many` in all", "total"),
    ]
    lines = [
        f"### Hit path by stage: CPU per pair over {n_hit:,} cached pairs (median of {HIT_REPEATS})",
        "",
        "| stage | diskcache | Redis |",
        "| --- | --- | --- |",
    ]
    for label, key in rows:
        lines.append(f"| {label} | {s['diskcache'][key]:.2f} us | {s['redis'][key]:.2f} us |")
    return "\n".join(lines)


def render_hit(h: dict[str, Any], n_hit: int) -> str:
    def row(backend: str, name: str, floor: str, how: str) -> str:
        return (
            f"| {backend} | {h[f'{name}_judge_s']:.3f} s | {how} | {h[f'{name}_{floor}_s']:.3f} s "
            f"| **{h[f'{name}_{floor}_ratio']:.2f}x** | {h[f'{name}_pairs_per_s']:,.0f} |"
        )

    return "\n".join(
        [
            f"### Hit path: `score_many` over {n_hit:,} cached pairs against a raw read of the same "
            f"keys (median of {h['repeats']}, interleaved)",
            "",
            "| backend | judgecache `score_many` | raw read of the same keys, same batches | raw | ratio | pairs/s through judgecache |",
            "| --- | --- | --- | --- | --- | --- |",
            row("diskcache", "diskcache", "sql", "`SELECT ... WHERE key IN`, 900 keys a statement"),
            row("diskcache", "diskcache", "get", "`Cache.get` loop"),
            row("Redis", "redis", "mget_bytes", "`MGET`, 1,000 keys a call, bytes"),
            row("Redis", "redis", "mget_str", "`MGET`, 1,000 keys a call, `str`"),
            row("Redis", "redis", "one_pass", "judgecache's one-pass `MGET` reader, bytes"),
        ]
    )


def render(r: dict[str, object], n_hit: int, n_sf: int) -> str:
    h = r["hit_path"]
    assert isinstance(h, dict)
    lines = [
        render_hit(h, n_hit),
        "",
        f"### Single-flight: 2 processes x 8 threads over the same {n_sf:,} pairs",
        "",
        "| backend | requests | teacher calls | processes that called | wall |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("diskcache", "redis"):
        s = r[f"singleflight_{name}"]
        assert isinstance(s, dict)
        lines.append(
            f"| {name} | {s['requests']:,} | **{s['teacher_calls']:,}** | {s['processes_that_called']} | {s['wall_s']:.1f} s |"
        )
    lines += [
        "",
        "### Streaming: `judgecache score` peak resident memory (all hits)",
        "",
        "| input lines | input size | peak RSS | wall | pairs/s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in r["streaming"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {s['lines']:,} | {s['input_mb']:.0f} MB | **{s['peak_rss_mb']:.0f} MB** | {s['wall_s']:.0f} s | {s['pairs_per_s']:,.0f} |"
        )
    d = r["dl19"]
    assert isinstance(d, dict)
    lines += [
        "",
        "### TREC DL19 GPT-4o UMBRELA labels: import, then score through the cache",
        "",
        f"- imported {d['imported']:,} labels → {d['entries']:,} cache entries ({d['import_s']:.1f} s)",
        f"- scored {d['scored_pairs']:,} pairs with `--judge openai:gpt-4o` and no API key: {d['hits']:,} hits, "
        f"**{d['teacher_calls']} teacher calls**, {d['errors']} errors, exit code {d['exit_code']} ({d['score_s']:.1f} s); "
        f"saved ≈ ${d['saved_usd']:.2f} at GPT-4o list prices",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
