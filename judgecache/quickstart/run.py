"""The whole judgecache loop, offline, on the embedded diskcache default.

1. An eval over real text (Python's own documentation) judged by a real local model through the cache.
2. The same eval again: zero teacher calls, and the dollars that saved at a named frontier price.
3. A student distilled from the cached labels, with its metrics beside the base's zero-shot score.
4. The student serving "production" traffic from another part of the docs (a shifted sample), its
   decisions logged, and a drift report comparing student and teacher on that shift.

Example (about 8 minutes on 2 CPU cores; ``small=True`` takes about 4)::

    from pathlib import Path
    from judgecache.quickstart.run import run_quickstart
    summary = run_quickstart(Path("judgecache-quickstart"), small=True)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from judgecache.judges.judge import Judge
from judgecache.quickstart.corpus import library_pairs, reference_pairs

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    """How much work each step does (``small`` is the CI-sized run)."""

    eval_pairs: int | None
    shifted_pairs: int
    train_examples: int
    drift_sample: int
    drift_budget: int
    anchors: int


FULL = Sizes(
    eval_pairs=None,
    shifted_pairs=600,
    train_examples=500,
    drift_sample=240,
    drift_budget=400,
    anchors=60,
)
SMALL = Sizes(
    eval_pairs=420,
    shifted_pairs=260,
    train_examples=160,
    drift_sample=120,
    drift_budget=200,
    anchors=30,
)


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
            "lora": {"r": 8, "alpha": 16, "layers": [4, 5]},
            "train": {
                "epochs": 1,
                "batch_size": 16,
                "lr": 5e-4,
                "max_length": 128,
                "max_train_examples": sizes.train_examples,
                "init_examples": 300,
                "eval_every": 10,
                "progress": True,
            },
            "eval": {"bootstrap": 200},
        },
        source="quickstart",
    )


def run_quickstart(
    out: Path,
    *,
    judge_spec: str = "embedding:default",
    small: bool = False,
    price_model: str = "gpt-4o",
    echo: Echo = print,
) -> dict[str, Any]:
    """Run the loop into ``out`` and return (and write to ``out/quickstart.json``) its figures."""
    from judgecache.distill.pipeline import run_distill
    from judgecache.drift.checker import make_baseline, run_check
    from judgecache.drift.config import DriftConfig
    from judgecache.drift.log import ProductionLog
    from judgecache.drift.render_html import render_html
    from judgecache.drift.render_md import render_markdown

    sizes = SMALL if small else FULL
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # keep the progress readable
    out.mkdir(parents=True, exist_ok=True)
    cache = f"diskcache://{out / 'cache'}"
    summary: dict[str, Any] = {"dir": str(out), "cache": cache, "teacher": judge_spec}

    echo("1/5  building (query, passage) pairs from this Python's documentation ...")
    eval_pairs = reference_pairs(limit=sizes.eval_pairs)
    shifted = library_pairs(limit=sizes.shifted_pairs)
    echo(
        f"     {len(eval_pairs)} eval pairs (Language Reference), {len(shifted)} shifted pairs (library docstrings)"
    )

    echo(f"2/5  eval pass 1: judging with {judge_spec} through {cache}")
    teacher = Judge(
        judge_spec, task="relevance", cache=cache, tag="quickstart-eval", price_model=price_model
    )
    _, took = _score(teacher, eval_pairs, "eval pass 1")
    first = teacher.ledger.totals(teacher.name)
    echo(
        f"     {int(first['requests'])} pairs, {int(first['calls'])} teacher calls, {int(first['hits'])} hits, {took:.1f} s"
    )

    echo("3/5  eval pass 2: the same eval again (a dashboard refresh, a rerun, a teammate)")
    again = Judge(
        judge_spec, task="relevance", cache=cache, tag="quickstart-eval", price_model=price_model
    )
    _, took2 = _score(again, eval_pairs, "eval pass 2")
    second = again.ledger.totals(again.name)
    echo(
        f"     {int(second['requests'])} pairs, {int(second['calls'])} teacher calls, {int(second['hits'])} hits, "
        f"{took2:.1f} s; saved ${second['saved_usd']:.4f} at {price_model} list prices"
    )
    summary["eval"] = {
        "pairs": len(eval_pairs),
        "first_pass": {
            "teacher_calls": int(first["calls"]),
            "hits": int(first["hits"]),
            "seconds": round(took, 2),
        },
        "second_pass": {
            "teacher_calls": int(second["calls"]),
            "hits": int(second["hits"]),
            "seconds": round(took2, 2),
            "saved_usd": round(second["saved_usd"], 6),
            "price_model": price_model,
        },
    }

    echo(
        f"4/5  distilling a LoRA student from the {teacher.store.count()} cached labels of {teacher.name}"
    )
    student_dir = out / "student"
    t0 = time.perf_counter()
    result = run_distill(distill_config(cache, teacher.name, student_dir, sizes))
    summary["distill"] = {
        "seconds": round(time.perf_counter() - t0, 1),
        "output": str(student_dir),
        "metrics": _headline(result.metrics),
    }
    for line in _describe(summary["distill"]["metrics"]):
        echo(f"     {line}")

    echo("5/5  serving the student, logging its decisions, and checking drift against the teacher")
    spec = f"student:{student_dir}"
    ref_log = ProductionLog(cache, namespace="traffic-reference")
    now_log = ProductionLog(cache, namespace="traffic-shifted")
    _score(
        Judge(spec, task="relevance", cache=cache, tag="prod", production_log=ref_log),
        eval_pairs,
        "student, reference traffic",
    )
    _score(
        Judge(spec, task="relevance", cache=cache, tag="prod", production_log=now_log),
        shifted,
        "student, shifted traffic",
    )
    drift_dir = out / "drift"
    cfg = DriftConfig(
        teacher=judge_spec,
        task="relevance",
        cache=cache,
        log=cache,
        log_namespace="traffic-reference",
        reference=str(drift_dir / "reference.json"),
        report_dir=str(drift_dir / "reports"),
        period="last-7d",
        budget=sizes.drift_budget,
        sample_size=sizes.drift_sample,
        anchor_count=sizes.anchors,
        bootstrap=200,
    )
    drift_teacher = Judge(judge_spec, task="relevance", cache=cache, tag="drift")
    make_baseline(cfg, judge=drift_teacher, log=ref_log)
    run = run_check(replace(cfg, log_namespace="traffic-shifted"), judge=drift_teacher, log=now_log)
    md_path, html_path = drift_dir / "report.md", drift_dir / "report.html"
    md_path.write_text(render_markdown(run.report), encoding="utf-8")
    html_path.write_text(render_html(run.report), encoding="utf-8")
    summary["drift"] = {
        "status": run.verdict.status,
        "reasons": list(run.verdict.reasons),
        "teacher_calls": int(drift_teacher.ledger.totals(drift_teacher.name)["calls"]),
        "report_json": str(run.path) if run.path else None,
        "report_md": str(md_path),
        "report_html": str(html_path),
    }
    echo(f"     drift verdict on the shifted traffic: {run.verdict.status.upper()}")
    for reason in list(run.verdict.reasons)[:4]:
        echo(f"       - {reason}")

    (out / "quickstart.json").write_text(
        json.dumps(summary, indent=2, default=str), encoding="utf-8"
    )
    echo("")
    echo("Files written:")
    echo(f"  cache (diskcache)       {out / 'cache'}")
    echo(f"  student                 {student_dir}  (model card: {student_dir / 'README.md'})")
    echo(f"  drift report            {html_path}  and  {md_path}")
    echo(f"  run summary (JSON)      {out / 'quickstart.json'}")
    return summary


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The few figures worth printing: the student's and the zero-shot base's, per held-out split."""
    out: dict[str, Any] = {}
    for split, block in metrics.get("eval", metrics).items():
        if not isinstance(block, dict):
            continue
        row = {}
        for who in ("student", "zero_shot"):
            m = block.get(who)
            if isinstance(m, dict):
                row[who] = {
                    k: m[k]
                    for k in (
                        "n",
                        "accuracy",
                        "binary_kappa",
                        "weighted_kappa",
                        "auc",
                        "ece",
                    )
                    if k in m
                }
        if row:
            out[split] = row
    return out


def _fmt(m: dict[str, Any]) -> str:
    parts = []
    for key, value in m.items():
        if isinstance(value, dict) and "value" in value:
            value = value["value"]
        if isinstance(value, float):
            parts.append(f"{key} {value:.3f}")
        elif value is not None:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def _describe(headline: dict[str, Any]) -> list[str]:
    lines = []
    for split, row in headline.items():
        for who, m in row.items():
            lines.append(f"{split:<12} {who:<10} {_fmt(m)}")
    return lines
