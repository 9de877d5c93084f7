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

import click

from judgecache.cli.options import json_option


@click.command("distill")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML config (see configs/distill/relevance.yaml); flags and --set override it.",
)
@click.option("--labels", default=None, help="Export JSONL, or a cache URL to read labels from.")
@click.option("--output", default=None, help="Output directory for the student.")
@click.option(
    "--judge", "judge_id", default=None, help="Keep only this teacher: provider:model[@v]."
)
@click.option(
    "--base-model", default=None, help="Local HF encoder directory, or 'default' (MiniLM)."
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
@click.option("--resume", is_flag=True, help="Continue from OUTPUT/checkpoint if it is there.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@json_option
def distill(
    config_path: Path | None,
    labels: str | None,
    output: str | None,
    judge_id: str | None,
    base_model: str | None,
    target_precision: float | None,
    target_recall: float | None,
    epochs: int | None,
    seed: int | None,
    overrides: tuple[str, ...],
    resume: bool,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Train a LoRA student judge from cached teacher labels; writes adapter, metrics and card."""
    from judgecache.distill.config import DistillConfig
    from judgecache.distill.pipeline import run_distill

    cfg = DistillConfig.from_yaml(config_path) if config_path else DistillConfig()
    sets: list[str] = []
    for key, value in (
        ("labels", labels),
        ("output", output),
        ("judge", judge_id),
        ("base_model", base_model),
        ("threshold.target_precision", target_precision),
        ("threshold.target_recall", target_recall),
        ("train.epochs", epochs),
    ):
        if value is not None:
            sets.append(f"{key}={json.dumps(value)}")
    if seed is not None:
        sets += [f"split.seed={seed}", f"train.seed={seed}"]
    if no_progress:
        sets.append("train.progress=false")
    cfg = cfg.with_overrides([*sets, *overrides])
    result = run_distill(cfg, resume=resume)
    if as_json:
        click.echo(
            json.dumps({"output": str(result.output), "metrics": result.metrics}, default=str)
        )
        return
    click.echo(
        f"student: {result.output}  (identity student:{result.spec.name}@{result.spec.version})"
    )
    for name, split in result.metrics["eval"].items():
        click.echo(f"{name}: n={split['n']}")
        for judged in ("student", "zero_shot"):
            row = split[judged]
            parts = [
                f"{k}={row[k]['value']:.3f}"
                for k in ("binary_kappa", "weighted_kappa", "auc")
                if k in row
            ]
            click.echo(f"  {judged:<9} " + " ".join(parts))
    click.echo(f"model card: {result.output / 'README.md'}")
