"""``judgecache merge``: join the outputs of ``judgecache score --shard I/N`` workers into one.

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(merge, ["--help"]).exit_code
    0
"""

from __future__ import annotations

from pathlib import Path

import click

from judgecache.cli.options import output_option


@click.command("merge")
@click.argument(
    "parts",
    nargs=-1,
    required=True,
    metavar="PART.jsonl...",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@output_option("The merged file, in input order, as one unsharded run would have written it.")
def merge(parts: tuple[Path, ...], output_path: Path) -> None:
    """Merge sharded score outputs (every shard once) into one file in input order.

    \b
    Example:
      judgecache score pairs.jsonl --shard 0/2 -o part0.jsonl ...   # on machine A
      judgecache score pairs.jsonl --shard 1/2 -o part1.jsonl ...   # on machine B
      judgecache merge part0.jsonl part1.jsonl -o judged.jsonl
    """
    from judgecache.sharding import merge_outputs

    written = merge_outputs(list(parts), output_path)
    click.echo(f"merged {len(parts)} part(s): {written:,} lines -> {output_path}")
