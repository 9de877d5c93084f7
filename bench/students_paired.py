"""Benchmark: two distilled relevance students on the same held-out pairs, paired by query.

Joins the ``eval_predictions.jsonl`` that ``judgecache distill`` writes beside each student (one
row per held-out pair: the teacher's grade, each judge's grade and probability) and reports, for
each split, binary kappa (grade >= 2), quadratic-weighted kappa, AUC and ECE of: student A,
student B, the zero-shot base with kappa-fitted cuts (from A's run; the same cosine in both), and
GPT-4 where its UMBRELA grade of the pair exists; then the paired deltas B - A, B - zero-shot+cuts
and B - GPT-4. Intervals: 95% bootstrap resampling *queries* (300 draws), paired.

    python bench/distill_relevance.py --no-speed --output runs/rel-point
    python bench/distill_relevance.py --no-speed --output runs/rel-pair1 --set train.pairwise=1.0
    python bench/students_paired.py runs/rel-point runs/rel-pair1      # seconds
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import require_data
from distill_relevance import load_trec_rows
from query_memory import cluster_bootstrap

PREDICTIONS = "eval_predictions.jsonl"


def read_predictions(student: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(split, query, document) -> that pair's row of the student's evaluation."""
    path = student / PREDICTIONS
    if not path.is_file():
        raise SystemExit(f"{path} is missing: distill the student again (judgecache writes it)")
    rows = (json.loads(line) for line in path.open(encoding="utf-8"))
    return {(r["split"], r["first"], r["second"]): r for r in rows}


def compare_split(
    a: dict[tuple[str, str, str], dict[str, Any]],
    b: dict[tuple[str, str, str], dict[str, Any]],
    split: str,
    gpt4: dict[tuple[str, str], int],
    n_boot: int,
) -> dict[str, Any]:
    keys = sorted(k for k in a if k[0] == split)
    if set(keys) != {k for k in b if k[0] == split}:
        raise SystemExit(f"the two students were evaluated on different {split} pairs")
    rows_a, rows_b = [a[k] for k in keys], [b[k] for k in keys]
    truth = np.asarray([r["teacher"] for r in rows_a])
    groups = np.asarray([r["meta"].get("qid", r["first"]) for r in rows_a])

    def judge(rows: list[dict[str, Any]], name: str) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.asarray([r[name]["label"] for r in rows]),
            np.asarray([r[name]["prob"] for r in rows]),
        )

    judged: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "A": judge(rows_a, "student"),
        "B": judge(rows_b, "student"),
        "zero-shot+cuts": judge(rows_a, "zero_shot_cuts"),
    }
    deltas = [("B", "A"), ("B", "zero-shot+cuts"), ("A", "zero-shot+cuts")]
    second = [gpt4.get((r["meta"].get("qid", ""), r["meta"].get("docid", ""))) for r in rows_a]
    has = np.asarray([g is not None for g in second], bool)
    out: dict[str, Any] = {"n": len(keys), "queries": len(set(groups.tolist()))}
    out["all"] = cluster_bootstrap(groups, truth, judged, deltas, n=n_boot, seed=0)
    if has.any():
        sub = {j: (y[has], None if p is None else p[has]) for j, (y, p) in judged.items()}
        sub["gpt-4"] = (np.asarray([g for g in second if g is not None]), None)
        pairs = [("B", "gpt-4"), ("A", "gpt-4")]
        out["with_gpt4"] = {
            "n": int(has.sum()),
            **cluster_bootstrap(groups[has], truth[has], sub, pairs, n=n_boot, seed=0),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path, help="student A's folder (the reference)")
    ap.add_argument("b", type=Path, help="student B's folder (the change)")
    ap.add_argument("--splits", default="test,test_seen")
    ap.add_argument("--boot", type=int, default=300)
    ap.add_argument("--output", type=Path, default=None, help="JSON file (default: B/paired.json)")
    args = ap.parse_args()
    require_data()
    a, b = read_predictions(args.a), read_predictions(args.b)
    # GPT-4's grades as the distill bench reads them: (qid, docid) -> grade.
    gpt4 = {
        (r["meta"]["qid"], r["meta"]["docid"]): r["label"] for r in load_trec_rows("gpt-4-umbrela")
    }
    result = {s: compare_split(a, b, s, gpt4, args.boot) for s in args.splits.split(",")}
    for split, r in result.items():
        print(f"\n== {split}: {r['n']} pairs, {r['queries']} queries (A = {args.a}, B = {args.b})")
        rows = {**r["all"], **{k: v for k, v in r.get("with_gpt4", {}).items() if k != "n"}}
        for name, m in rows.items():
            cells = "  ".join(f"{k} {v['value']:+.3f} {v['ci']}" for k, v in m.items())
            print(f"{name:>22}: {cells}")
    output = args.output or args.b / "paired.json"
    output.write_text(json.dumps(result, indent=1))
    print(f"\ndetails in {output}")


if __name__ == "__main__":
    main()
