"""Benchmark: distill GPT-4o's UMBRELA relevance labels (TREC DL19 + DL20) into a MiniLM student.

Reports, on held-out pairs, agreement with GPT-4o -- (a) held-out documents of seen queries
(``test_seen``), (b) held-out queries (``test``) -- as binary (grade >= 2) Cohen's kappa and
quadratic-weighted kappa, beside the untrained base (zero-shot) and beside GPT-4's agreement with
GPT-4o on exactly the same pairs. Then speed (pairs/s fp32 and int8 on real DL passages, in a fresh
process), peak memory, training wall time and $ per 1,000 pairs against GPT-4o list prices.

    python bench/distill_relevance.py                  # full run, ~13 min on 2 shared CPU cores
    python bench/distill_relevance.py --train 1000     # a quicker, smaller run
    # the cascade benchmark's student: DL19 only, the cascade's calibration pool held out
    python bench/distill_relevance.py --years 19 --exclude-cascade-pool --output runs/cascade-student
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, cascade_pool, data_dir, memory_mb, require_data, trec_files

# List prices (USD per 1M tokens), GPT-4o (gpt-4o-2024-08-06) at the time of writing.
GPT4O_INPUT, GPT4O_OUTPUT = 2.50, 10.00
# A 2-vCPU cloud VM on demand (AWS c7i.large, us-east-1): the machine class the speed was measured on.
VM_USD_PER_HOUR = 0.0893


def export_row(pair: Any, model: str, **meta: str) -> dict[str, Any]:
    """One UMBRELA grade of ``pair`` (a ``TrecPair``) as an export row of ``replay:MODEL``."""
    return {
        "task": "relevance",
        "judge": {"provider": "replay", "model": model, "version": ""},
        "inputs": {"query": pair.query, "doc": pair.doc},
        "label": pair.grade,
        "meta": meta,
    }


def load_trec_rows(model: str, years: tuple[str, ...] = ("19", "20")) -> list[dict[str, Any]]:
    """Export-format rows of one judge's UMBRELA qrels on the TREC DL ``years``."""
    from judgecache.io.trec import iter_trec_pairs

    rows = []
    d = data_dir() / "trec-dl"
    for year in years:
        _, topics, collection = trec_files(year)
        for p in iter_trec_pairs(d / f"qrels.{model}.dl{year}.txt", topics, collection):
            rows.append(export_row(p, model, qid=p.qid, docid=p.docid, year=year))
    return rows


def write_antique_rows(out: Path) -> Path:
    """GPT-4o's UMBRELA labels of ANTIQUE as export rows of the same teacher as the DL labels
    (query ids prefixed ``antique:`` so they never meet a DL query id)."""
    from judgecache.io.trec import iter_trec_pairs

    d = data_dir() / "antique"
    pairs = iter_trec_pairs(d / "qrels.gpt-4o-umbrela.txt", d / "topics.tsv", d / "collection.tsv")
    rows = [export_row(p, "gpt-4o-umbrela", qid=f"antique:{p.qid}", docid=p.docid) for p in pairs]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "train_extra.antique.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def second_judge_agreement(split: Any, other: dict[tuple[str, str], int]) -> dict[str, Any]:
    """GPT-4 vs GPT-4o on exactly the pairs of one held-out split."""
    import numpy as np

    from judgecache.distill.metrics import agreement_report

    ref, jud = [], []
    for p in split.pairs:
        key = (p.meta["qid"], p.meta["docid"])
        if key in other:
            ref.append(p.label)
            jud.append(other[key])
    return agreement_report(
        np.asarray(ref), np.asarray(jud), labels=[0, 1, 2, 3], positive_from=2, n_boot=1000, seed=13
    )


def speed(student: Path, n: int, int8: bool) -> dict[str, float]:
    """Pairs/s and peak RSS of CPU inference, in a fresh process (so memory is inference only)."""
    cmd = [sys.executable, __file__, "--speed-only", str(student), "--n", str(n)]
    if int8:
        cmd.append("--int8")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def speed_only(student: Path, n: int, int8: bool) -> None:
    import torch
    from bench_common import real_pairs

    from judgecache.distill.student import load_predictor

    torch.set_num_threads(2)
    pairs = real_pairs(n)
    predictor = load_predictor(student, int8=int8)
    predictor.cache = None  # measure encoding every passage, no reuse across calls
    predictor.predict(pairs[:64])  # warm-up
    t0 = time.perf_counter()
    predictor.predict(pairs)
    dt = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "pairs": len(pairs),
                "seconds": dt,
                "pairs_per_s": len(pairs) / dt,
                "peak_rss_mb": memory_mb()["peak_rss_mb"],
            }
        )
    )


def gpt4o_cost_per_1000(rows: list[dict[str, Any]]) -> dict[str, float]:
    """UMBRELA prompt tokens estimated at 4 characters per token; ~10 output tokens."""
    from judgecache.judges.rubric import RELEVANCE_SYSTEM, RELEVANCE_TEMPLATE

    sample = rows[:2000]
    chars = sum(
        len(RELEVANCE_SYSTEM)
        + len(RELEVANCE_TEMPLATE.format(query=r["inputs"]["query"], doc=r["inputs"]["doc"]))
        for r in sample
    ) / len(sample)
    tokens_in, tokens_out = chars / 4, 10
    usd = 1000 * (tokens_in * GPT4O_INPUT + tokens_out * GPT4O_OUTPUT) / 1e6
    return {"input_tokens_per_pair": tokens_in, "usd_per_1000": usd}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=None, help="max training pairs (config default)")
    ap.add_argument("--output", default=str(REPO / "runs" / "bench-distill-relevance"))
    ap.add_argument("--speed-only", default=None)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--set", action="append", default=[], help="config override key=value")
    ap.add_argument("--years", default="19,20", help="TREC DL years to distill from")
    ap.add_argument(
        "--exclude-cascade-pool",
        action="store_true",
        help="hold out the DL19 pairs bench/cascade_bench.py fits and calibrates on",
    )
    ap.add_argument("--cascade-seed", type=int, default=7)
    ap.add_argument("--cascade-pool-size", type=int, default=2100)
    ap.add_argument("--no-speed", action="store_true", help="skip the CPU speed measurement")
    ap.add_argument(
        "--train-extra",
        choices=["antique"],
        default=None,
        help="also train on GPT-4o's UMBRELA labels of ANTIQUE (200 other queries; never held out)",
    )
    args = ap.parse_args()
    if args.speed_only:
        speed_only(Path(args.speed_only), args.n, args.int8)
        return
    require_data()
    import torch

    from judgecache.distill.config import DistillConfig
    from judgecache.distill.data import labels_from_rows
    from judgecache.distill.pipeline import prepare, run_distill

    torch.set_num_threads(2)
    d = data_dir() / "trec-dl"
    overrides = [
        f"output={args.output}",
        "split.group_field=meta.qid",
        "train.progress=false",
        f"eval.human_qrels=[{d / 'qrels.human.dl19.txt'}, {d / 'qrels.human.dl20.txt'}]",
        *args.set,
    ]
    if args.train is not None:
        overrides.append(f"train.max_train_examples={args.train}")
    if args.train_extra == "antique":
        overrides.append(f"train_extra={write_antique_rows(Path(args.output))}")
    cfg = DistillConfig.from_yaml(REPO / "configs" / "distill" / "relevance.yaml").with_overrides(
        overrides
    )
    years = tuple(args.years.split(","))
    rows = load_trec_rows("gpt-4o-umbrela", years)
    provenance: dict[str, Any] = {"years": list(years), "cascade_pool": None}
    if args.exclude_cascade_pool:
        pool = set(cascade_pool(args.cascade_seed, args.cascade_pool_size))
        rows = [r for r in rows if (r["inputs"]["query"], r["inputs"]["doc"]) not in pool]
        provenance["cascade_pool"] = {"seed": args.cascade_seed, "n": args.cascade_pool_size}
    source = "TREC DL" + "+DL".join(years) + " qrels.gpt-4o-umbrela"
    if args.exclude_cascade_pool:
        source += " (cascade benchmark pool held out)"
    labels = labels_from_rows(rows, task="relevance", source=source)
    t0 = time.perf_counter()
    prep = prepare(cfg, labels)
    result = run_distill(cfg, prepared=prep)
    wall = time.perf_counter() - t0
    train_peak = memory_mb()["peak_rss_mb"]

    gpt4 = {
        (r["meta"]["qid"], r["meta"]["docid"]): r["label"]
        for r in load_trec_rows("gpt-4-umbrela", years)
    }
    out_dir = Path(args.output)
    (out_dir / "bench_provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    report: dict[str, Any] = {
        "provenance": provenance,
        "train_device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "config_overrides": overrides,
        "wall_seconds_total": wall,
        "train_seconds": result.train.seconds,
        "train_steps": result.train.steps,
        "peak_rss_mb_training_process": train_peak,
        "splits": result.metrics["split"],
        "train_history": result.metrics["train"]["history"],
        "student_head_init": result.metrics["train"]["student_head_init"],
        "eval": {},
    }
    for name in ("test_seen", "test"):
        ev = result.metrics["eval"][name]
        report["eval"][name] = {
            "n": ev["n"],
            "student": {
                k: ev["student"][k] for k in ("binary_kappa", "weighted_kappa", "auc", "accuracy")
            },
            "zero_shot": {
                k: ev["zero_shot"][k] for k in ("binary_kappa", "weighted_kappa", "auc", "accuracy")
            },
            # The base's cosine with the student's decision rule (grade cuts fitted on calib).
            "zero_shot_cuts": {
                k: ev["zero_shot_cuts"][k]
                for k in ("binary_kappa", "weighted_kappa", "auc", "accuracy")
            }
            if "zero_shot_cuts" in ev
            else None,
            "paired_delta": ev.get("paired_delta"),
            "gpt4_vs_gpt4o": {
                k: v
                for k, v in second_judge_agreement(prep.splits[name], gpt4).items()
                if k in ("n", "binary_kappa", "weighted_kappa", "accuracy")
            },
            "vs_human": {
                who: {k: ev["vs_human"][who][k] for k in ("binary_kappa", "weighted_kappa")}
                for who in ("teacher", "student", "zero_shot", "zero_shot_cuts")
                if who in ev["vs_human"]
            }
            if "vs_human" in ev
            else None,
        }
    if not args.no_speed:
        fp32 = speed(result.output, args.n, int8=False)
        int8 = speed(result.output, args.n, int8=True)
        cost = gpt4o_cost_per_1000(rows)
        best = max(fp32["pairs_per_s"], int8["pairs_per_s"])
        student_usd = 1000 / best / 3600 * VM_USD_PER_HOUR
        report["speed"] = {"fp32": fp32, "int8": int8}
        report["cost"] = {
            "gpt4o": cost,
            "student_usd_per_1000": student_usd,
            "vm_usd_per_hour": VM_USD_PER_HOUR,
            "ratio": cost["usd_per_1000"] / student_usd,
        }
    out = out_dir / "bench_relevance.json"
    out.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    print(json.dumps(report, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
