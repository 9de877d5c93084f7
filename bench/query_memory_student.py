"""Benchmark: today's student, and the student with a query memory, on held-out documents of seen queries.

Same pairs and memory split as bench/query_memory.py (seed 0). The student is distilled with the
shipped config from the memory's labels only (so it never trains on a judged pair), then the judged
pairs of ``--queries`` seeded queries are scored by: the student alone (today's student), the
student with the query memory (its logit as the memory's base score), the zero-shot cosine memory,
zero-shot + cuts and GPT-4. Intervals: paired, query-resampled bootstrap (as bench/query_memory.py).

    python bench/query_memory_student.py --export 0.5      # runs/query_memory/memory-0.5.jsonl
    flock /tmp/jc-heavy.lock judgecache distill --config configs/distill/relevance.yaml \\
        --labels runs/query_memory/memory-0.5.jsonl --output runs/query_memory/student-0.5
    flock /tmp/jc-heavy.lock python bench/query_memory_student.py --student runs/query_memory/student-0.5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, require_data
from query_memory import cluster_bootstrap, fitted_cuts, load_pairs, memory_split
from query_memory_embed import load_or_embed

OUT = REPO / "runs" / "query_memory"


def export(pairs: list[dict[str, Any]], share: float, seed: int) -> Path:
    """The memory's labels as an export JSONL (what `judgecache distill --labels` reads)."""
    path = OUT / f"memory-{share}.jsonl"
    mask = memory_split(pairs, share, seed)
    with path.open("w", encoding="utf-8") as fh:
        for p, m in zip(pairs, mask, strict=True):
            if m:
                row = {
                    "task": "relevance",
                    "judge": {"provider": "replay", "model": "gpt-4o", "version": ""},
                    "inputs": {"query": p["query"], "doc": p["doc"]},
                    "label": p["grade"],
                    "meta": {"qid": p["qid"], "docid": p["docid"]},
                }
                fh.write(json.dumps(row) + "\n")
    return path


def evaluate(args: argparse.Namespace, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    from judgecache.distill.memory import MemoryRow, QueryMemory, RowsSource, pair_key
    from judgecache.distill.student import load_predictor
    from judgecache.judges.rubric import get_rubric
    from judgecache.keys import JudgeIdentity

    vecs = load_or_embed()
    in_memory = memory_split(pairs, args.share, args.seed)
    qids = sorted({p["qid"] for p in pairs})
    rng = np.random.default_rng(args.seed)
    chosen = set(rng.choice(qids, min(args.queries, len(qids)), replace=False).tolist())
    sub = [i for i, p in enumerate(pairs) if p["qid"] in chosen]
    predictor = load_predictor(args.student)
    t0 = time.perf_counter()
    preds = predictor.predict([(pairs[i]["query"], pairs[i]["doc"]) for i in sub])
    score_s = time.perf_counter() - t0
    logit = dict(zip(sub, preds.logits[:, predictor.pos].tolist(), strict=True))
    s_label = dict(zip(sub, preds.labels.tolist(), strict=True))
    s_prob = dict(zip(sub, preds.prob.tolist(), strict=True))
    doc_vec = {pairs[i]["doc"]: vecs[f"d:{pairs[i]['docid']}"] for i in sub}
    q_vec = {p["query"]: vecs[f"q:{p['qid'].split(':', 1)[1]}"] for p in pairs}
    by_text = {(pairs[i]["query"], pairs[i]["doc"]): i for i in sub}

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.stack([doc_vec[t] for t in texts])

    def student_base(query: str, docs: Sequence[str]) -> np.ndarray:
        return np.asarray([logit[by_text[(query, d)]] for d in docs])

    def cos_base(query: str, docs: Sequence[str]) -> np.ndarray:
        return np.asarray(embed(docs) @ q_vec[query])

    rows = [
        MemoryRow(
            pair_key(pairs[i]["query"], pairs[i]["doc"]),
            pairs[i]["query"],
            pairs[i]["doc"],
            pairs[i]["grade"],
        )
        for i in sub
        if in_memory[i]
    ]
    ident, rubric = JudgeIdentity("replay", "gpt-4o", ""), get_rubric("relevance")
    memories = {
        "student+memory": QueryMemory(RowsSource(ident, rows), embed, student_base, rubric),
        "memory (cosine)": QueryMemory(RowsSource(ident, rows), embed, cos_base, rubric),
    }
    held = [i for i in sub if not in_memory[i]]
    truth = np.asarray([pairs[i]["grade"] for i in held])
    cos = np.asarray([float(doc_vec[pairs[i]["doc"]] @ q_vec[pairs[i]["query"]]) for i in held])
    mem_idx = [i for i in sub if in_memory[i]]
    mem_cos = np.asarray(
        [float(doc_vec[pairs[i]["doc"]] @ q_vec[pairs[i]["query"]]) for i in mem_idx]
    )
    cuts, platt = fitted_cuts(mem_cos, np.asarray([pairs[i]["grade"] for i in mem_idx]))
    fb_label = (cos[:, None] >= cuts[None, :]).sum(axis=1)
    judged: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "student (today)": (
            np.asarray([s_label[i] for i in held]),
            np.asarray([s_prob[i] for i in held]),
        ),
        "zero-shot+cuts": (fb_label, platt(cos)),
        "gpt-4": (np.asarray([pairs[i]["gpt4"] for i in held]), None),
    }
    paths: dict[str, int] = defaultdict(int)
    for name, memory in memories.items():
        fallback = (
            judged["student (today)"] if name.startswith("student") else judged["zero-shot+cuts"]
        )
        lab, prob = fallback[0].copy(), np.asarray(fallback[1]).copy()
        by_q: dict[str, list[int]] = defaultdict(list)
        for j, i in enumerate(held):
            by_q[pairs[i]["query"]].append(j)
        for q, js in by_q.items():
            ans = memory.predict(q, [pairs[held[j]]["doc"] for j in js])
            ja = np.asarray(js)
            lab[ja[ans.used]] = ans.labels[ans.used]
            prob[ja[ans.used]] = ans.prob[ans.used]
            paths[name] += int(ans.used.sum())
        judged[name] = (lab, prob)
    groups = np.asarray([pairs[i]["qid"] for i in held])
    deltas = [
        ("student+memory", "student (today)"),
        ("student+memory", "memory (cosine)"),
        ("student+memory", "gpt-4"),
        ("student (today)", "zero-shot+cuts"),
    ]
    return {
        "share": args.share,
        "queries": len(chosen),
        "judged": len(held),
        "student_pairs_per_s": round(len(sub) / score_s, 1),
        "memory_answered": dict(paths),
        "all": cluster_bootstrap(groups, truth, judged, deltas, n=args.boot, seed=args.seed),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=float, default=None, help="write the memory split of SHARE")
    ap.add_argument("--student", default=None)
    ap.add_argument("--share", type=float, default=0.5)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--boot", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    require_data()
    pairs = load_pairs()
    if args.export is not None:
        print("wrote", export(pairs, args.export, args.seed))
        return
    r = evaluate(args, pairs)
    print(
        f"share {r['share']:.0%}, {r['queries']} queries, {r['judged']} judged pairs; "
        f"student {r['student_pairs_per_s']} pairs/s; memory answered {r['memory_answered']}"
    )
    for name, metrics in r["all"].items():
        cells = "  ".join(f"{m} {v['value']:+.3f} {v['ci']}" for m, v in metrics.items())
        print(f"{name:>40}: {cells}")
    (OUT / f"student-{args.share}.json").write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
