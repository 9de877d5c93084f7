"""Benchmark: the query memory's gap to GPT-4 -- are the earlier single additions additive, and
does the ordinal head / cut choice matter for weighted kappa?

Same pairs, shares, seed and memory as ``bench/query_memory.py``; every variant refits the
combiner leave-one-out on the memory's labels (as ``QueryMemory.fit`` does). ``memory (today)`` is
the nine neighbour features alone (the library before the probe); ``+probe cuts`` (one kernel ridge
probe per cut) is what ``QueryMemory`` now ships. Extra features tried:

* ``probe``: a per-query kernel ridge regression on the labelled documents' embeddings (RBF on the
  cosine, a constant in the kernel for the intercept), its exact leave-one-out prediction for the
  fitting rows;
* ``bilinear``: a logistic regression on ``query * doc`` (a diagonal bilinear score) fitted on all
  memory labels, out-of-fold (5 folds) for the fitting rows, plus its per-query midpoint offset;
* ``lexical``: hashed bag-of-words (log tf x idf, 2^15 buckets) neighbours: vote, nearest positive
  and negative, and the query-document lexical cosine;

and head variants on the 9 features (``wk cuts``: every cut chosen for weighted kappa after the
positive one, two passes; ``gbm``: gradient-boosted trees per cut instead of logistic regressions).
Pairs the memory cannot answer keep the fallback's labels in every variant (same as the table).

    flock /tmp/jc-heavy.lock python bench/query_memory_gap.py   # embeddings from query_memory_embed
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, require_data
from query_memory import (
    LABELS,
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

GAMMA, RIDGE = 4.0, 1.0  # probe kernel exp(GAMMA * (cos - 1)), ridge penalty
BUCKETS = 1 << 15


def lexical_vectors(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Hashed log-tf x idf unit (sparse) row vectors per document and query text."""
    from scipy.sparse import csr_matrix

    texts = sorted({p["doc"] for p in pairs} | {p["query"] for p in pairs})
    rows, cols, vals = [], [], []
    for r, t in enumerate(texts):
        counts: dict[int, int] = defaultdict(int)
        for w in re.findall(r"\w+", t.lower()):
            counts[zlib.crc32(w.encode()) % BUCKETS] += 1
        for c, n in counts.items():
            rows.append(r)
            cols.append(c)
            vals.append(1 + np.log(n))
    m = csr_matrix((vals, (rows, cols)), shape=(len(texts), BUCKETS))
    df = np.bincount(m.indices, minlength=BUCKETS)
    idf = np.log((len(texts) + 1) / (df + 1)) + 1
    m = m.multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m = csr_matrix(m.multiply(1 / np.maximum(norms, 1e-12)[:, None]))
    return {t: m[i] for i, t in enumerate(texts)}


def probe_loo(
    vecs: np.ndarray, y: np.ndarray, gamma: float = GAMMA, ridge: float = RIDGE
) -> np.ndarray:
    """Exact leave-one-out kernel ridge predictions of ``y`` (``(m,)`` or ``(m, t)``)."""
    k = np.exp(gamma * (vecs @ vecs.T - 1)) + 1.0
    h = k @ np.linalg.inv(k + ridge * np.eye(len(y)))
    fitted = h @ y
    hd = np.diag(h) if y.ndim == 1 else np.diag(h)[:, None]
    return np.asarray((fitted - hd * y) / np.clip(1 - hd, 1e-6, None))


def probe_predict(
    vecs: np.ndarray, y: np.ndarray, targets: np.ndarray, gamma: float = GAMMA, ridge: float = RIDGE
) -> np.ndarray:
    k = np.exp(gamma * (vecs @ vecs.T - 1)) + 1.0
    alpha = np.linalg.solve(k + ridge * np.eye(len(y)), y)
    return np.asarray((np.exp(gamma * (targets @ vecs.T - 1)) + 1.0) @ alpha)


PROBES = {  # name: (gamma, ridge, targets: "bin" = grade >= POS, "cuts" = grade >= 1, 2, 3)
    "probe": (GAMMA, RIDGE, "bin"),
    "probe g2": (2.0, RIDGE, "bin"),
    "probe g8": (8.0, RIDGE, "bin"),
    "probe g16": (16.0, RIDGE, "bin"),
    "probe r0.3": (GAMMA, 0.3, "bin"),
    "probe r3": (GAMMA, 3.0, "bin"),
    "probe cuts": (GAMMA, RIDGE, "cuts"),
    "probe grade": (GAMMA, RIDGE, "grade"),
}


def probe_targets(g: np.ndarray, kind: str) -> np.ndarray:
    if kind == "bin":
        return (g >= POS).astype(float)
    if kind == "grade":
        return (g - LABELS[0]) / (LABELS[-1] - LABELS[0])
    return np.stack([(g >= c).astype(float) for c in LABELS[1:]], axis=1)


def lex_features(
    sims: np.ndarray, y: np.ndarray, exclude: np.ndarray | None, qd: np.ndarray
) -> np.ndarray:
    """Lexical vote (top 10, temperature 0.05), nearest positive / negative, query-doc cosine."""
    s = sims.copy()
    if exclude is not None:
        s[exclude] = -np.inf
    kk = min(10, s.shape[1])
    top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
    ts = np.take_along_axis(s, top, axis=1)
    w = np.where(np.isfinite(ts), np.exp((ts - ts.max(axis=1, keepdims=True)) / 0.05), 0.0)
    w /= w.sum(axis=1, keepdims=True)
    vote = (w * y[top]).sum(axis=1)
    near_pos = np.where(y[None, :] == 1, s, -np.inf).max(axis=1)
    near_neg = np.where(y[None, :] == 0, s, -np.inf).max(axis=1)
    return np.stack([vote, near_pos, near_neg, qd], axis=1)


def run_share(
    pairs: list[dict[str, Any]],
    vecs: dict[str, np.ndarray],
    share: float,
    seed: int,
    n_boot: int,
    only: set[str],
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from judgecache.distill.memory_features import (
        FEATURES,
        Combiner,
        leave_one_out,
        neighbour_features,
    )

    t0 = time.perf_counter()
    in_memory = memory_split(pairs, share, seed)
    cos, embed, memory = cosine_memory(pairs, vecs, in_memory)
    memory.refresh()
    grades = np.asarray([p["grade"] for p in pairs])
    cuts, _ = fitted_cuts(cos[in_memory], grades[in_memory])
    fb_label = (cos[:, None] >= cuts[None, :]).sum(axis=1)
    lex = lexical_vectors(pairs)
    qvec = {p["query"]: vecs[f"q:{p['qid'].split(':', 1)[1]}"] for p in pairs}

    # The bilinear score: logistic regression on query * doc, out-of-fold for the memory's pairs.
    prod = np.stack([embed([p["doc"]])[0] * qvec[p["query"]] for p in pairs])
    y_all = (grades >= POS).astype(int)
    mem_idx = np.flatnonzero(in_memory)
    bil = np.zeros(len(pairs))
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, 5, mem_idx.size)
    scale = prod[mem_idx].std(axis=0) + 1e-9

    def fit_bil(rows: np.ndarray) -> Any:
        return LogisticRegression(C=0.05, max_iter=2000).fit(prod[rows] / scale, y_all[rows])

    for f in range(5):
        model = fit_bil(mem_idx[fold != f])
        bil[mem_idx[fold == f]] = model.decision_function(prod[mem_idx[fold == f]] / scale)
    held_all = np.flatnonzero(~in_memory)
    bil[held_all] = fit_bil(mem_idx).decision_function(prod[held_all] / scale)

    key_of = {(p["query"], p["doc"]): i for i, p in enumerate(pairs)}
    held_by_q: dict[str, list[int]] = defaultdict(list)
    for i in held_all.tolist():
        held_by_q[pairs[i]["query"]].append(i)
    fit_rows: dict[str, list[np.ndarray]] = defaultdict(list)
    fit_grades: list[np.ndarray] = []
    tgt_rows: dict[str, list[np.ndarray]] = defaultdict(list)
    tgt_ids: list[np.ndarray] = []
    for q in memory.catalog:
        if memory.status(q) is not None:
            continue
        ix = memory.index(q)
        entries = list(memory.catalog[q])
        docs_of = dict(zip(entries, memory.source.read(entries), strict=True))
        mids = np.asarray([key_of[(q, docs_of[k][0])] for k in ix.keys])
        g = ix.grades
        y = (g >= POS).astype(float)
        base_f, gg = leave_one_out(
            ix.vecs @ ix.vecs.T, g, ix.base, labels=LABELS, positive_from=POS
        )
        n_pos, n_neg = int(y.sum()), int((1 - y).sum())
        ok = np.where(y == 1, n_pos > 1, n_neg > 1)
        if not ok.any():
            continue
        sel = np.flatnonzero(ok)
        lsim = np.asarray(
            (
                _stack(lex, [pairs[i]["doc"] for i in mids])
                @ _stack(lex, [pairs[i]["doc"] for i in mids]).T
            ).todense()
        )
        qd_m = np.asarray(
            (_stack(lex, [pairs[i]["doc"] for i in mids]) @ lex[q].T).todense()
        ).ravel()
        excl = np.zeros((sel.size, g.size), bool)
        excl[np.arange(sel.size), sel] = True
        bm = bil[mids]
        fit_rows["base"].append(base_f[:, : len(FEATURES)])  # the nine, without the library's probe
        mv = ix.vecs.astype(float)
        for name, (gm, rg, kind) in PROBES.items():
            pl = probe_loo(mv, probe_targets(g, kind), gm, rg)
            fit_rows[name].append(pl[sel].reshape(sel.size, -1))
        fit_rows["bilinear"].append(_bil_feats(bm, y, bm[sel], excl))
        fit_rows["lexical"].append(lex_features(lsim[sel], y, excl, qd_m[sel]))
        fit_grades.append(gg)
        ids = held_by_q.get(q, [])
        if not ids:
            continue
        ia = np.asarray(ids)
        tv = embed([pairs[i]["doc"] for i in ids])
        tgt_rows["base"].append(
            neighbour_features(
                tv @ ix.vecs.T, g, ix.base, cos[ia], labels=LABELS, positive_from=POS
            )
        )
        for name, (gm, rg, kind) in PROBES.items():
            pp = probe_predict(mv, probe_targets(g, kind), tv.astype(float), gm, rg)
            tgt_rows[name].append(pp.reshape(len(ids), -1))
        tgt_rows["bilinear"].append(_bil_feats(bm, y, bil[ia], None))
        tl = _stack(lex, [pairs[i]["doc"] for i in ids])
        tsim = np.asarray((tl @ _stack(lex, [pairs[i]["doc"] for i in mids]).T).todense())
        tgt_rows["lexical"].append(
            lex_features(tsim, y, None, np.asarray((tl @ lex[q].T).todense()).ravel())
        )
        tgt_ids.append(ia)
    prep_s = time.perf_counter() - t0
    gfit = np.concatenate(fit_grades)
    tids = np.concatenate(tgt_ids)
    blocks = {k: (np.concatenate(v), np.concatenate(tgt_rows[k])) for k, v in fit_rows.items()}

    def combo(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.hstack([blocks[n][0] for n in names]),
            np.hstack([blocks[n][1] for n in names]),
        )

    def lr_head(
        x: np.ndarray, xt: np.ndarray, *, wk_cuts: bool = False, poly: bool = False
    ) -> np.ndarray:
        if poly:  # pairwise products of the standardized features: a linear head's interactions
            from sklearn.preprocessing import PolynomialFeatures, StandardScaler

            sc = StandardScaler().fit(x)
            pf = PolynomialFeatures(2, include_bias=False).fit(sc.transform(x))
            x, xt = pf.transform(sc.transform(x)), pf.transform(sc.transform(xt))
        c = Combiner.fit(x, gfit, labels=LABELS, positive_from=POS)
        if wk_cuts:
            c.thresholds = _wk_cuts(c, c.p_at_least(x), gfit)
        return c.grades(c.p_at_least(xt))

    def gbm_head(x: np.ndarray, xt: np.ndarray) -> np.ndarray:
        from sklearn.ensemble import HistGradientBoostingClassifier

        c = Combiner.fit(x, gfit, labels=LABELS, positive_from=POS)
        p = np.zeros((x.shape[0], 3))
        pt = np.zeros((xt.shape[0], 3))
        for j, cut in enumerate(LABELS[1:]):
            m = HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0
            ).fit(x, gfit >= cut)
            p[:, j] = _oof(x, gfit >= cut)
            pt[:, j] = m.predict_proba(xt)[:, 1]
        p, pt = np.minimum.accumulate(p, axis=1), np.minimum.accumulate(pt, axis=1)
        c.thresholds = c._fit_thresholds(p, gfit)
        return c.grades(pt)

    variants: dict[str, tuple[list[str], str]] = {
        "memory (today)": (["base"], "lr"),
        "+probe": (["base", "probe"], "lr"),
        "+bilinear": (["base", "bilinear"], "lr"),
        "+lexical": (["base", "lexical"], "lr"),
        "+all three": (["base", "probe", "bilinear", "lexical"], "lr"),
        "wk cuts": (["base"], "wk"),
        "+all three, wk cuts": (["base", "probe", "bilinear", "lexical"], "wk"),
        "gbm head": (["base"], "gbm"),
        "+all three, gbm head": (["base", "probe", "bilinear", "lexical"], "gbm"),
        "+probe, lexical": (["base", "probe", "lexical"], "lr"),
        **{f"+{n}": (["base", n], "lr") for n in PROBES if n != "probe"},
        "+probe cuts, lexical": (["base", "probe cuts", "lexical"], "lr"),
        "+probe cuts, grade": (["base", "probe cuts", "probe grade"], "lr"),
        "+probe cuts, pairwise head": (["base", "probe cuts"], "poly"),
    }
    if only:
        variants = {k: v for k, v in variants.items() if k in only or k == "memory (today)"}
    held = held_all
    groups = np.asarray([pairs[i]["qid"] for i in held])
    pos_in_held = {int(i): j for j, i in enumerate(held.tolist())}
    judged: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    fit_s: dict[str, float] = {}
    for name, (names, head) in variants.items():
        t1 = time.perf_counter()
        x, xt = combo(names)
        if head == "gbm":
            lab = gbm_head(x, xt)
        else:
            lab = lr_head(x, xt, wk_cuts=head == "wk", poly=head == "poly")
        out = fb_label[held].copy()
        out[[pos_in_held[int(i)] for i in tids]] = lab
        judged[name] = (out, None)
        fit_s[name] = round(time.perf_counter() - t1, 1)
    gpt4 = np.asarray([p["gpt4"] for p in pairs])
    judged["gpt-4"] = (gpt4[held], None)
    deltas = [(n, "memory (today)") for n in variants if n != "memory (today)"]
    res = cluster_bootstrap(groups, grades[held], judged, deltas, n=n_boot, seed=seed)
    for v in res.values():  # labels only: AUC / ECE of labels say nothing here
        v.pop("auc", None)
        v.pop("ece", None)
    return {"share": share, "prep_s": round(prep_s, 1), "fit_s": fit_s, "result": res}


def _stack(lex: dict[str, Any], texts: list[str]) -> Any:
    from scipy.sparse import vstack

    return vstack([lex[t] for t in texts]).tocsr()


def _bil_feats(
    mem: np.ndarray, y: np.ndarray, target: np.ndarray, exclude: np.ndarray | None
) -> np.ndarray:
    """The bilinear score and its per-query midpoint offset (positives' and negatives' means)."""
    n = target.size
    keep = np.ones((n, mem.size), bool) if exclude is None else ~exclude
    pos, neg = keep & (y[None, :] == 1), keep & (y[None, :] == 0)
    mp = np.where(pos, mem[None, :], 0).sum(axis=1) / pos.sum(axis=1)
    mn = np.where(neg, mem[None, :], 0).sum(axis=1) / neg.sum(axis=1)
    return np.stack([target, target - (mp + mn) / 2], axis=1)


def _oof(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Out-of-fold (5) probabilities of a boosted classifier: honest inputs for its cut choice."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    fold = np.random.default_rng(0).integers(0, 5, t.size)
    out = np.zeros(t.size)
    for f in range(5):
        m = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0
        ).fit(x[fold != f], t[fold != f])
        out[fold == f] = m.predict_proba(x[fold == f])[:, 1]
    return out


def _wk_cuts(c: Any, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Coordinate ascent (two passes) of the non-positive cuts for weighted kappa."""
    from judgecache.distill.memory_features import _kappa

    grid = np.linspace(0.05, 0.95, 37)
    t: np.ndarray = np.array(c.thresholds, dtype=np.float64)
    for _ in range(2):
        for j in range(p.shape[1]):
            if j == c.pos_cut:
                continue

            def wk(v: float, j: int = j) -> float:
                tt = t.copy()
                tt[j] = v
                return _kappa(g, c.grades(p, tt), LABELS, weighting="quadratic")

            t[j] = max(grid, key=wk)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shares", default="0.10,0.50")
    ap.add_argument("--boot", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=str(REPO / "runs" / "query_memory" / "gap.json"))
    ap.add_argument("--variants", default="", help="names separated by ; (default: all)")
    args = ap.parse_args()
    require_data()
    t0 = time.perf_counter()
    pairs, vecs = load_pairs(), load_or_embed()
    results = []
    for share in (float(s) for s in args.shares.split(",")):
        only = {v for v in args.variants.split(";") if v}
        r = run_share(pairs, vecs, share, args.seed, args.boot, only)
        results.append(r)
        print(f"\n== share {share:.0%}: prep {r['prep_s']} s; fits {r['fit_s']}")
        print_rows(r["result"], 44)
    save(results, args.output, t0)


if __name__ == "__main__":
    main()
