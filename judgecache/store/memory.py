"""``memory://``: a thread-safe in-process store, for tests and one-off scripts.

Example:
    >>> s = MemoryStore()
    >>> s.add("k", "1"), s.add("k", "2"), s.get("k")
    (True, False, '1')
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping

from judgecache.store.base import Store


class MemoryStore(Store):
    """A dict behind a lock. Nothing survives the process."""

    def __init__(self, url: str = "memory://", namespace: str = "v") -> None:
        self.url = url
        self.namespace = namespace
        self._data: dict[str, str] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._counters: dict[str, dict[str, float]] = defaultdict(dict)
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._data.get(key)

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self._data[key] = value

    def add(self, key: str, value: str) -> bool:
        with self._lock:
            if key in self._data:
                return False
            self._data[key] = value
            return True

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None

    def keys(self) -> Iterator[str]:
        with self._lock:
            snapshot = list(self._data)
        return iter(snapshot)

    def count(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> int:
        with self._lock:
            n = len(self._data)
            self._data.clear()
            self._leases.clear()
            self._counters.clear()
            return n

    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            held = self._leases.get(key)
            if held is not None and held[1] > now and held[0] != owner:
                return False
            self._leases[key] = (owner, now + ttl_s)
            return True

    def lease_holder(self, key: str) -> str | None:
        with self._lock:
            held = self._leases.get(key)
            return held[0] if held is not None and held[1] > time.monotonic() else None

    def take_over_lease(self, key: str, holder: str, owner: str, ttl_s: float) -> bool:
        with self._lock:
            held = self._leases.get(key)
            if held is None or held[0] != holder:
                return False
            self._leases[key] = (owner, time.monotonic() + ttl_s)
            return True

    def release_lease(self, key: str, owner: str) -> None:
        with self._lock:
            held = self._leases.get(key)
            if held is not None and held[0] == owner:
                del self._leases[key]

    def incr_counters(self, group: str, amounts: Mapping[str, float]) -> None:
        with self._lock:
            bucket = self._counters[group]
            for name, amount in amounts.items():
                bucket[name] = bucket.get(name, 0.0) + amount

    def get_counters(self, group: str) -> dict[str, float]:
        with self._lock:
            return dict(self._counters.get(group, {}))

    def counter_groups(self) -> list[str]:
        with self._lock:
            return sorted(self._counters)
