"""Names shared by the URL router and every backend: namespaces, masked URLs, the default directory.

They live apart from :mod:`judgecache.store.url` because ``url`` imports the backends (to open
them) and the backends need these helpers: one module each way would be an import circle.

Example:
    >>> check_namespace("v"), redact_url("redis://:pw@h:6379")
    ('v', 'redis://:***@h:6379')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from judgecache.errors import ConfigError

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
