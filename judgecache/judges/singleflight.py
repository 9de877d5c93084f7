"""Single-flight: identical concurrent requests make exactly one teacher call.

Two layers. Within a process, :class:`InflightRegistry` hands the first caller of a key a future
that every later caller (thread or asyncio task) waits on. Across processes and machines,
:func:`lease_or_value` takes a lease with expiry in the shared backend (diskcache ``add``, Redis
``SET NX PX``); whoever loses waits for the winner's value, and takes over if the lease expires
without one, so a crashed holder never blocks the others for good. A lease names its holder
(host, pid, process start time): a holder known dead on this host is taken over at once.

Example:
    >>> reg = InflightRegistry()
    >>> fut, owner = reg.claim("k"); fut2, owner2 = reg.claim("k")
    >>> owner, owner2, fut is fut2
    (True, False, True)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
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


def owner_id() -> str:
    """This process's lease owner name: ``host:pid:start:random``.

    The start time (clock ticks since boot, from ``/proc``) tells a live process from a new one
    that reused the pid of a dead holder.

    >>> host, pid, start, _ = owner_id().split(":")
    >>> int(pid) == os.getpid()
    True
    """
    start = _start_ticks(os.getpid())
    return f"{socket.gethostname()}:{os.getpid()}:{start or 0}:{uuid.uuid4().hex[:12]}"


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[19])  # field 22 of the whole line: starttime


def holder_is_dead(holder: str) -> bool:
    """True only when ``holder`` is a process on this host that no longer runs.

    A holder on another host, or one this process cannot check, is assumed alive: its lease then
    lapses after its TTL as before.

    >>> holder_is_dead(owner_id()), holder_is_dead("elsewhere:1:0:x")
    (False, False)
    """
    parts = holder.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid, start = int(parts[1]), parts[2]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. another user's process: alive
        return False
    now = _start_ticks(pid)
    # Same pid, different start time: the holder died and the pid was reused.
    return start not in ("", "0") and now is not None and str(now) != start


def _take_from_dead(store: Store, key: str, owner: str, ttl_s: float) -> bool:
    holder = store.lease_holder(key)
    if holder is None or holder == owner or not holder_is_dead(holder):
        return False
    if store.take_over_lease(key, holder, owner, ttl_s):
        logging.getLogger(__name__).info("took over the lease on %s from dead %s", key, holder)
        return True
    return False


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
        if store.acquire_lease(key, owner, ttl_s) or _take_from_dead(store, key, owner, ttl_s):
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
