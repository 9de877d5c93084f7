"""``judgecache score``: judge every pair of a JSONL file through the cache, streaming.

Each output line is the input line plus ``label``, ``score``, ``cached`` and ``key`` (or ``error``
when the teacher failed on that pair). The input is read and written in chunks, so memory stays
flat on files of any length, and everything judged before a crash or a spent budget is already in
the cache: the rerun pays only for what is missing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import click

from judgecache.cli.options import (
    band_option,
    cache_option,
    dollars,
    fallback_option,
    json_option,
    judge_option,
    judge_options,
    output_option,
    task_option,
)
from judgecache.errors import AuthError, BudgetExceededError, ConfigError, JudgecacheError
from judgecache.sharding import LINE_FIELD, Shard, parse_shard, shard_records


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _shard(value: str | None) -> Shard | None:
    try:
        return parse_shard(value) if value else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("score")
@click.argument(
    "input_path", metavar="IN.jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@judge_option()
@task_option
@cache_option
@output_option("Where to write the judged lines (JSONL).")
@click.option("--tag", default=None, help="Who asks (eval or dashboard name), for the cost ledger.")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Teacher calls in flight on misses.",
)
@click.option(
    "--max-calls", type=click.IntRange(0), default=None, help="Stop after this many teacher calls."
)
@click.option(
    "--max-cost",
    "max_cost_usd",
    type=click.FloatRange(0),
    default=None,
    help="Stop once this many dollars are spent.",
)
@click.option(
    "--price-model",
    default=None,
    metavar="MODEL",
    help="Value hits of imported labels at this model's list price (e.g. gpt-4o).",
)
@click.option(
    "--lease-ttl",
    "lease_ttl_s",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.5),
    help="Seconds after which a crashed holder's lease on a pair lapses.",
)
@click.option(
    "--chunk-size",
    default=1024,
    show_default=True,
    type=click.IntRange(1),
    help="Pairs read, judged and written per step.",
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Show a progress bar on stderr.",
)
@band_option
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    callback=lambda _ctx, _param, value: _shard(value),
    help="Judge only worker I's share of N (by key hash; 0 <= I < N); merge the parts with "
    "`judgecache merge`.",
)
@fallback_option
@json_option
def score(
    input_path: Path,
    judge_spec: str,
    task: str,
    cache_url: str | None,
    output_path: Path,
    tag: str | None,
    concurrency: int,
    max_calls: int | None,
    max_cost_usd: float | None,
    price_model: str | None,
    lease_ttl_s: float,
    chunk_size: int,
    progress: bool,
    band_path: str | None,
    on_storage_error: str,
    as_json: bool,
    shard: Shard | None = None,
) -> None:
    """Judge the pairs of IN.jsonl (one JSON object per line with the task's two fields:
    query/doc for relevance, context/answer for faithfulness) and write them with their labels.

    \b
    Example:
      judgecache score pairs.jsonl --judge openai:gpt-4o-mini -o judged.jsonl --tag nightly
    """
    from tqdm import tqdm

    from judgecache.io.jsonl import read_pairs
    from judgecache.judges.judge import Judge

    judge = Judge(
        judge_spec,
        task=task,
        cache=cache_url,
        concurrency=concurrency,
        max_calls=max_calls,
        max_cost_usd=max_cost_usd,
        tag=tag,
        on_storage_error=on_storage_error,  # type: ignore[arg-type]
        price_model=price_model,
        lease_ttl_s=lease_ttl_s,
        options=judge_options(judge_spec, task=task, cache_url=cache_url, band_path=band_path),
    )
    total = _count_lines(input_path) if progress else None
    bar = tqdm(total=total, unit="pair", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    records: Iterator[Any] = iter(read_pairs(input_path, judge.rubric.fields))
    if shard is not None:
        records = shard_records(records, shard, judge)
    errors = 0
    first_error: JudgecacheError | None = None
    stopped: BudgetExceededError | AuthError | None = None
    with judge, output_path.open("w", encoding="utf-8") as out:
        while stopped is None:
            chunk = list(islice(records, chunk_size))
            if not chunk:
                break
            pairs = [
                (r.inputs[judge.rubric.fields[0]], r.inputs[judge.rubric.fields[1]]) for r in chunk
            ]
            results = judge.score_many_settled(pairs, progress=bar.update)
            failed, stopped = _write_rows(out, chunk, results, with_line=shard is not None)
            errors += len(failed)
            first_error = first_error or next(iter(failed), None)
        bar.close()
        totals = judge.ledger.totals(judge.name)
    summary = _summary(judge, totals, errors, stopped, output_path)
    if summary["pairs"] == 0 and errors == 0 and stopped is None:
        click.echo(f"judgecache: 0 pairs read from {input_path} (empty file?)", err=True)
    click.echo(json.dumps(summary) if as_json else _summary_text(summary))
    _exit_on_failure(stopped, first_error, errors, output_path)


def _write_rows(
    out: Any, chunk: list[Any], results: Any, *, with_line: bool = False
) -> tuple[list[JudgecacheError], BudgetExceededError | AuthError | None]:
    """Write each judged row (or its error); return the failures and why to stop, if at all."""
    failed: list[JudgecacheError] = []
    stopped: BudgetExceededError | AuthError | None = None
    for record, result in zip(chunk, results, strict=True):
        row = dict(record.row)
        if with_line:
            row[LINE_FIELD] = record.line  # sharded: `judgecache merge` restores input order
        if isinstance(result, BudgetExceededError):
            stopped = result
            continue  # not judged: leave it out so a rerun's output is the complete one
        if isinstance(result, JudgecacheError):
            failed.append(result)
            if isinstance(result, AuthError):
                stopped = result  # every further call would be refused the same way
            row["error"] = f"{type(result).__name__}: {result}"
        else:
            row.update(label=result.label, score=result.score, cached=result.cached, key=result.key)
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return failed, stopped


def _exit_on_failure(
    stopped: object, first_error: JudgecacheError | None, errors: int, output_path: Path
) -> None:
    """Exit 1 with the reason when the run stopped early or some pairs failed."""
    if isinstance(stopped, AuthError):
        click.echo(
            f"judgecache: stopped: the teacher refused the credentials: {first_error}", err=True
        )
        sys.exit(1)
    if stopped is not None:
        click.echo(f"judgecache: stopped early: {stopped}; rerun to judge the rest", err=True)
        sys.exit(1)
    if errors:
        click.echo(
            f"judgecache: {errors} pair(s) failed (first: {type(first_error).__name__}: "
            f"{first_error}); see the 'error' field in {output_path}",
            err=True,
        )
        sys.exit(1)


def _summary(
    judge: Any, totals: Any, errors: int, stopped: object, output_path: Path
) -> dict[str, Any]:
    """Counts for the run; a cascade's split into student answers, escalations and teacher work.

    ``teacher_calls`` is always the number of calls the real teacher was paid for: for a cascade
    that is only the escalations the cache could not answer, not every pair the cascade judged.
    """
    from judgecache.judges.cascade import CascadeTeacher

    summary: dict[str, Any] = {
        "pairs": int(totals["requests"]),
        "hits": int(totals["hits"]),
        "teacher_calls": int(totals["calls"]),
        "coalesced": int(totals["coalesced"]),
        "errors": errors,
        "spent_usd": round(totals["cost_usd"], 6),
        "saved_usd": round(totals["saved_usd"], 6),
        "budget_exhausted": isinstance(stopped, BudgetExceededError),
        "output": str(output_path),
    }
    if isinstance(judge.teacher, CascadeTeacher):
        stats = judge.teacher.stats()
        summary.update(
            cascade_answers=int(totals["calls"]),
            student_answers=stats["kept"],
            escalations=stats["escalated"],
            teacher_calls=stats["teacher_calls"],
            teacher_cache_hits=stats["teacher_cached"],
        )
    return summary


def _summary_text(s: dict[str, Any]) -> str:
    head = f"pairs {s['pairs']:,} · hits {s['hits']:,}"
    if "escalations" in s:
        head += (
            f" · student answers {s['student_answers']:,} · escalations {s['escalations']:,}"
            f" (teacher calls {s['teacher_calls']:,}, teacher cache hits "
            f"{s['teacher_cache_hits']:,})"
        )
    else:
        head += f" · teacher calls {s['teacher_calls']:,}"
    return (
        f"{head} · spent {dollars(s['spent_usd'])} · saved {dollars(s['saved_usd'])} · "
        f"wrote {s['output']}"
    )
