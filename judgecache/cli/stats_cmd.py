"""``judgecache stats``: what every judge sharing this cache asked, paid and saved."""

from __future__ import annotations

import json

import click

from judgecache.cli.options import cache_option, dollars, json_option


@click.command("stats")
@cache_option
@click.option(
    "--judge",
    "judge_name",
    default=None,
    metavar="NAME",
    help="Only this judge (provider:model[@version]).",
)
@json_option
def stats(cache_url: str | None, judge_name: str | None, as_json: bool) -> None:
    """Calls, hits, tokens, $ spent and $ saved, per judge and per tag, across all runs that
    shared this cache (other processes, machines and teammates included)."""
    from judgecache.ledger import Ledger
    from judgecache.store import open_store

    with open_store(cache_url) as store:
        rows = [r for r in Ledger(store).persisted() if judge_name in (None, r.judge)]
        url = store.url
    if as_json:
        click.echo(json.dumps({"cache": url, "rows": [r.as_dict() for r in rows]}, indent=2))
        return
    if not rows:
        click.echo(f"no judge activity recorded in {url}")
        return
    click.echo(f"cache {url}")
    header = f"{'judge':<32} {'tag':<14} {'requests':>9} {'hits':>9} {'calls':>7} {'errors':>7} {'tokens':>10} {'spent':>11} {'saved':>11}"
    click.echo(header)
    click.echo("-" * len(header))
    for r in rows:
        t = r.totals
        tokens = int(t["input_tokens"] + t["output_tokens"])
        click.echo(
            f"{r.judge[:32]:<32} {r.tag[:14]:<14} {int(t['requests']):>9,} {int(t['hits']):>9,} "
            f"{int(t['calls']):>7,} {int(t['errors']):>7,} {tokens:>10,} {dollars(t['cost_usd']):>11} {dollars(t['saved_usd']):>11}"
        )
