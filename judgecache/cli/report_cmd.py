"""``judgecache report``: render the latest (or a given) drift report as Markdown, HTML or JSON.

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(report, ["--help"]).exit_code
    0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from judgecache.errors import JudgecacheError


def render(report: dict[str, Any], fmt: str) -> str:
    """The report in ``md``, ``html`` or ``json``."""
    if fmt == "md":
        from judgecache.drift.render_md import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from judgecache.drift.render_html import render_html

        return render_html(report)
    from judgecache.drift.report_json import dumps

    return dumps(report) + "\n"


@click.command("report")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json"]),
    default="md",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Take the report directory from this config.",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The report directory (default: drift-reports, or the config's).",
)
@click.option(
    "--run",
    "run_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Render this saved run instead of the latest.",
)
@click.option(
    "-o",
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
@click.pass_context
def report(
    ctx: click.Context,
    fmt: str,
    config_path: Path | None,
    report_dir: Path | None,
    run_path: Path | None,
    out_path: Path | None,
) -> None:
    """Render the teacher-agreement report (exit 3 when there is none or it is unreadable)."""
    from judgecache.drift.history import RunHistory
    from judgecache.drift.report_json import load_report

    try:
        if run_path is not None:
            doc = load_report(run_path)
        else:
            if report_dir is None and config_path is not None:
                from judgecache.drift.config import DriftConfig

                report_dir = Path(DriftConfig.load(config_path).report_dir)
            doc = RunHistory(report_dir or Path("drift-reports")).latest()
        text = render(doc, fmt)
    except JudgecacheError as exc:
        click.echo(f"judgecache report: {exc}", err=True)
        ctx.exit(3)
        return
    if out_path is None:
        click.echo(text, nl=False)
    else:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out_path}", err=True)
