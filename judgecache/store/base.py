"""The one contract every cache backend implements (memory, diskcache, Redis).

Values are JSON text (never pickled objects). Keys live in a *namespace* (``v`` for verdicts by
default) so that the same server or directory can also hold leases, counters and production logs
without collisions.

Example:
    >>> from judgecache.store import open_store
    >>> s = open_store("memory://")
    >>> s.set("k", '{"a": 1}'); s.get("k")
    '{"a": 1}'
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from typing import Any


class Store(abc.ABC):
    """A string-to-JSON-text map with atomic add, leases and counters."""

    url: str
    namespace: str

    @abc.abstractmethod
    def get(self, key: str) -> str | None:
        """The value under ``key``, or ``None``."""

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """Values for ``keys`` in order (``None`` where absent). Backends batch this (MGET)."""
        return [self.get(k) for k in keys]

    def read_many(self, keys: Sequence[str]) -> Sequence[str | bytes | None]:
        """:meth:`get_many` for a reader that decodes the JSON itself (the judge's hit path): a
        backend may hand back the stored UTF-8 bytes instead of ``str``, saving a decode per value.
        """
        return self.get_many(keys)

    @abc.abstractmethod
    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any previous value."""

    def set_many(self, items: Mapping[str, str]) -> None:
        """Store several values; backends pipeline this."""
        for k, v in items.items():
            self.set(k, v)

    @abc.abstractmethod
    def add(self, key: str, value: str) -> bool:
        """Store ``value`` only if ``key`` is absent; True when it was stored (atomic)."""

    @abc.abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; True when it existed."""

    @abc.abstractmethod
    def keys(self) -> Iterator[str]:
        """Iterate over the keys of this namespace (no leases, no counters)."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many keys this namespace holds."""

    @abc.abstractmethod
    def clear(self) -> int:
        """Remove every key of this namespace (and its leases and counters); return how many."""

    @abc.abstractmethod
    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        """Take the single-flight lease on ``key`` for ``ttl_s`` seconds; False if someone holds it.

        An expired lease is free again, so a crashed holder never blocks others for good.
        """

    @abc.abstractmethod
    def release_lease(self, key: str, owner: str) -> None:
        """Release the lease on ``key`` if ``owner`` still holds it."""

    def lease_holder(self, key: str) -> str | None:
        """Who holds the lease on ``key`` (``None``: free, or the backend cannot say)."""
        return None

    def take_over_lease(self, key: str, holder: str, owner: str, ttl_s: float) -> bool:
        """Give ``holder``'s lease on ``key`` to ``owner`` if ``holder`` still has it (atomic).

        Used when the holder is known dead, so a rerun after a crash need not wait out the TTL.
        """
        return False

    @abc.abstractmethod
    def incr_counters(self, group: str, amounts: Mapping[str, float]) -> None:
        """Atomically add ``amounts`` to the named counters of ``group`` (ledger totals)."""

    @abc.abstractmethod
    def get_counters(self, group: str) -> dict[str, float]:
        """The counters of ``group`` (empty when none)."""

    @abc.abstractmethod
    def counter_groups(self) -> list[str]:
        """The names of all counter groups in this namespace."""

    def sibling(self, namespace: str) -> Store:
        """The same backend (server, directory) in another namespace, with the same credentials.

        ``self.url`` has its password masked, so it cannot be reopened; use this instead.
        """
        from judgecache.store.url import open_store

        return open_store(self.url, namespace)

    def info(self) -> dict[str, Any]:
        """Backend facts for ``judgecache cache info`` (url, entries, size, evictions...)."""
        return {"url": self.url, "namespace": self.namespace, "entries": self.count()}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and file handles."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
