"""Open a backend from its URL. The storage failure policy is applied here, in one place.

Example:
    >>> open_store("memory://").url
    'memory://'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from judgecache.errors import ConfigError
from judgecache.store.base import Store
from judgecache.store.naming import check_namespace, default_cache_dir, redact_url

OnError = Literal["raise", "fallback"]
SCHEMES = ("memory", "diskcache", "redis", "rediss", "redis+cluster", "redis+sentinel")
__all__ = [
    "SCHEMES",
    "OnError",
    "check_namespace",
    "default_cache_dir",
    "default_cache_url",
    "open_store",
    "redact_url",
]


def default_cache_url() -> str:
    """``$JUDGECACHE_CACHE`` when set, else diskcache in :func:`default_cache_dir`."""
    return os.environ.get("JUDGECACHE_CACHE") or f"diskcache://{default_cache_dir()}"


def open_store(
    url: str | None = None,
    namespace: str = "v",
    *,
    on_error: OnError = "raise",
    size_limit: int | None = None,
) -> Store:
    """Open the backend named by ``url`` (default: :func:`default_cache_url`).

    ``on_error="fallback"`` wraps a remote backend so that when it is unreachable judgecache warns
    once and goes on with the local diskcache default instead of failing the run.
    ``size_limit`` (bytes, diskcache only) turns on eviction, which is then counted, never silent.
    """
    url = url or default_cache_url()
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ConfigError(
            f"unknown cache URL {url!r}: expected one of " + ", ".join(f"{s}://" for s in SCHEMES)
        )
    if on_error not in ("raise", "fallback"):
        raise ConfigError(f"on_error must be 'raise' or 'fallback', got {on_error!r}")
    check_namespace(namespace)
    if scheme == "memory":
        from judgecache.store.memory import MemoryStore

        return MemoryStore(url, namespace)
    if scheme == "diskcache":
        from judgecache.store.disk import DiskStore

        path = Path(rest).expanduser() if rest else default_cache_dir()
        return DiskStore(path, namespace, size_limit=size_limit)
    remote = _remote_opener(scheme)
    if on_error == "fallback":
        from judgecache.store.policy import FallbackStore

        return FallbackStore(lambda: remote(url, namespace), url=url, namespace=namespace)
    return remote(url, namespace)


def _remote_opener(scheme: str) -> Callable[[str, str], Store]:
    """The class that opens a ``redis*://`` URL (imported only when asked for)."""
    if scheme == "redis+cluster":
        from judgecache.store.redis_cluster import RedisClusterStore

        return RedisClusterStore
    if scheme == "redis+sentinel":
        from judgecache.store.redis_sentinel import RedisSentinelStore

        return RedisSentinelStore
    from judgecache.store.redis_store import RedisStore

    return RedisStore
