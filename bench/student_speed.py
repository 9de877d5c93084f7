"""Benchmark: the distilled student's CPU inference, torch (padded, packed) and ONNX Runtime, side by side.

On 1,000 real TREC DL (query, passage) pairs with the passage-embedding LRU off (every passage is
encoded), in ONE process, the variants take turns round after round, so a noisy shared machine
slows them alike and the paired ratios hold:

* ``fp32-padded`` / ``int8-padded`` -- torch, the old batching: 64 length-sorted rows a batch,
  padded, attention masked, MaxSim on padded pairs (``Predictor.packed = False``);
* ``fp32-packed`` / ``int8-packed`` -- torch, rows end to end with no padding, 2,048 tokens a
  batch, MaxSim one matmul per query (a plain BERT bi-encoder only; others run padded);
* ``fp32-onnx`` / ``int8-onnx`` -- the encoder in ONNX Runtime (exported once, fused, int8 by
  ``onnxruntime.quantization.quantize_dynamic``; padded 64-row batches), the rest in torch.

Peak RSS of each variant is measured in a fresh subprocess (``int8-padded`` there quantizes a copy
of the fp32 model, as the old loader did; ``int8-packed`` quantizes in place; the ONNX variants
load the file the main process exported, as every load after the first does; ``int8-onnx-cold``
exports it first, into a copy of the student). Separately labelled: throughput WITH the LRU when
each passage is scored against 2 queries, in two calls (the second query's call finds every
passage cached). Torch and ONNX Runtime run 2 threads.

``--untrained ARCH:BASE`` (e.g. ``cross:minilm``, ``bi:mpnet``) benchmarks a student with fresh
LoRA weights and head on that packaged base instead (speed and memory do not depend on training).

    python bench/student_speed.py                       # runs/bench-distill-relevance-maxsim
    python bench/student_speed.py runs/my-student --rounds 5 --profile
    python bench/student_speed.py --untrained cross:minilm --variants fp32-padded,int8-padded,fp32-onnx,int8-onnx
"""

from __future__ import annotations

import argparse
import json
import shutil
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
VARIANTS = {  # name: (int8, packed, runtime)
    "fp32-padded": (False, False, "torch"),
    "fp32-packed": (False, True, "torch"),
    "int8-padded": (True, False, "torch"),
    "int8-packed": (True, True, "torch"),
    "fp32-onnx": (False, False, "onnx"),
    "int8-onnx": (True, False, "onnx"),
}
RATIOS = {  # label: (after, before)
    "fp32 packed / padded": ("fp32-packed", "fp32-padded"),
    "int8 packed / padded": ("int8-packed", "int8-padded"),
    "int8-packed / fp32-padded (old headline)": ("int8-packed", "fp32-padded"),
    "fp32 onnx / torch packed": ("fp32-onnx", "fp32-packed"),
    "int8 onnx / torch packed": ("int8-onnx", "int8-packed"),
    "fp32 onnx / torch padded": ("fp32-onnx", "fp32-padded"),
    "int8 onnx / torch padded": ("int8-onnx", "int8-padded"),
}
COLD = "int8-onnx-cold"


def load(student: Path, variant: str, *, copy_quantize: bool = False) -> Any:
    """A predictor with the LRU off; ``copy_quantize`` reproduces the old int8 loader's copy."""
    import torch
    from torch import nn

    from judgecache.distill.student import load_predictor

    int8, _, runtime = VARIANTS[variant]
    if not (int8 and copy_quantize and runtime == "torch"):
        predictor = load_predictor(student, int8=int8, runtime=runtime)
    else:
        from torch.ao.quantization import quantize_dynamic

        predictor = load_predictor(student, runtime="torch")
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
    student: Path, pairs: list[tuple[str, str]], rounds: int, variants: list[str]
) -> tuple[dict[str, list[float]], dict[str, Any], dict[str, float]]:
    """pairs/s of each variant, round after round, in this one process (LRU off); also the
    predictors (one per int8 x runtime) and each one's load seconds (ONNX: the export too)."""
    predictors: dict[str, Any] = {}
    load_s: dict[str, float] = {}
    for name in variants:
        key = predictor_key(name)
        if key not in predictors:
            t0 = time.perf_counter()
            predictors[key] = load(student, name)
            load_s[key] = round(time.perf_counter() - t0, 1)
    runs: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(rounds):
        for name in variants:
            p = predictors[predictor_key(name)]
            p.packed = VARIANTS[name][1]
            if r == 0:
                p.predict(pairs[:64])  # warm-up
            runs[name].append(len(pairs) / timed(p, pairs))
            print(f"  round {r + 1} {name}: {runs[name][-1]:.1f} pairs/s", file=sys.stderr)
    return runs, predictors, load_s


def predictor_key(variant: str) -> str:
    """Variants that differ only in packing share one loaded predictor."""
    int8, _, runtime = VARIANTS[variant]
    return f"{'int8' if int8 else 'fp32'}-{runtime}"


def paired_ratios(runs: dict[str, list[float]]) -> dict[str, float]:
    """Median over rounds of after/before measured in the same round (pairs both measured)."""
    return {
        label: statistics.median(a / b for a, b in zip(runs[after], runs[before], strict=True))
        for label, (after, before) in RATIOS.items()
        if after in runs and before in runs
    }


def agreement(predictors: dict[str, Any], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Each predictor's probabilities and labels against torch fp32 on the same pairs."""
    import numpy as np

    if "fp32-torch" not in predictors:
        return {}
    for p in predictors.values():
        p.packed = True
    ref = predictors["fp32-torch"].predict(pairs)
    out: dict[str, Any] = {}
    for key, p in predictors.items():
        got = p.predict(pairs)
        out[f"{key} vs fp32-torch"] = {
            "max_abs_prob_diff": round(float(np.abs(got.prob - ref.prob).max()), 6),
            "mean_abs_prob_diff": round(float(np.abs(got.prob - ref.prob).mean()), 6),
            "labels_equal": round(float((got.labels == ref.labels).mean()), 4),
        }
    return out


def two_query_workload(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Two calls over the same 500 passages: each with its own query, then with another query."""
    passages = list(dict.fromkeys(d for _, d in pairs))[:500]
    own = dict((d, q) for q, d in reversed(pairs))
    queries = list(dict.fromkeys(q for q, _ in pairs))
    first = [(own[d], d) for d in passages]
    # The second query is the next distinct DL query: a different topic for every passage.
    second = [(queries[(queries.index(own[d]) + 1) % len(queries)], d) for d in passages]
    return [first, second]


def lru_speed(predictors: dict[str, Any], pairs: list[tuple[str, str]], rounds: int) -> Any:
    """pairs/s of each predictor (packed where it packs) on the 2-query workload, LRU on (fresh
    each run) and off."""
    from judgecache.distill.scoring import EmbeddingCache

    calls = two_query_workload(pairs)
    n = sum(len(c) for c in calls)
    out: dict[str, list[float]] = {}
    for _ in range(rounds):
        for key, p in predictors.items():
            p.packed = True
            for lru in (True, False):
                p.cache = EmbeddingCache(20_000) if lru else None
                seconds = sum(timed(p, c) for c in calls)
                out.setdefault(f"{key}, LRU {'on' if lru else 'off'}", []).append(n / seconds)
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
    """Child process: load one variant, score ``n`` pairs, print speed and memory as JSON.

    ``int8-onnx-cold`` exports the ONNX file first, into a throw-away copy of the student.
    """
    import tempfile

    import torch

    torch.set_num_threads(THREADS)
    pairs = real_pairs(n)
    t0 = time.perf_counter()
    if variant == COLD:
        copy = Path(tempfile.mkdtemp()) / "student"
        shutil.copytree(student, copy, ignore=shutil.ignore_patterns("onnx", "checkpoint"))
        student, variant = copy, "int8-onnx"
    packed = VARIANTS[variant][1]
    predictor = load(student, variant, copy_quantize=not packed)
    predictor.packed = packed
    load_s = time.perf_counter() - t0
    loaded = memory_mb()
    predictor.predict(pairs[:64])
    seconds = timed(predictor, pairs)
    print(
        json.dumps(
            {
                "variant": variant,
                "pairs_per_s": len(pairs) / seconds,
                "load_s": round(load_s, 1),
                "rss_after_load_mb": round(loaded["rss_mb"], 1),
                **{k: round(v, 1) for k, v in memory_mb().items()},
            }
        )
    )


def fresh_process(student: Path, variant: str, n: int) -> dict[str, Any]:
    """Run :func:`one_variant` in a new interpreter (its own peak RSS)."""
    cmd = [sys.executable, __file__, str(student), "--one", variant, "--n", str(n)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def table(report: dict[str, Any]) -> str:
    rows = [
        "variant        pairs/s (median)  runs                      peak RSS MiB (fresh process)"
    ]
    for name, v in report["lru_off"].items():
        runs = " ".join(f"{x:.1f}" for x in v["runs"])
        rows.append(f"{name:<14} {v['median']:>16.1f}  {runs:<25} {v.get('peak_rss_mb', '-')}")
    if COLD in report:
        cold = report[COLD]
        rows.append(
            f"{COLD}: first load (export + fuse + quantize) {cold['load_s']} s, "
            f"peak RSS {cold['peak_rss_mb']} MiB"
        )
    rows.append("")
    rows += [f"{label}: x{r:.2f}" for label, r in report["ratios"].items()]
    rows.append("")
    if "lru_two_queries" in report:
        lru = report["lru_two_queries"]
        rows.append(f"WITH the passage LRU ({lru['workload']}):")
        rows += [f"  {k}: {v:.1f} pairs/s" for k, v in lru["pairs_per_s"].items()]
    rows += [f"{k}: {v}" for k, v in report["agreement"].items()]
    return "\n".join(rows)


def untrained_student(what: str) -> Path:
    """A saved student with fresh LoRA (B = 0) and head on a packaged base, built once."""
    arch, _, base = what.partition(":")
    out = REPO / "runs" / f"untrained-{arch}-{base}"
    if (out / "student.json").is_file():
        return out
    from judgecache.distill.build import build_student
    from judgecache.distill.calibrate import Calibrator
    from judgecache.distill.config import LoraConfig
    from judgecache.distill.model import resolve_base_model
    from judgecache.distill.student import StudentSpec, save_student

    model, tokenizer = build_student(resolve_base_model(base), arch, 4, LoraConfig(r=16, alpha=32))
    spec = StudentSpec(
        name=f"untrained-{arch}-{base}",
        architecture=arch,
        rubric="relevance",
        target="graded",
        labels=[0, 1, 2, 3],
        positive_from=2,
        protected=0,
        max_length=128,
        max_length_protected=64,
        base_model=base,
        teacher={"provider": "none", "model": "untrained", "version": ""},
    )
    model.head.set_cuts([-0.5, 0.0, 0.5], scale=4.0)
    if model.proj is not None:  # a zero projection scores every pair alike: spread the scores
        import torch

        torch.manual_seed(0)
        torch.nn.init.normal_(model.proj.weight, std=0.5)
    save_student(out, model, tokenizer, spec, Calibrator("platt"), {"chosen": None})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("student", nargs="?", default=str(DEFAULT_STUDENT))
    ap.add_argument("--n", type=int, default=1000, help="real DL pairs to score")
    ap.add_argument("--rounds", type=int, default=3, help="side-by-side rounds (median reported)")
    ap.add_argument("--lru-rounds", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="op-category breakdown per variant")
    ap.add_argument("--no-rss", action="store_true", help="skip the fresh-process memory runs")
    ap.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated, of {list(VARIANTS)}"
    )
    ap.add_argument(
        "--untrained",
        metavar="ARCH:BASE",
        help="benchmark fresh LoRA + head on a packaged base (bi|cross : minilm|mpnet)",
    )
    ap.add_argument("--one", choices=[*sorted(VARIANTS), COLD], help=argparse.SUPPRESS)
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; valid: {list(VARIANTS)}")
    student = untrained_student(args.untrained) if args.untrained else Path(args.student)
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
    runs, predictors, load_s = side_by_side(student, pairs, args.rounds, variants)
    report: dict[str, Any] = {
        "student": str(student),
        "architecture": next(iter(predictors.values())).spec.architecture,
        "base_model": next(iter(predictors.values())).spec.base_model,
        "pairs": len(pairs),
        "threads": THREADS,
        "rounds": args.rounds,
        "load_seconds_in_order": load_s,
        "lru_off": {v: {"median": statistics.median(r), "runs": r} for v, r in runs.items()},
        "ratios": paired_ratios(runs),
        "agreement": agreement(predictors, pairs),
    }
    if report["architecture"] == "bi":  # passage-side padding (a cross-encoder reads joint rows)
        report["tokens"] = padding_stats(next(iter(predictors.values())), pairs)
    if report["architecture"] == "bi" and args.lru_rounds:
        report["lru_two_queries"] = lru_speed(predictors, pairs, args.lru_rounds)
    if args.profile:
        report["profile_seconds"] = {}
        for name in variants:
            p = predictors[predictor_key(name)]
            p.packed = VARIANTS[name][1]
            report["profile_seconds"][name] = profile(p, pairs)
    del predictors
    if not args.no_rss:
        for name in variants:
            mem = fresh_process(student, name, args.n)
            report["lru_off"][name].update(
                {k: mem[k] for k in ("peak_rss_mb", "rss_after_load_mb")}
                | {"fresh_process_pairs_per_s": round(mem["pairs_per_s"], 1)}
            )
        if "int8-onnx" in variants:
            report[COLD] = fresh_process(student, COLD, args.n)
    print(table(report))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
