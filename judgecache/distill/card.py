"""The model card (README.md) written beside every student.

Intervals read ``value [lo, hi]`` (:func:`judgecache.stats.format_ci`).

Example:
    >>> format_ci({"value": 0.5, "lo": 0.4, "hi": 0.6})
    '0.500 [0.400, 0.600]'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from judgecache.distill.config import DistillConfig
from judgecache.stats import format_ci

if TYPE_CHECKING:
    from judgecache.distill.student import StudentSpec

ROWS = (
    ("binary_kappa", "Cohen's kappa (binary)"),
    ("weighted_kappa", "quadratic-weighted kappa"),
    ("accuracy", "accuracy"),
    ("balanced_accuracy", "balanced accuracy (binary)"),
    ("spearman", "Spearman (labels)"),
    ("auc", "AUC (binary)"),
    ("ece", "ECE (10 equal-mass bins)"),
)


def _table(split: Mapping[str, Any], judged: list[str]) -> list[str]:
    lines = ["| metric | " + " | ".join(judged) + " |", "| --- |" + " --- |" * len(judged)]
    for key, title in ROWS:
        if any(key in split.get(j, {}) for j in judged):
            lines.append(
                f"| {title} | "
                + " | ".join(format_ci(split.get(j, {}).get(key)) for j in judged)
                + " |"
            )
    return lines


def _warnings(metrics: Mapping[str, Any]) -> list[str]:
    """A warning block at the top of the card: a degenerate student must not look normal."""
    warnings = metrics.get("warnings") or []
    if not warnings:
        return []
    lines = ["> **WARNING: do not serve this student.**", ">"]
    lines += [f"> - {w}" for w in warnings]
    return [*lines, ""]


def _evidence_line(spec: StudentSpec) -> list[str]:
    if not spec.evidence_max_words:
        return []
    claims = "; each sentence of the answer is scored apart and the weakest decides"
    return [
        f"- Evidence: each claim is read with the context sentences sharing its rare words, at "
        f"most {spec.evidence_max_words} words" + (claims if spec.split_claims else "") + "."
    ]


def render_card(spec: StudentSpec, cfg: DistillConfig, metrics: Mapping[str, Any]) -> str:
    """Markdown: teacher, data, split, metrics with 95% bootstrap intervals, intended use, limits."""
    sizes = metrics["split"]["sizes"]
    train = metrics["train"]
    lines = [
        f"# Student judge `{spec.name}`",
        "",
        *_warnings(metrics),
        f"A LoRA {('bi-encoder' if spec.architecture == 'bi' else 'cross-encoder')} distilled from "
        f"the cached labels of **{metrics['teacher']}** for the `{spec.rubric}` task "
        f"({spec.target} labels {spec.labels}). Load it as a judge: "
        f'`Judge("student:PATH", task="{spec.rubric}")`.',
        "",
        "## Data",
        "",
        f"- Source: `{metrics['labels_source']}`, {metrics['n_labels']} labels of one teacher identity.",
        f"- Split by {metrics['split']['by']} (seed {metrics['split']['seed']}): "
        + ", ".join(f"{k} {v}" for k, v in sizes.items())
        + f"; trained on {metrics['split']['train_used']} pairs.",
        f"- Base model: `{spec.base_model}`; LoRA r={cfg.lora.r}, alpha={cfg.lora.alpha}, "
        f"dropout={cfg.lora.dropout}; max length {spec.max_length} (only the "
        f"{'document' if spec.protected == 0 else 'context'} is ever truncated).",
        f"- Training: {train['steps']} steps in {train['seconds']} s on {train['device']} "
        f"({train['threads']} threads); best validation agreement {train['best_val_agreement']:.3f} "
        f"at step {train['best_step']}"
        + (f"; {train['summary']}." if train.get("stopped_early") else "."),
        *_evidence_line(spec),
        f"- Calibration: {metrics['calibration']['method']} on the calib split.",
        "",
        "## Agreement with the teacher on held-out pairs",
        "",
        "Values with 95% bootstrap intervals. `zero_shot` is the untrained base (its own embedding "
        "cosine, mapped by a head fitted on the training labels): a student that does not beat it "
        "is not worth serving.",
    ]
    for name, split in metrics["eval"].items():
        what = (
            "held-out groups (unseen queries/sources)"
            if name == "test"
            else "held-out pairs of seen groups"
        )
        lines += ["", f"### `{name}`: {what}, n = {split['n']}", ""]
        # zero_shot_cuts: the base's cosine with the student's kappa-fitted grade cuts.
        judges = ["student", "zero_shot"] + (
            ["zero_shot_cuts"] if "zero_shot_cuts" in split else []
        )
        lines += _table(split, judges)
        for other, deltas in split.get("paired_delta", {}).items():
            parts = [f"{k} {format_ci(d, signed=True)}" for k, d in deltas.items()]
            lines += ["", f"Paired bootstrap, student minus {other}: " + "; ".join(parts) + "."]
        if "vs_human" in split:
            lines += ["", f"Against human labels (n = {split['vs_human']['n']}):", ""]
            lines += _table(split["vs_human"], ["teacher", *judges])
    chosen = metrics["thresholds"].get("chosen")
    lines += ["", "## Threshold", ""]
    if chosen:
        lines.append(
            f"{chosen['metric']} target {chosen['target']}: threshold {chosen['threshold']:.4f} on the "
            f"calibrated probability; lower {chosen['confidence']:.0%} bound {chosen['lower_bound']:.3f} "
            f"(estimate {chosen['estimate']:.3f}, {chosen['selected']} of {chosen['n']} calib pairs selected)."
        )
    else:
        lines.append("No precision/recall target was set; the binary decision is p >= 0.5.")
    lines += [
        "",
        "## Intended use and limits",
        "",
        f"- Intended: cheap first-pass `{spec.rubric}` judgments on data like the training data, behind "
        "the cache, in a cascade with the teacher, and under drift checks against fresh teacher labels.",
        "- It imitates its teacher, including the teacher's errors; it is not a ground-truth judge.",
        "- Agreement was measured on this split of this data only; other domains, languages or "
        "document lengths need their own check (`judgecache evaluate`).",
        "- Bootstrap intervals resample pairs, not groups, so they are narrower than a "
        "query-level interval would be.",
        "",
    ]
    return "\n".join(lines)
