"""Open a backend from its URL. The storage failure policy is applied here, in one place.

Example:
    >>> open_store("memory://").url
    'memory://'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from judgecache.errors import ConfigError
from judgecache.store.base import Store

OnError = Literal["raise", "fallback"]
SCHEMES = ("memory", "diskcache", "redis", "rediss")

# A namespace becomes a directory name (diskcache) and a ``:``-separated key segment (Redis), so
# it may hold neither path separators nor ``:`` nor glob characters.
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_SECRET_QUERY_KEYS = frozenset({"password", "ssl_password"})


def check_namespace(namespace: str) -> str:
    """Return ``namespace`` if it is a safe name, else raise :class:`ConfigError`.

    >>> check_namespace("v")
    'v'
    """
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise ConfigError(
            f"invalid cache namespace {namespace!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'"
        )
    return namespace


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print in errors and warnings.

    >>> redact_url("redis://user:s3cret@cache:6379/0?password=x")
    'redis://user:***@cache:6379/0?password=***'
    """
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k in _SECRET_QUERY_KEYS for k, _ in pairs):
        masked = [(k, "***" if k in _SECRET_QUERY_KEYS else v) for k, v in pairs]
        query = urlencode(masked, safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # nothing secret; urlunsplit would also drop an empty "//" authority
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def default_cache_dir() -> Path:
    """The per-user cache directory (``$JUDGECACHE_DIR``, else ``$XDG_CACHE_HOME/judgecache``)."""
    if env := os.environ.get("JUDGECACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "judgecache"


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
    from judgecache.store.redis_store import RedisStore

    if on_error == "fallback":
        from judgecache.store.policy import FallbackStore

        return FallbackStore(lambda: RedisStore(url, namespace), url=url, namespace=namespace)
    return RedisStore(url, namespace)
