"""``judgecache cache``: look inside a cache (info, show a key, explain a key) or clear it."""

from __future__ import annotations

import json
from typing import Any

import click

from judgecache.cli.options import cache_option, json_option, judge_option, task_option


@click.group("cache")
def cache() -> None:
    """Inspect or clear a cache backend."""


@cache.command("info")
@cache_option
@json_option
def info(cache_url: str | None, as_json: bool) -> None:
    """Backend facts (entries, size, evictions) and how many labels each judge holds."""
    from judgecache.export import judge_counts
    from judgecache.store import open_store

    with open_store(cache_url) as store:
        facts = store.info()
        facts["judges"] = [
            {"judge": j, "task": t, "entries": n}
            for (j, t), n in sorted(judge_counts(store).items())
        ]
    if as_json:
        click.echo(json.dumps(facts, indent=2, default=str))
        return
    for k, v in facts.items():
        if k != "judges":
            click.echo(f"{k:<12} {v}")
    for row in facts["judges"]:
        click.echo(f"  {row['judge']:<40} {row['task']:<14} {row['entries']:>9,}")


@cache.command("clear")
@cache_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clear(cache_url: str | None, yes: bool) -> None:
    """Delete every entry, lease and ledger counter of the cache."""
    from judgecache.store import open_store

    with open_store(cache_url) as store:
        if not yes:
            click.confirm(f"Delete all {store.count():,} entries of {store.url}?", abort=True)
        n = store.clear()
    click.echo(f"cleared {n:,} entries")


@cache.command("key")
@click.argument("first")
@click.argument("second")
@judge_option()
@task_option
@cache_option
@json_option
def key(
    first: str, second: str, judge_spec: str, task: str, cache_url: str | None, as_json: bool
) -> None:
    """Show the key of one pair, the parts it is made of, and whether the cache holds it.

    Compare the parts of two keys to see why a lookup missed: any change of judge identity,
    prompt, output parameter or (normalized) input text gives another key.
    """
    from judgecache.judges.judge import Judge

    with Judge(judge_spec, task=task, cache=cache_url) as judge:
        material = judge.key_material(first, second)
        digest = material.digest()
        cached = judge.store.get(digest)
    parts = material.as_dict()
    out: dict[str, Any] = {"key": digest, "cached": cached is not None, "material": parts}
    if cached is not None:
        out["value"] = json.loads(cached)
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    click.echo(f"key      {digest}")
    click.echo(f"cached   {'yes' if cached is not None else 'no'}")
    m = parts
    click.echo(f"judge    {m['judge']}")
    click.echo(f"params   {m['params']}")
    click.echo(f"prompt   rubric={m['prompt'].get('rubric')} sha256={_short_hash(m['prompt'])}")
    for name, value in m["inputs"].items():
        click.echo(f"{name:<8} {value[:100]!r}{'…' if len(value) > 100 else ''}")


def _short_hash(value: object) -> str:
    import hashlib

    from judgecache.keys import canonical_json

    return hashlib.sha256(canonical_json(value)).hexdigest()[:12]
