"""Cascade benchmark on held-out TREC DL pairs with a replay teacher (GPT-4o UMBRELA labels).

What it measures, in one run:

1. Band from a target: on DL19 calibration pairs, the least-escalating band whose disagreement
   with GPT-4o over ALL pairs is <= 0.05 with 95% confidence (Clopper-Pearson; Bonferroni over
   the bands checked, and fixed-sequence testing side by side); plus escalation-budget bands
   (10%..50%) with their expected disagreement. Each band is then applied to held-out DL20.
2. The cascade on held-out DL20 pairs (other queries) with the certified band, or with
   ``--band-target budget --max-escalation X``: the real CascadeTeacher, the student in
   one batched pass, escalations through a diskcache-backed replay Judge, every decision in a
   production log. Reported: share of teacher calls avoided, agreement with GPT-4o over all pairs,
   $ saved (gpt-4o prices, token estimate), and a rerun that must make zero teacher calls.
3. Cascade Saturation: the DL20 pairs split into two "weeks"; in week 2 the student is made
   overconfident (a share of pairs, chosen by hash, get a confident probability unrelated to the
   pair, drawn from the student's own score distribution). Escalation rate and mean confidence
   stay flat; 200 teacher labels sampled from the KEPT pairs show the break.

Student: a distilled student directory (``--student PATH``) trained on DL19 only with this
benchmark's fit + calibration pool held out (``bench/distill_relevance.py --years 19
--exclude-cascade-pool``; checked through its bench_provenance.json), else -- said clearly in the
output -- the zero-shot MiniLM embedding cosine (judgecache.distill.embedding) Platt-calibrated on
a separate DL19 split.

Usage::

    python bench/cascade_bench.py                      # ~5 min on 2 shared CPU cores, cached after
    python bench/cascade_bench.py --n-cal 1500 --n-test 2500 --out runs/cascade-bench
    # with a distilled student (see bench/distill_relevance.py) and a 30% escalation budget
    python bench/cascade_bench.py --student runs/cascade-student --band-target budget
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, cascade_pool, load_grades, require_data, sample_pairs, trec_files

from judgecache import Judge
from judgecache.cascade import (
    band_for_budget,
    band_for_disagreement,
    kept_target,
    save_selection,
)
from judgecache.cascade.selection import BandSelection, NoQualifyingBandError
from judgecache.drift.cascade_health import cascade_health
from judgecache.drift.cascade_routes import PeriodRoutes, cascade_stats
from judgecache.drift.log import ProductionLog
from judgecache.judges.cascade import CascadeTeacher
from judgecache.judges.rubric import Rubric, get_rubric
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.judges.teachers.replay import ReplayTeacher
from judgecache.keys import JudgeIdentity

RELEVANCE = get_rubric("relevance")
Pair = tuple[str, str]


# ------------------------------------------------------------------------------------ data


def unit_hash(pair: Pair, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}|{pair[0]}|{pair[1]}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# --------------------------------------------------------------------------------- students


def check_student(path: Path, seed: int, pool: int) -> str:
    """Refuse a student that saw the benchmark's pairs: it must say (bench_provenance.json) that it
    was trained on DL19 only, with this benchmark's fit + calibration pool held out."""
    prov_file = path / "bench_provenance.json"
    if not prov_file.is_file():
        raise SystemExit(
            f"{prov_file} is missing: train the student with bench/distill_relevance.py --years 19 "
            "--exclude-cascade-pool so the cascade is measured on pairs it never saw"
        )
    prov = json.loads(prov_file.read_text())
    held = prov.get("cascade_pool") or {}
    if prov.get("years") != ["19"] or held.get("seed") != seed or held.get("n", 0) < pool:
        raise SystemExit(
            f"{path} was not trained on DL19 with this benchmark's pool (seed {seed}, "
            f"{pool} pairs) held out: {prov}"
        )
    return f"distilled student {path} (DL19 only, cascade pool held out)"


class PlattEmbeddingStudent(Teacher):
    """Zero-shot MiniLM cosine (cached behind a Judge), Platt-calibrated on held-out labels."""

    def __init__(self, embed: Judge, a: float, b: float) -> None:
        self.embed = embed
        self.a, self.b = a, b
        self.identity = JudgeIdentity("embedding-platt", embed.name, f"{a:.6f},{b:.6f}")

    @property
    def batched(self) -> bool:
        return True

    def cosines(self, pairs: Sequence[Pair]) -> np.ndarray[Any, np.dtype[np.float64]]:
        verdicts = self.embed.score_many(pairs)
        return np.array([json.loads(v.raw_output)["cosine"] for v in verdicts], dtype=np.float64)

    def prob(
        self, cos: np.ndarray[Any, np.dtype[np.float64]]
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.asarray(1.0 / (1.0 + np.exp(-(self.a * cos + self.b))), dtype=np.float64)

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        out = self.judge_batch(rubric, [inputs])[0]
        if isinstance(out, BaseException):
            raise out
        return out

    def judge_batch(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[TeacherAnswer | BaseException]:
        pairs = [(x["query"], x["doc"]) for x in batch]
        probs = self.prob(self.cosines(pairs))
        return [answer(rubric, float(p)) for p in probs]


def answer(rubric: Rubric, p: float) -> TeacherAnswer:
    # Binary view is what the cascade decides on: grade 2 for positive, 0 for negative.
    label = rubric.positive_from if p >= 0.5 else rubric.labels[0]
    return TeacherAnswer(label=label, raw_output=json.dumps({"p": round(p, 6)}), score=p)


class OverconfidentStudent(Teacher):
    """The same student, except a ``share`` of pairs (by hash) get a confident probability drawn
    from the student's own score distribution but unrelated to the pair."""

    def __init__(
        self, base: Teacher, reference: np.ndarray[Any, np.dtype[np.float64]], share: float
    ) -> None:
        self.base = base
        self.reference = np.sort(reference)
        self.share = share
        self.identity = JudgeIdentity("overconfident", str(base.identity), f"{share}")

    @property
    def batched(self) -> bool:
        return True

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        out = self.judge_batch(rubric, [inputs])[0]
        if isinstance(out, BaseException):
            raise out
        return out

    def judge_batch(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[TeacherAnswer | BaseException]:
        out: list[TeacherAnswer | BaseException] = []
        for x, a in zip(batch, self.base.judge_batch(rubric, batch), strict=True):
            pair = (x["query"], x["doc"])
            if isinstance(a, BaseException) or unit_hash(pair, "pick") >= self.share:
                out.append(a)
                continue
            q = unit_hash(pair, "value")
            p = float(self.reference[min(len(self.reference) - 1, int(q * len(self.reference)))])
            out.append(answer(rubric, p))
        return out


# ------------------------------------------------------------------------------- measures


def evaluate_band(
    sel: BandSelection, p: np.ndarray[Any, Any], s: np.ndarray[Any, Any], t: np.ndarray[Any, Any]
) -> dict[str, float]:
    """A band applied to held-out arrays: escalation, kept disagreement, agreement over all."""
    esc = sel.band.mask(p)
    kept = ~esc
    dis = (s != t) & kept
    return {
        "escalation_rate": float(esc.mean()),
        "avoided": float(kept.mean()),
        "kept_disagreement": float(dis.sum() / max(kept.sum(), 1)),
        "agreement_all": float(1.0 - dis.mean()),
    }


def run_week(
    cascade: CascadeTeacher,
    pairs: Sequence[Pair],
    teacher: Mapping[Pair, int],
    label: str,
    seed: int,
    n_labels: int = 300,
) -> tuple[PeriodRoutes, dict[str, Any]]:
    out = cascade.judge_batch(RELEVANCE, [{"query": q, "doc": d} for q, d in pairs])
    rows = [(pr, a) for pr, a in zip(pairs, out, strict=True) if isinstance(a, TeacherAnswer)]
    kept = [(pr, a) for pr, a in rows if a.meta["route"] == "kept"]
    esc = [(pr, a) for pr, a in rows if a.meta["route"] == "escalated"]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(kept), size=min(n_labels, len(kept)), replace=False)
    ks = [RELEVANCE.is_positive(kept[i][1].label) for i in pick]
    kt = [teacher[kept[i][0]] >= 2 for i in pick]
    es = [float(a.meta["student_probability"]) >= 0.5 for _, a in esc]
    et = [RELEVANCE.is_positive(RELEVANCE.coerce_label(a.meta["teacher_label"])) for _, a in esc]
    routes = PeriodRoutes(label, len(rows), len(kept), len(esc))
    facts = {
        "mean_confidence": float(np.mean([abs((a.score or 0.0) - 0.5) for _, a in rows])),
        "kept_s": ks,
        "kept_t": kt,
        "esc_s": es,
        "esc_t": et,
        "true_kept_disagreement": float(
            np.mean([RELEVANCE.is_positive(a.label) != (teacher[pr] >= 2) for pr, a in kept])
        ),
        "agreement_all": float(
            np.mean([RELEVANCE.is_positive(a.label) == (teacher[pr] >= 2) for pr, a in rows])
        ),
    }
    return routes, facts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--student",
        help="a distilled student directory trained with --years 19 --exclude-cascade-pool "
        "(default: the zero-shot embedding)",
    )
    ap.add_argument("--n-fit", type=int, default=600, help="DL19 pairs to Platt-fit the embedding")
    ap.add_argument("--n-cal", type=int, default=1500, help="DL19 pairs to choose the band on")
    ap.add_argument("--n-test", type=int, default=2500, help="held-out DL20 pairs")
    ap.add_argument("--alpha", type=float, default=0.05, help="disagreement target over all pairs")
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument(
        "--band-target",
        choices=["disagreement", "budget"],
        default="disagreement",
        help="the cascade's band: certified disagreement over all pairs <= --alpha, or an "
        "escalation budget (--max-escalation)",
    )
    ap.add_argument("--max-escalation", type=float, default=0.3)
    ap.add_argument("--correction", choices=["bonferroni", "fixed_sequence"], default="bonferroni")
    ap.add_argument(
        "--overconfident-shares",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[0.25, 0.5, 0.75, 1.0],
        help="shares of pairs given confident but unrelated probabilities in week 2",
    )
    ap.add_argument(
        "--kept-alpha",
        type=float,
        default=0.1,
        help="kept-pair disagreement target of the band watched for saturation",
    )
    ap.add_argument(
        "--labels", type=int, default=200, help="teacher labels sampled from kept pairs a week"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=str(REPO / "runs" / "cascade-bench"))
    args = ap.parse_args()
    require_data()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    dl19, dl20 = load_grades("19"), load_grades("20")
    pool19 = cascade_pool(args.seed, args.n_fit + args.n_cal)
    fit, cal = pool19[: args.n_fit], pool19[args.n_fit :]
    test = sample_pairs(sorted(dl20), args.n_test, args.seed + 1)

    student_dir = Path(args.student) if args.student else None
    if student_dir is not None:
        from judgecache.distill.student import StudentTeacher

        student_kind = check_student(student_dir, args.seed, args.n_fit + args.n_cal)
        student: Teacher = StudentTeacher(student_dir)
        band_home = student_dir
    else:
        from judgecache.distill.embedding import EmbeddingTeacher

        embed = Judge(
            EmbeddingTeacher(), cache=f"diskcache://{out / 'embedding-cache'}", batch_size=256
        )
        base = PlattEmbeddingStudent(embed, 1.0, 0.0)
        cos_fit = base.cosines(fit)
        y_fit = np.array([dl19[pr] >= 2 for pr in fit], dtype=float)
        from judgecache.distill.calibrate import fit_calibrator

        platt = fit_calibrator(cos_fit, y_fit, method="platt")
        student = PlattEmbeddingStudent(embed, platt.a, platt.b)
        student_kind = (
            "FALLBACK: zero-shot all-MiniLM-L6-v2 embedding cosine, Platt-calibrated on "
            f"{len(fit)} DL19 pairs (no distilled student found)"
        )
        band_home = out / "student-embedding-platt"
    print(f"student: {student_kind}", flush=True)

    def student_view(pairs: Sequence[Pair]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Calibrated probabilities and the student's own binary decisions (what a kept pair gets)."""
        ans = student.judge_batch(RELEVANCE, [{"query": q, "doc": d} for q, d in pairs])
        ok = [a for a in ans if isinstance(a, TeacherAnswer)]
        if len(ok) != len(pairs):
            raise SystemExit(f"the student failed on {len(pairs) - len(ok)} pairs")
        probs = np.array([a.score for a in ok], dtype=np.float64)
        return probs, np.array([RELEVANCE.is_positive(a.label) for a in ok])

    t_score = time.perf_counter()
    p_cal, s_cal = student_view(cal)
    p_test, s_test = student_view(test)
    score_s = time.perf_counter() - t_score
    t_cal = np.array([dl19[pr] >= 2 for pr in cal])
    t_test = np.array([dl20[pr] >= 2 for pr in test])
    source = {"calibration": f"DL19 GPT-4o UMBRELA, {len(cal)} pairs", "student": student_kind}

    # 1. Bands from targets (calibration data only), checked on held-out DL20.
    def certified(correction: str) -> BandSelection:
        return band_for_disagreement(
            p_cal,
            s_cal,
            t_cal,
            alpha=args.alpha,
            confidence=args.confidence,
            min_kept=200,
            scope="all",
            correction=correction,  # type: ignore[arg-type]
            source=source,
        )

    corrections = []
    for correction in ("bonferroni", "fixed_sequence"):
        try:
            sel = certified(correction)
            corrections.append(
                {
                    "correction": correction,
                    "band": str(sel.band),
                    "cal_escalation": sel.escalation_rate,
                    "cal_upper": sel.disagreement_upper,
                    "checked": sel.candidates_checked,
                    "test": evaluate_band(sel, p_test, s_test, t_test),
                }
            )
        except NoQualifyingBandError as exc:
            corrections.append({"correction": correction, "refused": str(exc)})
    refusal = None
    if args.band_target == "budget":
        main_sel = band_for_budget(
            p_cal,
            s_cal,
            t_cal,
            max_escalation=args.max_escalation,
            confidence=args.confidence,
            source=source,
        )
    else:
        try:
            main_sel = certified(args.correction)
        except NoQualifyingBandError as exc:
            # The data cannot certify the target: say so, and run the budget band instead.
            refusal = str(exc)
            print(f"target refused: {refusal}", flush=True)
            main_sel = band_for_budget(
                p_cal,
                s_cal,
                t_cal,
                max_escalation=args.max_escalation,
                confidence=args.confidence,
                source=source,
            )
    saved_at = save_selection(main_sel, band_home)
    budgets = []
    for x in (0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        sel = band_for_budget(p_cal, s_cal, t_cal, max_escalation=x, confidence=args.confidence)
        budgets.append(
            {
                "max_escalation": x,
                "band": str(sel.band),
                "cal_escalation": sel.escalation_rate,
                "cal_kept_disagreement": sel.kept_disagreement,
                "cal_kept_upper": sel.kept_disagreement_upper,
                "cal_agreement_all": sel.overall_agreement,
                "test": evaluate_band(sel, p_test, s_test, t_test),
            }
        )

    # 2. The real cascade on DL20: replay teacher behind a fresh diskcache, production log.
    qrels, topics, coll = trec_files("20")
    replay = ReplayTeacher.from_trec(qrels, topics, coll)
    cache_dir = out / f"teacher-cache-{int(time.time())}"
    teacher_judge = Judge(replay, cache=f"diskcache://{cache_dir}")
    log = ProductionLog("memory://")
    cascade = CascadeTeacher(student, teacher_judge, main_sel)
    judge = Judge(cascade, cache="memory://", production_log=log, batch_size=512)
    t_run = time.perf_counter()
    verdicts = judge.score_many(test)
    run_s = time.perf_counter() - t_run
    first = cascade.stats()
    labels = np.array([RELEVANCE.is_positive(v.label) for v in verdicts])
    graded = np.array([v.label == dl20[pr] for v, pr in zip(verdicts, test, strict=True)])
    rerun = CascadeTeacher(
        student,
        Judge(ReplayTeacher.from_trec(qrels, topics, coll), cache=f"diskcache://{cache_dir}"),
        main_sel,
    )
    rerun.judge_batch(RELEVANCE, [{"query": q, "doc": d} for q, d in test])
    stats = cascade_stats(list(log.iter_entries()), rubric=RELEVANCE, price_model="gpt-4o")
    cascade_result = {
        "band": main_sel.band.to_dict(),
        "calibration": {
            "escalation_rate": main_sel.escalation_rate,
            "disagreement_all_upper": main_sel.disagreement_upper,
            "candidates_checked": main_sel.candidates_checked,
            "agreement_all": main_sel.overall_agreement,
        },
        "test_pairs": len(test),
        "teacher_calls": first["teacher_calls"],
        "teacher_calls_avoided": first["teacher_calls_avoided"],
        "avoided_share": first["teacher_calls_avoided"] / first["scored"],
        "agreement_all_binary": float(np.mean(labels == t_test)),
        "agreement_all_graded_exact": float(np.mean(graded)),
        "student_alone_agreement": float(np.mean(s_test == t_test)),
        "rerun_teacher_calls": rerun.stats()["teacher_calls"],
        "rerun_teacher_cached": rerun.stats()["teacher_cached"],
        "saved_usd_gpt4o_estimate": stats["total"]["saved_usd"],
        "log_entries": stats["total"]["pairs"],
        "cascade_seconds": run_s,
    }

    # 3. Saturation, watched on a band certified for "disagreement on KEPT pairs <= kept_alpha":
    # week 1 healthy, week 2 an overconfident student; same band, same teacher, 200 kept labels.
    sat_sel = band_for_disagreement(
        p_cal,
        s_cal,
        t_cal,
        alpha=args.kept_alpha,
        confidence=args.confidence,
        min_kept=200,
        scope="kept",
        source=source,
    )
    half = len(test) // 2
    week1, week2 = test[:half], test[half:]
    target = kept_target(sat_sel)
    healthy = CascadeTeacher(student, teacher_judge, sat_sel)
    r1, f1 = run_week(healthy, week1, dl20, "week-1", 1, args.labels)
    r2_healthy, f2_healthy = run_week(healthy, week2, dl20, "week-2-healthy", 2, args.labels)
    runs = [
        ("week 1 (healthy)", [r1], f1),
        ("week 2 (healthy control)", [r1, r2_healthy], f2_healthy),
    ]
    for share in args.overconfident_shares:
        broken = CascadeTeacher(OverconfidentStudent(student, p_cal, share), teacher_judge, sat_sel)
        r2, f2 = run_week(broken, week2, dl20, "week-2", 2, args.labels)
        runs.append((f"week 2 (overconfident on {share:.0%})", [r1, r2], f2))
    weeks = {}
    for name, routes, facts in runs:
        h = cascade_health(
            routes,
            facts["kept_s"],
            facts["kept_t"],
            kept_target=target,
            expected_escalation=sat_sel.escalation_rate,
            escalated_student=facts["esc_s"],
            escalated_teacher=facts["esc_t"],
            confidence=args.confidence,
            band=sat_sel.band.to_dict(),
        )
        weeks[name] = {
            "escalation_rate": routes[-1].escalation_rate,
            "mean_confidence": facts["mean_confidence"],
            "kept_disagreement_sampled": h["kept_disagreement"],
            "kept_disagreement_true": facts["true_kept_disagreement"],
            "agreement_all_true": facts["agreement_all"],
            "escalated_teacher_overturned": h["escalated_stratum"]["teacher_overturned"],
            "status": h["status"],
            "saturation_fired": h["saturation"]["fired"],
            "escalation_flat": h["saturation"]["escalation_flat"],
        }

    result = {
        "student": student_kind,
        "student_scoring_seconds": score_s,
        "pairs": {"fit": len(fit), "calibration": len(cal), "test": len(test)},
        "target": main_sel.target,
        "target_refused": refusal,
        "certified_bands": corrections,
        "band_saved_at": str(saved_at),
        "cascade": cascade_result,
        "budgets": budgets,
        "saturation": {
            "band": str(sat_sel.band),
            "target": sat_sel.target,
            "calibration_escalation": sat_sel.escalation_rate,
            "labels_per_week": args.labels,
            "kept_target": target,
            "weeks": weeks,
        },
        "total_seconds": time.perf_counter() - t0,
    }
    (out / "cascade_bench.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(render(result))


def render(r: dict[str, Any]) -> str:
    c = r["cascade"]
    lines = [
        f"student: {r['student']}",
        f"pairs: {r['pairs']}; target: {r['target']}",
        f"target refused: {r['target_refused']}" if r["target_refused"] else "band chosen",
        f"band {c['band']} (calibration: escalation {c['calibration']['escalation_rate']:.3f}, "
        f"bound on disagreement over all pairs {c['calibration']['disagreement_all_upper']:.4f}, "
        f"{c['calibration']['candidates_checked']} bands checked)",
        f"DL20 held-out: avoided {c['avoided_share']:.3f} of teacher calls "
        f"({c['teacher_calls_avoided']} of {c['test_pairs']}), agreement with GPT-4o over all pairs "
        f"{c['agreement_all_binary']:.4f} (student alone {c['student_alone_agreement']:.4f}); "
        f"graded exact {c['agreement_all_graded_exact']:.4f}",
        f"teacher calls {c['teacher_calls']}; rerun: {c['rerun_teacher_calls']} calls, "
        f"{c['rerun_teacher_cached']} cache hits; est. saved ${c['saved_usd_gpt4o_estimate']:.4f} (gpt-4o)",
        "",
        "| certified (disagreement over all <= alpha) | band | cal. escalation | cal. bound | bands checked | DL20 avoided | DL20 agreement (all) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {b['correction']} | {b['band']} | {b['cal_escalation']:.3f} | {b['cal_upper']:.4f} "
            f"| {b['checked']} | {b['test']['avoided']:.3f} | {b['test']['agreement_all']:.4f} |"
            if "band" in b
            else f"| {b['correction']} | refused: {b['refused']} | | | | | |"
            for b in r["certified_bands"]
        ],
        "",
        "| max escalation | band | cal. kept dis. (upper) | DL20 escalation | DL20 avoided | DL20 agreement (all) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for b in r["budgets"]:
        t = b["test"]
        lines.append(
            f"| {b['max_escalation']:.0%} | {b['band']} | {b['cal_kept_disagreement']:.3f} ({b['cal_kept_upper']:.3f}) "
            f"| {t['escalation_rate']:.3f} | {t['avoided']:.3f} | {t['agreement_all']:.4f} |"
        )
    lines += [
        "",
        "| week | escalation | mean confidence | kept dis. sampled [lo, hi] | kept dis. true | teacher overturned (escalated) | status | saturation |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, w in r["saturation"]["weeks"].items():
        k = w["kept_disagreement_sampled"]
        lines.append(
            f"| {name} | {w['escalation_rate']:.3f} | {w['mean_confidence']:.3f} | {k['estimate']:.3f} "
            f"[{k['lower']:.3f}, {k['upper']:.3f}] | {w['kept_disagreement_true']:.3f} | "
            f"{w['escalated_teacher_overturned']:.3f} | {w['status']} | {'FIRED' if w['saturation_fired'] else 'no'} |"
        )
    sat = r["saturation"]
    lines.append(
        f"(band {sat['band']}: kept disagreement <= {sat['kept_target']:.3f} certified, calibration "
        f"escalation {sat['calibration_escalation']:.3f}; "
        f"{sat['labels_per_week']} kept labels a week; total {r['total_seconds']:.0f}s)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
