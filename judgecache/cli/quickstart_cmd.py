"""``judgecache quickstart``: the whole loop, offline, in one command."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("quickstart")
@click.option(
    "--dir",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the cache, the student and the drift report are written "
    "[default: $XDG_CACHE_HOME/judgecache-quickstart, i.e. ~/.cache/judgecache-quickstart].",
)
@click.option(
    "--judge",
    "judge_spec",
    default="docs",
    show_default=True,
    metavar="SPEC",
    help="The teacher. 'docs' replays labels recorded from the documentation's own structure "
    "(offline, no key); with an API key, e.g. openai:gpt-4o-mini.",
)
@click.option(
    "--small", is_flag=True, help="A reduced run (CI): fewer pairs, a shorter training run."
)
@click.option(
    "--price-model",
    default="gpt-4o",
    show_default=True,
    help="Value saved calls at this model's list price.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's figures as JSON at the end.")
def quickstart(
    out_dir: Path | None, judge_spec: str, small: bool, price_model: str, as_json: bool
) -> None:
    """Judge real text (this Python's documentation) through the embedded diskcache, judge it again
    for free, distill a student from the cached labels and compare it with its zero-shot base, serve
    it on shifted traffic, and explain the drift check against the teacher. About 6 minutes on 2 CPU
    cores (--small: about 3)."""
    from judgecache.quickstart.run import default_dir, run_quickstart

    summary = run_quickstart(
        out_dir or default_dir(),
        judge_spec=judge_spec,
        small=small,
        price_model=price_model,
        echo=click.echo,
    )
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
