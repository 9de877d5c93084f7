"""Cache backends chosen by URL: ``memory://``, ``diskcache://PATH``, ``redis://``, ``rediss://``.

Example:
    >>> from judgecache.store import open_store
    >>> open_store("memory://").count()
    0
"""

from __future__ import annotations

from judgecache.store.base import Store
from judgecache.store.url import default_cache_url, open_store

__all__ = ["Store", "default_cache_url", "open_store"]
