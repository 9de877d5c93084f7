"""``judgecache cascade batch``: one audited cascade batch (a week's traffic) with real judges.

The student (with its query memory on the teacher's cache, by default) answers every pair; the
teacher labels the pairs the audited rule picks (:mod:`judgecache.distill.cascade_batch`) through
the cache, so the memory learns them at once and ``cascade refresh`` retrains on them; the audit
tallies carry over between batches in a small ``--state`` file.

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(batch, ["--help"]).exit_code
    0
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from judgecache.cli.options import (
    cache_option,
    existing_folder,
    json_option,
    output_option,
    progress_option,
    task_option,
)
from judgecache.errors import ConfigError

Share = click.FloatRange(0, 1, min_open=True, max_open=True)


@click.command("batch")
@click.argument(
    "input_path", metavar="IN.jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--student", required=True, help="Student directory (from judgecache distill).")
@click.option("--teacher", "teacher_spec", required=True, metavar="SPEC",
              help="The student's teacher, e.g. openai:gpt-4o (its labels are what the memory "
              "reads and the audit trusts).")  # fmt: skip
@task_option
@cache_option
@click.option("--memory", default=None, metavar="URL_OR_FILE",
              help="The student's query memory [default: the --cache URL, where this command's "
              "teacher labels land].")  # fmt: skip
@click.option("--no-memory", is_flag=True, help="The student alone: every pair is audited.")
@click.option("--state", "state_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path), callback=existing_folder,
              help="The audit state carried between batches (created if missing).")  # fmt: skip
@output_option("Where to write each pair with its label, route and path (JSONL).")
@click.option("--target", type=Share, default=0.95, show_default=True,
              help="Agreement with the teacher the audited pairs are held to.")  # fmt: skip
@click.option("--fitted-target", type=Share, default=0.965, show_default=True,
              help="Label-free expected agreement for pairs the memory answered.")  # fmt: skip
@click.option("--audit-rate", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Share of kept, not fitted pairs sent to the teacher as an audit.")  # fmt: skip
@click.option("--audit-min", type=click.IntRange(0), default=20, show_default=True,
              help="Audit at least this many pairs (all of them when fewer are kept).")  # fmt: skip
@click.option("--audit-max", type=click.IntRange(0), default=200, show_default=True,
              help="Audit at most this many pairs.")  # fmt: skip
@click.option("--confidence", type=click.FloatRange(0.5, 1, max_open=True), default=0.8,
              show_default=True,
              help="Correct by this upper bound of the over-confidence ratio "
              "(0.5: the point).")  # fmt: skip
@click.option("--window", type=click.IntRange(1), default=2, show_default=True,
              help="Latest audits pooled for the correction.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the audit draws.")
@progress_option
@json_option
def batch(
    input_path: Path,
    student: str,
    teacher_spec: str,
    task: str,
    cache_url: str | None,
    memory: str | None,
    no_memory: bool,
    state_path: Path,
    output_path: Path,
    target: float,
    fitted_target: float,
    audit_rate: float,
    audit_min: int,
    audit_max: int,
    confidence: float,
    window: int,
    seed: int,
    progress: bool,
    as_json: bool,
) -> None:
    """Cascade one batch of IN.jsonl: the student answers, the teacher labels what it must.

    Pairs whose query the memory knows keep a label-free stop at --fitted-target. The others are
    escalated until --target, corrected by the over-confidence that the latest audits saw, and a
    seeded --audit-rate sample of what they keep is sent to the teacher to measure it. Each
    output line is the input line plus label, route (kept, escalated, audited), path (memory,
    fallback, student), the student's label and probability and the teacher's label. The state
    file is written only when the batch is complete: rerun a failed batch and every label it
    already bought comes from the cache (those labels feed the memory too, so the rerun may ask a
    few other pairs; without a memory it asks the same ones). Exit 0: done; 1: the teacher failed
    on some pairs, or a bad input line or state file (the message names the line or field); 3:
    configuration error (an option, a teacher the student did not learn from, another teacher's
    state).

    \b
    Example (weekly, then retrain on what was bought):
      judgecache cascade batch week.jsonl --student runs/rel --teacher openai:gpt-4o \\
          --state runs/rel.audit.json -o week.judged.jsonl
      judgecache cascade refresh --student runs/rel --labels diskcache://.jc
    """
    from judgecache.cascade.audit import AuditPolicy
    from judgecache.cascade.audit_state import AuditState
    from judgecache.io.jsonl import read_pairs
    from judgecache.judges.judge import Judge
    from judgecache.store.url import default_cache_url

    if no_memory and memory is not None:
        raise click.UsageError("--memory and --no-memory: give one")
    policy = AuditPolicy(
        target=target, rate=audit_rate, min_audit=audit_min, max_audit=audit_max,
        confidence=confidence, window=window, seed=seed, fitted_target=fitted_target,
    )  # fmt: skip
    cache = cache_url or default_cache_url()
    options = {} if no_memory else {"memory": memory or cache}
    teacher = Judge(teacher_spec, task=task, cache=cache)
    with teacher:
        # Everything that can be refused is checked before the student's model is loaded.
        state = AuditState.load(state_path, teacher=str(teacher.teacher.identity))
        f0, f1 = teacher.rubric.fields
        records = list(read_pairs(input_path, (f0, f1)))
        if not records:
            raise ConfigError(f"{input_path}: no pairs to judge (empty file?)")
        pairs = [(r.inputs[f0], r.inputs[f1]) for r in records]
        # The student's answers change as its memory grows: never cache them across batches.
        with Judge(f"student:{student}", cache="memory://", options=options) as judge:
            _same_teacher(judge, teacher, student)
            done = _run(pairs, judge, teacher, policy, state, progress)
    with output_path.open("w", encoding="utf-8") as out:
        for record, answer in zip(records, done.answers, strict=True):
            out.write(json.dumps({**record.row, **answer.to_dict()}, ensure_ascii=False) + "\n")
    summary = {
        "batch": state.batch,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "student": student,
        **done.summary(),
    }
    state.add(done.result.tally, summary).save(state_path)
    report = {**summary, "output": str(output_path), "state": str(state_path)}
    click.echo(json.dumps(report) if as_json else _text(report, state.batches))


def _same_teacher(student: Any, teacher: Any, path: str) -> None:
    """Refuse a teacher whose labels the student's memory would never read."""
    learned, asked = student.teacher.taught_by, teacher.teacher.identity
    if learned != asked:
        raise ConfigError(
            f"--teacher is {asked}, but student {path} learned from {learned}: this teacher's "
            "labels would neither feed its memory nor measure it against its own teacher"
        )


def _run(pairs: Any, judge: Any, teacher: Any, policy: Any, state: Any, progress: bool) -> Any:
    from tqdm import tqdm

    from judgecache.distill.cascade_batch import run_audited_batch

    bar = tqdm(total=len(pairs), desc="student", unit="pair", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)  # fmt: skip
    with bar:
        return run_audited_batch(
            pairs, judge, teacher, policy, state.history, state.batch, progress=bar.update
        )


def _text(r: dict[str, Any], batches: list[dict[str, Any]]) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    est = (
        f"{r['estimate']:.3f} [{r['estimate_low']:.3f}, {r['estimate_high']:.3f}]"
        if r["estimate"] is not None
        else "- (no pair outside the memory)"
    )
    fitted = "-" if r["fitted_expected"] is None else f"{r['fitted_expected']:.3f}"
    lines = [
        f"batch {r['batch']}: {r['pairs']:,} pairs, teacher calls {r['teacher_calls']:,} "
        f"({r['teacher_cache_hits']:,} from the cache), calls avoided {pct(r['avoided'])}",
        f"  escalated {r['escalated']:,} (top-up {r['topped_up']:,}), audited {r['audited']:,}; "
        f"over-confidence ratio {r['ratio_before']:.2f} -> {r['ratio_after']:.2f}",
        f"  memory answered {r['fitted']:,}: expected agreement {fitted} (label-free)",
        f"  others: agreement with the teacher {est} (the audit's 95% interval)",
        f"wrote {r['output']}; state {r['state']}",
    ]
    if len(batches) > 1:
        trend = " -> ".join(pct(b.get("avoided")) for b in batches[-6:])
        lines.append(f"calls avoided, latest batches: {trend}")
    return "\n".join(lines)
