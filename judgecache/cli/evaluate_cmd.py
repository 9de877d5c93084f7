"""``judgecache evaluate``: measure a judge (e.g. a student) against a labels file.

Agreement with the labels' teacher (accuracy, balanced accuracy, kappa, weighted kappa for grades,
Spearman, AUC, ECE, confusion matrix, bootstrap intervals), and with human TREC qrels when given,
beside the teacher's own agreement with the humans. Pairs go through the cache like any other
judging (``--cache``, else ``$JUDGECACHE_CACHE``, else the default diskcache), so a rerun is
answered from it; a cascade's escalations use the same cache.

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(evaluate, ["--help"]).exit_code
    0
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from judgecache.cli.options import (
    band_option,
    cache_option,
    json_option,
    judge_option,
    judge_options,
    progress_option,
    task_option,
)

METRICS = (
    "accuracy",
    "balanced_accuracy",
    "binary_kappa",
    "weighted_kappa",
    "spearman",
    "auc",
    "ece",
)


@click.command("evaluate")
@judge_option()
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Reference labels: an export JSONL of one teacher.",
)
@task_option
@click.option(
    "--human-qrels",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="TREC qrels joined on meta.qid/docid (repeatable).",
)
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the metrics JSON here.",
)
@cache_option
@band_option
@progress_option
@json_option
def evaluate(
    judge_spec: str,
    labels_path: Path,
    task: str,
    human_qrels: tuple[str, ...],
    bootstrap: int,
    seed: int,
    output: Path | None,
    cache_url: str | None,
    band_path: str | None,
    progress: bool,
    as_json: bool,
) -> None:
    """Agreement of a judge with a labels file (and with human qrels, beside the teacher's).

    The judge's answers go through the cache (see --cache), so a second run is fast.
    """
    from tqdm import tqdm

    from judgecache.distill.data import load_labels
    from judgecache.distill.evaluate import evaluate_judge, read_qrels
    from judgecache.judges.judge import Judge

    part = load_labels(labels_path, task=task)
    humans: dict[tuple[str, str], int] = {}
    for path in human_qrels:
        humans.update(read_qrels(path))
    options = judge_options(
        judge_spec, task=part.rubric.name, cache_url=cache_url, band_path=band_path
    )
    judge = Judge(judge_spec, task=part.rubric, cache=cache_url, options=options)
    bar = tqdm(total=len(part), desc="evaluate", unit="pair", disable=not progress, file=sys.stderr)
    with judge, bar:
        result = evaluate_judge(
            judge,
            part,
            human=humans or None,
            n_boot=bootstrap,
            seed=seed,
            name="judged",
            progress=bar.update,
        )
    result["judge"] = judge_spec
    text = json.dumps(result, indent=2, sort_keys=True)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    if as_json:
        click.echo(text)
        return
    from judgecache.stats import format_ci

    click.echo(f"{judge_spec} vs {result['reference']} on {result['n']} pairs")
    rows = [("vs teacher", result["judged"])]
    if "vs_human" in result:
        rows += [
            ("vs humans", result["vs_human"]["judged"]),
            ("teacher vs humans", result["vs_human"]["teacher"]),
        ]
    for title, stats in rows:
        click.echo(title)
        for key in METRICS:
            metric = stats.get(key)
            if metric:
                click.echo(f"  {key:<17} {format_ci(metric)}")
