"""``judgecache import``: seed the cache with labels already paid for.

The labels are stored under the identity of ``--judge`` exactly as that judge would key them, so
scoring the same pairs with the same judge afterwards makes zero teacher calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import click

from judgecache.cli.options import cache_option, json_option, judge_option, task_option
from judgecache.errors import ConfigError, InputError

Record = tuple[object, object, object, Mapping[str, str] | None]
ExistingFile = click.Path(exists=True, dir_okay=False, path_type=Path)


def _jsonl_records(path: Path, fields: tuple[str, str]) -> Iterator[Record]:
    from judgecache.io.jsonl import iter_jsonl

    for line, row in iter_jsonl(path):
        if "label" not in row:
            raise InputError("is missing", field="label", line=line)
        nested = row.get("inputs")
        inputs: dict[str, object] = nested if isinstance(nested, dict) else row
        for name in fields:
            value = inputs.get(name)
            if not isinstance(value, str) or not value.strip():
                raise InputError("is missing, empty or not a string", field=name, line=line)
        meta = row.get("meta") if isinstance(row.get("meta"), dict) else None
        yield inputs[fields[0]], inputs[fields[1]], row["label"], meta


def _trec_records(qrels: Path, topics: Path, collection: Path) -> Iterator[Record]:
    from judgecache.io.trec import iter_trec_pairs

    for qid, docid, query, doc, grade in iter_trec_pairs(qrels, topics, collection):
        yield query, doc, grade, {"qid": qid, "docid": docid}


@click.command("import")
@click.argument("jsonl_path", metavar="[FILE.jsonl]", required=False, type=ExistingFile)
@judge_option()
@task_option
@cache_option
@click.option("--qrels", type=ExistingFile, help="TREC qrels (qid 0 docid grade).")
@click.option("--topics", type=ExistingFile, help="TREC topics (qid<TAB>query).")
@click.option("--collection", type=ExistingFile, help="TREC collection (docid<TAB>passage).")
@json_option
def import_(
    jsonl_path: Path | None,
    judge_spec: str,
    task: str,
    cache_url: str | None,
    qrels: Path | None,
    topics: Path | None,
    collection: Path | None,
    as_json: bool,
) -> None:
    """Store labels from FILE.jsonl (the task's two fields plus "label", optional "meta") or from
    TREC qrels + topics + collection, under the identity of --judge. Nothing is sent to the judge.

    \b
    Example:
      judgecache import --judge openai:gpt-4o --qrels qrels.gpt-4o-umbrela.dl19.txt \\
          --topics topics.dl19.tsv --collection collection.dl19.tsv
    """
    from judgecache.judges.judge import Judge

    trec = (qrels, topics, collection)
    if jsonl_path is None and not any(trec):
        raise ConfigError("give FILE.jsonl or all of --qrels, --topics and --collection")
    if jsonl_path is not None and any(trec):
        raise ConfigError("give FILE.jsonl or TREC files, not both")
    if jsonl_path is None and not all(trec):
        missing = [
            n
            for n, v in zip(("--qrels", "--topics", "--collection"), trec, strict=True)
            if v is None
        ]
        raise ConfigError(f"TREC import needs {', '.join(missing)} as well")
    with Judge(judge_spec, task=task, cache=cache_url) as judge:
        if jsonl_path is not None:
            records = _jsonl_records(jsonl_path, judge.rubric.fields)
        else:
            assert qrels and topics and collection
            records = _trec_records(qrels, topics, collection)
        before = judge.store.count()
        n = judge.put_many(records)
        after = judge.store.count()
        result = {
            "judge": judge.name,
            "task": judge.rubric.name,
            "imported": n,
            "new_entries": after - before,
            "cache": judge.store.url,
        }
    if n == 0:
        source = jsonl_path if jsonl_path is not None else qrels
        click.echo(f"judgecache: 0 labels read from {source} (empty file?)", err=True)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(
            f"imported {n:,} labels under {result['judge']} ({result['new_entries']:,} new cache "
            f"entries) into {result['cache']}"
        )
