"""Retries with exponential backoff and full jitter, honouring the server's Retry-After.

Only errors marked ``retryable`` (429, 5xx, timeouts) are retried; auth errors, bad requests and
unparseable output fail at once. The Judge owns this loop so every teacher gets the same policy.

Example:
    >>> policy = RetryPolicy(max_retries=3, base_delay_s=0.5, max_delay_s=8.0)
    >>> 0.0 <= policy.delay(2, None) <= 2.0
    True
    >>> policy.delay(0, retry_after=3.0)
    3.0
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """True for judge API errors that say waiting may help (rate limits, 5xx, timeouts)."""
    return bool(getattr(exc, "retryable", False))


@dataclass
class RetryPolicy:
    """How many times to retry and how long to wait between tries.

    Without Retry-After the wait is drawn uniformly from ``[0, min(max, base * 2**attempt)]``
    ("full jitter"), which spreads a crowd of workers out after a shared 429. With Retry-After the
    wait is what the server asked for, capped at ``max_retry_after_s``. No pair retries past
    ``deadline_s`` seconds from its first try (``None``: no deadline).
    """

    max_retries: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0
    deadline_s: float | None = 300.0
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.monotonic

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(float(retry_after), self.max_retry_after_s)
        cap = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return self.rng.uniform(0.0, cap)

    def _wait(self, attempt: int, exc: Exception, started: float) -> float | None:
        """Seconds to wait before the next try, or ``None`` to give up and raise ``exc``.

        A per-pair deadline bounds the whole loop: a server asking for hours of Retry-After, or
        a long run of 429s, cannot stall one pair (and the run waiting on it) forever.
        """
        if not is_retryable(exc) or attempt >= self.max_retries:
            return None
        wait = self.delay(attempt, getattr(exc, "retry_after", None))
        if self.deadline_s is not None and self.clock() - started + wait > self.deadline_s:
            exc.add_note(
                f"gave up: waiting {wait:.1f}s more would pass the per-pair deadline of "
                f"{self.deadline_s:g}s"
            )
            return None
        return wait

    def call(self, fn: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
        """Run ``fn`` until it succeeds, fails with a non-retryable error, or retries run out."""
        started = self.clock()
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                wait = self._wait(attempt, exc, started)
                if wait is None:
                    raise
                sleep(wait)
                attempt += 1

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Async twin of :meth:`call` (same rules, from :meth:`_wait`)."""
        started = self.clock()
        attempt = 0
        while True:
            try:
                return await fn()
            except Exception as exc:
                wait = self._wait(attempt, exc, started)
                if wait is None:
                    raise
                await asyncio.sleep(wait)
                attempt += 1
