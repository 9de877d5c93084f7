"""Benchmark: the packaged bases side by side -- zero-shot agreement, speed and memory, one run.

For each packaged base (``minilm``, ``mpnet``; see judgecache/distill/bases.py), on the same
seeded samples:

* relevance -- the base's zero-shot cosine of (query, passage) against GPT-4o UMBRELA grades:
  AUC of grade >= 2 on a DL20 sample, and binary Cohen's kappa on that sample with the cut tuned
  on a DL19 sample (kappa-maximising; no DL20 label chooses it);
* faithfulness -- zero-shot sentence alignment on SummEdits (each summary sentence's best cosine to
  a source sentence, the weakest one: SummaC-style on embeddings): AUC against the human labels,
  on every summary of a seeded sample of sources per domain;
* serving -- pairs/s of a bi-encoder student on the base (fresh LoRA and head: speed does not
  depend on training) on real DL pairs, fp32 and int8, torch and ONNX Runtime, 2 threads, the
  variants taking turns round after round; and peak RSS of int8 on the default CPU runtime
  (ONNX Runtime, its file already exported) in a fresh process per base.

    python bench/bases_bench.py                                   # ~10 min on 2 shared cores
    python bench/bases_bench.py --bases minilm --dl19 200 --dl20 300 --sources 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, data_dir, load_grades, memory_mb, real_pairs, require_data
from faithfulness_probe import DOMAINS, sentences
from student_speed import untrained_student

from judgecache.distill.bases import BASES
from judgecache.stats import cohen_kappa, roc_auc

THREADS = 2
SPEED = {  # name: (int8, runtime)
    "fp32-torch": (False, "torch"),
    "int8-torch": (True, "torch"),
    "fp32-onnx": (False, "onnx"),
    "int8-onnx": (True, "onnx"),
}


def grade_sample(year: str, n: int, seed: int) -> tuple[list[tuple[str, str]], np.ndarray]:
    """``n`` seeded (query, passage) pairs of DL``year`` and whether GPT-4o graded them >= 2."""
    grades = load_grades(year)
    keys = sorted(grades)
    rng = np.random.default_rng(seed)
    idx = sorted(rng.choice(len(keys), size=min(n, len(keys)), replace=False))
    pairs = [keys[i] for i in idx]
    return pairs, np.array([grades[p] >= 2 for p in pairs], dtype=int)


def cosines(embed: Any, pairs: list[tuple[str, str]]) -> np.ndarray:
    """Zero-shot cosine of each pair (each distinct text embedded once)."""
    texts = list(dict.fromkeys(t for p in pairs for t in p))
    vecs = embed(texts)
    at = {t: i for i, t in enumerate(texts)}
    return np.array([float(vecs[at[q]] @ vecs[at[d]]) for q, d in pairs])


def tuned_cut(score: np.ndarray, y: np.ndarray) -> float:
    """The cut on ``score`` that maximises binary kappa against ``y``."""
    candidates = np.quantile(score, np.linspace(0.02, 0.98, 97))
    kappas = [cohen_kappa(y, (score >= c).astype(int), labels=[0, 1]) for c in candidates]
    return float(candidates[int(np.argmax(kappas))])


def relevance(embed: Any, dl19: Any, dl20: Any) -> dict[str, Any]:
    (p19, y19), (p20, y20) = dl19, dl20
    cut = tuned_cut(cosines(embed, p19), y19)
    s20 = cosines(embed, p20)
    return {
        "auc_dl20": round(roc_auc(y20, s20), 4),
        "kappa_dl20_cut_from_dl19": round(
            cohen_kappa(y20, (s20 >= cut).astype(int), labels=[0, 1]), 4
        ),
        "cut": round(cut, 4),
    }


def summedits_sample(sources: int, seed: int) -> list[Any]:
    """Every summary of ``sources`` seeded source documents per SummEdits domain."""
    from judgecache.io.summedits import iter_summedits

    out = []
    rng = np.random.default_rng(seed)
    for domain in DOMAINS:
        records = list(iter_summedits(data_dir() / "summedits" / f"summedits_{domain}.json"))
        docs = sorted({r.doc for r in records})
        keep = {docs[i] for i in rng.choice(len(docs), size=min(sources, len(docs)), replace=False)}
        out += [r for r in records if r.doc in keep]
    return out


def faithfulness(embed: Any, records: list[Any]) -> dict[str, Any]:
    texts = list(
        dict.fromkeys(s for r in records for t in (r.doc, r.summary) for s in sentences(t))
    )
    vecs = embed(texts)
    at = {t: i for i, t in enumerate(texts)}

    def align(r: Any) -> float:
        src = vecs[[at[s] for s in sentences(r.doc)]]
        summ = vecs[[at[s] for s in sentences(r.summary)]]
        return float((summ @ src.T).max(1).min())

    y = np.array([r.label for r in records])
    return {"summedits_alignment_auc": round(roc_auc(y, np.array([align(r) for r in records])), 4)}


def speed(student: Path, pairs: list[tuple[str, str]], rounds: int) -> dict[str, Any]:
    """pairs/s of each variant, interleaved round by round (first load builds the ONNX files)."""
    from judgecache.distill.student import load_predictor

    predictors = {}
    load_s = {}
    for name, (int8, runtime) in SPEED.items():
        t0 = time.perf_counter()
        predictors[name] = load_predictor(student, int8=int8, runtime=runtime)
        predictors[name].cache = None  # encode every passage
        load_s[name] = round(time.perf_counter() - t0, 1)
        predictors[name].predict(pairs[:32])  # warm-up
    runs: dict[str, list[float]] = {n: [] for n in SPEED}
    for _ in range(rounds):
        for name, p in predictors.items():
            t0 = time.perf_counter()
            p.predict(pairs)
            runs[name].append(round(len(pairs) / (time.perf_counter() - t0), 1))
    return {
        "pairs_per_s": {n: statistics.median(r) for n, r in runs.items()},
        "runs": runs,
        "first_load_seconds": load_s,
    }


def fresh_rss(student: Path, n: int) -> dict[str, float]:
    """Peak RSS of a new process that loads int8 on the default runtime and scores ``n`` pairs."""
    code = (
        "import json, sys, torch\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from bench_common import memory_mb, real_pairs\n"
        "from judgecache.distill.student import load_predictor\n"
        f"torch.set_num_threads({THREADS})\n"
        f"p = load_predictor({str(student)!r}, int8=True)\n"
        f"p.predict(real_pairs({n}))\n"
        "print(json.dumps({'runtime': p.runtime, **memory_mb()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bases", nargs="*", default=list(BASES))
    ap.add_argument("--dl19", type=int, default=300, help="DL19 pairs to tune the cut on")
    ap.add_argument("--dl20", type=int, default=500, help="DL20 pairs to measure on")
    ap.add_argument("--sources", type=int, default=8, help="SummEdits sources per domain")
    ap.add_argument("--speed-pairs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    require_data()
    import torch

    from judgecache.distill.text_embed import TextEmbedder

    torch.set_num_threads(THREADS)
    dl19 = grade_sample("19", args.dl19, args.seed)
    dl20 = grade_sample("20", args.dl20, args.seed)
    records = summedits_sample(args.sources, args.seed)
    pairs = real_pairs(args.speed_pairs)
    report: dict[str, Any] = {
        "samples": {
            "dl19_pairs_for_the_cut": len(dl19[0]),
            "dl20_pairs": len(dl20[0]),
            "dl20_positive_share": round(float(dl20[1].mean()), 3),
            "summedits_summaries": len(records),
            "summedits_sources": len({r.doc for r in records}),
            "speed_pairs": len(pairs),
            "threads": THREADS,
        },
        "bases": {},
    }
    for name in args.bases:
        base = BASES[name]
        t0 = time.perf_counter()
        embed = TextEmbedder.load(name, max_tokens=256)
        row: dict[str, Any] = {
            "model": base.model_id,
            "size": base.summary,
            "licence": base.licence,
            **relevance(embed, dl19, dl20),
            **faithfulness(embed, records),
        }
        row["zero_shot_seconds"] = round(time.perf_counter() - t0, 1)
        del embed
        student = untrained_student(f"bi:{name}")
        row["serving"] = speed(student, pairs, args.rounds)
        row["serving"]["int8_default_runtime_fresh_process"] = fresh_rss(student, len(pairs))
        report["bases"][name] = row
        print(json.dumps({name: row}), file=sys.stderr)
    report["this_process_peak_rss_mb"] = round(memory_mb()["peak_rss_mb"], 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
