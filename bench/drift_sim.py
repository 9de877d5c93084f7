"""Drift-checker simulation on ../shared/data: false alarms without shift, detection with it.

Every simulated week runs the real pipeline: a fresh production log (memory backend) gets the
week's traffic, then :func:`judgecache.drift.checker.run_check` samples 300 pairs stratified by
student score, re-asks 100 anchors, gets teacher labels through a real Judge and cache (at most 400
teacher calls a run), measures and decides.

* Teacher: a replay teacher (recorded labels looked up by pair): GPT-4o UMBRELA grades for TREC DL
  and ANTIQUE, human labels for SummEdits (the data's stand-in for a frontier judge).
* Student: a real, tiny distilled judge: logistic regression on lexical features (query-term and
  idf-weighted overlap, bigram overlap, length; for SummEdits unigram/bigram/number/name support of
  the summary in the source), fitted on one half of the data against the teacher's binary labels;
  the reference and the no-shift weeks are drawn from the other half.
* Scenarios: (a) no shift, TREC DL reference half -> held-out half, and SummEdits news -> news;
  (b) the teacher silently changed: GPT-4 grades served under GPT-4o's identity;
  (c) domain shift: TREC DL -> ANTIQUE, SummEdits news -> each other domain;
  (d) the student made overconfident: its logits multiplied by 3.

Run (CPU only, a few minutes):  python bench/drift_sim.py --weeks 104 --shift-weeks 50
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from judgecache import Judge
from judgecache.drift.checker import make_baseline, run_check
from judgecache.drift.config import DriftConfig
from judgecache.drift.entry import LogEntry
from judgecache.drift.log import ProductionLog
from judgecache.io.summedits import iter_summedits
from judgecache.io.trec import iter_trec_pairs, read_collection, read_topics
from judgecache.keys import normalize_text

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)  # a Monday: week k is ISO week k+1 of 2024...
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "what",
        "how",
        "why",
        "who",
        "which",
    ]
)
TOKEN = re.compile(r"[a-z0-9]+")


def data_dir() -> Path:
    return Path(os.environ.get("JUDGECACHE_DATA") or ROOT / ".." / "shared" / "data").resolve()


# ------------------------------------------------------------------------------------ data


@dataclass
class Pair:
    first: str
    second: str
    labels: dict[str, int]  # teacher name -> label
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def key(self) -> tuple[str, str]:
        return normalize_text(self.first), normalize_text(self.second)


def load_trec(dd: Path) -> list[Pair]:
    pairs: dict[tuple[str, str], Pair] = {}
    for year in ("dl19", "dl20"):
        topics = read_topics(dd / "trec-dl" / f"topics.{year}.tsv")
        coll = read_collection(dd / "trec-dl" / f"collection.{year}.tsv")
        for teacher in ("gpt-4o-umbrela", "gpt-4-umbrela"):
            path = dd / "trec-dl" / f"qrels.{teacher}.{year}.txt"
            for p in iter_trec_pairs(path, topics, coll):
                pair = pairs.setdefault((year, p.qid + "|" + p.docid), Pair(p.query, p.doc, {}))
                pair.labels.setdefault(teacher, p.grade)
    return [p for p in pairs.values() if len(p.labels) == 2]


def load_antique(dd: Path) -> list[Pair]:
    path = dd / "antique"
    topics, coll = read_topics(path / "topics.tsv"), read_collection(path / "collection.tsv")
    return [
        Pair(p.query, p.doc, {"gpt-4o-umbrela": p.grade})
        for p in iter_trec_pairs(path / "qrels.gpt-4o-umbrela.txt", topics, coll)
    ]


def load_summedits(dd: Path, domain: str) -> list[Pair]:
    path = dd / "summedits" / f"summedits_{domain}.json"
    return [Pair(r.doc, r.summary, {"human": r.label}) for r in iter_summedits(path)]


# ------------------------------------------------------------------------------------ student


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def relevance_features(pairs: Sequence[Pair], idf: dict[str, float]) -> None:
    for p in pairs:
        q = [t for t in _tokens(p.first) if t not in STOP] or _tokens(p.first)
        d = _tokens(p.second)
        ds = set(d)
        qb = set(pairwise(q))
        db = set(pairwise(d))
        hit = [t in ds for t in q]
        w = np.array([idf.get(t, 8.0) for t in q])
        p.x = np.array(
            [
                float(np.mean(hit)) if q else 0.0,
                float(w[np.array(hit, dtype=bool)].sum() / w.sum()) if q else 0.0,
                math.log1p(len(d)) / 5,
                len(qb & db) / len(qb) if qb else 0.0,
                float(all(hit)) if q else 0.0,
            ]
        )


def faithfulness_features(pairs: Sequence[Pair]) -> None:
    for p in pairs:
        src, summ = _tokens(p.first), _tokens(p.second)
        ss = set(src)
        sb = set(pairwise(src))
        bi = list(pairwise(summ))
        nums = [t for t in summ if t.isdigit()]
        names = [w.lower() for w in re.findall(r"\b[A-Z][a-z]+", p.second)]
        p.x = np.array(
            [
                float(np.mean([t in ss for t in summ])) if summ else 0.0,
                float(np.mean([b in sb for b in bi])) if bi else 0.0,
                float(np.mean([t in ss for t in nums])) if nums else 1.0,
                float(np.mean([t in ss for t in names])) if names else 1.0,
                math.log1p(len(summ)) / 5,
            ]
        )


def idf_table(pairs: Sequence[Pair]) -> dict[str, float]:
    df: Counter[str] = Counter()
    docs = {p.second for p in pairs}
    for d in docs:
        df.update(set(_tokens(d)))
    return {t: math.log(len(docs) / c) for t, c in df.items()}


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1e-2) -> np.ndarray:
    """Ridge-penalised logistic regression by Newton steps (intercept unpenalised)."""
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(design.shape[1])
    pen = np.eye(len(beta)) * ridge
    pen[0, 0] = 0.0
    for _ in range(50):
        mu = 1 / (1 + np.exp(-design @ beta))
        grad = design.T @ (y - mu) - pen @ beta
        info = (design * (mu * (1 - mu))[:, None]).T @ design + pen
        step = np.linalg.solve(info, grad)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    return beta


@dataclass
class Student:
    beta: np.ndarray
    name: str
    temperature: float = 1.0  # logits are multiplied by this (> 1: overconfident)

    def prob(self, pairs: Sequence[Pair]) -> np.ndarray:
        x = np.array([p.x for p in pairs])
        z = np.column_stack([np.ones(len(x)), x]) @ self.beta
        return np.asarray(1 / (1 + np.exp(-z * self.temperature)), dtype=float)


# ------------------------------------------------------------------------------------ runs


def replay_judge(labels: dict[tuple[str, str], int], name: str, task: str) -> Judge:
    """A Judge whose teacher replays recorded labels by pair (fails on an unknown pair)."""

    def teacher(first: str, second: str) -> int:
        return labels[(normalize_text(first), normalize_text(second))]

    return Judge(teacher, name=name, version="sim", task=task, cache="memory://", max_retries=0)


def entries_for(
    pairs: Sequence[Pair], probs: np.ndarray, week: int, task: str, student: str
) -> list[LogEntry]:
    fields = ("query", "doc") if task == "relevance" else ("context", "answer")
    start = START + timedelta(days=7 * week)
    out = []
    for i, (p, prob) in enumerate(zip(pairs, probs, strict=True)):
        item = hashlib.sha256(f"{task}|{p.first}|{p.second}".encode()).hexdigest()
        out.append(
            LogEntry(
                item_id="jc1:" + item,
                inputs={fields[0]: p.first, fields[1]: p.second},
                score=float(prob),
                probability=round(float(prob), 6),
                decision=int(prob >= 0.5),
                threshold=0.5,
                judge={"provider": "student", "model": student, "version": "sim"},
                task=task,
                rubric=task,
                timestamp=(start + timedelta(seconds=(i * 300) % (7 * 86400))).isoformat(),
            )
        )
    return out


def week_label(week: int) -> str:
    y, w, _ = (START + timedelta(days=7 * week)).isocalendar()
    return f"{y}-W{w:02d}"


@dataclass
class Scenario:
    name: str
    task: str
    ref_pool: list[Pair]
    prod_pool: list[Pair]
    student: Student
    prod_student: Student
    teacher_ref: dict[tuple[str, str], int]
    teacher_prod: dict[tuple[str, str], int]
    traffic: int
    psi_min: int


def run_scenario(sc: Scenario, weeks: int, seed: int, tmp: Path) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    probs_ref = sc.student.prob(sc.ref_pool)
    teacher_pos = np.array(
        [sc.teacher_ref[p.key] >= (2 if sc.task == "relevance" else 1) for p in sc.ref_pool]
    )
    precision = float(teacher_pos[probs_ref >= 0.5].mean())
    cfg = DriftConfig.from_dict(
        {
            "teacher": "replay (in-process)",
            "task": sc.task,
            "reference": str(tmp / "reference.json"),
            "report_dir": str(tmp / "reports"),
            "period": week_label(0),
            "budget": 2000,
            "sample_size": 1000,
            "anchor_count": 100,
            "bootstrap": 0,
            "gates": {
                "psi_min_population": sc.psi_min,
                "threshold_metric": "precision",
                "threshold_target": round(precision - 0.05, 3),
            },
        }
    )
    base_log = ProductionLog("memory://")
    take = min(len(sc.ref_pool), 5000)
    idx = rng.choice(len(sc.ref_pool), size=take, replace=False)
    base_log.record_many(
        entries_for([sc.ref_pool[i] for i in idx], probs_ref[idx], 0, sc.task, sc.student.name)
    )
    judge_ref = replay_judge(sc.teacher_ref, "teacher", sc.task)
    ref, anchors, _ = make_baseline(cfg, judge=judge_ref, log=base_log, save=False)
    judge = replay_judge(sc.teacher_prod, "teacher", sc.task)  # same identity, maybe new labels
    weekly = cfg.with_overrides(budget=400, sample_size=300)
    probs_prod = sc.prod_student.prob(sc.prod_pool)
    statuses: Counter[str] = Counter()
    gate_fails: Counter[str] = Counter()
    gate_warns: Counter[str] = Counter()
    calls = []
    label_fails = 0  # weeks failed by a gate that needs teacher labels (all but score_drift)
    for week in range(1, weeks + 1):
        n = min(sc.traffic, len(sc.prod_pool))
        pick = rng.choice(len(sc.prod_pool), size=n, replace=False)
        log = ProductionLog("memory://")
        log.record_many(
            entries_for(
                [sc.prod_pool[i] for i in pick], probs_prod[pick], week, sc.task, sc.student.name
            )
        )
        run = run_check(
            weekly.with_overrides(period=week_label(week)),
            judge=judge,
            log=log,
            reference=ref,
            anchors=anchors,
            save=False,
        )
        statuses[run.verdict.status] += 1
        label_fails += any(
            g.status == "fail" and g.name != "score_drift" for g in run.verdict.gates
        )
        for g in run.verdict.gates:
            if g.status == "fail":
                gate_fails[g.name] += 1
            elif g.status == "warn":
                gate_warns[g.name] += 1
        calls.append(run.report["budget"]["teacher_calls"])
    return {
        "scenario": sc.name,
        "weeks": weeks,
        "traffic_per_week": min(sc.traffic, len(sc.prod_pool)),
        "reference": {
            "agreement": ref.agreement,
            "labelled": ref.n_labelled,
            "slope": ref.calibration_slope,
            "precision_target": round(precision - 0.05, 3),
        },
        "status": dict(statuses),
        "fail_rate": statuses["fail"] / weeks,
        "alarm_rate": (statuses["fail"] + statuses["warn"]) / weeks,
        "inconclusive_rate": statuses["inconclusive"] / weeks,
        "fail_rate_label_gates": label_fails / weeks,
        "gate_fails": dict(gate_fails),
        "gate_warns": dict(gate_warns),
        "max_teacher_calls": max(calls),
        "mean_teacher_calls": float(np.mean(calls)),
    }


def split(pairs: list[Pair], seed: int) -> tuple[list[Pair], list[Pair]]:
    order = np.random.default_rng(seed).permutation(len(pairs))
    half = len(pairs) // 2
    return [pairs[i] for i in order[:half]], [pairs[i] for i in order[half:]]


def labels_of(pairs: Sequence[Pair], teacher: str) -> dict[tuple[str, str], int]:
    return {p.key: p.labels[teacher] for p in pairs if teacher in p.labels}


def build(dd: Path) -> list[Callable[[], Scenario]]:
    trec, antique = load_trec(dd), load_antique(dd)
    idf = idf_table(trec + antique)
    relevance_features(trec + antique, idf)
    # The student is fitted on one half; the reference and the no-shift traffic both come from the
    # other half, so "no shift" means exactly the same distribution, unseen by the student.
    t_fit, t_live = split(trec, 0)
    y = np.array([p.labels["gpt-4o-umbrela"] >= 2 for p in t_fit], dtype=float)
    rel = Student(fit_logistic(np.array([p.x for p in t_fit]), y), "lexical-lr-rel")
    over = Student(rel.beta, rel.name, temperature=3.0)
    g4o = labels_of(trec + antique, "gpt-4o-umbrela")
    g4 = labels_of(trec, "gpt-4-umbrela")
    news = load_summedits(dd, "news")
    others = {d: load_summedits(dd, d) for d in ("podcast", "samsum", "scitldr", "qmsumm")}
    faithfulness_features(news + [p for ps in others.values() for p in ps])
    n_fit, n_live = split(news, 1)
    yf = np.array([p.labels["human"] for p in n_fit], dtype=float)
    faith = Student(fit_logistic(np.array([p.x for p in n_fit]), yf), "lexical-lr-faith")
    human = labels_of(news + [p for ps in others.values() for p in ps], "human")

    def rel_sc(
        name: str,
        prod: list[Pair],
        student: Student,
        teacher_prod: dict[Any, int],
    ) -> Callable[[], Scenario]:
        return lambda: Scenario(
            name, "relevance", t_live, prod, rel, student, g4o, teacher_prod, 2000, 500
        )

    def faith_sc(name: str, prod: list[Pair]) -> Callable[[], Scenario]:
        return lambda: Scenario(
            name, "faithfulness", n_live, prod, faith, faith, human, human, 400, 300
        )

    return [
        rel_sc("a: no shift (TREC DL)", t_live, rel, g4o),
        faith_sc("a: no shift (SummEdits news)", n_live),
        rel_sc("b: teacher changed (GPT-4o -> GPT-4)", t_live, rel, g4),
        rel_sc("c: domain shift (TREC DL -> ANTIQUE)", antique, rel, g4o),
        *[faith_sc(f"c: domain shift (SummEdits news -> {d})", ps) for d, ps in others.items()],
        rel_sc("d: student overconfident (logits x3)", t_live, over, g4o),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--weeks", type=int, default=104, help="weeks for the no-shift scenarios")
    ap.add_argument("--shift-weeks", type=int, default=50, help="weeks for each shift scenario")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--only", default=None, help="run scenarios whose name contains this")
    args = ap.parse_args(argv)
    dd = data_dir()
    if not (dd / "trec-dl").is_dir():
        print(f"data not found at {dd} (set JUDGECACHE_DATA)", file=sys.stderr)
        return 2
    import tempfile

    t0 = time.perf_counter()
    scenarios = build(dd)
    print(f"loaded data and fitted students in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    results = []
    for k, make in enumerate(scenarios):
        sc = make()
        if args.only and args.only not in sc.name:
            continue
        weeks = args.weeks if sc.name.startswith("a:") else args.shift_weeks
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            res = run_scenario(sc, weeks, seed=100 + k, tmp=Path(tmp))
        res["seconds"] = round(time.perf_counter() - t, 1)
        results.append(res)
        print(
            f"{sc.name:45s} fail {res['fail_rate']:.3f} warn+fail {res['alarm_rate']:.3f} "
            f"inconclusive {res['inconclusive_rate']:.3f} max calls {res['max_teacher_calls']} "
            f"fails {res['gate_fails']} ({res['seconds']}s)",
            file=sys.stderr,
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
