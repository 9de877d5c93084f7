"""``judgecache export``: write one judge's cached labels to JSONL (the input of distillation)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from judgecache.cli.options import cache_option, json_option, output_option
from judgecache.errors import ConfigError


@click.command("export")
@cache_option
@click.option(
    "--judge",
    "judge_name",
    default=None,
    metavar="NAME",
    help="Judge identity provider:model[@version]; required when the cache holds several.",
)
@click.option("--task", default=None, help="Only labels of this task.")
@output_option("JSONL file to write.")
@json_option
def export(
    cache_url: str | None,
    judge_name: str | None,
    task: str | None,
    output_path: Path,
    as_json: bool,
) -> None:
    """Export cached labels of ONE judge identity, one JSON object per line: key, task, rubric,
    judge, inputs, label, score, source, created_at, meta."""
    from judgecache.export import iter_labels, judge_counts
    from judgecache.store import open_store

    with open_store(cache_url) as store:
        if judge_name is None:
            judges = sorted({j for j, t in judge_counts(store) if task in (None, t)})
            if len(judges) > 1:
                raise ConfigError(
                    f"the cache holds several judges; pick one with --judge: {judges}"
                )
            if not judges:
                raise ConfigError(
                    f"no labels in {store.url}" + (f" for task {task!r}" if task else "")
                )
            judge_name = judges[0]
        n = 0
        with output_path.open("w", encoding="utf-8") as out:
            for row in iter_labels(store, judge=judge_name, task=task):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    if n == 0:
        raise ConfigError(
            f"no labels for judge {judge_name!r}" + (f" and task {task!r}" if task else "")
        )
    if as_json:
        click.echo(json.dumps({"judge": judge_name, "exported": n, "output": str(output_path)}))
    else:
        click.echo(f"exported {n:,} labels of {judge_name} to {output_path}")
