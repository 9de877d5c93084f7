"""Benchmark: the distilled student's CPU inference, padded (before) and packed (after), side by side.

On 1,000 real TREC DL (query, passage) pairs with the passage-embedding LRU off (every passage is
encoded), in ONE process, the variants take turns round after round, so a noisy shared machine
slows them alike and the paired ratios hold:

* ``fp32-padded`` / ``int8-padded`` -- the old batching: 64 length-sorted rows a batch, padded,
  attention masked, MaxSim on padded pairs (``Predictor.packed = False``);
* ``fp32-packed`` / ``int8-packed`` -- rows end to end with no padding, 2,048 tokens a batch,
  MaxSim one matmul per query (the default).

Peak RSS of each variant is measured in a fresh subprocess (``int8-padded`` there quantizes a copy
of the fp32 model, as the old loader did; ``int8-packed`` quantizes in place). Separately labelled:
throughput WITH the LRU when each passage is scored against 2 queries, in two calls (the second
query's call finds every passage cached). Torch runs 2 threads.

    python bench/student_speed.py                       # runs/bench-distill-relevance-maxsim
    python bench/student_speed.py runs/my-student --rounds 5 --profile
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, memory_mb, real_pairs, require_data

DEFAULT_STUDENT = REPO / "runs" / "bench-distill-relevance-maxsim"
THREADS = 2
VARIANTS = {  # name: (int8, packed)
    "fp32-padded": (False, False),
    "fp32-packed": (False, True),
    "int8-padded": (True, False),
    "int8-packed": (True, True),
}
RATIOS = {  # label: (after, before)
    "fp32 packed / padded": ("fp32-packed", "fp32-padded"),
    "int8 packed / padded": ("int8-packed", "int8-padded"),
    "int8-packed / fp32-padded (old headline)": ("int8-packed", "fp32-padded"),
}


def load(student: Path, int8: bool, *, copy_quantize: bool = False) -> Any:
    """A predictor with the LRU off; ``copy_quantize`` reproduces the old int8 loader's copy."""
    import torch
    from torch import nn

    from judgecache.distill.student import load_predictor

    if not (int8 and copy_quantize):
        predictor = load_predictor(student, int8=int8)
    else:
        from torch.ao.quantization import quantize_dynamic

        predictor = load_predictor(student)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predictor.model = quantize_dynamic(predictor.model, {nn.Linear}, dtype=torch.qint8)  # type: ignore[no-untyped-call]
    predictor.cache = None  # measure encoding every passage, no reuse across calls
    return predictor


def timed(predictor: Any, pairs: list[tuple[str, str]]) -> float:
    """Seconds for one ``predict`` call (tokenization and lexical features included)."""
    t0 = time.perf_counter()
    predictor.predict(pairs)
    return time.perf_counter() - t0


def side_by_side(
    student: Path, pairs: list[tuple[str, str]], rounds: int
) -> tuple[dict[str, list[float]], dict[bool, Any]]:
    """pairs/s of every variant, round after round, in this one process (LRU off)."""
    predictors = {False: load(student, False), True: load(student, True)}
    runs: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(rounds):
        for name, (int8, packed) in VARIANTS.items():
            p = predictors[int8]
            p.packed = packed
            if r == 0:
                p.predict(pairs[:64])  # warm-up
            runs[name].append(len(pairs) / timed(p, pairs))
            print(f"  round {r + 1} {name}: {runs[name][-1]:.1f} pairs/s", file=sys.stderr)
    return runs, predictors


def paired_ratios(runs: dict[str, list[float]]) -> dict[str, float]:
    """Median over rounds of after/before measured in the same round."""
    return {
        label: statistics.median(a / b for a, b in zip(runs[after], runs[before], strict=True))
        for label, (after, before) in RATIOS.items()
    }


def two_query_workload(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Two calls over the same 500 passages: each with its own query, then with another query."""
    passages = list(dict.fromkeys(d for _, d in pairs))[:500]
    own = dict((d, q) for q, d in reversed(pairs))
    queries = list(dict.fromkeys(q for q, _ in pairs))
    first = [(own[d], d) for d in passages]
    # The second query is the next distinct DL query: a different topic for every passage.
    second = [(queries[(queries.index(own[d]) + 1) % len(queries)], d) for d in passages]
    return [first, second]


def lru_speed(predictors: dict[bool, Any], pairs: list[tuple[str, str]], rounds: int) -> Any:
    """pairs/s of the packed variants on the 2-query workload, LRU on (fresh each run) and off."""
    from judgecache.distill.scoring import EmbeddingCache

    calls = two_query_workload(pairs)
    n = sum(len(c) for c in calls)
    out: dict[str, list[float]] = {}
    for _ in range(rounds):
        for int8 in (False, True):
            p = predictors[int8]
            p.packed = True
            for lru in (True, False):
                p.cache = EmbeddingCache(20_000) if lru else None
                seconds = sum(timed(p, c) for c in calls)
                name = f"{'int8' if int8 else 'fp32'}-packed, LRU {'on' if lru else 'off'}"
                out.setdefault(name, []).append(n / seconds)
            p.cache = None
    return {
        "workload": f"{len(calls[0])} passages x 2 queries = {n} pairs, in 2 calls of "
        f"{len(calls[0])} (query A for all, then query B for all)",
        "pairs_per_s": {k: statistics.median(v) for k, v in out.items()},
        "runs": out,
    }


def padding_stats(predictor: Any, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Passage token lengths at the student's max_length; real vs padded tokens per batching."""
    import numpy as np

    t0 = time.perf_counter()
    encoded = predictor.encode(pairs)
    encode_s = time.perf_counter() - t0
    passages = sorted({e.second for e in encoded}, key=len)
    lengths = np.array([len(r) for r in passages])
    padded = sum(
        len(passages[min(s + 63, len(passages) - 1)]) * len(passages[s : s + 64])
        for s in range(0, len(passages), 64)
    )
    return {
        "max_length": predictor.spec.max_length,
        "unique_passages": len(passages),
        "unique_queries": len({e.first for e in encoded}),
        "passage_tokens_percentiles": dict(
            zip(
                ("min", "p10", "p25", "p50", "p75", "p90", "max"),
                np.percentile(lengths, [0, 10, 25, 50, 75, 90, 100]).round(1).tolist(),
                strict=True,
            )
        ),
        "passage_tokens_mean": round(float(lengths.mean()), 1),
        "share_at_max_length": round(float((lengths == predictor.spec.max_length).mean()), 3),
        "real_tokens": int(lengths.sum()),
        "padded_tokens_64_row_batches": int(padded),
        "padding_share_before": round(1 - float(lengths.sum()) / padded, 4),
        "padding_share_after": 0.0,
        "tokenize_and_lexical_seconds": round(encode_s, 3),
    }


CATEGORIES = (
    ("linear", ("aten::addmm", "quantized::linear_dynamic")),
    ("attention", ("scaled_dot_product",)),
    ("gelu", ("aten::gelu",)),
    ("layer_norm + add", ("aten::native_layer_norm", "aten::add")),
)


def profile(predictor: Any, pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Seconds per op category (torch.profiler self time) and outside any op, for one call."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the profiler warns about its own experimental parts
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            wall = timed(predictor, pairs)
    out = {name: 0.0 for name, _ in CATEGORIES} | {"other ops": 0.0}
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6
        name = next((c for c, keys in CATEGORIES if any(k in event.key for k in keys)), None)
        out[name or "other ops"] += seconds
    out["outside ops (python, tokenizer)"] = wall - sum(out.values())
    out["wall"] = wall
    return {k: round(v, 3) for k, v in out.items()}


def one_variant(student: Path, variant: str, n: int) -> None:
    """Child process: load one variant, score ``n`` pairs, print speed and memory as JSON."""
    import torch

    torch.set_num_threads(THREADS)
    int8, packed = VARIANTS[variant]
    pairs = real_pairs(n)
    predictor = load(student, int8, copy_quantize=not packed)
    predictor.packed = packed
    loaded = memory_mb()
    predictor.predict(pairs[:64])
    seconds = timed(predictor, pairs)
    print(
        json.dumps(
            {
                "variant": variant,
                "pairs_per_s": len(pairs) / seconds,
                "rss_after_load_mb": round(loaded["rss_mb"], 1),
                **{k: round(v, 1) for k, v in memory_mb().items()},
            }
        )
    )


def fresh_process(student: Path, variant: str, n: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, str(student), "--one", variant, "--n", str(n)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def table(report: dict[str, Any]) -> str:
    rows = [
        "variant        pairs/s (median)  runs                      peak RSS MiB (fresh process)"
    ]
    for name in VARIANTS:
        v = report["lru_off"][name]
        runs = " ".join(f"{x:.1f}" for x in v["runs"])
        rows.append(f"{name:<14} {v['median']:>16.1f}  {runs:<25} {v.get('peak_rss_mb', '-')}")
    rows.append("")
    rows += [f"{label}: x{r:.2f}" for label, r in report["ratios"].items()]
    rows.append("")
    rows.append(f"WITH the passage LRU ({report['lru_two_queries']['workload']}):")
    rows += [f"  {k}: {v:.1f} pairs/s" for k, v in report["lru_two_queries"]["pairs_per_s"].items()]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("student", nargs="?", default=str(DEFAULT_STUDENT))
    ap.add_argument("--n", type=int, default=1000, help="real DL pairs to score")
    ap.add_argument("--rounds", type=int, default=3, help="side-by-side rounds (median reported)")
    ap.add_argument("--lru-rounds", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="op-category breakdown per variant")
    ap.add_argument("--no-rss", action="store_true", help="skip the fresh-process memory runs")
    ap.add_argument("--one", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    student = Path(args.student)
    if not (student / "student.json").is_file():
        raise SystemExit(
            f"no student at {student} (no student.json): train one first, e.g. "
            "python bench/distill_relevance.py --output runs/bench-distill-relevance-maxsim, "
            "or pass a student directory"
        )
    require_data()
    if args.one:
        one_variant(student, args.one, args.n)
        return
    import torch

    torch.set_num_threads(THREADS)
    pairs = real_pairs(args.n)
    runs, predictors = side_by_side(student, pairs, args.rounds)
    report: dict[str, Any] = {
        "student": str(student),
        "pairs": len(pairs),
        "torch_threads": THREADS,
        "rounds": args.rounds,
        "lru_off": {v: {"median": statistics.median(r), "runs": r} for v, r in runs.items()},
        "ratios": paired_ratios(runs),
        "tokens": padding_stats(predictors[False], pairs),
    }
    report["lru_two_queries"] = lru_speed(predictors, pairs, args.lru_rounds)
    if args.profile:
        report["profile_seconds"] = {}
        for name, (int8, packed) in VARIANTS.items():
            predictors[int8].packed = packed
            report["profile_seconds"][name] = profile(predictors[int8], pairs)
    del predictors
    if not args.no_rss:
        for name in VARIANTS:
            mem = fresh_process(student, name, args.n)
            report["lru_off"][name].update(
                {k: mem[k] for k in ("peak_rss_mb", "rss_after_load_mb")}
                | {"fresh_process_pairs_per_s": round(mem["pairs_per_s"], 1)}
            )
    print(table(report))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
