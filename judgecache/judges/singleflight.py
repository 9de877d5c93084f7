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

import logging
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
    accept: Callable[[str], bool] = lambda _: True,
) -> str | None:
    """Return the stored value once one exists, or ``None`` when the caller now holds the lease.

    The value is re-read after the lease is won: the previous holder may have written it between
    our read and our lease. A value ``accept`` refuses (an unreadable entry) counts as absent, so
    the lease holder judges the pair again and overwrites it.
    """
    delay = 0.005
    while True:
        value = store.get(key)
        if value is not None and accept(value):
            return value
        if store.acquire_lease(key, owner, ttl_s):
            value = store.get(key)
            if value is not None and accept(value):
                store.release_lease(key, owner)
                return value
            return None
        sleep(delay)
        delay = min(delay * 2, max_poll_s)


class LeaseKeeper:
    """Renews the leases this process holds, so a short TTL only expires when the holder is gone.

    A teacher call may outlive the lease TTL (slow model, retries after 429s). Rather than a long
    TTL, which would make others wait long after a crash, a daemon thread renews every held lease
    each ``ttl_s / 3`` seconds. A crashed holder stops renewing and its leases expire within
    ``ttl_s``.
    """

    def __init__(self, store: Store, owner: str, ttl_s: float) -> None:
        self.store = store
        self.owner = owner
        self.ttl_s = ttl_s
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def held(self, key: str) -> None:
        """Start renewing ``key`` (its lease was just acquired by :func:`lease_or_value`)."""
        with self._lock:
            self._held[key] = self._held.get(key, 0) + 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._renew_loop, name="judgecache-lease-keeper", daemon=True
                )
                self._thread.start()

    def release(self, key: str) -> None:
        """Stop renewing ``key`` and release its lease."""
        with self._lock:
            count = self._held.get(key, 0) - 1
            if count <= 0:
                self._held.pop(key, None)
            else:
                self._held[key] = count
        self.store.release_lease(key, self.owner)

    def _renew_loop(self) -> None:
        while not self._wake.wait(self.ttl_s / 3):
            with self._lock:
                keys = list(self._held)
                if not keys:
                    self._thread = None
                    return
            for key in keys:
                try:
                    self.store.acquire_lease(key, self.owner, self.ttl_s)
                except Exception:  # a failing backend shows up on the next real operation
                    logging.getLogger(__name__).debug("lease renewal failed for %s", key)

    def close(self) -> None:
        self._wake.set()
