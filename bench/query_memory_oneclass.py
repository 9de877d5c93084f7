"""Benchmark: calibrating the query memory's fallback path (queries whose memory is one-class).

Same pairs, shares and memory as ``bench/query_memory.py``; only the pairs the memory cannot answer
(their query's memory holds one class only) are scored, three ways:

* ``fallback (today)``: the base cosine's cuts and Platt probability fitted on all memory labels;
* ``fallback recalibrated``: what the library serves (``QueryMemory.predict``'s probability for a
  one-class query): a Platt map of the base score per memory class, fitted in ``QueryMemory.fit``
  on *simulated one-class views* (random subsets of each memory query's labels that happen to be
  one-class, predicting the query's other labelled documents;
  :func:`judgecache.distill.memory_oneclass.fit_fallback`);
* ``one-class path``: :class:`~judgecache.distill.memory_oneclass.OneClassModel` over the base score,
  the smoothed label rate, the gap to the best labelled negative and the nearest-label cosine,
  fitted on the same views.

Labels (for kappa) stay today's cuts in all three; ECE, AUC are of each probability. Then the same
check for *unseen* queries (a seeded 20% of queries left out of the memory): today's probability
against the all-negative map. Intervals: 95% bootstrap resampling queries, paired.

    flock /tmp/jc-heavy.lock python bench/query_memory_embed.py   # once: embeddings into runs/
    flock /tmp/jc-heavy.lock python bench/query_memory_oneclass.py
"""

from __future__ import annotations

import argparse
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
    print_rows,
    save,
)
from query_memory_embed import load_or_embed


def run_share(
    pairs: list[dict[str, Any]], vecs: dict[str, np.ndarray], share: float, seed: int, n_boot: int
) -> dict[str, Any]:
    from judgecache.distill.memory_oneclass import OneClassModel, one_class_features, view_rows

    in_memory = memory_split(pairs, share, seed)
    cos, embed, memory = cosine_memory(pairs, vecs, in_memory)
    t0 = time.perf_counter()
    memory.fit()  # fits the library's fallback calibration (memory.fallback) with the combiner
    fit_s = time.perf_counter() - t0
    status = {q: memory.status(q) for q in memory.catalog}
    sources, sizes = memory.view_sources()
    x, y = view_rows(sources, positive_from=POS, sizes=sizes, seed=0)
    full = OneClassModel.fit(x, y)  # the five-feature model, on the same views

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
        p_full[ids] = full.prob(f)
        ans = memory.predict(q, docs, base=cos[ids])  # the library's served probability
        assert ans.recalibrated.all(), ans.why[0]
        p_platt[ids] = ans.prob
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
    assert memory.fallback is not None
    return {
        "share": share,
        "fallback_pairs": len(held),
        "fallback_queries": len(by_q),
        "view_rows": int(y.size),
        "view_positive_rate": round(float(y.mean()), 4),
        "maps": {
            ("positive" if k else "negative"): memory.fallback.describe(k) for k in (False, True)
        },
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


def run_unseen(
    pairs: list[dict[str, Any]], vecs: dict[str, np.ndarray], share: float, seed: int, n_boot: int
) -> dict[str, Any]:
    """Does the one-class map help *unseen* queries? A seeded 20% of queries leave the memory
    entirely; their pairs are scored by today's probability (Platt over all memory labels) and by
    the all-negative map (the only one these shares fit)."""
    qids = sorted({p["qid"] for p in pairs})
    rng = np.random.default_rng(seed + 1)
    unseen = set(rng.choice(qids, len(qids) // 5, replace=False).tolist())
    in_memory = memory_split(pairs, share, seed) & np.asarray(
        [p["qid"] not in unseen for p in pairs]
    )
    cos, _, memory = cosine_memory(pairs, vecs, in_memory)
    memory.fit()
    assert memory.fallback is not None
    grades = np.asarray([p["grade"] for p in pairs])
    cuts, today = fitted_cuts(cos[in_memory], grades[in_memory])
    label = (cos[:, None] >= cuts[None, :]).sum(axis=1)
    h = np.asarray([i for i, p in enumerate(pairs) if p["qid"] in unseen])
    mapped = memory.fallback.prob(cos[h], positive=False)
    assert mapped is not None
    judged = {"today": (label[h], today(cos[h])), "one-class map": (label[h], mapped)}
    groups = np.asarray([pairs[i]["qid"] for i in h])
    return {
        "share": share,
        "unseen_pairs": int(h.size),
        "unseen_queries": len(unseen),
        "result": cluster_bootstrap(
            groups, grades[h], judged, [("one-class map", "today")], n=n_boot, seed=seed
        ),
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
        print(f"maps: {r['maps']}")
        print_rows(r["result"], 40)
        u = run_unseen(pairs, vecs, share, args.seed, args.boot)
        r["unseen"] = u
        print(f"-- unseen queries: {u['unseen_pairs']} pairs of {u['unseen_queries']} queries")
        print_rows(u["result"], 40)
    save(results, args.output, t0)


if __name__ == "__main__":
    main()
