"""``judgecache distill``: train a LoRA student judge from one teacher's cached labels.

torch is imported only when the command runs, so ``judgecache --help`` stays light.

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(distill, ["--help"]).exit_code
    0
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from judgecache.cli.options import json_option
from judgecache.distill.bases import names_help


@click.command("distill")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML config (see configs/distill/relevance.yaml); flags and --set override it.",
)
@click.option("--labels", default=None, help="Export JSONL, or a cache URL to read labels from.")
@click.option(
    "--train-extra",
    default=None,
    help="More labels of the same teacher (JSONL or cache URL) used for training only, never "
    "held out: e.g. another collection's queries (config: train_extra).",
)
@click.option("--output", default=None, help="Output directory for the student.")
@click.option(
    "--judge", "judge_id", default=None, help="Keep only this teacher: provider:model[@v]."
)
@click.option(
    "--base-model",
    default=None,
    help=f"A packaged base: {names_help()}; a local HF encoder directory; or (online) a Hub "
    "model id org/name[@revision].",
)
@click.option("--target-precision", type=float, default=None, help="Pick the threshold for this.")
@click.option("--target-recall", type=float, default=None, help="Pick the threshold for this.")
@click.option("--epochs", type=int, default=None, help="Training epochs.")
@click.option("--seed", type=int, default=None, help="Seed of the split and of training.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any config field, e.g. --set train.lr=0.0005 --set lora.r=8 (repeatable).",
)
@click.option(
    "--fail-if-worse-than",
    "gate",
    type=click.Choice(["zero-shot", "zero-shot-cuts"]),
    default=None,
    help="Exit 1 (after saving) when the student is degenerate or scores below this baseline "
    "on the held-out test split (config: eval.fail_if_worse_than).",
)
@click.option("--resume", is_flag=True, help="Continue from OUTPUT/checkpoint if it is there.")
@click.option("--no-progress", is_flag=True, help="No progress bar and no stage lines.")
@json_option
def distill(
    config_path: Path | None,
    labels: str | None,
    train_extra: str | None,
    output: str | None,
    judge_id: str | None,
    base_model: str | None,
    target_precision: float | None,
    target_recall: float | None,
    epochs: int | None,
    seed: int | None,
    overrides: tuple[str, ...],
    gate: str | None,
    resume: bool,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Train a LoRA student judge from cached teacher labels; writes adapter, metrics and card.

    Each stage prints a line on stderr (prepare, build, zero-shot, fit, calibrate, evaluate, save);
    a degenerate student (one answer for every pair) is a WARNING in the output and the card.
    """
    from judgecache.distill.config import DistillConfig
    from judgecache.distill.pipeline import run_distill

    cfg = DistillConfig.from_yaml(config_path) if config_path else DistillConfig()
    flags = {
        "labels": labels,
        "train_extra": train_extra,
        "output": output,
        "judge": judge_id,
        "base_model": base_model,
        "threshold.target_precision": target_precision,
        "threshold.target_recall": target_recall,
        "train.epochs": epochs,
        "split.seed": seed,
        "train.seed": seed,
        "eval.fail_if_worse_than": gate.replace("-", "_") if gate else None,
        "train.progress": False if no_progress else None,
    }
    cfg = cfg.with_values({k: v for k, v in flags.items() if v is not None})
    cfg = cfg.with_overrides(overrides)
    result = run_distill(cfg, resume=resume)
    if as_json:
        click.echo(
            json.dumps({"output": str(result.output), "metrics": result.metrics}, default=str)
        )
        return
    _print_result(result)


def _print_result(result: Any) -> None:
    click.echo(
        f"student: {result.output}  (identity student:{result.spec.name}@{result.spec.version})"
    )
    click.echo(f"training: {result.metrics['train']['summary']}")
    for name, split in result.metrics["eval"].items():
        click.echo(f"{name}: n={split['n']}")
        for judged in ("student", "zero_shot"):
            row = split[judged]
            parts = [
                f"{k}={row[k]['value']:.3f}"
                for k in ("binary_kappa", "weighted_kappa", "balanced_accuracy", "auc")
                if k in row
            ]
            click.echo(f"  {judged:<9} " + " ".join(parts))
    for warning in result.metrics.get("warnings", []):
        click.echo(f"WARNING: {warning}")
    click.echo(f"model card: {result.output / 'README.md'}")
