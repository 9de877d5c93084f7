"""Benchmark: a cascade that teaches its student (memory + weekly ``cascade refresh``), DL19 -> DL20.

A real student is distilled from DL19's GPT-4o UMBRELA labels (the shipped relevance config, bounded:
``--train-examples`` pairs, no MaxSim), once, into ``runs/cascade_teach/student``. A seeded sample of
``--dl20-pairs`` DL20 pairs then arrives in ``--weeks`` weekly batches, every query in every week (the
fixed eval set re-judged with new documents). Each week, per policy:

* the student answers every pair: through its query memory where the query has labels of both
  classes (:class:`~judgecache.distill.memory.QueryMemory` over the student's own logit, MiniLM
  neighbours: what ``student:PATH?memory=`` does), else, for a query whose memory is one-class,
  the memory's recalibrated fallback probability, else the student alone;
* teacher calls (GPT-4o's grades replayed): the least confident pairs (``min(p, 1 - p)`` highest
  first) until the week's *expected* agreement -- kept pairs ``max(p, 1 - p)``, escalated 1 -- reaches
  ``--target`` (:func:`judgecache.cascade.audit.escalate_until`); ``random`` spends the same number
  of calls as ``audit`` that week on a random sample;
* the labels bought land in the memory at once; at the end of the week ``teach`` and ``random``
  run the library's refresh (:func:`~judgecache.distill.refresh.refresh_student`, what ``judgecache
  cascade refresh`` runs) on the labels file the cache would export (DL19's + every label bought
  so far): the student continues for ``--steps`` LoRA steps and is kept only if not worse on a
  held-out slice of the new labels; a kept student (and a memory rebuilt on its logit) serves the
  next week.

Policies: ``frozen`` (today's cascade: the DL19 student alone, nothing learned), ``memory`` (memory
fed by the escalations, no retrain), ``teach`` (memory + weekly refresh), ``random`` (as ``teach``,
the same weekly budget as ``audit`` -- else ``audit-new``, else ``teach``, the first of them run
before it -- spent on random pairs). The audited policies replace the
label-free stop by :func:`judgecache.cascade.audit.run_batch`: escalate until the expected agreement
*corrected by the over-confidence the latest audits saw* reaches ``--audit-target``, audit a seeded
``--audit-rate`` sample of the kept pairs, top up when this week's audit raised the ratio, and
estimate the week's agreement from the audit: ``frozen-audit`` (the DL19 student alone, audited)
and ``audit`` (as ``teach``; audit labels feed the memory and the refresh like escalations).
``audit-new`` (as ``teach``) audits only where the cascade extrapolates: pairs the student answers
alone (no memory for their query) go through the audited rule, with audits of that path only in its
history; pairs the memory (or its recalibrated one-class fallback) answers keep the label-free stop
at ``--target`` -- their probabilities are fitted on the query's own labels (``run_batch(...,
fitted=mask)`` with ``AuditPolicy.fitted_target``: the library does this split).
Reported per week: teacher calls avoided (audits count as calls) and binary agreement (grade >= 2)
with GPT-4o over all of the week's pairs (an escalated or audited pair agrees by construction),
pairs the memory answered, each refresh's decision with its paired delta, and for the audited
policies the audit's estimate of the week's agreement with its 95% Wilson interval.

    flock /tmp/jc-heavy.lock python bench/cascade_teach.py    # bounded for 2 shared CPU cores
"""

from __future__ import annotations

import argparse
import json
import math
import random
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

POS = 2
TEACHER = {"provider": "replay", "model": "gpt-4o", "version": ""}
OUT = REPO / "runs" / "cascade_teach"
POLICIES = ("frozen", "frozen-audit", "memory", "teach", "audit", "audit-new", "random")
# Policies whose escalations are corrected by a random audit of kept pairs (judgecache.cascade.audit):
# all of a week's pairs, or (audit-new) only those the student answers alone.
AUDITED = ("frozen-audit", "audit", "audit-new")


def export_row(p: dict[str, Any]) -> dict[str, Any]:
    """A pair as ``judgecache export`` writes it (what a refresh reads from the cache)."""
    return {
        "task": "relevance",
        "rubric": "relevance",
        "judge": TEACHER,
        "inputs": {"query": p["query"], "doc": p["doc"]},
        "label": p["grade"],
        "meta": {"qid": p["qid"], "docid": p["docid"]},
    }


def write_labels(path: Path, pairs: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(export_row(p)) + "\n" for p in pairs), encoding="utf-8")
    return path


def train_student(dl19: list[dict[str, Any]], out: Path, examples: int) -> float:
    """Distill the DL19 student with the shipped relevance config, bounded for the CPU."""
    from judgecache.distill.config import DistillConfig
    from judgecache.distill.pipeline import run_distill

    labels = write_labels(OUT / "dl19.jsonl", dl19)
    cfg = DistillConfig.from_yaml(REPO / "configs" / "distill" / "relevance.yaml")
    cfg = cfg.with_values({"labels": str(labels), "output": str(out)}).with_overrides(
        [
            "train.maxsim=false",
            f"train.max_train_examples={examples}",
            f"train.init_examples={examples}",
            "split.max_eval_examples=400",
            "split.max_val_examples=200",
            "eval.bootstrap=200",
            "train.progress=false",
        ]
    )
    t0 = time.perf_counter()
    run_distill(cfg)
    return time.perf_counter() - t0


class Embed:
    """MiniLM document vectors, each text embedded once for the whole run."""

    def __init__(self) -> None:
        from judgecache.distill.text_embed import TextEmbedder

        self.model = TextEmbedder.load("default")
        self.vecs: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self.vecs))
        if todo:
            self.vecs.update(zip(todo, self.model(todo), strict=True))
        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.stack([self.vecs[t] for t in texts])


class Student:
    """One student directory: its predictor, and a memory over its logit fed with ``rows``."""

    def __init__(self, path: Path, embed: Embed, rows: Sequence[dict[str, Any]] | None) -> None:
        from judgecache.distill.memory import QueryMemory, RowsSource
        from judgecache.distill.student import load_predictor
        from judgecache.judges.rubric import get_rubric
        from judgecache.keys import JudgeIdentity

        self.path = path
        self.predictor = load_predictor(path)
        self.source = RowsSource(JudgeIdentity(**TEACHER), (self._row(p) for p in rows or []))
        self.memory = (
            QueryMemory(self.source, embed, self.base, get_rubric("relevance"))
            if rows is not None
            else None
        )

    @staticmethod
    def _row(p: dict[str, Any]) -> Any:
        from judgecache.distill.memory import MemoryRow, pair_key

        return MemoryRow(pair_key(p["query"], p["doc"]), p["query"], p["doc"], p["grade"])

    def base(self, query: str, docs: Sequence[str]) -> np.ndarray:
        z = self.predictor.predict([(query, d) for d in docs]).logits
        return np.asarray(z[:, self.predictor.pos], dtype=np.float64)

    def learn(self, pairs: Sequence[dict[str, Any]]) -> None:
        for p in pairs:
            self.source.add(self._row(p))

    def answer(
        self, batch: Sequence[dict[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """P(relevant) per pair (memory where it can, else the memory's recalibrated fallback
        for a one-class query, else the student's own), the student's alone, and per pair whether
        the memory answered and whether it got the recalibrated fallback."""
        pred = self.predictor.predict([(p["query"], p["doc"]) for p in batch])
        alone = np.asarray(pred.prob, dtype=np.float64)
        prob = alone.copy()
        used, recalibrated = np.zeros(len(batch), bool), np.zeros(len(batch), bool)
        if self.memory is None:
            return prob, alone, used, recalibrated
        by_q: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(batch):
            by_q[p["query"]].append(i)
        for q, idx in by_q.items():
            ans = self.memory.predict(
                q, [batch[i]["doc"] for i in idx], base=pred.logits[idx, self.predictor.pos]
            )
            # What `student:PATH?memory=` serves: the recalibrated fallback too (a one-class
            # query's own-probability is over-confident; see judgecache.distill.memory).
            prob[idx] = np.where(ans.used | ans.recalibrated, ans.prob, alone[idx])
            used[idx], recalibrated[idx] = ans.used, ans.recalibrated
        return prob, alone, used, recalibrated


def avoided_at(prob: np.ndarray, truth: np.ndarray, level: float = 0.95) -> float:
    """Looking back with the labels: the share of calls avoided when escalating in the policy's own
    order (least confident first) just until the week's *actual* agreement reaches ``level``."""
    wrong = (prob >= 0.5) != truth
    order = np.argsort(np.minimum(prob, 1 - prob), kind="mergesort")[::-1]
    left = wrong.sum() - np.concatenate([[0], np.cumsum(wrong[order])])
    k = int(np.argmax(1 - left / prob.size >= level))
    return round(1 - k / prob.size, 4)


def make_audit_policy(args: argparse.Namespace, seed: int) -> Any:
    from judgecache.cascade.audit import AuditPolicy

    return AuditPolicy(
        target=args.audit_target, rate=args.audit_rate, min_audit=args.audit_min,
        max_audit=args.audit_max, confidence=args.audit_confidence, window=args.audit_window,
        seed=seed, fitted_target=args.target,
    )  # fmt: skip


def audit_reliability(
    weeks: list[list[dict[str, Any]]], student0: Path, embed: Embed, args: argparse.Namespace
) -> dict[str, Any]:
    """The audited rule on the frozen student's weeks, over ``--audit-reps`` audit seeds.

    One bench run is one draw of each week's audit; the frozen student's probabilities do not
    depend on what was bought, so the audit alone can be replayed with many seeds (no retraining)
    to show how often a week holds 0.95 and what that costs, beside the label-free rule.
    """
    from judgecache.cascade.audit import Overconfidence, escalate_until, run_batch

    student = Student(student0, embed, None)
    probs = [student.answer(batch)[0] for batch in weeks]
    truths = [np.asarray([p["grade"] >= POS for p in batch]) for batch in weeks]
    agree = np.zeros((args.audit_reps, len(weeks)))
    avoided = np.zeros_like(agree)
    for r in range(args.audit_reps):
        policy = make_audit_policy(args, r)
        history: list[Overconfidence] = []
        for w, (prob, truth) in enumerate(zip(probs, truths, strict=True)):
            res = run_batch(prob, truth.__getitem__, policy, history, batch=w + 1)
            history.append(res.tally)
            agree[r, w] = (res.decisions(prob) == truth).mean()
            avoided[r, w] = res.avoided
    label_free = []
    for prob, truth in zip(probs, truths, strict=True):
        esc = escalate_until(prob, args.target)
        decided = np.where(esc, truth, prob >= 0.5)
        label_free.append({"avoided": 1 - esc.mean(), "agreement": (decided == truth).mean()})
    return {
        "reps": args.audit_reps,
        "agreement_mean": agree.mean(0).round(4).tolist(),
        "p_week_at_095": (agree >= 0.95).mean(0).round(3).tolist(),
        "p_all_weeks_at_095": round(float((agree >= 0.95).all(1).mean()), 3),
        "avoided_mean": avoided.mean(0).round(4).tolist(),
        "label_free": [{k: round(float(v), 4) for k, v in x.items()} for x in label_free],
    }


def simulate(
    policy: str,
    weeks: list[list[dict[str, Any]]],
    student0: Path,
    memory_seed: list[dict[str, Any]],
    dl19: list[dict[str, Any]],
    embed: Embed,
    args: argparse.Namespace,
    budget: Sequence[int] | None,
) -> list[dict[str, Any]]:
    import shutil

    from judgecache.cascade.audit import Overconfidence, escalate_until, run_batch
    from judgecache.distill.refresh import KEPT, RefreshOptions, refresh_student

    for old in OUT.glob(f"{policy}-w*"):
        shutil.rmtree(old)  # refreshed students of an earlier run
    learns = not policy.startswith("frozen")
    retrains = policy in ("teach", "audit", "audit-new", "random")
    bought: list[dict[str, Any]] = []
    student = Student(student0, embed, memory_seed if learns else None)
    rng = np.random.default_rng(args.seed + 1)
    audit_policy = make_audit_policy(args, args.seed)
    history: list[Overconfidence] = []
    out = []
    for w, batch in enumerate(weeks, start=1):
        t0 = time.perf_counter()
        prob, alone, used, recalibrated = student.answer(batch)
        truth = np.asarray([p["grade"] >= POS for p in batch])
        audit = None
        if policy in AUDITED:
            fitted = None
            if policy == "audit-new":  # the memory's pairs, and (default) its one-class map's
                fitted = used | recalibrated if args.fitted == "memory+recalibrated" else used
            audit = run_batch(prob, truth.__getitem__, audit_policy, history, w, fitted=fitted)
            history.append(audit.tally)
            chosen = np.asarray(sorted(audit.labels), dtype=np.intp)
        elif policy == "random":
            chosen = rng.choice(len(batch), budget[w - 1] if budget else 0, replace=False)
        else:
            chosen = np.flatnonzero(escalate_until(prob, args.target))
        n_esc = len(chosen)
        decided = prob >= 0.5
        decided[chosen] = truth[chosen]
        new = [batch[i] for i in chosen]
        bought += new
        if learns:
            student.learn(new)  # the teacher's labels land in the cache the memory reads
        row: dict[str, Any] = {
            "week": w,
            "pairs": len(batch),
            "teacher_calls": int(n_esc),
            "avoided": round(1 - n_esc / len(batch), 4),
            "agreement": round(float((decided == truth).mean()), 4),
            "student_alone_agreement": round(float(((alone >= 0.5) == truth).mean()), 4),
            "avoided_at_095": avoided_at(prob, truth),
            "memory_answered": round(used.mean(), 4),
            "fallback_recalibrated": round(recalibrated.mean(), 4),
            "student": student.path.name,
        }
        if audit is not None:
            est = audit.estimate
            lo, hi = est.interval
            row["audit"] = {
                "audited": len(audit.audited),
                "topped_up": audit.topped_up,
                "escalated": int(audit.escalated.sum()),
                "ratio_before": round(audit.ratio_before, 3),
                "ratio_after": round(audit.ratio_after, 3),
                "audit_ratio": round(audit.tally.ratio, 3),
                "estimate": round(est.agreement, 4),
                "low": round(lo, 4),
                "high": round(hi, 4),
                "expected": round(est.expected, 4),
                "fitted": int(audit.fitted.sum()),
                "fitted_expected": None
                if math.isnan(fe := audit.fitted_expected)
                else round(fe, 4),
                "audit_kept": est.audit_kept,
                "audit_disagreements": est.audit_disagreements,
            }
        if retrains and w < len(weeks):
            labels = write_labels(OUT / f"{policy}-labels.jsonl", dl19 + bought)
            opts = RefreshOptions(
                max_steps=args.steps, max_examples=args.refresh_examples, max_calib_old=300,
                bootstrap=500, seed=args.seed + w, progress=False,
            )  # fmt: skip
            res = refresh_student(student.path, str(labels), opts, output=OUT / f"{policy}-w{w}")
            d = res.delta.get(res.metric, {})
            row["refresh"] = {
                "status": res.status,
                "metric": res.metric,
                "delta": d,
                "counts": res.counts,
                "seconds": res.seconds,
            }
            if res.status == KEPT and res.output:
                student = Student(Path(res.output), embed, memory_seed + bought)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps({"policy": policy, **row}), flush=True)
        out.append(row)
    return out


def world(
    args: argparse.Namespace,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """DL19's pairs, the memory's DL19 seed and the DL20 weeks (seeded); the DL19 student too."""
    pairs = load_pairs()
    dl19 = [p for p in pairs if p["qid"].startswith("19:")]
    dl20 = [p for p in pairs if p["qid"].startswith("20:")]
    student0 = OUT / "student"
    if not (student0 / "student.json").is_file():
        took = train_student(dl19, student0, args.train_examples)
        print(f"distilled the DL19 student in {took:.0f} s", flush=True)
    # The cache's DL19 labels the memory holds from the start (they fit its combiner; they say
    # nothing about DL20's queries): a seeded few per query, to bound the student's scoring.
    rnd = random.Random(args.seed)
    by_q: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in dl19:
        by_q[p["qid"]].append(p)
    memory_seed = [
        p
        for q in sorted(by_q)
        for p in rnd.sample(by_q[q], min(len(by_q[q]), args.memory_per_query))
    ]
    sample = rnd.sample(dl20, min(args.dl20_pairs, len(dl20)))
    week_of = np.random.default_rng(args.seed).integers(0, args.weeks, len(sample))
    weeks = [[p for p, k in zip(sample, week_of, strict=True) if k == w] for w in range(args.weeks)]
    return dl19, memory_seed, weeks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--dl20-pairs", type=int, default=2000, help="DL20 sample (bounded CPU)")
    ap.add_argument("--target", type=float, default=0.965, help="expected agreement per week")
    ap.add_argument("--audit-target", type=float, default=0.95, help="corrected, audited policies")
    ap.add_argument("--audit-rate", type=float, default=0.05, help="share of kept pairs audited")
    ap.add_argument("--audit-min", type=int, default=20)
    ap.add_argument("--audit-max", type=int, default=200)
    ap.add_argument("--audit-confidence", type=float, default=0.8, help="0.5: point ratio")
    ap.add_argument("--audit-window", type=int, default=2, help="latest audits pooled")
    ap.add_argument(
        "--fitted",
        choices=("memory+recalibrated", "memory"),
        default="memory+recalibrated",
        help="audit-new: pairs kept off the audit (the one-class map's too, or the memory's only)",
    )
    ap.add_argument("--audit-reps", type=int, default=200, help="audit seeds, frozen student")
    ap.add_argument("--steps", type=int, default=20, help="LoRA steps per weekly refresh")
    ap.add_argument("--refresh-examples", type=int, default=400)
    ap.add_argument("--train-examples", type=int, default=800, help="DL19 student training pairs")
    ap.add_argument("--memory-per-query", type=int, default=25, help="DL19 labels per query")
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--result", type=Path, default=OUT / "result.json", help="JSON written here")
    args = ap.parse_args()
    require_data()
    import torch

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    dl19, memory_seed, weeks = world(args)
    student0 = OUT / "student"
    embed = Embed()
    result: dict[str, Any] = {"args": {**vars(args), "result": str(args.result)}, "policies": {}}
    for policy in args.policies.split(","):
        budget = None
        if policy == "random":  # the same weekly budget as the audited cascade (else teach)
            done = result["policies"]
            paid = next((p for p in ("audit", "audit-new", "teach") if p in done), None)
            if paid is None:
                sys.exit("--policies: random needs audit, audit-new or teach before it")
            budget = [w["teacher_calls"] for w in done[paid]]
        result["policies"][policy] = simulate(
            policy, weeks, student0, memory_seed, dl19, embed, args, budget
        )
    if args.audit_reps:
        result["audit_reliability"] = audit_reliability(weeks, student0, embed, args)
    result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=1))
    print_tables(result)


def print_tables(result: dict[str, Any]) -> None:
    for policy, weeks in result["policies"].items():
        print(f"\n== {policy}")
        print(
            "week  pairs  calls  avoided  agreement  alone  avoid@.95  memory  recal  refresh / audit"
        )
        for w in weeks:
            r = w.get("refresh")
            note = "-"
            if r:
                d = r["delta"]
                ci = f"{d['value']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]" if d else ""
                note = f"{r['status']} {ci}"
            if a := w.get("audit"):
                note += (
                    f"  audit {a['audited']} (+{a['topped_up']} top-up), ratio "
                    f"{a['ratio_before']:.2f}->{a['ratio_after']:.2f}, estimate "
                    f"{a['estimate']:.3f} [{a['low']:.3f}, {a['high']:.3f}]"
                )
            print(
                f"{w['week']:>4}  {w['pairs']:>5}  {w['teacher_calls']:>5}  {w['avoided']:>7.1%}  "
                f"{w['agreement']:>9.3f}  {w['student_alone_agreement']:>5.3f}  "
                f"{w['avoided_at_095']:>9.1%}  "
                f"{w['memory_answered']:>6.1%}  {w['fallback_recalibrated']:>5.1%}  {note}"
            )
    if rel := result.get("audit_reliability"):
        print(f"\n== frozen-audit over {rel['reps']} audit seeds (label-free rule beside it)")
        print("week  agreement  P(>=0.95)  avoided   | label-free: agreement  avoided")
        for w, lf in enumerate(rel["label_free"]):
            print(
                f"{w + 1:>4}  {rel['agreement_mean'][w]:>9.3f}  {rel['p_week_at_095'][w]:>9.2f}  "
                f"{rel['avoided_mean'][w]:>7.1%}   |  {lf['agreement']:>20.3f}  {lf['avoided']:>7.1%}"
            )
        print(f"every week >= 0.95: {rel['p_all_weeks_at_095']:.2f} of the seeds")
    print(f"\nwall {result['wall_seconds']:.0f} s; details in {result['args']['result']}")


if __name__ == "__main__":
    main()
