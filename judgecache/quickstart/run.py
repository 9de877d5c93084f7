"""The whole judgecache loop, offline, on the embedded diskcache default.

1. Real (query, passage) pairs from the documentation shipped with this Python, and a teacher that is
   clearly better than the student's starting point: recorded labels (the documentation's own
   structure), served by the ``replay:`` teacher exactly as recorded GPT-4o labels would be.
2. The eval judged through the cache, then again: zero teacher calls the second time, and the dollars
   that saved at a named frontier price.
3. A LoRA student distilled from the cached labels, printed beside its zero-shot base with intervals
   and the paired gain over it.
4. The student serving "production" traffic from another part of the docs (a planted shift), its
   decisions logged, and a drift check against the teacher whose verdict is explained.

Why recorded labels: of the bases that install offline by pip, none is clearly better than the
student's own base on these pairs (measured against the documentation's structure: AUC 0.809 for
all-MiniLM-L6-v2, 0.820 for all-mpnet-base-v2 at a fifth of the speed; docs/benchmarks.md), and a
teacher no better than the student's start would teach it nothing.

Example (about 6 minutes on 2 CPU cores; ``small=True`` about 3)::

    from pathlib import Path
    from judgecache.quickstart.run import run_quickstart
    summary = run_quickstart(Path("/tmp/judgecache-quickstart"), small=True)
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from judgecache.judges.judge import Judge
from judgecache.quickstart.compare import compare_judges
from judgecache.quickstart.corpus import library_pairs, reference_pairs, structure_labels
from judgecache.quickstart.explain import describe_comparison, describe_fitted_base, explain_drift
from judgecache.quiet import quiet_libraries

Echo = Callable[[str], None]
DOCS_TEACHER = "docs"
"""The default teacher: the recorded structure labels, written beside the run and replayed."""


@dataclass(frozen=True)
class Sizes:
    """How much work each step does (``small`` is the CI-sized run)."""

    eval_pairs: int
    held_out_pairs: int
    shifted_pairs: int
    train_examples: int
    drift_sample: int
    drift_budget: int
    anchors: int


FULL = Sizes(
    eval_pairs=600,
    held_out_pairs=324,
    shifted_pairs=600,
    train_examples=500,
    drift_sample=240,
    drift_budget=400,
    anchors=60,
)
SMALL = Sizes(
    eval_pairs=420,
    held_out_pairs=240,
    shifted_pairs=260,
    train_examples=160,
    drift_sample=120,
    drift_budget=240,
    anchors=50,
)


def default_dir() -> Path:
    """Where the run goes unless told: beside the user cache, never in the working tree."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "judgecache-quickstart"


def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit="pair", file=sys.stderr, dynamic_ncols=True, leave=False
    )


def _score(judge: Judge, pairs: Sequence[tuple[str, str]], desc: str) -> tuple[list[Any], float]:
    bar = _progress(len(pairs), desc)
    t0 = time.perf_counter()
    verdicts = judge.score_many(pairs, progress=bar.update)
    bar.close()
    return verdicts, time.perf_counter() - t0


@contextmanager
def _quiet_libraries() -> Iterator[None]:
    """Keep library warnings and weight-loading bars out of the user's output for the run."""
    with warnings.catch_warnings():
        quiet_libraries()
        yield


def teacher_spec(judge_spec: str, out: Path) -> str:
    """The teacher's judge spec; ``docs`` writes the recorded structure labels and replays them."""
    if judge_spec != DOCS_TEACHER:
        return judge_spec
    path = out / "docs-structure.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for query, doc, grade in structure_labels():
            f.write(json.dumps({"query": query, "doc": doc, "label": grade}) + "\n")
    return f"replay:{path}"


def distill_config(cache_url: str, judge_name: str, output: Path, sizes: Sizes) -> Any:
    """The quickstart's distillation settings: the relevance defaults, sized for a few minutes."""
    from judgecache.distill.config import DistillConfig

    return DistillConfig.from_dict(
        {
            "labels": cache_url,
            "judge": judge_name,
            "output": str(output),
            "task": "relevance",
            "target": "graded",
            "architecture": "bi",
            "split": {
                "by": "group",
                "val": 0.1,
                "calib": 0.2,
                "test": 0.25,
                "min_examples": 20,
                "max_val_examples": 200,
            },
            "lora": {"r": 16, "alpha": 32, "layers": [3, 4, 5]},
            "train": {
                "epochs": 2,
                "batch_size": 16,
                "lr": 1e-3,
                "max_length": 128,
                "max_train_examples": sizes.train_examples,
                "init_examples": 400,
                "eval_every": 5,
                "lexical": True,
                "maxsim": True,
                "progress": True,
            },
            "eval": {"bootstrap": 200},
        },
        source="quickstart",
    )


def run_quickstart(
    out: Path,
    *,
    judge_spec: str = DOCS_TEACHER,
    small: bool = False,
    price_model: str = "gpt-4o",
    echo: Echo = print,
) -> dict[str, Any]:
    """Run the loop into ``out`` and return (and write to ``out/quickstart.json``) its figures."""
    sizes = SMALL if small else FULL
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with _quiet_libraries():
        run = _Run(out, teacher_spec(judge_spec, out), sizes, price_model, echo)
        run.eval_passes()
        run.distill()
        run.serve_and_compare()
        run.check_drift()
    run.summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    (out / "quickstart.json").write_text(
        json.dumps(run.summary, indent=2, default=str), encoding="utf-8"
    )
    run.files_written()
    return run.summary


class _Run:
    """One quickstart run: each step a method, the figures gathered in ``summary``."""

    def __init__(self, out: Path, teacher: str, sizes: Sizes, price_model: str, echo: Echo):
        self.out, self.teacher, self.sizes = out, teacher, sizes
        self.price_model, self.echo = price_model, echo
        self.cache = f"diskcache://{out / 'cache'}"
        self.summary: dict[str, Any] = {"dir": str(out), "cache": self.cache, "teacher": teacher}
        echo("1/6  building (query, passage) pairs from this Python's documentation ...")
        every = reference_pairs()
        self.eval_pairs = every[: sizes.eval_pairs]
        seen = {q for q, _ in self.eval_pairs}
        self.held_out = [p for p in every if p[0] not in seen][: sizes.held_out_pairs]
        self.shifted = library_pairs(limit=sizes.shifted_pairs)
        echo(
            f"     {len(self.eval_pairs)} eval pairs and {len(self.held_out)} held-out pairs of "
            f"other queries (Language Reference), {len(self.shifted)} shifted pairs "
            "(standard-library docstrings)"
        )
        if teacher.endswith("docs-structure.jsonl"):
            echo(
                "     teacher: recorded labels from the docs' own structure (3 = the section the "
                "query names, 2 = later in it, 1 = a lexically close other section, 0 = any other)"
            )

    def _judge(self, spec: str, tag: str, **kwargs: Any) -> Judge:
        return Judge(
            spec,
            task="relevance",
            cache=self.cache,
            tag=tag,
            price_model=self.price_model,
            **kwargs,
        )

    def _eval_pass(self, desc: str) -> tuple[Judge, dict[str, Any]]:
        """Judge the eval pairs through the cache; print and return what the ledger counted."""
        judge = self._judge(self.teacher, "quickstart-eval")
        _, took = _score(judge, self.eval_pairs, desc)
        totals = judge.ledger.totals(judge.name)
        figures = {
            "teacher_calls": int(totals["calls"]),
            "hits": int(totals["hits"]),
            "seconds": round(took, 2),
            "saved_usd": round(totals["saved_usd"], 6),
        }
        saved = f"; saved ${figures['saved_usd']:.4f} at {self.price_model} list prices"
        self.echo(
            f"     {int(totals['requests'])} pairs, {figures['teacher_calls']} teacher calls, "
            f"{figures['hits']} hits, {took:.1f} s" + (saved if figures["hits"] else "")
        )
        return judge, figures

    def eval_passes(self) -> None:
        """Steps 2 and 3: the eval through the cache, then the same eval again for free."""
        self.echo(f"2/6  eval pass 1: judging with {self.teacher} through {self.cache}")
        judge, first = self._eval_pass("eval pass 1")
        self.echo(
            "3/6  eval pass 2: the same eval again (a dashboard refresh, a rerun, a teammate)"
        )
        _, second = self._eval_pass("eval pass 2")
        self.teacher_name = judge.name
        self.n_labels = judge.store.count()
        self.summary["eval"] = {
            "pairs": len(self.eval_pairs),
            "first_pass": first,
            "second_pass": {**second, "price_model": self.price_model},
        }

    def distill(self) -> None:
        """Step 4: a LoRA student from the cached labels."""
        from judgecache.distill.pipeline import run_distill

        self.echo(
            f"4/6  distilling a LoRA student (all-MiniLM-L6-v2) from the {self.n_labels} cached "
            f"labels of {self.teacher_name}"
        )
        self.student_dir = self.out / "student"
        t0 = time.perf_counter()
        result = run_distill(
            distill_config(self.cache, self.teacher_name, self.student_dir, self.sizes)
        )
        self.summary["distill"] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "output": str(self.student_dir),
            "metrics": headline(result.metrics),
        }
        self.echo(f"     trained and calibrated in {self.summary['distill']['seconds']:.0f} s")
        for line in describe_fitted_base(self.summary["distill"]["metrics"]):
            self.echo(f"     {line}")

    def serve_and_compare(self) -> None:
        """Step 5: the student serves held-out and shifted traffic (logged), and is compared
        with the base model as shipped on the held-out pairs, both against the teacher."""
        from judgecache.drift.log import ProductionLog

        self.echo(
            "5/6  serving the student on held-out queries and on shifted traffic (library "
            "docstrings), every decision logged; the base model as a judge beside it"
        )
        self.ref_log = ProductionLog(self.cache, namespace="traffic-reference")
        self.now_log = ProductionLog(self.cache, namespace="traffic-shifted")
        spec = f"student:{self.student_dir}"
        student = self._judge(spec, "prod", production_log=self.ref_log)
        verdicts, took = _score(student, self.held_out, "student, held-out queries")
        shifted_judge = self._judge(spec, "prod", production_log=self.now_log)
        _, took2 = _score(shifted_judge, self.shifted, "student, shifted traffic")
        base, _ = _score(self._judge("embedding:default", "base"), self.held_out, "base model")
        truth, _ = _score(self._judge(self.teacher, "quickstart-eval"), self.held_out, "teacher")
        comparison = compare_judges(
            [int(v.label) for v in truth],
            {"student": [int(v.label) for v in verdicts], "base": [int(v.label) for v in base]},
        )
        self.echo(
            f"     {comparison['n']} held-out pairs of queries the student never trained on, "
            "agreement with the teacher (weighted kappa):"
        )
        names = {"student": "student (distilled)", "base": "base model as a judge, as shipped"}
        for line in describe_comparison(comparison, names):
            self.echo(f"       {line}")
        served = len(self.held_out) + len(self.shifted)
        cost = frontier_cost([*self.held_out, *self.shifted], self.price_model)
        self.echo(
            f"     the student judged {served} pairs in {took + took2:.0f} s on this machine's CPU, "
            f"no API call; from {self.price_model} they would cost about ${cost:.2f}"
        )
        self.summary["serving"] = {
            "pairs": served,
            "seconds": round(took + took2, 1),
            "teacher_cost_usd": round(cost, 4),
            "held_out_comparison": comparison,
        }

    def check_drift(self) -> None:
        """Step 6: a reference on the held-out traffic, then the weekly check on the shift."""
        from judgecache.drift.checker import make_baseline, run_check
        from judgecache.drift.config import DriftConfig
        from judgecache.drift.render_html import render_html
        from judgecache.drift.render_md import render_markdown

        drift_dir = self.out / "drift"
        cfg = DriftConfig(
            teacher=self.teacher,
            task="relevance",
            cache=self.cache,
            log=self.cache,
            log_namespace="traffic-reference",
            reference=str(drift_dir / "reference.json"),
            report_dir=str(drift_dir / "reports"),
            period="last-7d",
            budget=self.sizes.drift_budget,
            sample_size=self.sizes.drift_sample,
            anchor_count=self.sizes.anchors,
            bootstrap=200,
        )
        teacher = Judge(self.teacher, task="relevance", cache=self.cache, tag="drift")
        self.echo("6/6  drift: a reference on the held-out traffic, then the weekly check ...")
        ref, _, _ = make_baseline(cfg, judge=teacher, log=self.ref_log)
        self.echo(
            f"     reference measured: agreement {ref.agreement:.3f} on {ref.n_labelled} teacher "
            "labels; checking the shifted traffic against it ..."
        )
        check = run_check(
            replace(cfg, log_namespace="traffic-shifted"), judge=teacher, log=self.now_log
        )
        md_path, html_path = drift_dir / "report.md", drift_dir / "report.html"
        md_path.write_text(render_markdown(check.report), encoding="utf-8")
        html_path.write_text(render_html(check.report), encoding="utf-8")
        explanation = explain_drift(ref, check.report, check.verdict)
        self.summary["drift"] = {
            "status": check.verdict.status,
            "reasons": list(check.verdict.reasons),
            "explanation": explanation,
            "teacher_calls": int(teacher.ledger.totals(teacher.name)["calls"]),
            "report_json": str(check.path) if check.path else None,
            "report_md": str(md_path),
            "report_html": str(html_path),
        }
        self.echo(f"     drift verdict on the shifted traffic: {check.verdict.status.upper()}")
        for line in explanation:
            self.echo(f"       {line}")

    def files_written(self) -> None:
        self.echo("")
        self.echo(f"Done in {self.summary['wall_seconds']:.0f} s. Files written:")
        self.echo(f"  cache (diskcache)       {self.out / 'cache'}")
        self.echo(f"  student                 {self.student_dir}  (model card: README.md)")
        self.echo(f"  drift report            {self.summary['drift']['report_html']}")
        self.echo(f"  run summary (JSON)      {self.out / 'quickstart.json'}")
        self.echo(f"Remove it all with: rm -rf {self.out}")


def frontier_cost(pairs: Sequence[tuple[str, str]], model: str) -> float:
    """What judging ``pairs`` with the relevance rubric would cost at ``model``'s list price."""
    from judgecache.judges.rubric import get_rubric
    from judgecache.prices import default_prices

    rubric, prices = get_rubric("relevance"), default_prices()
    return sum(
        prices.estimate_prompt_cost(model, rubric.system + rubric.render({"query": q, "doc": d}))
        for q, d in pairs
    )


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The figures worth printing per held-out split: student, zero-shot base, paired gains."""
    keep = ("n", "accuracy", "binary_kappa", "weighted_kappa", "auc", "ece")
    out: dict[str, Any] = {}
    for split, block in metrics.get("eval", metrics).items():
        if not isinstance(block, dict):
            continue
        row: dict[str, Any] = {}
        for who in ("student", "zero_shot", "zero_shot_cuts"):
            m = block.get(who)
            if isinstance(m, dict):
                row[who] = {k: m[k] for k in keep if k in m}
        if isinstance(block.get("paired_delta"), dict):
            row["paired_delta"] = block["paired_delta"]
        if row:
            out[split] = row
    return out
