"""``judgecache cascade fit`` / ``report`` / ``refresh``: choose a cascade band, read it, retrain.

(``judgecache cascade batch``, an audited batch with real judges, is in :mod:`.cascade_batch_cmd`.)

``fit`` scores a labels file with the student, picks the uncertain band for a target (escalate at
most a share of traffic, or disagree with the teacher at most ``alpha`` with a confidence) and
writes it to a JSON file *beside* the student directory, never inside it, so several bands can be
tried side by side; ``score --judge cascade:student:PATH>TEACHER --band FILE`` uses one. ``report``
shows a band's expected escalation and agreement with 95% intervals, and with ``--labels`` how
it does on other labels (held-out data: the honest check).

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(cascade, ["fit", "--help"]).exit_code
    0
    >>> default_band_path("runs/rel", max_escalation=0.3, alpha=None).as_posix()
    'runs/rel.band-escalation-0.3.json'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from judgecache.cli.cascade_batch_cmd import batch
from judgecache.cli.options import cache_option, json_option, progress_option
from judgecache.errors import ConfigError

LabelsPath = click.Path(dir_okay=True, path_type=str)


@click.group("cascade")
def cascade() -> None:
    """Choose a band (fit), read it (report), run an audited batch (batch), retrain (refresh)."""


def default_band_path(student: str, *, max_escalation: float | None, alpha: float | None) -> Path:
    """``<student>.band-<target>.json`` in the student's parent directory."""
    root = Path(student).expanduser()
    tag = f"escalation-{max_escalation:g}" if max_escalation is not None else f"disagree-{alpha:g}"
    return root.with_name(f"{root.name}.band-{tag}.json")


def _student_arrays(
    student: str, labels: str, teacher: str | None, cache_url: str | None, progress: bool
) -> tuple[Any, Any, Any, Any]:
    """Student probabilities and both judges' binary decisions on the labels' pairs."""
    import numpy as np
    from tqdm import tqdm

    from judgecache.distill.data import binary_label, load_labels
    from judgecache.distill.evaluate import judge_with
    from judgecache.judges.judge import Judge

    part = load_labels(labels, judge=teacher)
    rubric = part.rubric
    judge = Judge(f"student:{student}", task=rubric, cache=cache_url)
    bar = tqdm(total=len(part), desc="student", unit="pair", disable=not progress, file=sys.stderr)
    with judge, bar:
        judged = judge_with(judge, part, progress=bar.update)
    if judged.prob is None:
        raise ConfigError(f"student:{student} gave no probabilities: it cannot sit in a cascade")
    student_pos = np.asarray([binary_label(rubric, int(x)) for x in judged.labels], dtype=bool)
    teacher_pos = np.asarray([binary_label(rubric, p.label) for p in part.pairs], dtype=bool)
    return judged.prob, student_pos, teacher_pos, part


@cascade.command("fit")
@click.option("--student", required=True, help="Student directory (from judgecache distill).")
@click.option(
    "--labels",
    required=True,
    help="Teacher labels to fit on: an export JSONL or a cache URL. Use labels the student "
    "was not trained on.",
)
@click.option("--teacher", default=None, help="With a cache URL: keep only this provider:model.")
@click.option("--max-escalation", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Escalate at most this share of pairs (the least kept disagreement within it).")  # fmt: skip
@click.option("--max-disagreement", "alpha", type=click.FloatRange(0, 1, min_open=True,
              max_open=True), default=None, help="Kept pairs disagree with the teacher at most "
              "this often, certified at --confidence (the least escalation that does it).")  # fmt: skip
@click.option("--confidence", type=click.FloatRange(0.5, 1, max_open=True), default=0.95,
              show_default=True, help="Confidence of the disagreement bound.")  # fmt: skip
@click.option("--min-kept", type=click.IntRange(1), default=100, show_default=True,
              help="--max-disagreement: bands keeping fewer calibration pairs are never chosen.")  # fmt: skip
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Band file [default: STUDENT.band-<target>.json beside the student directory].",
)
@cache_option
@progress_option
@json_option
def fit(
    student: str,
    labels: str,
    teacher: str | None,
    max_escalation: float | None,
    alpha: float | None,
    confidence: float,
    min_kept: int,
    output: Path | None,
    cache_url: str | None,
    progress: bool,
    as_json: bool,
) -> None:
    """Choose the uncertain band of STUDENT from teacher labels and write it beside the student.

    \b
    Example:
      judgecache cascade fit --student runs/rel --labels dl20.jsonl --max-escalation 0.3
      judgecache score pairs.jsonl --judge "cascade:student:runs/rel>openai:gpt-4o" \\
          --band runs/rel.band-escalation-0.3.json -o judged.jsonl
    """
    from judgecache.cascade.record import save_selection
    from judgecache.cascade.selection import band_for_budget, band_for_disagreement

    if (max_escalation is None) == (alpha is None):
        raise click.UsageError("give exactly one of --max-escalation or --max-disagreement")
    if not Path(student).expanduser().is_dir():
        raise ConfigError(f"--student {student}: no such student directory")
    probs, student_pos, teacher_pos, part = _student_arrays(
        student, labels, teacher, cache_url, progress
    )
    source = {"student": str(student), "labels": str(labels), "teacher": str(part.judge)}
    if max_escalation is not None:
        sel = band_for_budget(
            probs,
            student_pos,
            teacher_pos,
            max_escalation=max_escalation,
            confidence=confidence,
            source=source,
        )
    else:
        assert alpha is not None
        sel = band_for_disagreement(
            probs,
            student_pos,
            teacher_pos,
            alpha=alpha,
            confidence=confidence,
            min_kept=min_kept,
            source=source,
        )
    path = output or default_band_path(student, max_escalation=max_escalation, alpha=alpha)
    if path.resolve().is_relative_to(Path(student).expanduser().resolve()):
        raise ConfigError(f"--output {path}: write the band beside the student, not inside it")
    save_selection(sel, path)
    report_ = band_report(sel)
    report_["band_file"] = str(path)
    if as_json:
        click.echo(json.dumps(report_))
        return
    click.echo(_report_text(report_))
    click.echo(f"wrote {path}; use it with --band {path}")


def _interval(k: int, n: int) -> dict[str, float] | None:
    """Rate with a two-sided 95% Clopper-Pearson interval."""
    if n <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return {"value": k / n, "lo": float(ci.low), "hi": float(ci.high), "k": k, "n": n}


def band_report(sel: Any) -> dict[str, Any]:
    """A band's promises on its calibration data: escalation, kept and overall agreement."""
    return {
        "band": sel.band.to_dict(),
        "target": sel.target,
        "meets_target": sel.meets_target,
        "n": sel.n,
        "escalation": _interval(sel.escalated, sel.n),
        "kept_agreement": _interval(sel.kept - sel.kept_disagreements, sel.kept),
        "overall_agreement": _interval(sel.n - sel.kept_disagreements, sel.n),
        "kept_disagreement_upper": sel.kept_disagreement_upper,
    }


def _fmt(m: dict[str, float] | None) -> str:
    if m is None:
        return "-"
    return f"{m['value']:.3f} [{m['lo']:.3f}, {m['hi']:.3f}] ({m['k']:,}/{m['n']:,})"


def _report_text(r: dict[str, Any]) -> str:
    band = r["band"]
    target = r["target"]
    goal = (
        f"escalate <= {target['max_escalation']}"
        if target.get("kind") == "escalation"
        else f"kept disagreement <= {target.get('alpha')} at {target.get('confidence')} confidence"
    )
    lines = [
        f"band [{band['lo']:.4f}, {band['hi']:.4f}]  target: {goal}  "
        f"({'met' if r['meets_target'] else 'NOT met'})  on {r['n']:,} labelled pairs",
        f"  escalation rate    {_fmt(r['escalation'])}",
        f"  kept agreement     {_fmt(r['kept_agreement'])}",
        f"  overall agreement  {_fmt(r['overall_agreement'])}  (escalated pairs take the teacher's)",
        f"  kept disagreement upper bound {r['kept_disagreement_upper']:.3f}",
    ]
    if "held_out" in r:
        h = r["held_out"]
        lines += [
            f"on {h['labels']} ({h['n']:,} pairs):",
            f"  escalation rate    {_fmt(h['escalation'])}",
            f"  kept agreement     {_fmt(h['kept_agreement'])}",
            f"  overall agreement  {_fmt(h['overall_agreement'])}",
        ]
    return "\n".join(lines)


@cascade.command("report")
@click.argument("band_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--labels", default=None, help="Also measure the band on these teacher labels.")
@click.option("--student", default=None, help="With --labels: the student [default: the band's].")
@click.option("--teacher", default=None, help="With a cache URL: keep only this provider:model.")
@cache_option
@progress_option
@json_option
def report(
    band_file: str,
    labels: str | None,
    student: str | None,
    teacher: str | None,
    cache_url: str | None,
    progress: bool,
    as_json: bool,
) -> None:
    """Expected escalation and agreement of a band (95% intervals), optionally on new labels."""
    import numpy as np

    from judgecache.cascade.record import load_selection

    sel = load_selection(band_file)
    result = band_report(sel)
    if labels is not None:
        student = student or sel.data.get("source", {}).get("student")
        if not student:
            raise ConfigError(f"{band_file} does not name its student: pass --student")
        probs, student_pos, teacher_pos, _ = _student_arrays(
            student, labels, teacher, cache_url, progress
        )
        esc = sel.band.mask(probs)
        kept = ~esc
        agree = int(np.sum(kept & (student_pos == teacher_pos)))
        n = int(esc.size)
        result["held_out"] = {
            "labels": labels,
            "n": n,
            "escalation": _interval(int(esc.sum()), n),
            "kept_agreement": _interval(agree, int(kept.sum())),
            "overall_agreement": _interval(agree + int(esc.sum()), n),
        }
    click.echo(json.dumps(result) if as_json else _report_text(result))


@cascade.command("refresh")
@click.option("--student", required=True, help="Student directory (from judgecache distill).")
@click.option(
    "--labels",
    required=True,
    help="Where its teacher's labels accumulate: a cache URL (escalations land there) or an "
    "export JSONL. Labels not in the student's trained_on.json are the new ones.",
)
@click.option("--output", default=None,
              help="Directory for the refreshed student [default: STUDENT-r<N> beside it].")  # fmt: skip
@click.option("--max-steps", type=click.IntRange(0), default=50, show_default=True,
              help="Training steps at most (0: recalibrate only).")  # fmt: skip
@click.option("--max-examples", type=click.IntRange(1), default=800, show_default=True,
              help="New labels trained on at most (and old ones replayed).")  # fmt: skip
@click.option("--holdout", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.3, show_default=True,
              help="Share of the new labels held out to compare old and new students.")  # fmt: skip
@click.option("--calib", type=click.FloatRange(0, 1, max_open=True), default=0.2,
              show_default=True, help="Share of the new labels used to recalibrate.")  # fmt: skip
@click.option("--max-calib-old", type=click.IntRange(0), default=1000, show_default=True,
              help="Held-out labels of the old student added to the recalibration, "
              "at most.")  # fmt: skip
@click.option("--replay", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Old training labels replayed per new training label (against forgetting).")  # fmt: skip
@click.option("--tolerance", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Keep the new student unless its kappa delta is below -TOLERANCE.")  # fmt: skip
@click.option("--min-new", type=click.IntRange(1), default=30, show_default=True,
              help="Fewer new labels: skip (exit 0, nothing written).")  # fmt: skip
@click.option("--seed", type=int, default=13, show_default=True, help="Seed of split and steps.")
@click.option("--bootstrap", type=click.IntRange(1), default=1000, show_default=True,
              help="Paired bootstrap resamples of the delta.")  # fmt: skip
@progress_option
@json_option
@click.pass_context
def refresh(
    ctx: click.Context,
    student: str,
    labels: str,
    output: str | None,
    max_steps: int,
    max_examples: int,
    holdout: float,
    calib: float,
    max_calib_old: int,
    replay: float,
    tolerance: float,
    min_new: int,
    seed: int,
    bootstrap: int,
    progress: bool,
    as_json: bool,
) -> None:
    """Continue STUDENT on the labels its cache gained since it was trained; keep it if not worse.

    The new labels (escalations, imports, re-labels of the same teacher) are split into train,
    calibration and a held-out slice. The student is trained a few steps further on the new
    training labels (plus as many replayed old ones), recalibrated, and written beside the old
    one only when its kappa on the held-out slice minus the old student's (paired bootstrap) is
    at least -TOLERANCE. Exit 0: kept, or skipped (too few new labels); 1: rejected (the old
    student stays, nothing written); 3: configuration error.

    \b
    Example:
      judgecache cascade refresh --student runs/rel --labels diskcache://.jc --max-steps 40
      judgecache cascade fit --student runs/rel-r1 --labels dl20.jsonl --max-escalation 0.3
    """
    from judgecache.distill.refresh import REJECTED, RefreshOptions, refresh_student

    opts = RefreshOptions(
        max_steps=max_steps, max_examples=max_examples, holdout=holdout, calib=calib,
        max_calib_old=max_calib_old, replay=replay, tolerance=tolerance, min_new=min_new,
        seed=seed, bootstrap=bootstrap, progress=progress,
    )  # fmt: skip
    result = refresh_student(student, labels, opts, output=output)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(_refresh_text(result))
    if result.status == REJECTED:
        ctx.exit(1)


def _refresh_text(r: Any) -> str:
    lines = [f"{r.status}: {r.reason}"]
    if r.counts:
        lines.append("labels: " + ", ".join(f"{k} {v:,}" for k, v in r.counts.items()))
    if r.metric:
        lines.append(f"held-out new labels ({r.counts.get('holdout', 0):,}), old -> new:")
        for name in r.new:
            lines.append(f"  {name:<15} {r.old[name]:.3f} -> {r.new[name]:.3f}")
        d = r.delta[r.metric]
        lines.append(f"  {r.metric} delta {d['value']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]")
    if r.output:
        lines.append(
            f"wrote {r.output} ({r.steps} steps, {r.seconds:.0f} s); use student:{r.output}"
        )
        lines.append("  its cascade band needs fitting again: judgecache cascade fit --student ...")
    return "\n".join(lines)


cascade.add_command(batch)
