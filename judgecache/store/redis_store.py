"""``redis://`` and ``rediss://`` (TLS): a cache shared by machines, teammates and CI.

URL: ``redis[s]://[[user]:password@]host[:port][/db][?setting=value...]``. Query settings are
connection settings (``socket_timeout``, ``socket_connect_timeout``, ``health_check_interval``,
``ssl_cert_reqs``...); an unknown one is a :class:`ConfigError` listing the valid ones. Without
them judgecache uses a 5 s connect and a 10 s read timeout, so a dead host fails the run (or
triggers the fallback policy) instead of hanging it.

Key layout (``N`` is the namespace)::

    judgecache:N:v:KEY        value (JSON text)
    judgecache:N:lease:KEY    single-flight lease: owner id, with a PX expiry
    judgecache:N:ctr:GROUP    counters: a hash updated with HINCRBYFLOAT

Every redis-py error becomes a :class:`StorageError` naming the URL with its password masked;
``self.url`` is that masked URL too, so ``info()`` never prints a secret.

Example:
    >>> parse_settings("rediss://:secret@cache.internal:6380/2?socket_timeout=2")
    {'socket_timeout': '2'}
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from judgecache.errors import ConfigError, MissingDependencyError, StorageError
from judgecache.store.base import Store
from judgecache.store.naming import check_namespace, redact_url
from judgecache.store.redis_mget import UnexpectedReplyError, mget
from judgecache.store.redis_mget import supports as one_pass_supported

try:
    import redis
except ImportError as exc:  # pragma: no cover - exercised only without the redis extra
    raise MissingDependencyError("redis", "redis") from exc
from redis.backoff import NoBackoff
from redis.client import NEVER_DECODE
from redis.retry import Retry

MGET_CHUNK = 1000
"""Keys per MGET / per pipelined batch: large enough to amortize round trips, small enough not to
block the server or build huge replies."""

_SETTINGS = frozenset(
    {
        "db",
        "socket_timeout",
        "socket_connect_timeout",
        "socket_keepalive",
        "health_check_interval",
        "retry_on_timeout",
        "max_connections",
        "client_name",
        "username",
        "password",
        "protocol",
        "reconnect_s",
    }
)
_TLS_SETTINGS = frozenset(
    {
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_ca_path",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_password",
        "ssl_check_hostname",
        "ssl_min_version",
    }
)
_DEFAULTS: dict[str, Any] = {"socket_connect_timeout": 5.0, "socket_timeout": 10.0}

# Compare-then-act must be one server-side step, or a lease that expired and was re-taken by
# someone else between our GET and DEL/PEXPIRE would be stolen.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) and 1 or 0
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


DEFAULT_RECONNECT_S = 10.0
"""How long a command keeps reconnecting (with backoff) to a server that went away before the
run is told (``StorageError``, or the fallback policy). URL setting ``reconnect_s``; 0 = never."""


class _Reached:
    """Whether the server was ever reached (shared by every connection's copy of the policy)."""

    connected = False


class WindowRetry(Retry):
    """Reconnect with backoff (50 ms doubling to 1 s) for ``window_s`` seconds, then re-raise.

    Only once the server was reached: a cache that is down when the run starts fails at once (or
    falls back) instead of stalling every start. redis-py copies the policy into each
    connection; the copies share the ``reached`` flag.

    >>> r = WindowRetry(5.0)
    >>> r.call_with_retry(lambda: "ok", lambda error: None)
    'ok'
    """

    def __init__(self, window_s: float, reached: _Reached | None = None) -> None:
        super().__init__(NoBackoff(), retries=-1, supported_errors=(redis.ConnectionError,))
        self.window_s = window_s
        self.reached = reached or _Reached()

    def __deepcopy__(self, memo: dict[int, Any]) -> WindowRetry:
        return WindowRetry(self.window_s, self.reached)

    def call_with_retry(
        self,
        do: Callable[[], Any],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> Any:
        started = time.monotonic()
        failures = 0
        while True:
            try:
                return do()
            except redis.ConnectionError as error:
                failures += 1
                fail(error, failures) if with_failure_count else fail(error)
                wait = min(1.0, 0.05 * 2.0 ** (failures - 1))
                late = time.monotonic() - started + wait > self.window_s
                if not self.reached.connected or late:
                    if self.reached.connected:
                        error.add_note(f"gave up reconnecting after {self.window_s:g}s")
                    raise
                time.sleep(wait)


def _reconnect_window(settings: Mapping[str, str], where: str) -> float:
    raw = settings.get("reconnect_s", str(DEFAULT_RECONNECT_S))
    try:
        window = float(raw)
    except ValueError:
        window = -1.0
    if not 0 <= window < 3600:
        raise ConfigError(f"invalid Redis URL {where!r}: reconnect_s must be 0-3600 seconds")
    return window


def _without_setting(url: str, name: str) -> str:
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def parse_settings(url: str) -> dict[str, str]:
    """Check a Redis URL and return its query settings; raise :class:`ConfigError` if invalid.

    >>> parse_settings("rediss://h:6380/1?socket_timeout=2")
    {'socket_timeout': '2'}
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # parsed lazily: raises ValueError for a non-numeric or out-of-range port
    except ValueError as exc:
        raise ConfigError(f"invalid Redis URL {redact_url(url)!r}: {exc}") from exc
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(f"invalid Redis URL {redact_url(url)!r}: scheme must be redis or rediss")
    if not parts.hostname:
        raise ConfigError(f"invalid Redis URL {redact_url(url)!r}: no host")
    db = unquote(parts.path).strip("/")
    if db and not db.isdigit():
        raise ConfigError(
            f"invalid Redis URL {redact_url(url)!r}: the path must be a db number, got {db!r}"
        )
    allowed = _SETTINGS | (_TLS_SETTINGS if parts.scheme == "rediss" else frozenset())
    settings = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown Redis URL setting(s) {unknown} in {redact_url(url)!r}; "
            f"valid for {parts.scheme}://: {sorted(allowed)}"
        )
    return settings


class RedisStore(Store):
    """One namespace on a Redis server. Connects (and PINGs) when built.

    Raises :class:`StorageError` when the server cannot be reached, naming the masked URL.

    >>> from judgecache.redis_server import LocalRedisServer
    >>> with LocalRedisServer() as url:
    ...     s = RedisStore(url + "/2")
    ...     s.get("missing") is None, s.url == url + "/2"
    (True, True)
    >>> redact_url("redis://:secret@cache.internal:6379/2")  # what `url` shows of a password
    'redis://:***@cache.internal:6379/2'
    """

    def __init__(self, url: str, namespace: str = "v", *, chunk: int = MGET_CHUNK) -> None:
        self.url = redact_url(url)
        self._dial_url = url  # with the password: only ever given back to RedisStore
        self.namespace = check_namespace(namespace)
        settings = parse_settings(url)
        password = urlsplit(url).password
        self._secrets = [s for s in (password and unquote(password), settings.get("password")) if s]
        self._chunk = chunk
        self._prefix = f"judgecache:{namespace}:"
        self._v = self._prefix + "v:"
        self._lease = self._prefix + "lease:"
        self._ctr = self._prefix + "ctr:"
        defaults = {k: v for k, v in _DEFAULTS.items() if k not in settings}
        self._retry = WindowRetry(_reconnect_window(settings, self.url))
        try:
            self._client = redis.Redis.from_url(
                _without_setting(url, "reconnect_s"),
                decode_responses=True,
                retry=self._retry,
                retry_on_error=[redis.ConnectionError],
                **defaults,
            )
        except ValueError as exc:  # a setting whose value does not parse
            raise ConfigError(f"invalid Redis URL {self.url!r}: {exc}") from exc
        self._release = self._client.register_script(_RELEASE)
        self._renew = self._client.register_script(_RENEW)
        self._take_over = self._client.register_script(_TAKE_OVER)
        with self._guard("connect"):
            self._client.ping()
        self._retry.reached.connected = True
        self._one_pass_reads = one_pass_supported(self._client.connection_pool)

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn every Redis failure into a :class:`StorageError` that names the masked URL."""
        try:
            yield
        except (redis.RedisError, UnicodeDecodeError, OSError) as exc:  # OSError: TLS files
            reason = "; ".join([f"{type(exc).__name__}: {exc}", *getattr(exc, "__notes__", [])])
            for secret in self._secrets:  # never trust an error text not to echo a password
                reason = reason.replace(secret, "***")
            raise StorageError(f"redis cache {self.url}: {action} failed ({reason})") from exc

    def get(self, key: str) -> str | None:
        with self._guard("GET"):
            return cast("str | None", self._client.get(self._v + key))

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        return cast("list[str | None]", self._mget(keys, {}))

    def read_many(self, keys: Sequence[str]) -> Sequence[str | bytes | None]:
        # The stored bytes as they come off the socket (the hit path's JSON decoder reads UTF-8
        # bytes directly), read by redis_mget in one pass where it can: redis-py's per-value
        # parsing costs more than the rest of a cache hit. Its failures fall through to redis-py,
        # which retries and reports them.
        if self._one_pass_reads:
            try:
                return self._mget_one_pass(keys)
            except TimeoutError as exc:  # the server is slow: redis-py would wait as long again
                with self._guard("MGET"):
                    raise redis.TimeoutError(str(exc)) from exc
            except (UnexpectedReplyError, redis.RedisError, OSError, ValueError):
                pass
        return self._mget(keys, {NEVER_DECODE: True})

    def _mget_one_pass(self, keys: Sequence[str]) -> list[bytes | None]:
        out: list[bytes | None] = []
        pool = self._client.connection_pool
        for chunk in self._value_chunks(keys):
            out.extend(mget(pool, chunk))
        return out

    def _mget(self, keys: Sequence[str], options: dict[str, Any]) -> list[str | bytes | None]:
        out: list[str | bytes | None] = []
        with self._guard("MGET"):
            for chunk in self._value_chunks(keys):
                # execute_command, not mget(): mget() passes no options such as NEVER_DECODE.
                out.extend(self._client.execute_command("MGET", *chunk, **options))  # type: ignore[no-untyped-call]
        return out

    def _value_chunks(self, keys: Sequence[str]) -> Iterator[list[str]]:
        """The value keys of ``keys``, ``chunk`` at a time (one ``MGET`` each)."""
        for i in range(0, len(keys), self._chunk):
            yield [self._v + k for k in keys[i : i + self._chunk]]

    def set(self, key: str, value: str) -> None:
        with self._guard("SET"):
            self._client.set(self._v + key, value)

    def set_many(self, items: Mapping[str, str]) -> None:
        # Not MULTI/EXEC: each SET is atomic on its own and a transaction would block the server
        # for the whole batch; the pipeline only saves round trips.
        with self._guard("pipelined SET"):
            pipe = self._client.pipeline(transaction=False)
            for n, (k, v) in enumerate(items.items(), start=1):
                pipe.set(self._v + k, v)
                if n % self._chunk == 0:
                    pipe.execute()
            pipe.execute()

    def add(self, key: str, value: str) -> bool:
        with self._guard("SET NX"):
            return bool(self._client.set(self._v + key, value, nx=True))

    def delete(self, key: str) -> bool:
        with self._guard("DEL"):
            return bool(self._client.delete(self._v + key))

    def keys(self) -> Iterator[str]:
        # SCAN may return a key twice while the server rehashes; report each key once.
        seen: set[str] = set()
        with self._guard("SCAN"):
            for k in self._client.scan_iter(match=self._v + "*", count=self._chunk):
                if k not in seen:
                    seen.add(k)
                    yield k[len(self._v) :]

    def count(self) -> int:
        return sum(1 for _ in self.keys())

    def clear(self) -> int:
        removed = 0
        with self._guard("SCAN/UNLINK"):
            batch: list[str] = []
            for k in self._client.scan_iter(match=self._prefix + "*", count=self._chunk):
                batch.append(k)
                if len(batch) >= self._chunk:
                    removed += self._unlink(batch)
                    batch = []
            removed += self._unlink(batch)
        return removed

    def _unlink(self, batch: list[str]) -> int:
        """UNLINK ``batch``; return how many of the removed keys were values."""
        values = [k for k in batch if k.startswith(self._v)]
        others = [k for k in batch if not k.startswith(self._v)]
        if others:
            self._client.unlink(*others)
        return int(self._client.unlink(*values)) if values else 0

    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        ms = max(1, round(ttl_s * 1000))
        with self._guard("SET NX PX"):
            if self._client.set(self._lease + key, owner, nx=True, px=ms):
                return True
            # Held already: succeed only if we are the holder, renewing it (as the other backends).
            return bool(self._renew(keys=[self._lease + key], args=[owner, ms]))

    def sibling(self, namespace: str) -> Store:
        return RedisStore(self._dial_url, namespace, chunk=self._chunk)

    def lease_holder(self, key: str) -> str | None:
        with self._guard("GET lease"):
            holder = self._client.get(self._lease + key)
        return holder if isinstance(holder, str) else None

    def take_over_lease(self, key: str, holder: str, owner: str, ttl_s: float) -> bool:
        ms = max(1, round(ttl_s * 1000))
        with self._guard("lease take-over"):
            return bool(self._take_over(keys=[self._lease + key], args=[holder, owner, ms]))

    def release_lease(self, key: str, owner: str) -> None:
        with self._guard("lease release"):
            self._release(keys=[self._lease + key], args=[owner])

    def incr_counters(self, group: str, amounts: Mapping[str, float]) -> None:
        if not amounts:
            return
        with self._guard("HINCRBYFLOAT"):
            # MULTI/EXEC so that readers never see one field of a record updated without the other.
            pipe = self._client.pipeline(transaction=True)
            for name, amount in amounts.items():
                pipe.hincrbyfloat(self._ctr + group, name, float(amount))
            pipe.execute()

    def get_counters(self, group: str) -> dict[str, float]:
        with self._guard("HGETALL"):
            raw = cast("dict[str, str]", self._client.hgetall(self._ctr + group))
        return {k: float(v) for k, v in raw.items()}

    def counter_groups(self) -> list[str]:
        with self._guard("SCAN"):
            found = {
                k[len(self._ctr) :]
                for k in self._client.scan_iter(match=self._ctr + "*", count=self._chunk)
            }
        return sorted(found)

    def info(self) -> dict[str, Any]:
        """Namespace entries plus server-wide memory and eviction facts.

        ``size_bytes``, ``size_limit`` (``maxmemory``) and ``evictions`` (``evicted_keys``) are the
        whole server's: Redis evicts silently under a ``maxmemory`` policy, so report it.
        """
        with self._guard("INFO"):
            server = self._client.info()
        limit = int(server.get("maxmemory", 0))
        return {
            "url": self.url,
            "namespace": self.namespace,
            "entries": self.count(),
            "server_version": server.get("redis_version"),
            "size_bytes": int(server.get("used_memory", 0)),
            "size_limit": limit or None,
            "eviction_policy": server.get("maxmemory_policy"),
            "evictions": int(server.get("evicted_keys", 0)),
        }

    def close(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self._client.close()
