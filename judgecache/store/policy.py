"""The storage failure policy "warn and go on without the remote cache" (``on_error="fallback"``).

judgecache has exactly two answers to a broken cache backend, chosen in
:func:`judgecache.store.open_store`:

* ``on_error="raise"`` (the default): every backend failure is a :class:`StorageError`.
* ``on_error="fallback"``: :class:`FallbackStore` wraps the remote (Redis) store. It connects
  lazily, on first use. If connecting fails, or any later operation fails because the server went
  away mid-run, it emits ONE :class:`CacheFallbackWarning` (also logged at WARNING) naming the
  masked URL and the reason, and from then on sends every operation, including the one that failed,
  to the local diskcache in :func:`judgecache.store.url.default_cache_dir`, for the rest of the
  process. It never switches back: a flapping server would otherwise split one run's writes over
  two stores.

What the run gives up while degraded: teammates and other machines no longer share its hits,
counters or single-flight leases (leases are then per machine). A failure of the local store
itself is not hidden: it raises.

Example:
    >>> import tempfile, warnings
    >>> from judgecache.store.memory import MemoryStore
    >>> def unreachable() -> Store:
    ...     raise StorageError("connection refused")
    >>> s = FallbackStore(unreachable, url="redis://:pw@db:6379", local=MemoryStore)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     s.set("k", "1"); s.get("k")
    '1'
    >>> len(caught), s.info()["fallback"], s.info()["remote_url"]
    (1, True, 'redis://:***@db:6379')
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from judgecache.errors import StorageError
from judgecache.store.base import Store
from judgecache.store.naming import check_namespace, default_cache_dir, redact_url

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class CacheFallbackWarning(UserWarning):
    """The remote cache failed; judgecache goes on with the local cache for this process."""


class FallbackStore(Store):
    """A remote store that degrades to the local diskcache default once, with one warning.

    ``factory`` builds the remote store (raising :class:`StorageError` when unreachable);
    ``local`` builds the replacement (default: diskcache in :func:`default_cache_dir`).
    """

    def __init__(
        self,
        factory: Callable[[], Store],
        *,
        url: str,
        namespace: str = "v",
        local: Callable[[], Store] | None = None,
    ) -> None:
        self.url = redact_url(url)
        self.namespace = check_namespace(namespace)
        self._factory = factory
        self._local_factory = local or self._default_local
        self._remote: Store | None = None
        self._local: Store | None = None
        self.reason: str | None = None
        self._lock = threading.Lock()

    def _default_local(self) -> Store:
        from judgecache.store.disk import DiskStore

        return DiskStore(default_cache_dir(), self.namespace)

    @property
    def degraded(self) -> bool:
        """True once the remote store failed and the local one took over."""
        return self._local is not None

    def _active(self) -> Store:
        with self._lock:
            if self._local is not None:
                return self._local
            if self._remote is not None:
                return self._remote
        try:
            remote = self._factory()
        except StorageError as exc:
            return self._switch(exc)
        with self._lock:
            if self._remote is None and self._local is None:
                self._remote = remote
                return remote
        remote.close()  # another thread won the race to connect (or to fail)
        return self._active()

    def _switch(self, exc: StorageError) -> Store:
        with self._lock:
            if self._local is not None:
                return self._local
            self.reason = str(exc)
            local = self._local_factory()
            message = (
                f"cache {self.url} is unavailable ({exc}); going on without it, "
                f"using the local cache {local.url} for the rest of this process"
            )
            warnings.warn(message, CacheFallbackWarning, stacklevel=4)
            _log.warning(message)
            remote, self._remote, self._local = self._remote, None, local
        if remote is not None:
            with contextlib.suppress(StorageError):  # it is already broken; best effort
                remote.close()
        return local

    def _call(self, op: Callable[[Store], _T]) -> _T:
        store = self._active()
        try:
            return op(store)
        except StorageError as exc:
            if store is self._local:
                raise
            return op(self._switch(exc))

    def get(self, key: str) -> str | None:
        return self._call(lambda s: s.get(key))

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        return self._call(lambda s: s.get_many(keys))

    def read_many(self, keys: Sequence[str]) -> Sequence[str | bytes | None]:
        return self._call(lambda s: s.read_many(keys))

    def set(self, key: str, value: str) -> None:
        self._call(lambda s: s.set(key, value))

    def set_many(self, items: Mapping[str, str]) -> None:
        self._call(lambda s: s.set_many(items))

    def add(self, key: str, value: str) -> bool:
        return self._call(lambda s: s.add(key, value))

    def delete(self, key: str) -> bool:
        return self._call(lambda s: s.delete(key))

    def keys(self) -> Iterator[str]:
        store = self._active()
        try:
            yield from store.keys()
        except StorageError as exc:
            if store is self._local:
                raise
            # Keys already yielded came from the remote; the rest of this pass lists the local
            # store, as every later call will.
            yield from self._switch(exc).keys()

    def count(self) -> int:
        return self._call(lambda s: s.count())

    def clear(self) -> int:
        return self._call(lambda s: s.clear())

    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        return self._call(lambda s: s.acquire_lease(key, owner, ttl_s))

    def sibling(self, namespace: str) -> Store:
        return self._call(lambda s: s.sibling(namespace))

    def lease_holder(self, key: str) -> str | None:
        return self._call(lambda s: s.lease_holder(key))

    def take_over_lease(self, key: str, holder: str, owner: str, ttl_s: float) -> bool:
        return self._call(lambda s: s.take_over_lease(key, holder, owner, ttl_s))

    def release_lease(self, key: str, owner: str) -> None:
        self._call(lambda s: s.release_lease(key, owner))

    def incr_counters(self, group: str, amounts: Mapping[str, float]) -> None:
        self._call(lambda s: s.incr_counters(group, amounts))

    def get_counters(self, group: str) -> dict[str, float]:
        return self._call(lambda s: s.get_counters(group))

    def counter_groups(self) -> list[str]:
        return self._call(lambda s: s.counter_groups())

    def info(self) -> dict[str, Any]:
        facts = self._call(lambda s: s.info())
        facts.update(remote_url=self.url, fallback=self.degraded, fallback_reason=self.reason)
        return facts

    def close(self) -> None:
        with self._lock:
            stores = [s for s in (self._remote, self._local) if s is not None]
        for store in stores:
            store.close()
