"""``judgecache drift``: measure a baseline, import logs, and run the scheduled drift check.

Exit codes of ``drift run``: 0 pass or warn, 1 fail, 2 inconclusive (too few labels, teacher
unreachable, no traffic in the period), 3 configuration error (bad config, unknown or empty log,
a reference from another judge or rubric, a budget of zero).

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(drift, ["--help"]).exit_code
    0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from judgecache.errors import ConfigError, DriftInputError, InputError, JudgecacheError

EXIT_CONFIG = 3
EXIT_INCONCLUSIVE = 2


def _load(config: Path, **overrides: Any) -> Any:
    from judgecache.drift.config import DriftConfig

    return DriftConfig.load(config).with_overrides(**overrides)


def _open(cfg: Any) -> tuple[Any, Any]:
    from judgecache import Judge
    from judgecache.drift.log import ProductionLog

    judge = Judge(
        cfg.teacher,
        task=cfg.task,
        cache=cfg.cache,
        options=dict(cfg.teacher_options),
        concurrency=cfg.concurrency,
        tag="drift",
    )
    return judge, ProductionLog(cfg.log, namespace=cfg.log_namespace)


def _fail(ctx: click.Context, exc: BaseException) -> None:
    from judgecache.drift.checker import EmptyPeriodError

    if isinstance(exc, EmptyPeriodError):
        click.echo(f"judgecache drift: inconclusive: {exc}", err=True)
        ctx.exit(EXIT_INCONCLUSIVE)
    kind = (
        "configuration error"
        if isinstance(exc, ConfigError | DriftInputError | InputError)
        else "error"
    )
    click.echo(f"judgecache drift: {kind}: {exc}", err=True)
    ctx.exit(EXIT_CONFIG if kind == "configuration error" else 1)


config_option = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The drift config (YAML), e.g. configs/drift/weekly.yaml.",
)
period_option = click.option(
    "--period",
    default=None,
    help="Override the period: YYYY-Www, YYYY-MM-DD..YYYY-MM-DD, last-Nd, previous-week, all.",
)


@click.group("drift")
def drift() -> None:
    """Re-sample production pairs against the teacher and report drift."""


@drift.command("run")
@config_option
@period_option
@click.option("--budget", type=int, default=None, help="Override the teacher-call budget.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json", "none"]),
    default="none",
    show_default=True,
    help="Also print the report in this format.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the rendered report here instead of printing it.",
)
@click.pass_context
def run(
    ctx: click.Context,
    config_path: Path,
    period: str | None,
    budget: int | None,
    fmt: str,
    out_path: Path | None,
) -> None:
    """Run one drift check; exit 0 pass/warn, 1 fail, 2 inconclusive, 3 configuration error."""
    from judgecache.drift.checker import run_check

    try:
        cfg = _load(config_path, period=period, budget=budget)
        judge, log = _open(cfg)
        with judge:
            result = run_check(cfg, judge=judge, log=log)
    except JudgecacheError as exc:
        _fail(ctx, exc)
        return
    v = result.verdict
    click.echo(f"drift {result.report['run']['period']['label']}: {v.status.upper()}", err=True)
    for reason in v.reasons:
        click.echo(f"  - {reason}", err=True)
    if result.path is not None:
        click.echo(f"report saved: {result.path}", err=True)
    if fmt != "none":
        _emit(result.report, fmt, out_path)
    ctx.exit(v.exit_code)


@drift.command("baseline")
@config_option
@period_option
@click.option(
    "--sample-size",
    type=int,
    default=None,
    help="Labelled pairs for the reference (more is steadier; default from config).",
)
@click.option("--budget", type=int, default=None, help="Override the teacher-call budget.")
@click.pass_context
def baseline(
    ctx: click.Context,
    config_path: Path,
    period: str | None,
    sample_size: int | None,
    budget: int | None,
) -> None:
    """Measure the reference and pick the anchor set on a period you trust."""
    from judgecache.drift.checker import make_baseline

    try:
        cfg = _load(config_path, period=period, sample_size=sample_size, budget=budget)
        judge, log = _open(cfg)
        with judge:
            ref, _anchors, summary = make_baseline(cfg, judge=judge, log=log)
    except JudgecacheError as exc:
        _fail(ctx, exc)
        return
    click.echo(
        f"reference saved: {cfg.reference} (student {ref.student_id}, agreement "
        f"{ref.agreement:.3f} on {ref.n_labelled} labels, {summary['population']} logged pairs); "
        f"anchors: {summary['anchors']} in {cfg.anchors_path}; "
        f"teacher calls: {summary['teacher_calls']}"
    )


@drift.command("import")
@config_option
@click.argument("jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_(ctx: click.Context, config_path: Path, jsonl: Path) -> None:
    """Import production-log entries kept elsewhere (JSON Lines) into the configured log."""
    from judgecache.drift.log import ProductionLog

    try:
        cfg = _load(config_path)
        stats = ProductionLog(cfg.log, namespace=cfg.log_namespace).import_jsonl(jsonl)
    except JudgecacheError as exc:
        _fail(ctx, exc)
        return
    click.echo(
        f"imported {stats.stored} of {stats.seen} entries ({stats.duplicate} duplicates, "
        f"{stats.sampled_out} sampled out, {stats.dropped_full} refused: log full)"
    )


def _emit(report: dict[str, Any], fmt: str, out_path: Path | None) -> None:
    from judgecache.cli.report_cmd import render

    text = render(report, fmt)
    if out_path is None:
        click.echo(text, nl=False)
    else:
        out_path.write_text(text, encoding="utf-8")
