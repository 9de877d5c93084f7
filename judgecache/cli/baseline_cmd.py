"""``judgecache baseline``: the "zero-shot + fitted cuts" baseline as a judge anyone can rerun.

The base encoder's own embedding cosine, with grade cut-points (and a cosine->probability map)
fitted on a labels file, saved in a directory like a student; ``--judge embedding:DIR`` then
judges with it anywhere (``evaluate`` compares a student against it on any data).

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(baseline, ["--help"]).exit_code
    0
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from judgecache.cli.options import json_option, progress_option


@click.command("baseline")
@click.option("--labels", required=True, help="Teacher labels: an export JSONL or a cache URL.")
@click.option("--teacher", default=None, help="With a cache URL: keep only this provider:model.")
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write (embedding.json and a card).",
)
@click.option(
    "--base-model", default="default", show_default=True, help="Local HF encoder directory."
)
@progress_option
@json_option
def baseline(
    labels: str,
    teacher: str | None,
    output: Path,
    base_model: str,
    progress: bool,
    as_json: bool,
) -> None:
    """Fit cut-points on the base encoder's cosine from LABELS; save a judge for embedding:DIR.

    \b
    Example:
      judgecache baseline --labels dl19.jsonl --output runs/emb-cuts
      judgecache evaluate --judge embedding:runs/emb-cuts --labels dl20.jsonl
    """
    from tqdm import tqdm

    from judgecache.distill.data import load_labels
    from judgecache.distill.embedding import fit_embedding_baseline, save_baseline

    part = load_labels(labels, judge=teacher)
    bar = tqdm(total=len(part), desc="cosine", unit="pair", disable=not progress, file=sys.stderr)
    try:
        fitted, cos = fit_embedding_baseline(part, base_model, progress=bar.update)
    finally:
        bar.close()
    fit = _in_sample(part, fitted, cos)
    save_baseline(fitted, output, _card(fitted, fit, output))
    result: dict[str, Any] = {"output": str(output), "cuts": fitted.cuts, "fit": fit}
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"baseline: {output}  cuts {[round(c, 4) for c in fitted.cuts]} on the cosine of "
        f"{fitted.base_model}, fitted on {len(part):,} labels of {part.judge}"
    )
    click.echo("  in-sample (optimistic; measure on other labels with evaluate): " + _fmt(fit))
    click.echo(f"use it: judgecache evaluate --judge embedding:{output} --labels OTHER.jsonl")


def _in_sample(part: Any, fitted: Any, cos: Any) -> dict[str, float]:
    import numpy as np

    from judgecache.stats import cohen_kappa

    truth = np.asarray([p.label for p in part.pairs])
    pred = np.asarray(fitted.labels)[np.searchsorted(np.asarray(fitted.cuts), cos, "right")]
    out = {"n": float(truth.size), "accuracy": float(np.mean(truth == pred))}
    if len(fitted.labels) > 2:
        out["weighted_kappa"] = cohen_kappa(
            truth, pred, labels=fitted.labels, weighting="quadratic"
        )
    else:
        out["binary_kappa"] = cohen_kappa(truth, pred, labels=fitted.labels)
    return out


def _fmt(fit: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in fit.items() if k != "n")


def _card(fitted: Any, fit: dict[str, float], output: Path) -> str:
    return "\n".join(
        [
            f"# Baseline judge: `{fitted.base_model}` cosine with fitted cuts",
            "",
            f"Zero-shot embedding cosine of `{fitted.base_model}` (no training), mapped onto the "
            f"`{fitted.rubric}` labels {fitted.labels} by cut-points {fitted.cuts} fitted on "
            f"{fitted.fitted_on['n']} labels of {fitted.fitted_on['teacher']} "
            f"(`{fitted.fitted_on['labels']}`). Load it as `embedding:{output}`.",
            "",
            f"In-sample agreement (optimistic): {_fmt(fit)}. Compare a student against it on "
            "held-out labels with `judgecache evaluate`.",
            "",
        ]
    )
