"""Benchmark: a cascade that teaches its student through the query memory, DL19 -> DL20 by week.

The cache starts with the GPT-4o labels of DL19 (other queries: they fit the memory's combiner, they
say nothing about a DL20 query). DL20's pairs arrive in ``--weeks`` seeded weekly batches, every
query in every week (the fixed eval set re-judged with new documents). Each week:

* the student answers every pair: the query memory where it can (a query with labels of both
  classes), else the fallback -- the packaged MiniLM's cosine with a Platt probability fitted on
  DL19 (the stand-in for a student trained on DL19; no trained student is in the repository);
* ``uncertain``: the least confident pairs (``min(p, 1 - p)`` highest first) go to the teacher
  (GPT-4o's qrels replayed) until the week's *expected* agreement -- kept pairs ``max(p, 1 - p)``,
  escalated pairs 1 -- reaches ``--target``; the labels it buys land in the memory at once (in a
  deployment: in the cache the memory reads);
* ``random``: the same number of teacher calls that week spent on a random sample instead.

Reported per week: teacher calls avoided and binary agreement (grade >= 2) with GPT-4o over all of
the week's pairs (an escalated pair agrees by construction), and how many pairs the memory answered.

    flock /tmp/jc-heavy.lock python bench/query_memory_embed.py   # once: embeddings into runs/
    flock /tmp/jc-heavy.lock python bench/cascade_teach.py        # ~1 min once embedded
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
from query_memory import load_pairs
from query_memory_embed import load_or_embed

POS = 2


def simulate(
    pairs: list[dict[str, Any]],
    vecs: dict[str, np.ndarray],
    *,
    weeks: int,
    target: float,
    policy: str,
    seed: int,
    budget: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    from judgecache.distill.calibrate import fit_calibrator
    from judgecache.distill.memory import MemoryRow, QueryMemory, RowsSource, pair_key
    from judgecache.judges.rubric import get_rubric
    from judgecache.keys import JudgeIdentity

    doc_vec = {p["doc"]: vecs[f"d:{p['docid']}"] for p in pairs}
    q_vec = {p["query"]: vecs[f"q:{p['qid'].split(':', 1)[1]}"] for p in pairs}

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.stack([doc_vec[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def base(query: str, docs: Sequence[str]) -> np.ndarray:
        return np.asarray(embed(docs) @ q_vec[query])

    def row(p: dict[str, Any]) -> MemoryRow:
        return MemoryRow(pair_key(p["query"], p["doc"]), p["query"], p["doc"], p["grade"])

    dl19 = [p for p in pairs if p["qid"].startswith("19:")]
    dl20 = [p for p in pairs if p["qid"].startswith("20:")]
    cos19 = np.asarray([base(p["query"], [p["doc"]])[0] for p in dl19])
    platt = fit_calibrator(
        cos19, np.asarray([p["grade"] >= POS for p in dl19], float), method="platt"
    )
    cache = RowsSource(JudgeIdentity("replay", "gpt-4o", ""), (row(p) for p in dl19))
    memory = QueryMemory(cache, embed, base, get_rubric("relevance"))
    memory.fit()
    rng = np.random.default_rng(seed)
    week_of = rng.integers(0, weeks, len(dl20))
    out = []
    for week in range(weeks):
        batch = [p for p, w in zip(dl20, week_of, strict=True) if w == week]
        truth = np.asarray([p["grade"] >= POS for p in batch])
        prob = np.zeros(len(batch))
        by_q: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(batch):
            by_q[p["query"]].append(i)
        used = 0
        for q, idx in by_q.items():
            docs = [batch[i]["doc"] for i in idx]
            cos = base(q, docs)
            ans = memory.predict(q, docs, base=cos)
            p_fb = platt.apply(cos)
            prob[idx] = np.where(ans.used, ans.prob, p_fb)
            used += int(ans.used.sum())
        conf = np.maximum(prob, 1 - prob)
        order = np.argsort(conf, kind="mergesort")  # least confident first
        # Escalate the fewest least-confident pairs that lift the expected agreement to target.
        gain = np.cumsum(1 - conf[order])
        need = target * len(batch) - conf.sum()
        n_esc = int(np.searchsorted(gain, need) + 1) if need > 0 else 0
        n_esc = min(n_esc, len(batch)) if budget is None else budget[week]
        chosen = order[:n_esc] if policy == "uncertain" else rng.choice(len(batch), n_esc, False)
        decided = prob >= 0.5
        decided[chosen] = truth[chosen]
        for i in chosen:
            cache.add(row(batch[i]))  # the escalation's label lands in the cache the memory reads
        out.append(
            {
                "week": week + 1,
                "pairs": len(batch),
                "teacher_calls": n_esc,
                "avoided": round(1 - n_esc / len(batch), 4),
                "agreement": round(float((decided == truth).mean()), 4),
                "memory_answered": round(used / len(batch), 4),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weeks", type=int, default=6)
    ap.add_argument("--target", type=float, default=0.965, help="expected agreement per week")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=str(REPO / "runs" / "query_memory" / "cascade_teach.json"))
    args = ap.parse_args()
    require_data()
    t0 = time.perf_counter()
    pairs, vecs = load_pairs(), load_or_embed()
    result: dict[str, list[dict[str, Any]]] = {}
    for policy in ("uncertain", "random"):
        budget = [w["teacher_calls"] for w in result["uncertain"]] if policy == "random" else None
        weeks = simulate(
            pairs,
            vecs,
            weeks=args.weeks,
            target=args.target,
            policy=policy,
            seed=args.seed,
            budget=budget,
        )
        result[policy] = weeks
        print(
            f"\n== {policy}: teacher labels chosen {'by uncertainty' if policy == 'uncertain' else 'at random (same budget)'}"
        )
        print("week  pairs  calls  avoided  agreement  memory-answered")
        for w in weeks:
            print(
                f"{w['week']:>4}  {w['pairs']:>5}  {w['teacher_calls']:>5}  {w['avoided']:>7.1%}  "
                f"{w['agreement']:>9.3f}  {w['memory_answered']:>15.1%}"
            )
    Path(args.output).write_text(json.dumps(result, indent=1))
    print(f"\nwall {time.perf_counter() - t0:.0f} s; details in {args.output}")


if __name__ == "__main__":
    main()
