"""Named stage lines on stderr, so a long run is never silent between its progress bars.

Each stage prints a start line (what it is doing now) and an end line with its time; notes
(early stopping) and warnings (a degenerate student) go to the same stream. Warnings print even
when the stage lines are switched off: they must never be missed.

Example:
    >>> import io
    >>> buf = io.StringIO()
    >>> log = StageLog("distill", stages=2, stream=buf, clock=iter([0.0, 1.5]).__next__)
    >>> with log.stage("prepare", "reading labels"):
    ...     log.done("300 labels")
    >>> print(buf.getvalue().strip())
    distill [1/2] prepare: reading labels ...
    distill [1/2] prepare done in 1.5 s: 300 labels
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO


class StageLog:
    """Stage lines for one command run (``enabled=False``: only warnings are printed)."""

    def __init__(
        self,
        name: str,
        *,
        stages: int,
        enabled: bool = True,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.name = name
        self.stages = stages
        self.enabled = enabled
        self.stream = stream
        self.clock = clock
        self.index = 0
        self._summary = ""
        self.warnings: list[str] = []

    def _write(self, line: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()

    @contextmanager
    def stage(self, title: str, what: str) -> Iterator[None]:
        """Announce a stage, run the block, then print its time (and :meth:`done`'s summary)."""
        self.index += 1
        head = f"{self.name} [{self.index}/{self.stages}] {title}"
        if self.enabled:
            self._write(f"{head}: {what} ...")
        self._summary = ""
        start = self.clock()
        yield
        if self.enabled:
            tail = f": {self._summary}" if self._summary else ""
            self._write(f"{head} done in {self.clock() - start:.1f} s{tail}")

    def done(self, summary: str) -> None:
        """What the current stage produced, shown on its end line."""
        self._summary = summary

    def note(self, text: str) -> None:
        """A line worth reading (e.g. early stopping), shown when stage lines are on."""
        if self.enabled:
            self._write(f"{self.name}: {text}")

    def warn(self, text: str) -> None:
        """A warning: always printed, and kept in :attr:`warnings`."""
        self.warnings.append(text)
        self._write(f"{self.name}: WARNING: {text}")
