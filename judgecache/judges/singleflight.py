"""Single-flight: identical concurrent requests make exactly one teacher call.

Two layers. Within a process, :class:`InflightRegistry` hands the first caller of a key a future
that every later caller (thread or asyncio task) waits on. Across processes and machines,
:func:`lease_or_value` takes a lease with expiry in the shared backend (diskcache ``add``, Redis
``SET NX PX``); whoever loses waits for the winner's value, and takes over if the lease expires
without one, so a crashed holder never blocks the others for good.

Example:
    >>> reg = InflightRegistry()
    >>> fut, owner = reg.claim("k"); fut2, owner2 = reg.claim("k")
    >>> owner, owner2, fut is fut2
    (True, False, True)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from judgecache.store.base import Store


class InflightRegistry:
    """One future per key being resolved in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[str, Future[Any]] = {}

    def claim(self, key: str) -> tuple[Future[Any], bool]:
        """The key's future, and whether the caller owns it (and so must resolve it)."""
        with self._lock:
            fut = self._futures.get(key)
            if fut is not None:
                return fut, False
            fut = Future()
            self._futures[key] = fut
            return fut, True

    def resolve(self, key: str, result: Any = None, error: BaseException | None = None) -> None:
        """Finish the key's future (owner only) and forget it, so later misses start afresh."""
        with self._lock:
            fut = self._futures.pop(key)
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)


def lease_or_value(
    store: Store,
    key: str,
    owner: str,
    ttl_s: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    max_poll_s: float = 0.25,
) -> str | None:
    """Return the stored value once one exists, or ``None`` when the caller now holds the lease.

    The value is re-read after the lease is won: the previous holder may have written it between
    our read and our lease.
    """
    delay = 0.005
    while True:
        value = store.get(key)
        if value is not None:
            return value
        if store.acquire_lease(key, owner, ttl_s):
            value = store.get(key)
            if value is not None:
                store.release_lease(key, owner)
            return value
        sleep(delay)
        delay = min(delay * 2, max_poll_s)
