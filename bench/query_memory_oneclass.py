"""Benchmark: calibrating the query memory's fallback path (queries whose memory is one-class).

Same pairs, shares and memory as ``bench/query_memory.py``; only the pairs the memory cannot answer
(their query's memory holds one class only) are scored, three ways:

* ``fallback (today)``: the base cosine's cuts and Platt probability fitted on all memory labels;
* ``fallback recalibrated``: a Platt probability on the base score alone, fitted on *simulated
  one-class views* (random subsets of each memory query's labels that happen to be one-class,
  predicting the query's other labelled documents;
  :func:`judgecache.distill.memory_oneclass.one_class_views`);
* ``one-class path``: :class:`~judgecache.distill.memory_oneclass.OneClassModel` over the base score,
  the smoothed label rate, the gap to the best labelled negative and the nearest-label cosine,
  fitted on the same views.

Labels (for kappa) stay today's cuts in all three; ECE, AUC are of each probability. Intervals: 95%
bootstrap resampling queries, paired.

    flock /tmp/jc-heavy.lock python bench/query_memory_embed.py   # once: embeddings into runs/
    flock /tmp/jc-heavy.lock python bench/query_memory_oneclass.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, require_data
from query_memory import (
    POS,
    cluster_bootstrap,
    cosine_memory,
    fitted_cuts,
    load_pairs,
    memory_split,
)
from query_memory_embed import load_or_embed


def run_share(
    pairs: list[dict[str, Any]], vecs: dict[str, np.ndarray], share: float, seed: int, n_boot: int
) -> dict[str, Any]:
    from judgecache.distill.memory_oneclass import (
        OneClassModel,
        one_class_features,
        one_class_views,
    )

    in_memory = memory_split(pairs, share, seed)
    cos, embed, memory = cosine_memory(pairs, vecs, in_memory)
    memory.refresh()
    t0 = time.perf_counter()
    status = {q: memory.status(q) for q in memory.catalog}
    sizes = [len(memory.catalog[q]) for q, s in status.items() if s is not None]
    rng = np.random.default_rng(seed)
    feats, truth = [], []
    for q in memory.catalog:
        idx = memory.index(q)
        f, t = one_class_views(
            idx.vecs @ idx.vecs.T, idx.grades, idx.base, positive_from=POS, sizes=sizes, rng=rng
        )
        feats.append(f)
        truth.append(t)
    x, y = np.concatenate(feats), np.concatenate(truth)
    full = OneClassModel.fit(x, y)
    platt = OneClassModel.fit(x, y, columns=[0])
    fit_s = time.perf_counter() - t0

    grades = np.asarray([p["grade"] for p in pairs])
    cuts, today = fitted_cuts(cos[in_memory], grades[in_memory])
    label = (cos[:, None] >= cuts[None, :]).sum(axis=1)
    held = [i for i in np.flatnonzero(~in_memory).tolist() if status[pairs[i]["query"]]]
    by_q: dict[str, list[int]] = defaultdict(list)
    for i in held:
        by_q[pairs[i]["query"]].append(i)
    p_full, p_platt = np.zeros(len(pairs)), np.zeros(len(pairs))
    for q, ids in by_q.items():
        idx = memory.index(q)
        positive = bool((idx.grades >= POS).all())
        docs = [pairs[i]["doc"] for i in ids]
        f = one_class_features(embed(docs) @ idx.vecs.T, idx.base, cos[ids], positive=positive)
        p_full[ids], p_platt[ids] = full.prob(f), platt.prob(f)
    h = np.asarray(held)
    judged = {
        "fallback (today)": (label[h], today(cos[h])),
        "fallback recalibrated": (label[h], p_platt[h]),
        "one-class path": (label[h], p_full[h]),
    }
    deltas = [
        ("fallback recalibrated", "fallback (today)"),
        ("one-class path", "fallback (today)"),
        ("one-class path", "fallback recalibrated"),
    ]
    groups = np.asarray([pairs[i]["qid"] for i in held])
    return {
        "share": share,
        "fallback_pairs": len(held),
        "fallback_queries": len(by_q),
        "view_rows": int(y.size),
        "view_positive_rate": round(float(y.mean()), 4),
        "fit_s": round(fit_s, 2),
        "coef": dict(
            zip(
                ["base", "rate_logit", "gap", "near", "positive"],
                full.coef.round(3).tolist(),
                strict=True,
            )
        ),
        "result": cluster_bootstrap(groups, grades[h], judged, deltas, n=n_boot, seed=seed),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shares", default="0.10,0.25,0.50")
    ap.add_argument("--boot", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=str(REPO / "runs" / "query_memory" / "oneclass.json"))
    args = ap.parse_args()
    require_data()
    t0 = time.perf_counter()
    pairs, vecs = load_pairs(), load_or_embed()
    results = []
    for share in (float(s) for s in args.shares.split(",")):
        r = run_share(pairs, vecs, share, args.seed, args.boot)
        results.append(r)
        print(
            f"\n== share {share:.0%}: {r['fallback_pairs']} fallback pairs of "
            f"{r['fallback_queries']} queries; {r['view_rows']} view rows "
            f"(positive {r['view_positive_rate']:.1%}); fit {r['fit_s']} s; coef {r['coef']}"
        )
        for name, m in r["result"].items():
            cells = "  ".join(f"{k} {v['value']:+.3f} {v['ci']}" for k, v in m.items())
            print(f"{name:>40}: {cells}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=1))
    print(f"\nwall {time.perf_counter() - t0:.0f} s; details in {args.output}")


if __name__ == "__main__":
    main()
