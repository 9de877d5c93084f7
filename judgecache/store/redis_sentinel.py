"""``redis+sentinel://host:port[,host:port...]/service_name[/db]``: a failover-managed master.

Through redis-py's own :class:`redis.sentinel.Sentinel`: the sentinels (the hosts in the URL)
name the current master of ``service_name``; after a failover the client asks them again and
reconnects to the promoted replica. Everything else is the single-node layout of
:class:`~judgecache.store.redis_store.RedisStore`. ``sentinel_password`` sets the sentinels' own
password; ``password`` (or the URL's user part) is the data nodes'. See
:mod:`judgecache.store.redis_ha` for the ``wait_replicas`` durability setting.

Example:
    >>> service_and_db("redis+sentinel://s1:26379,s2:26379/mymaster/2")
    ('mymaster', 2)
"""

from __future__ import annotations

from typing import Any

import redis
from redis.sentinel import Sentinel

from judgecache.errors import ConfigError
from judgecache.store.naming import redact_url
from judgecache.store.redis_ha import ReplicatedRedisStore, parse_hosts, parse_options
from judgecache.store.redis_store import MGET_CHUNK

SCHEME = "redis+sentinel"


def service_and_db(url: str) -> tuple[str, int]:
    """The master's service name and the db number from the URL path.

    >>> service_and_db("redis+sentinel://s1/cache")
    ('cache', 0)
    """
    path = url.partition("://")[2].split("?", 1)[0].partition("/")[2].strip("/")
    service, _, db = path.partition("/")
    if not service or (db and not db.isdigit()) or "/" in db:
        raise ConfigError(
            f"invalid {SCHEME} URL {redact_url(url)!r}: expected "
            f"{SCHEME}://host:port[,host:port...]/service_name[/db]"
        )
    return service, int(db or 0)


class RedisSentinelStore(ReplicatedRedisStore):
    """One namespace on the master that the sentinels name; follows it across failovers."""

    scheme = SCHEME

    def __init__(self, url: str, namespace: str = "v", *, chunk: int = MGET_CHUNK) -> None:
        hosts = parse_hosts(url, SCHEME)
        options = parse_options(url, SCHEME, frozenset({"sentinel_password"}))
        self.service, db = service_and_db(url)
        self._setup(url, namespace, options, chunk)
        if options.get("sentinel_password"):
            self._secrets.append(options["sentinel_password"])
        sentinel_kwargs: dict[str, Any] = {
            k: v for k, v in self._conn.items() if k in ("socket_timeout", "socket_connect_timeout")
        }
        if options.get("sentinel_password"):
            sentinel_kwargs["password"] = options["sentinel_password"]
        with self._guard("connect"):
            self._sentinel = Sentinel(hosts, sentinel_kwargs=sentinel_kwargs, **self._conn)  # type: ignore[no-untyped-call]
            self._client = self._sentinel.master_for(self.service, db=db, decode_responses=True)  # type: ignore[no-untyped-call]
        self._scripts()

    def _node_for(self, key: str) -> redis.Redis:
        return self._client

    def info(self) -> dict[str, Any]:
        facts = super().info()
        with self._guard("SENTINEL get-master-addr-by-name"):
            host, port = self._sentinel.discover_master(self.service)  # type: ignore[no-untyped-call]
        facts.update(service=self.service, master=f"{host}:{port}")
        return facts
