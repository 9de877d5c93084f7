"""Options shared by several subcommands, so they read and behave the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

cache_option = click.option(
    "--cache",
    "cache_url",
    metavar="URL",
    envvar="JUDGECACHE_CACHE",
    default=None,
    help="Cache backend: memory://, diskcache://PATH, redis://HOST:PORT/DB, rediss://..., "
    "redis+cluster://HOST:PORT[,...], redis+sentinel://HOST:PORT[,...]/SERVICE/DB "
    "[default: $JUDGECACHE_CACHE, else diskcache in the user cache directory]",
)

task_option = click.option(
    "--task",
    default="relevance",
    show_default=True,
    metavar="TASK",
    help="relevance (query, doc; grades 0-3), faithfulness (context, answer; 0/1), or a rubric .yaml.",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")

progress_option = click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr."
)

fallback_option = click.option(
    "--on-storage-error",
    type=click.Choice(["raise", "fallback"]),
    default="raise",
    show_default=True,
    help="If a remote cache is unreachable: fail, or warn and use the local diskcache.",
)


def judge_option(required: bool = True) -> Callable[[F], F]:
    """``--judge SPEC``, with the valid spec forms in its help."""
    return click.option(
        "--judge",
        "judge_spec",
        required=required,
        metavar="SPEC",
        help="Judge spec: openai:MODEL, anthropic:MODEL, replay:FILE.jsonl, "
        "replay:trec:QRELS,TOPICS,COLLECTION, human:NAME, student:PATH, embedding:default, "
        "embedding:PATH, cascade:STUDENT>TEACHER, python:MODULE:FUNCTION.",
    )


def output_option(help: str) -> Callable[[F], F]:
    """``-o/--output FILE`` (required), passed as ``output_path``; a missing folder is a usage
    error at parse time, before any work (a model load, a teacher call) is paid for."""
    return click.option(
        "-o",
        "--output",
        "output_path",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        callback=existing_folder,
        help=help,
    )


def dollars(x: float) -> str:
    """Money for humans: more decimals for small amounts.

    >>> dollars(0.000123), dollars(12.5)
    ('$0.000123', '$12.50')
    """
    return f"${x:.6f}" if 0 < abs(x) < 0.01 else f"${x:,.2f}"


def existing_folder(ctx: click.Context, param: click.Parameter, path: Path) -> Path:
    """Refuse an output file whose folder does not exist.

    >>> existing_folder(None, None, Path("/no/such/dir/out.jsonl"))
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: cannot write /no/such/dir/out.jsonl: the folder /no/such/dir does not exist
    """
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise click.BadParameter(f"cannot write {path}: the folder {parent} does not exist")
    return path


band_option = click.option(
    "--band",
    "band_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="cascade: judges only: the band file (from `judgecache cascade fit`) "
    "[default: STUDENT/cascade.json].",
)


def judge_options(
    spec: str, *, task: str, cache_url: str | None, band_path: str | None = None
) -> dict[str, Any]:
    """Spec options the command line implies: a cascade escalates through the same ``--cache``.

    One run, one cache: without this a cascade's teacher Judge would open ``$JUDGECACHE_CACHE``
    (or the default diskcache) whatever ``--cache`` said.

    >>> judge_options("cascade:student:s>openai:gpt-4o", task="relevance", cache_url="memory://")
    {'task': 'relevance', 'teacher_cache': 'memory://'}
    >>> judge_options("openai:gpt-4o", task="relevance", cache_url=None)
    {}
    """
    if not spec.strip().startswith("cascade:"):
        if band_path is not None:
            raise click.UsageError("--band applies to cascade: judges only")
        return {}
    options: dict[str, Any] = {"task": task}
    if cache_url is not None:
        options["teacher_cache"] = cache_url
    if band_path is not None:
        options["band"] = band_path
    return options
