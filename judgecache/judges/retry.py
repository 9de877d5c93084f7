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
    wait is what the server asked for, capped at ``max_retry_after_s``.
    """

    max_retries: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(float(retry_after), self.max_retry_after_s)
        cap = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return self.rng.uniform(0.0, cap)

    def call(self, fn: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
        """Run ``fn`` until it succeeds, fails with a non-retryable error, or retries run out."""
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                if not is_retryable(exc) or attempt >= self.max_retries:
                    raise
                sleep(self.delay(attempt, getattr(exc, "retry_after", None)))
                attempt += 1

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Async twin of :meth:`call`."""
        attempt = 0
        while True:
            try:
                return await fn()
            except Exception as exc:
                if not is_retryable(exc) or attempt >= self.max_retries:
                    raise
                await asyncio.sleep(self.delay(attempt, getattr(exc, "retry_after", None)))
                attempt += 1
