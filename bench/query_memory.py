"""Benchmark: query memory on DL19 + DL20 GPT-4o labels, held-out documents of seen queries.

For each memory share (10 / 25 / 50% of each query's pairs, seeded), the memory holds those
GPT-4o labels and every other pair of the query is judged. Rows, all on exactly the same pairs:

* ``zero-shot``: the packaged MiniLM's cosine with the shipped cuts (``embedding:default``);
* ``zero-shot+cuts``: the same cosine with cut-points fitted (weighted kappa, binary kappa for the
  middle one) and a Platt probability, both on the memory's labels: the stand-in for today's student
  (no trained relevance student is in the repository; the issue measured it no better than this);
* ``memory``: :class:`judgecache.distill.memory.QueryMemory` over that cosine (fallback: the row
  above's labels, for queries the memory cannot answer, with the memory's recalibrated probability
  where their memory is one-class -- as the ``student:PATH?memory=`` judge serves them);
* ``gpt-4``: GPT-4's UMBRELA grades (labels only; its AUC is that of its grade).

Intervals: 95% percentile bootstrap resampling *queries* (pairs of one query are not independent),
300 resamples (200 for the per-path tables), paired: every row and every delta is computed on the
same resampled queries.

    flock /tmp/jc-heavy.lock python bench/query_memory_embed.py   # once: embeddings into runs/
    flock /tmp/jc-heavy.lock python bench/query_memory.py         # ~1 min once embedded
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, data_dir, require_data, trec_files
from query_memory_embed import load_or_embed, read_cache

LABELS = [0, 1, 2, 3]
POS = 2


def load_pairs() -> list[dict[str, Any]]:
    """Every DL19 + DL20 pair with its GPT-4o and GPT-4 grades (first grade per qid/docid)."""
    from judgecache.io.trec import iter_trec_pairs, read_collection, read_qrels, read_topics

    out: list[dict[str, Any]] = []
    d = data_dir() / "trec-dl"
    for year in ("19", "20"):
        qrels, topics, collection = trec_files(year)
        t, c = read_topics(topics), read_collection(collection)
        gpt4 = {
            (q.qid, q.docid): q.grade for q in read_qrels(d / f"qrels.gpt-4-umbrela.dl{year}.txt")
        }
        seen: set[tuple[str, str]] = set()
        for p in iter_trec_pairs(qrels, t, c):
            if (p.qid, p.docid) in seen or (p.qid, p.docid) not in gpt4:
                continue
            seen.add((p.qid, p.docid))
            out.append(
                {
                    "qid": f"{year}:{p.qid}",
                    "docid": p.docid,
                    "query": p.query,
                    "doc": p.doc,
                    "grade": p.grade,
                    "gpt4": gpt4[(p.qid, p.docid)],
                }
            )
    return out


def covered_queries(pairs: list[dict[str, Any]], stores: Any) -> list[dict[str, Any]]:
    """The pairs of the queries whose every text each store holds (prints what is kept)."""

    def has(p: dict[str, Any], v: dict[str, np.ndarray]) -> bool:
        return f"q:{p['qid'].split(':', 1)[1]}" in v and f"d:{p['docid']}" in v

    stores = list(stores)
    missing = {p["qid"] for p in pairs if not all(has(p, v) for v in stores)}
    kept = [p for p in pairs if p["qid"] not in missing]
    n_q = len({p["qid"] for p in kept})
    print(f"--only-embedded: {len(kept)} of {len(pairs)} pairs, {n_q} queries fully embedded")
    return kept


def kappa(a: np.ndarray, b: np.ndarray, k: int, weighted: bool) -> float:
    """Cohen's kappa from a bincount confusion (fast enough for thousands of resamples)."""
    m = np.bincount(a * k + b, minlength=k * k).reshape(k, k).astype(float)
    n = m.sum()
    if n == 0:
        return float("nan")
    i, j = np.indices((k, k))
    w = ((i - j) / (k - 1)) ** 2 if weighted else (i != j).astype(float)
    expected = np.outer(m.sum(1), m.sum(0)) / n
    denom = (w * expected).sum()
    return float(1 - (w * m).sum() / denom) if denom else float("nan")


def metric_fns() -> dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]]:
    from judgecache.stats import expected_calibration_error, roc_auc

    return {
        "binary_kappa": lambda t, y, p: kappa(
            (t >= POS).astype(int), (y >= POS).astype(int), 2, False
        ),
        "weighted_kappa": lambda t, y, p: kappa(t, y, 4, True),
        "auc": lambda t, y, p: roc_auc(t >= POS, y if p is None else p),
        "ece": lambda t, y, p: (
            float("nan") if p is None else expected_calibration_error(p, t >= POS)
        ),
    }


def cluster_bootstrap(
    groups: np.ndarray,
    truth: np.ndarray,
    judged: dict[str, tuple[np.ndarray, np.ndarray | None]],
    deltas: Sequence[tuple[str, str]],
    *,
    n: int,
    seed: int,
) -> dict[str, Any]:
    """Values and paired, query-resampled 95% intervals of every metric and delta."""
    fns = metric_fns()
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    point = {j: {m: f(truth, y, p) for m, f in fns.items()} for j, (y, p) in judged.items()}
    draws: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    rng = np.random.default_rng(seed)
    for _ in range(n):
        idx = np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))])
        vals = {
            j: {m: f(truth[idx], y[idx], None if p is None else p[idx]) for m, f in fns.items()}
            for j, (y, p) in judged.items()
        }
        for j in judged:
            for m in fns:
                draws[j][m].append(vals[j][m])
        for a, b in deltas:
            for m in fns:
                draws[f"{a} - {b}"][m].append(vals[a][m] - vals[b][m])

    def ci(values: list[float]) -> list[float]:
        v = np.asarray(values)
        v = v[np.isfinite(v)]
        return [round(float(np.quantile(v, q)), 3) for q in (0.025, 0.975)] if v.size else []

    out: dict[str, Any] = {}
    for j in judged:
        out[j] = {m: {"value": round(point[j][m], 3), "ci": ci(draws[j][m])} for m in fns}
    for a, b in deltas:
        name = f"{a} - {b}"
        out[name] = {
            m: {"value": round(point[a][m] - point[b][m], 3), "ci": ci(draws[name][m])} for m in fns
        }
    return out


def fitted_cuts(
    cos: np.ndarray, grades: np.ndarray
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Cosine cut-points (middle: binary kappa; outer: weighted kappa) and a Platt probability."""
    from judgecache.distill.calibrate import fit_calibrator

    grid = np.quantile(cos, np.linspace(0.02, 0.98, 97))
    cuts = np.quantile(cos, [0.3, 0.6, 0.9])

    def label(c: np.ndarray, cu: np.ndarray) -> np.ndarray:
        return np.asarray((c[:, None] >= cu[None, :]).sum(axis=1))

    cuts[1] = max(
        grid, key=lambda v: kappa((grades >= POS).astype(int), (cos >= v).astype(int), 2, False)
    )
    for i in (0, 2):

        def wk(v: float, i: int = i) -> float:
            cu = cuts.copy()
            cu[i] = v
            return (
                kappa(grades, label(cos, np.sort(cu)), 4, True) if np.all(np.diff(cu) >= 0) else -1
            )

        cuts[i] = max(grid, key=wk)
    cal = fit_calibrator(cos, (grades >= POS).astype(float), method="platt")
    return cuts, lambda c: cal.apply(c)


def memory_split(pairs: list[dict[str, Any]], share: float, seed: int) -> np.ndarray:
    """Which pairs the memory holds: a seeded ``share`` of each query's pairs (at least one)."""
    by_q: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        by_q[p["qid"]].append(i)
    rng = np.random.default_rng(seed)
    in_memory = np.zeros(len(pairs), bool)
    for idx in by_q.values():
        take = rng.choice(len(idx), max(1, math.ceil(share * len(idx))), replace=False)
        in_memory[np.asarray(idx)[take]] = True
    return in_memory


def cosine_memory(
    pairs: list[dict[str, Any]], vecs: dict[str, np.ndarray], in_memory: np.ndarray
) -> tuple[np.ndarray, Callable[[Sequence[str]], np.ndarray], Any]:
    """The pairs' zero-shot cosines, a document embedder over the precomputed vectors, and a
    :class:`QueryMemory` over that cosine holding the ``in_memory`` pairs' GPT-4o labels."""
    from judgecache.distill.memory import MemoryRow, QueryMemory, RowsSource, pair_key
    from judgecache.judges.rubric import get_rubric
    from judgecache.keys import JudgeIdentity

    doc_vec = {p["doc"]: vecs[f"d:{p['docid']}"] for p in pairs}
    q_vec = {p["query"]: vecs[f"q:{p['qid'].split(':', 1)[1]}"] for p in pairs}
    cos = np.asarray([float(doc_vec[p["doc"]] @ q_vec[p["query"]]) for p in pairs])
    dim = next(iter(doc_vec.values())).shape[0]

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.stack([doc_vec[t] for t in texts]) if texts else np.zeros((0, dim), np.float32)

    def base(query: str, docs: Sequence[str]) -> np.ndarray:
        return np.asarray(embed(docs) @ q_vec[query])

    rows = [
        MemoryRow(pair_key(p["query"], p["doc"]), p["query"], p["doc"], p["grade"])
        for p, m in zip(pairs, in_memory, strict=True)
        if m
    ]
    identity = JudgeIdentity("replay", "gpt-4o", "")
    return cos, embed, QueryMemory(RowsSource(identity, rows), embed, base, get_rubric("relevance"))


def memory_answers(
    pairs: list[dict[str, Any]], vecs: dict[str, np.ndarray], in_memory: np.ndarray
) -> dict[str, Any]:
    """One base's answers for every pair: ``zero-shot+cuts`` (label, prob), the memory's (label,
    prob, which pairs it answered, why), the cosine, and the fit / predict seconds."""
    in_memory_grades = np.asarray([p["grade"] for p in pairs])[in_memory]
    cos, _, memory = cosine_memory(pairs, vecs, in_memory)
    t0 = time.perf_counter()
    memory.refresh()
    memory.fit()
    fit_s = time.perf_counter() - t0
    cuts, platt = fitted_cuts(cos[in_memory], in_memory_grades)
    fb_label = (cos[:, None] >= cuts[None, :]).sum(axis=1)
    fb_prob = platt(cos)
    m_label, m_prob = fb_label.copy(), fb_prob.copy()
    used = np.zeros(len(pairs), bool)
    why: dict[str, int] = defaultdict(int)
    t0 = time.perf_counter()
    held_by_q: dict[str, list[int]] = defaultdict(list)
    for i in np.flatnonzero(~in_memory).tolist():
        held_by_q[pairs[i]["query"]].append(i)
    for q, idx in held_by_q.items():
        ans = memory.predict(q, [pairs[i]["doc"] for i in idx], base=cos[idx])
        ia = np.asarray(idx)
        m_label[ia[ans.used]] = ans.labels[ans.used]
        answered = ans.used | ans.recalibrated
        m_prob[ia[answered]] = ans.prob[answered]
        used[ia] = ans.used
        for w, u, r in zip(ans.why, ans.used, ans.recalibrated, strict=True):
            # One bucket per reason, not per label count ("one class (14 labels...)").
            why["memory" if u else w.split(";")[0].split(" (")[0] + (" [recal]" if r else "")] += 1
    return {
        "cos": cos,
        "cuts": (fb_label, fb_prob),
        "memory": (m_label, m_prob),
        "used": used,
        "why": dict(why),
        "fit_s": round(fit_s, 2),
        "predict_s": round(time.perf_counter() - t0, 2),
        "combiner": memory.combiner.describe() if memory.combiner else None,
    }


def run_share(
    pairs: list[dict[str, Any]],
    vecs: dict[str, np.ndarray],
    share: float,
    seed: int,
    n_boot: int,
    other_bases: dict[str, dict[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """One memory share: every judge on the same held-out pairs; ``other_bases`` (name -> vectors)
    add a ``memory[NAME]`` and ``zero-shot+cuts[NAME]`` row each, paired against the default's."""
    from judgecache.distill.embedding import RELEVANCE_CUTS, SHARPNESS

    in_memory = memory_split(pairs, share, seed)
    main = memory_answers(pairs, vecs, in_memory)
    cos, used = main["cos"], main["used"]
    truth = np.asarray([p["grade"] for p in pairs])
    held = np.flatnonzero(~in_memory)
    zs_label = (cos[:, None] >= np.asarray(RELEVANCE_CUTS)[None, :]).sum(axis=1)
    zs_prob = 1 / (1 + np.exp(-SHARPNESS * (cos - RELEVANCE_CUTS[1])))

    groups = np.asarray([pairs[i]["qid"] for i in held])
    gpt4 = np.asarray([p["gpt4"] for p in pairs])
    judged = {
        "zero-shot": (zs_label[held], zs_prob[held]),
        "zero-shot+cuts": (main["cuts"][0][held], main["cuts"][1][held]),
        "memory": (main["memory"][0][held], main["memory"][1][held]),
        "gpt-4": (gpt4[held], None),
    }
    deltas = [("memory", "zero-shot"), ("memory", "zero-shot+cuts"), ("memory", "gpt-4")]
    others: dict[str, Any] = {}
    for name, other_vecs in (other_bases or {}).items():
        ans = memory_answers(pairs, other_vecs, in_memory)
        others[name] = {k: ans[k] for k in ("why", "fit_s", "predict_s")}
        judged[f"zero-shot+cuts[{name}]"] = (ans["cuts"][0][held], ans["cuts"][1][held])
        judged[f"memory[{name}]"] = (ans["memory"][0][held], ans["memory"][1][held])
        deltas += [
            (f"memory[{name}]", "memory"),
            (f"memory[{name}]", "gpt-4"),
            (f"zero-shot+cuts[{name}]", "zero-shot+cuts"),
        ]
    result: dict[str, Any] = {
        "share": share,
        "memory_labels": int(in_memory.sum()),
        "held_out": int(held.size),
        "paths": main["why"],
        "fit_s": main["fit_s"],
        "predict_s": main["predict_s"],
        "combiner": main["combiner"],
        "other_bases": others,
        "all": cluster_bootstrap(groups, truth[held], judged, deltas, n=n_boot, seed=seed),
    }
    # Each path apart: the memory path's pairs and the fallback's, with the same baselines.
    for name, mask in (("memory_path", used[held]), ("fallback_path", ~used[held])):
        if mask.sum() >= 20:
            sub = {j: (y[mask], None if p is None else p[mask]) for j, (y, p) in judged.items()}
            result[name] = {
                "n": int(mask.sum()),
                **cluster_bootstrap(
                    groups[mask], truth[held][mask], sub, deltas[:2], n=min(n_boot, 200), seed=seed
                ),
            }
    return result


def print_rows(rows: dict[str, Any], width: int = 40) -> None:
    """One line per judge / delta: each metric's value and interval."""
    for name, m in rows.items():
        cells = "  ".join(f"{k} {v['value']:+.3f} {v['ci']}" for k, v in m.items())
        print(f"{name:>{width}}: {cells}")


def save(results: list[dict[str, Any]], output: str, t0: float) -> None:
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(results, indent=1))
    print(f"\nwall {time.perf_counter() - t0:.0f} s; details in {output}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shares", default="0.10,0.25,0.50")
    ap.add_argument("--boot", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=str(REPO / "runs" / "query_memory" / "result.json"))
    ap.add_argument(
        "--only-embedded",
        action="store_true",
        help="do not embed: keep only the queries whose texts the compared bases' files cover",
    )
    ap.add_argument(
        "--compare-bases",
        default="",
        help="packaged bases (comma-separated, e.g. mpnet) whose memory is compared, paired, with "
        "MiniLM's on the same pairs (embed them first: query_memory_embed.py --base NAME)",
    )
    args = ap.parse_args()
    require_data()
    t0 = time.perf_counter()
    pairs = load_pairs()
    vecs = load_or_embed()
    bases = [b for b in args.compare_bases.split(",") if b]
    if args.only_embedded:
        # Whatever the compared bases' files hold already (an embedding run still going, or
        # stopped): every row is computed on the queries whose texts all of them cover.
        others = {b: read_cache(b) for b in bases}
        pairs = covered_queries(pairs, others.values())
    else:
        others = {b: load_or_embed(b) for b in bases}
    results = []
    for share in (float(s) for s in args.shares.split(",")):
        r = run_share(pairs, vecs, share, args.seed, args.boot, others)
        results.append(r)
        a = r["all"]
        print(
            f"\n== memory share {share:.0%}: {r['memory_labels']} labels in memory, "
            f"{r['held_out']} held-out pairs; paths {r['paths']}; fit {r['fit_s']} s, "
            f"predict {r['predict_s']} s"
        )
        for j in (
            "zero-shot",
            "zero-shot+cuts",
            "memory",
            "gpt-4",
            "memory - zero-shot",
            "memory - zero-shot+cuts",
            "memory - gpt-4",
            *(
                f"{k}[{b}]{d}"
                for b in others
                for k, d in (
                    ("zero-shot+cuts", ""),
                    ("memory", ""),
                    ("memory", " - memory"),
                    ("memory", " - gpt-4"),
                    ("zero-shot+cuts", " - zero-shot+cuts"),
                )
            ),
        ):
            cells = "  ".join(f"{m} {v['value']:+.3f} {v['ci']}" for m, v in a[j].items())
            print(f"{j:>24}: {cells}")
        for part in ("memory_path", "fallback_path"):
            if part not in r:
                continue
            for j in ("memory", "zero-shot+cuts", "memory - zero-shot+cuts"):
                m = r[part][j]
                print(
                    f"{part + ' ' + j:>38}: n={r[part]['n']} "
                    + "  ".join(f"{k} {v['value']:+.3f} {v['ci']}" for k, v in m.items())
                )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=1))
    print(f"\n{len(pairs)} pairs, wall {time.perf_counter() - t0:.0f} s; details in {args.output}")


if __name__ == "__main__":
    main()
