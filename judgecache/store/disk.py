"""``diskcache://PATH``: a local or shared-directory cache on SQLite, for threads and processes.

Layout: ``PATH/<namespace>/values``, ``PATH/<namespace>/leases`` and ``PATH/<namespace>/counters``
are three :class:`diskcache.Cache` directories. Only ``values`` can ever be bounded: leases and
ledger counters must never be evicted. One plain ``Cache`` (not a ``FanoutCache``) per directory,
because ``set_many`` and counter updates need one transaction, which shards cannot give.

Values are stored as ``str`` only: diskcache keeps short strings in the SQLite row and long ones
in UTF-8 text files, never pickles. :class:`JsonTextDisk` refuses to write anything else and refuses
to *read* a pickled row, so a shared directory is never a code-execution path.

Eviction: none by default (diskcache's own default would silently drop entries past 1 GB). With
``size_limit`` (bytes) the least recently stored values are culled after each write, and every
culled value is counted in ``info()["evictions"]``.

Example:
    >>> import tempfile
    >>> s = DiskStore(tempfile.mkdtemp(), "v")
    >>> s.set_many({"a": '{"x": 1}', "b": "2"}); s.get_many(["b", "zz", "a"])
    ['2', None, '{"x": 1}']
    >>> s.info()["evictions"], s.info()["size_limit"]
    (0, None)
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import diskcache
from diskcache.core import MODE_RAW, MODE_TEXT

from judgecache.errors import ConfigError, StorageError
from judgecache.store.base import Store
from judgecache.store.naming import check_namespace

log = logging.getLogger(__name__)

_GROUP = "group:"
READ_CHUNK = 900
"""Keys per bulk read: under SQLite's oldest limit of 999 bound parameters per statement."""
_SELECT_MANY = (
    "SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN ({marks})"
    " AND (expire_time IS NULL OR expire_time > ?)"
)
_EVICTIONS = "meta:evictions"
# Bounded caches cull explicitly (see _cull) so that every dropped value is counted; diskcache's
# built-in cull inside ``set`` deletes rows without telling anyone.
_NO_AUTO_CULL = 0


DIR_MODE = 0o700
FILE_MODE = 0o600
"""A cache holds prompts, documents and paid answers: only its owner may read it."""


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents as owner-only (0700); existing ones are kept.

    >>> import tempfile, pathlib, stat
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "a" / "b"
    >>> make_private_dirs(d); oct(stat.S_IMODE(d.parent.stat().st_mode))
    '0o700'
    """
    missing: list[Path] = []
    for folder in (directory, *directory.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            folder.mkdir(mode=DIR_MODE)
        folder.chmod(DIR_MODE)  # mkdir's mode is masked by the umask


class UnreadableEntryError(StorageError):
    """A row that is not JSON text (e.g. pickled by another program): never loaded."""


class NotTextError(StorageError, TypeError):
    """Something other than ``str`` was given to store (judgecache stores JSON text only)."""


# What :meth:`JsonTextDisk.get` returns for a key row that is not text, so iteration can skip it.
_UNREADABLE_KEY = object()


class JsonTextDisk(diskcache.Disk):
    """A :class:`diskcache.Disk` that stores and returns ``str`` only and never unpickles.

    >>> import tempfile
    >>> c = diskcache.Cache(tempfile.mkdtemp(), disk=JsonTextDisk)
    >>> c.set("k", '{"a": 1}'), c.get("k")
    (True, '{"a": 1}')
    """

    def __init__(self, directory: str, min_file_size: int = 0, pickle_protocol: int = 0) -> None:
        super().__init__(directory, min_file_size=min_file_size, pickle_protocol=pickle_protocol)
        self.where = str(directory)

    def get(self, key: Any, raw: bool) -> Any:
        # A pickled key row is never unpickled; iteration skips it (see DiskStore.keys).
        return super().get(key, raw) if raw else _UNREADABLE_KEY

    def store(self, value: Any, read: bool, key: Any = diskcache.UNKNOWN) -> Any:
        if type(value) is not str or read:
            raise NotTextError(f"cache values must be JSON text (str), got {type(value).__name__}")
        stored = super().store(value, read, key=key)
        filename = stored[2]
        if filename is not None:  # a long value went to its own file: owner-only, like the db
            path = Path(self.where) / filename
            path.chmod(FILE_MODE)
            for folder in path.relative_to(self.where).parents[:-1]:  # diskcache's xx/yy/ dirs
                (Path(self.where) / folder).chmod(DIR_MODE)
        return stored

    def fetch(self, mode: Any, filename: Any, value: Any, read: bool) -> Any:
        if mode not in (MODE_RAW, MODE_TEXT):
            raise UnreadableEntryError(
                f"refusing to load a non-text cache entry (mode {mode}) from {self.where}: "
                "judgecache never unpickles"
            )
        result = super().fetch(mode, filename, value, read)
        if type(result) is not str:
            raise UnreadableEntryError(f"cache entry in {self.where} is not text")
        return result


class DiskStore(Store):
    """Values, leases and counters of one namespace under ``path``.

    ``size_limit`` (bytes) bounds the values only; without it nothing is ever evicted.

    >>> import tempfile
    >>> s = DiskStore(tempfile.mkdtemp(), "v")
    >>> s.acquire_lease("k", "me", 5.0), s.acquire_lease("k", "you", 5.0)
    (True, False)
    """

    def __init__(
        self, path: str | Path, namespace: str = "v", *, size_limit: int | None = None
    ) -> None:
        if size_limit is not None and (type(size_limit) is not int or size_limit <= 0):
            raise ConfigError(f"size_limit must be a positive number of bytes, got {size_limit!r}")
        self.path = Path(path).expanduser()
        self.namespace = check_namespace(namespace)
        self.url = f"diskcache://{self.path}"
        self.size_limit = size_limit
        self.unreadable = 0  # rows found that are not JSON text (read as misses, then overwritten)
        root = self.path / namespace
        with self._errors():
            if size_limit is None:
                self._values = self._open(root / "values", eviction_policy="none")
            else:
                self._values = self._open(
                    root / "values",
                    eviction_policy="least-recently-stored",
                    size_limit=size_limit,
                    cull_limit=_NO_AUTO_CULL,
                )
            self._leases = self._open(root / "leases", eviction_policy="none")
            self._counters = self._open(root / "counters", eviction_policy="none")

    @staticmethod
    def _open(directory: Path, **settings: Any) -> diskcache.Cache:
        make_private_dirs(directory)
        cache = diskcache.Cache(str(directory), disk=JsonTextDisk, **settings)
        for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
            # SQLite creates later -wal/-shm files with the database file's permissions.
            with contextlib.suppress(FileNotFoundError):
                (directory / name).chmod(FILE_MODE)
        return cache

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite, file-system and lock-timeout failures into :class:`StorageError`."""
        try:
            yield
        except (sqlite3.Error, OSError, diskcache.Timeout) as exc:
            raise StorageError(f"diskcache at {self.path} failed: {exc!r}") from exc

    def get(self, key: str) -> str | None:
        with self._errors():
            return self._read(key)

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """One indexed ``SELECT ... WHERE key IN (...)`` per :data:`READ_CHUNK` keys.

        What ``Cache.get`` does per key, for a whole batch: the same row filter (text keys, not
        expired), the same :meth:`JsonTextDisk.fetch` for anything but a plain text row (so a
        pickled or binary row is a counted, named miss), and no write, because neither eviction
        policy used here updates a row on read.
        """
        found: dict[str, str | None] = {}
        with self._errors():
            sql = self._values._sql  # type: ignore[attr-defined]  # this thread's connection
            for i in range(0, len(keys), READ_CHUNK):
                chunk = keys[i : i + READ_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = sql(_SELECT_MANY.format(marks=marks), (*chunk, time.time())).fetchall()
                for key, mode, filename, value in rows:
                    found[key] = (
                        value
                        if mode == MODE_RAW and type(value) is str
                        else self._fetch(key, mode, filename, value)
                    )
        get = found.get
        return [get(k) for k in keys]

    def _fetch(self, key: str, mode: int, filename: str | None, value: Any) -> str | None:
        """A row that is not plain text in the database: a text file, or an unreadable entry."""
        try:
            text: str = cast(JsonTextDisk, self._values.disk).fetch(mode, filename, value, False)
        except UnreadableEntryError as exc:
            self.unreadable += 1
            log.warning("cache entry %s is not JSON text; read as a miss (%s)", key, exc)
            return None
        except FileNotFoundError:  # deleted between the SELECT and the read, as in Cache.get
            return None
        return text

    def _read(self, key: str) -> str | None:
        """The value of ``key``; a row that is not text is a miss (named in a warning, counted)."""
        try:
            value: str | None = self._values.get(key)
        except UnreadableEntryError as exc:
            self.unreadable += 1
            log.warning("cache entry %s is not JSON text; read as a miss (%s)", key, exc)
            return None
        return value

    def set(self, key: str, value: str) -> None:
        with self._errors():
            self._values.set(key, value)
        self._cull()

    def set_many(self, items: Mapping[str, str]) -> None:
        with self._errors(), self._values.transact(retry=True):
            for k, v in items.items():
                self._values.set(k, v)
        self._cull()

    def add(self, key: str, value: str) -> bool:
        with self._errors():
            added = bool(self._values.add(key, value))
        if added:
            self._cull()
        return added

    def delete(self, key: str) -> bool:
        with self._errors():
            return bool(self._values.delete(key))

    def keys(self) -> Iterator[str]:
        with self._errors():
            for key in self._values.iterkeys():
                if type(key) is str:
                    yield key
                else:
                    self.unreadable += 1
                    log.warning("skipping a cache key row that is not text in %s", self.path)

    def count(self) -> int:
        with self._errors():
            return len(self._values)

    def clear(self) -> int:
        # Counters go too (the contract), and with them the eviction count of the values cleared.
        with self._errors():
            n = int(self._values.clear(retry=True))
            self._leases.clear(retry=True)
            self._counters.clear(retry=True)
            return n

    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        with self._errors(), self._leases.transact(retry=True):
            # ``add`` treats an expired lease as absent, so a crashed holder never blocks for good.
            if self._leases.add(key, owner, expire=ttl_s):
                return True
            if self._leases.get(key) == owner:
                self._leases.set(key, owner, expire=ttl_s)
                return True
            return False

    def lease_holder(self, key: str) -> str | None:
        with self._errors():
            holder = self._leases.get(key)
        return holder if isinstance(holder, str) else None

    def take_over_lease(self, key: str, holder: str, owner: str, ttl_s: float) -> bool:
        with self._errors(), self._leases.transact(retry=True):
            if self._leases.get(key) != holder:
                return False
            self._leases.set(key, owner, expire=ttl_s)
            return True

    def release_lease(self, key: str, owner: str) -> None:
        with self._errors(), self._leases.transact(retry=True):
            if self._leases.get(key) == owner:
                self._leases.delete(key)

    def incr_counters(self, group: str, amounts: Mapping[str, float]) -> None:
        if not amounts:
            return
        with self._errors():
            self._add_to(_GROUP + group, amounts)

    def get_counters(self, group: str) -> dict[str, float]:
        with self._errors():
            return self._read_counters(_GROUP + group)

    def counter_groups(self) -> list[str]:
        with self._errors():
            keys = [str(k) for k in self._counters.iterkeys()]
        return sorted(k[len(_GROUP) :] for k in keys if k.startswith(_GROUP))

    def info(self) -> dict[str, Any]:
        with self._errors():
            return {
                "url": self.url,
                "namespace": self.namespace,
                "path": str(self.path / self.namespace),
                "entries": len(self._values),
                "size_bytes": int(self._values.volume()),
                "size_limit": self.size_limit,
                "evictions": int(self._read_counters(_EVICTIONS).get("values", 0.0)),
                "unreadable_seen": self.unreadable,
            }

    def close(self) -> None:
        for cache in (self._values, self._leases, self._counters):
            cache.close()

    def _add_to(self, key: str, amounts: Mapping[str, float]) -> None:
        """Add ``amounts`` to the JSON object under ``key`` in one transaction (atomic)."""
        with self._counters.transact(retry=True):
            totals = self._read_counters(key)
            for name, amount in amounts.items():
                totals[name] = totals.get(name, 0.0) + float(amount)
            self._counters.set(key, json.dumps(totals, allow_nan=False, sort_keys=True))

    def _read_counters(self, key: str) -> dict[str, float]:
        text = self._counters.get(key)
        if text is None:
            return {}
        try:
            data = json.loads(text)
            return {str(k): float(v) for k, v in data.items()}
        except (ValueError, TypeError, AttributeError) as exc:
            raise StorageError(f"corrupt counters {key!r} in {self.path}: {exc}") from exc

    def _cull(self) -> None:
        """Evict past ``size_limit`` (if any) and count what was dropped."""
        if self.size_limit is None:
            return
        with self._errors():
            # volume() is two cheap reads; cull() always opens a write transaction.
            if self._values.volume() <= self.size_limit:
                return
            dropped = int(self._values.cull(retry=True))
            if dropped:
                self._add_to(_EVICTIONS, {"values": dropped})
