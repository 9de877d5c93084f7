"""The cost ledger: calls, hits, tokens, dollars spent and saved, per judge and per user tag.

Totals live in two places: in memory for the current run (``Ledger.totals``) and as atomic
counters in the cache backend, so ``judgecache stats`` sees every process, machine and teammate
that shares the cache.

Example:
    >>> from judgecache.store import open_store
    >>> ledger = Ledger(open_store("memory://"))
    >>> ledger.record("openai:gpt-4o", "nightly", hits=3, saved_usd=0.03)
    >>> ledger.totals("openai:gpt-4o")["hits"]
    3.0
    >>> sorted(r.tag for r in ledger.persisted())
    ['*', 'nightly']
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass

from judgecache.errors import ConfigError, StorageError
from judgecache.store.base import Store

log = logging.getLogger(__name__)

FIELDS = (
    "requests",
    "hits",
    "calls",
    "coalesced",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "saved_usd",
)
"""``requests`` pairs asked; ``hits`` served from the cache; ``calls`` teacher calls made;
``coalesced`` served by an identical request already in flight; ``errors`` failed calls."""

ALL_TAGS = "*"
_GROUP_PREFIX = "ledger|"


@dataclass(frozen=True)
class LedgerRow:
    """Persisted totals of one (judge, tag); tag ``*`` is the judge's total over all tags."""

    judge: str
    tag: str
    totals: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {"judge": self.judge, "tag": self.tag, **self.totals}


class Ledger:
    """Counts what a judge did. Thread-safe; persisting is optional (``store=None``)."""

    def __init__(self, store: Store | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.unpersisted = 0  # record() calls whose shared counters could not be written
        self._totals: dict[tuple[str, str], dict[str, float]] = defaultdict(
            lambda: dict.fromkeys(FIELDS, 0.0)
        )

    def record(self, judge: str, tag: str | None = None, **amounts: float) -> None:
        """Add ``amounts`` (names from :data:`FIELDS`) for ``judge`` and, if given, ``tag``."""
        unknown = set(amounts) - set(FIELDS)
        if unknown:
            raise ConfigError(f"unknown ledger fields {sorted(unknown)}; valid: {list(FIELDS)}")
        amounts = {k: float(v) for k, v in amounts.items() if v}
        if not amounts:
            return
        tags = [ALL_TAGS] + ([tag] if tag else [])
        with self._lock:
            for t in tags:
                bucket = self._totals[(judge, t)]
                for name, value in amounts.items():
                    bucket[name] += value
        if self._store is None:
            return
        try:
            for t in tags:
                self._store.incr_counters(_group(judge, t), amounts)
        except StorageError as exc:
            # Bookkeeping must never lose a verdict already paid for: keep this run's totals in
            # memory, say so once per failure, and count what the shared totals missed.
            with self._lock:
                self.unpersisted += 1
            log.warning("ledger totals not saved to the cache (%s); %s", exc, amounts)

    def totals(self, judge: str, tag: str = ALL_TAGS) -> dict[str, float]:
        """This run's totals for ``judge`` (and ``tag``)."""
        with self._lock:
            return dict(self._totals.get((judge, tag), dict.fromkeys(FIELDS, 0.0)))

    def persisted(self) -> list[LedgerRow]:
        """Every (judge, tag) total stored in the backend, across all runs that share it."""
        if self._store is None:
            return []
        rows = []
        for group in self._store.counter_groups():
            if not group.startswith(_GROUP_PREFIX):
                continue
            judge, _, tag = group[len(_GROUP_PREFIX) :].rpartition("|")
            counters = self._store.get_counters(group)
            rows.append(LedgerRow(judge, tag, {f: counters.get(f, 0.0) for f in FIELDS}))
        return sorted(rows, key=lambda r: (r.judge, r.tag != ALL_TAGS, r.tag))


def _group(judge: str, tag: str) -> str:
    return f"{_GROUP_PREFIX}{judge}|{tag}"
