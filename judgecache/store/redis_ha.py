"""What the Redis Cluster and Sentinel backends share: multi-host URLs and acknowledged writes.

Both URLs name several hosts (``host:port[,host:port...]``) and take the single-node connection
settings (except ``reconnect_s``) plus three of their own:

``wait_replicas=N`` (default 0)
    After each value write, lease grant and ledger update, send ``WAIT N wait_timeout_ms`` on
    the same connection: the call returns only once ``N`` replicas hold the write, else it raises
    :class:`StorageError` (the write is on the master but not promised to survive its loss).
``wait_timeout_ms=T`` (default 1000)
    How long ``WAIT`` may block.
``failover_window_s=S`` (default 15)
    While a master fails over, operations see refused connections, ``CLUSTERDOWN``, ``MOVED``
    storms or ``READONLY`` from a demoted master. Reads, writes, leases and ledger updates are
    retried with backoff (redis-py refreshes the slot map / asks the sentinels again) for up to
    ``S`` seconds; after that the :class:`StorageError` says the failover did not finish. Scans
    (``keys``, ``count``, ``clear``) are not retried: rerun them. A retried write is repeated
    whole: values and lease grants are idempotent; a ledger update whose reply was lost may be
    counted twice (counters are at-least-once across a failover), and an ``add`` (set if absent)
    whose reply was lost reports False for its own write.

Without ``wait_replicas`` replication is asynchronous: a label acknowledged by a master that dies
before its replica copied it is lost (the next run pays for it once more), and a lease lost that
way can let a second worker call the teacher for the same pair. See docs/scaling.md.

Example:
    >>> parse_hosts("redis+cluster://a:7000,b:7001", "redis+cluster")
    [('a', 7000), ('b', 7001)]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import redis

from judgecache.errors import ConfigError, StorageError
from judgecache.store.base import Store
from judgecache.store.naming import check_namespace, redact_url
from judgecache.store.redis_store import (
    _DEFAULTS,
    _RELEASE,
    _RENEW,
    _SETTINGS,
    _TAKE_OVER,
    RedisStore,
)

_T = TypeVar("_T")
# What a failover looks like from a client: the old master gone, the slot map changing, a
# demoted master refusing writes, a promoted one still loading.
TRANSIENT = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ClusterError,
    redis.exceptions.MovedError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.SlotNotCoveredError,
)

_DURABILITY = frozenset({"wait_replicas", "wait_timeout_ms", "failover_window_s"})
_INT_SETTINGS = frozenset(
    {"db", "max_connections", "protocol", "health_check_interval", "wait_replicas"}
)
_FLOAT_SETTINGS = frozenset(
    {"socket_timeout", "socket_connect_timeout", "wait_timeout_ms", "failover_window_s"}
)
_BOOL_SETTINGS = frozenset({"socket_keepalive", "retry_on_timeout"})


def parse_hosts(url: str, scheme: str) -> list[tuple[str, int]]:
    """The ``(host, port)`` seeds of a multi-host URL; :class:`ConfigError` when malformed.

    >>> parse_hosts("redis+sentinel://s1:26379,s2/svc/0", "redis+sentinel")
    [('s1', 26379), ('s2', 26379)]
    """
    default_port = 26379 if scheme == "redis+sentinel" else 6379
    rest = url.partition("://")[2]
    netloc = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    hosts: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        if not host or (port and not port.isdigit()) or (port and not 0 < int(port) < 65536):
            raise ConfigError(
                f"invalid {scheme} URL {redact_url(url)!r}: bad host:port {item!r} "
                f"(expected {scheme}://host:port[,host:port...])"
            )
        hosts.append((host, int(port) if port else default_port))
    return hosts


def parse_options(url: str, scheme: str, extra: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Query settings of ``url`` converted to Python values; unknown ones are a ConfigError.

    >>> parse_options("redis+cluster://h:1?socket_timeout=2&wait_replicas=1", "redis+cluster")
    {'socket_timeout': 2.0, 'wait_replicas': 1}
    """
    # reconnect_s is the single-node reconnect window; failover_window_s plays that part here.
    allowed = (_SETTINGS - {"db", "reconnect_s"}) | _DURABILITY | extra
    raw = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown {scheme} URL setting(s) {unknown} in {redact_url(url)!r}; "
            f"valid: {sorted(allowed)}"
        )
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            if key in _INT_SETTINGS:
                out[key] = int(value)
            elif key in _FLOAT_SETTINGS:
                out[key] = float(value)
            elif key in _BOOL_SETTINGS:
                out[key] = value.lower() in ("1", "true", "yes", "on")
            else:
                out[key] = value
        except ValueError:
            raise ConfigError(
                f"invalid {scheme} URL {redact_url(url)!r}: {key}={value!r} is not a number"
            ) from None
    if out.get("wait_replicas", 0) < 0:
        raise ConfigError(f"invalid {scheme} URL {redact_url(url)!r}: wait_replicas must be >= 0")
    return out


def credentials(url: str) -> tuple[str | None, str | None]:
    """``(username, password)`` from the URL's user part (percent-decoded)."""
    userinfo, at, _ = url.partition("://")[2].split("/", 1)[0].rpartition("@")
    if not at:
        return None, None
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None)


# A lease grant and a ledger update are one key each, so a script keeps them atomic on any node
# (a cluster routes the script by that key) and lets WAIT follow on the same connection.
_GRANT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_INCR = """
for i = 1, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


class ReplicatedRedisStore(RedisStore):
    """A :class:`RedisStore` over a replicated topology, with optional acknowledged writes.

    Subclasses build ``self._client`` (a cluster or sentinel-managed client) and say which
    plain client serves a key (:meth:`_node_for`).
    """

    scheme = ""

    def _setup(self, url: str, namespace: str, options: Mapping[str, Any], chunk: int) -> None:
        """Everything :class:`RedisStore` keeps, for a client the subclass builds next."""
        self.url = redact_url(url)
        self._dial_url = url  # with the password: only ever given back to this class
        self.namespace = check_namespace(namespace)
        user, password = credentials(url)
        self._secrets = [s for s in (password, options.get("password")) if s]
        self._chunk = chunk
        self._prefix = f"judgecache:{namespace}:"
        self._v = self._prefix + "v:"
        self._lease = self._prefix + "lease:"
        self._ctr = self._prefix + "ctr:"
        self._wait = int(options.get("wait_replicas", 0))
        self._wait_ms = int(options.get("wait_timeout_ms", 1000))
        self._window_s = float(options.get("failover_window_s", 15.0))
        self._conn: dict[str, Any] = {**_DEFAULTS, **_connection(options)}
        if user and "username" not in self._conn:
            self._conn["username"] = user
        if password and "password" not in self._conn:
            self._conn["password"] = password

    def _scripts(self) -> None:
        self._release = self._client.register_script(_RELEASE)
        self._renew = self._client.register_script(_RENEW)
        self._take_over = self._client.register_script(_TAKE_OVER)
        self._grant = self._client.register_script(_GRANT)
        self._incr = self._client.register_script(_INCR)
        with self._guard("connect"):
            self._client.ping()

    def _node_for(self, key: str) -> redis.Redis:
        """The plain client of the master that holds ``key`` now."""
        raise NotImplementedError

    def _acked(self, action: str, keys: Sequence[str], write: Callable[[Any, str], None]) -> None:
        """Run ``write(pipe, key)`` per key, per master, then WAIT on that same connection."""
        groups: dict[int, tuple[redis.Redis, list[str]]] = {}
        with self._guard(action):
            for key in keys:
                node = self._node_for(key)
                groups.setdefault(id(node), (node, []))[1].append(key)
            for node, node_keys in groups.values():
                pipe = node.pipeline(transaction=False)
                for key in node_keys:
                    write(pipe, key)
                pipe.wait(self._wait, self._wait_ms)
                self._check_acked(action, int(pipe.execute()[-1]))

    def _check_acked(self, action: str, acked: int) -> None:
        if acked < self._wait:
            raise StorageError(
                f"redis cache {self.url}: {action} reached the master but only {acked} "
                f"of {self._wait} replicas acknowledged it within {self._wait_ms} ms; "
                "it may not survive a failover"
            )

    def _through_failover(self, op: Callable[[], _T]) -> _T:
        """Run ``op``, retrying transient failover errors for up to ``failover_window_s``."""
        deadline = time.monotonic() + self._window_s
        delay = 0.05
        while True:
            try:
                return op()
            except StorageError as exc:
                if not isinstance(exc.__cause__, TRANSIENT) or time.monotonic() >= deadline:
                    if isinstance(exc.__cause__, TRANSIENT):
                        exc.add_note(
                            f"still failing after {self._window_s:g} s of retries "
                            "(failover_window_s): is a failover stuck or the whole topology down?"
                        )
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            self._refresh()

    def _refresh(self) -> None:
        """Forget where masters were (after a transient error); the default keeps nothing."""

    def get(self, key: str) -> str | None:
        return self._through_failover(lambda: RedisStore.get(self, key))

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        return self._through_failover(lambda: self._get_many(keys))

    def _get_many(self, keys: Sequence[str]) -> list[str | None]:
        return RedisStore.get_many(self, keys)

    def read_many(self, keys: Sequence[str]) -> Sequence[str | bytes | None]:
        return self.get_many(keys)  # through failovers, and per slot on a cluster

    def delete(self, key: str) -> bool:
        return self._through_failover(lambda: RedisStore.delete(self, key))

    def get_counters(self, group: str) -> dict[str, float]:
        return self._through_failover(lambda: RedisStore.get_counters(self, group))

    def lease_holder(self, key: str) -> str | None:
        return self._through_failover(lambda: RedisStore.lease_holder(self, key))

    def take_over_lease(self, key: str, holder: str, owner: str, ttl_s: float) -> bool:
        return self._through_failover(
            lambda: RedisStore.take_over_lease(self, key, holder, owner, ttl_s)
        )

    def sibling(self, namespace: str) -> Store:
        return type(self)(self._dial_url, namespace, chunk=self._chunk)

    def release_lease(self, key: str, owner: str) -> None:
        self._through_failover(lambda: RedisStore.release_lease(self, key, owner))

    def set(self, key: str, value: str) -> None:
        self._through_failover(lambda: self._set(key, value))

    def set_many(self, items: Mapping[str, str]) -> None:
        self._through_failover(lambda: self._set_many(items))

    def add(self, key: str, value: str) -> bool:
        return self._through_failover(lambda: self._add(key, value))

    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        return self._through_failover(lambda: self._acquire_lease(key, owner, ttl_s))

    def incr_counters(self, group: str, amounts: Mapping[str, float]) -> None:
        self._through_failover(lambda: self._incr_counters(group, amounts))

    def _set(self, key: str, value: str) -> None:
        if not self._wait:
            return RedisStore.set(self, key, value)
        self._acked("SET + WAIT", [self._v + key], lambda p, k: p.set(k, value))

    def _set_many(self, items: Mapping[str, str]) -> None:
        if not self._wait:
            return RedisStore.set_many(self, items)
        values = {self._v + k: v for k, v in items.items()}
        full = list(values)
        for i in range(0, len(full), self._chunk):
            self._acked("pipelined SET + WAIT", full[i : i + self._chunk], _setter(values))

    def _add(self, key: str, value: str) -> bool:
        if not self._wait:
            return RedisStore.add(self, key, value)
        node = self._node_for(self._v + key)
        with self._guard("SET NX + WAIT"):
            pipe = node.pipeline(transaction=False)
            pipe.set(self._v + key, value, nx=True)
            pipe.wait(self._wait, self._wait_ms)
            stored, acked = pipe.execute()
        self._check_acked("SET NX", int(acked))
        return bool(stored)

    def _acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        ms = max(1, round(ttl_s * 1000))
        if not self._wait:
            with self._guard("lease grant"):
                return bool(self._grant(keys=[self._lease + key], args=[owner, ms]))
        node = self._node_for(self._lease + key)
        with self._guard("lease grant + WAIT"):
            pipe = node.pipeline(transaction=False)
            self._grant(keys=[self._lease + key], args=[owner, ms], client=pipe)
            pipe.wait(self._wait, self._wait_ms)
            granted, acked = pipe.execute()
        self._check_acked("lease grant", int(acked))
        return bool(granted)

    def _incr_counters(self, group: str, amounts: Mapping[str, float]) -> None:
        if not amounts:
            return
        args: list[str | float] = []
        for name, amount in amounts.items():
            args += [name, float(amount)]
        if not self._wait:
            with self._guard("HINCRBYFLOAT"):
                self._incr(keys=[self._ctr + group], args=args)
            return
        self._acked(
            "HINCRBYFLOAT + WAIT",
            [self._ctr + group],
            lambda p, k: self._incr(keys=[k], args=args, client=p),
        )


def _setter(values: Mapping[str, str]) -> Callable[[Any, str], None]:
    def write(pipe: Any, key: str) -> None:
        pipe.set(key, values[key])

    return write


def _connection(options: Mapping[str, Any]) -> dict[str, Any]:
    """Connection keyword arguments (the durability settings are judgecache's own)."""
    return {k: v for k, v in options.items() if k not in _DURABILITY and k != "sentinel_password"}
