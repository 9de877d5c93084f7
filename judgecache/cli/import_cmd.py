"""``judgecache import``: seed the cache with labels already paid for.

The labels are stored under the identity of ``--judge`` exactly as that judge would key them, so
scoring the same pairs with the same judge afterwards makes zero teacher calls. Human judgments go
under ``human:NAME`` (e.g. ``human:trec-dl``), which never pretends to be a model.

Rows whose (normalised) text pair is the same are one cache entry; when their labels disagree,
``--on-conflict`` decides (:mod:`judgecache.io.conflicts`, the policy the ``replay:`` teacher
shares), and the summary says how many rows were merged and how many pairs conflicted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from judgecache.cli.options import cache_option, json_option, judge_option, task_option
from judgecache.errors import ConfigError, InputError
from judgecache.io.conflicts import DEFAULT_POLICY, POLICIES

Record = tuple[object, object, object, Mapping[str, str] | None]
ExistingFile = click.Path(exists=True, dir_okay=False, path_type=Path)
FORMATS = ("auto", "jsonl", "nli", "summedits")


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


def _nli_records(path: Path) -> Iterator[Record]:
    from judgecache.io.nli import iter_nli

    for r in iter_nli(path):
        meta = {"line": str(r.line)} | ({"id": r.id} if r.id is not None else {})
        yield r.premise, r.hypothesis, r.label, meta


def _summedits_records(path: Path) -> Iterator[Record]:
    from judgecache.io.summedits import iter_summedits

    for r in iter_summedits(path):
        yield r.doc, r.summary, r.label, {"id": r.id, "domain": r.domain}


def _trec_records(qrels: Path, topics: Path, collection: Path) -> Iterator[Record]:
    from judgecache.io.trec import iter_trec_pairs

    for qid, docid, query, doc, grade in iter_trec_pairs(qrels, topics, collection):
        yield query, doc, grade, {"qid": qid, "docid": docid}


def detect_format(path: Path) -> str:
    """``summedits`` for a ``.json`` file, ``nli`` for JSONL rows with premise/hypothesis."""
    if path.suffix == ".json":
        return "summedits"
    from judgecache.io.jsonl import iter_jsonl
    from judgecache.io.nli import is_nli_row

    first = next(iter_jsonl(path), None)
    return "nli" if first is not None and is_nli_row(first[1]) else "jsonl"


def _file_records(path: Path, fmt: str, task: str, fields: tuple[str, str]) -> Iterator[Record]:
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt in ("nli", "summedits") and tuple(fields) != ("context", "answer"):
        raise ConfigError(
            f"{path} is {fmt} data (source, claim): import it with --task faithfulness, "
            f"not --task {task}"
        )
    if fmt == "nli":
        return _nli_records(path)
    if fmt == "summedits":
        return _summedits_records(path)
    return _jsonl_records(path, fields)


def _check_sources(jsonl_path: Path | None, trec: tuple[Path | None, ...]) -> None:
    if jsonl_path is None and not any(trec):
        raise ConfigError("give FILE or all of --qrels, --topics and --collection")
    if jsonl_path is not None and any(trec):
        raise ConfigError("give FILE or TREC files, not both")
    if jsonl_path is None and not all(trec):
        names = ("--qrels", "--topics", "--collection")
        missing = [n for n, v in zip(names, trec, strict=True) if v is None]
        raise ConfigError(f"TREC import needs {', '.join(missing)} as well")


@click.command("import")
@click.argument("jsonl_path", metavar="[FILE]", required=False, type=ExistingFile)
@judge_option()
@task_option
@cache_option
@click.option("--qrels", type=ExistingFile, help="TREC qrels (qid 0 docid grade).")
@click.option("--topics", type=ExistingFile, help="TREC topics (qid<TAB>query).")
@click.option("--collection", type=ExistingFile, help="TREC collection (docid<TAB>passage).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="FILE's format; auto: .json is SummEdits, JSONL with premise/hypothesis is NLI.",
)
@click.option(
    "--on-conflict",
    type=click.Choice(POLICIES),
    default=DEFAULT_POLICY,
    show_default=True,
    help="Label kept when rows with the same text pair disagree (majority: ties go to the "
    "highest label; refuse: stop and name them). The replay: teacher uses the same policy.",
)
@json_option
def import_(
    jsonl_path: Path | None,
    judge_spec: str,
    task: str,
    cache_url: str | None,
    qrels: Path | None,
    topics: Path | None,
    collection: Path | None,
    fmt: str,
    on_conflict: str,
    as_json: bool,
) -> None:
    """Store labels under the identity of --judge; nothing is sent to the judge. FILE is JSONL
    (the task's two fields plus "label", optional "meta"), NLI-style JSONL (premise, hypothesis,
    label: faithfulness) or a SummEdits JSON list (doc, summary, label: faithfulness); or give
    TREC qrels + topics + collection. Human labels go under a human:NAME judge.

    \b
    Example:
      judgecache import --judge openai:gpt-4o --qrels qrels.gpt-4o-umbrela.dl19.txt \\
          --topics topics.dl19.tsv --collection collection.dl19.tsv
      judgecache import --judge human:trec-dl --qrels qrels.human.dl19.txt ...
      judgecache import --judge human:snli --task faithfulness snli_dev_test.jsonl
    """
    from judgecache.io.conflicts import merge_labels
    from judgecache.judges.judge import Judge

    trec = (qrels, topics, collection)
    _check_sources(jsonl_path, trec)
    with Judge(judge_spec, task=task, cache=cache_url) as judge:
        if jsonl_path is not None:
            records = _file_records(jsonl_path, fmt, task, judge.rubric.fields)
        else:
            assert qrels and topics and collection
            records = _trec_records(qrels, topics, collection)
        merged = merge_labels(records, on_conflict)
        before = judge.store.count()
        n = judge.put_many((r.first, r.second, r.label, r.meta) for r in merged.records)
        after = judge.store.count()
        result: dict[str, Any] = {
            "judge": judge.name,
            "task": judge.rubric.name,
            "rows": merged.rows,
            "imported": n,
            "merged": merged.merged,
            "conflicted": merged.conflicted,
            "on_conflict": on_conflict,
            "new_entries": after - before,
            "cache": judge.store.url,
        }
    if n == 0:
        source = jsonl_path if jsonl_path is not None else qrels
        click.echo(f"judgecache: 0 labels read from {source} (empty file?)", err=True)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"read {merged.rows:,} rows: {n:,} distinct pairs imported under {result['judge']} "
        f"({result['new_entries']:,} new cache entries) into {result['cache']}"
    )
    if merged.merged:
        click.echo(
            f"merged {merged.merged:,} rows into pairs with the same text; {merged.conflicted:,} "
            f"pairs had conflicting labels (kept by --on-conflict {on_conflict})"
        )
        for ex in merged.examples[:3]:
            rows = ", ".join(f"{w}={lab}" for w, lab in zip(ex.where, ex.labels, strict=True))
            click.echo(f"  conflict: {rows} -> {ex.label}")
