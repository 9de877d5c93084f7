"""The ``judgecache`` command: a click group whose subcommands load only when invoked.

Lazy loading keeps ``judgecache --help`` fast and free of torch: each subcommand lives in its own
module and is imported the first time it is called (or when its own ``--help`` is shown).

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(cli, ["--help"]).exit_code
    0
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import click

from judgecache.errors import ConfigError, JudgecacheError

# name -> (module, attribute, one-line help shown by `judgecache --help` without importing it)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "score": (
        "judgecache.cli.score_cmd",
        "score",
        "Judge the pairs of a JSONL file through the cache.",
    ),
    "merge": ("judgecache.cli.merge_cmd", "merge", "Join sharded score outputs in input order."),
    "stats": ("judgecache.cli.stats_cmd", "stats", "Calls, hits, tokens, $ spent and saved."),
    "import": (
        "judgecache.cli.import_cmd",
        "import_",
        "Seed the cache with labels already paid for.",
    ),
    "export": ("judgecache.cli.export_cmd", "export", "Write one judge's cached labels to JSONL."),
    "cache": ("judgecache.cli.cache_cmd", "cache", "Inspect or clear a cache (info, clear, key)."),
    "distill": (
        "judgecache.cli.distill_cmd",
        "distill",
        "Train a LoRA student from cached labels.",
    ),
    "evaluate": ("judgecache.cli.evaluate_cmd", "evaluate", "Measure a judge against labels."),
    "baseline": (
        "judgecache.cli.baseline_cmd",
        "baseline",
        "Fit the zero-shot + fitted cuts baseline as a judge (embedding:DIR).",
    ),
    "cascade": (
        "judgecache.cli.cascade_cmd",
        "cascade",
        "Choose a cascade band (fit), read it (report), run an audited batch (batch), retrain the "
        "student (refresh).",
    ),
    "drift": (
        "judgecache.cli.drift_cmd",
        "drift",
        "Re-sample production pairs against the teacher.",
    ),
    "report": ("judgecache.cli.report_cmd", "report", "Render the teacher-agreement report."),
    "quickstart": ("judgecache.cli.quickstart_cmd", "quickstart", "Run the whole loop offline."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, short_help = entry
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            # Listing help must not fail because a subcommand is not built yet.
            return click.Command(cmd_name, short_help=short_help + " (not available)")
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attr} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static one-liners so that `--help` imports no subcommand module (and no torch).
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="judgecache")
def cli() -> None:
    """judgecache: cache LLM-as-judge calls, distill specialist judges, and watch them drift.

    The cache defaults to diskcache in your user cache directory; set --cache or JUDGECACHE_CACHE
    to share one (e.g. redis://host:6379/0).
    """


EXIT_FAILURE = 1
EXIT_CONFIG = 3  # also for usage errors: click's own 2 would read as drift's "inconclusive"
EXIT_INTERRUPTED = 130


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (``main`` hands it to the shell).

    Exit codes: 0 success, 1 failure (a one-line message on stderr), 3 configuration or usage
    error (a bad option, a missing file, an unknown config key); ``drift run`` adds 1 fail and
    2 inconclusive; 130 interrupted.

    Example:
        >>> run(["cache", "key", "q", "d", "--judge", "no-such-provider:x"])
        3
    """
    with _one_line_messages():
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    try:
        # standalone_mode=False hands back the code a command passed to ctx.exit(N); with the
        # default mode click would call sys.exit itself and our error mapping below would not run.
        returned = cli.main(args=argv, prog_name="judgecache", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_INTERRUPTED
    except click.UsageError as exc:
        exc.show()
        return EXIT_CONFIG
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ConfigError as exc:
        click.echo(f"judgecache: configuration error: {exc}", err=True)
        return EXIT_CONFIG
    except JudgecacheError as exc:
        click.echo(f"judgecache: error: {exc}", err=True)
        return EXIT_FAILURE
    # A command that returns normally returns None; ctx.exit(N) comes back as the int N.
    return returned if isinstance(returned, int) and not isinstance(returned, bool) else 0


class _EchoHandler(logging.Handler):
    """Log records as ``judgecache: warning: ...`` on whatever stderr is current (click's echo)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"judgecache: {record.levelname.lower()}: {record.getMessage()}", err=True)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    click.echo(f"judgecache: warning: {message}", err=True)


@contextmanager
def _one_line_messages() -> Iterator[None]:
    """Warnings and judgecache's log warnings as one line each, without source lines.

    A remote cache that fails over to the local one both warns (for API users) and logs (for
    services); on the command line the log line is enough, so the warning is not shown twice.
    """
    from judgecache.quiet import quiet_libraries
    from judgecache.store.policy import CacheFallbackWarning

    logger = logging.getLogger("judgecache")
    handler = _EchoHandler(logging.WARNING)
    logger.addHandler(handler)
    previous_level = logger.level
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            quiet_libraries()  # before any subcommand imports transformers
            warnings.simplefilter("ignore", CacheFallbackWarning)
            warnings.showwarning = _show_warning
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and exit with its code."""
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
