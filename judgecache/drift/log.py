"""The production log: a bounded store of what the student (or cascade) judge scored.

Bounded twice, and never silently: a deterministic hash sample keeps an item iff
``hash(item_id) < rate * 2**64`` (so every host keeps the same items), and a hard ``max_entries``
cap refuses new entries once reached (counted as ``dropped_full`` and warned about, or raised with
``on_full="raise"``); nothing is evicted behind the user's back. One entry is kept per item per UTC
day, so re-scoring a popular pair does not grow the log. Values are JSON text, never pickle.

Example:
    >>> log = ProductionLog("memory://")
    >>> e = LogEntry(item_id="jc1:ab", inputs={"query": "q", "doc": "d"}, score=0.9,
    ...              judge={"provider": "student", "model": "m", "version": "1"},
    ...              task="relevance", timestamp="2025-01-06T10:00:00+00:00")
    >>> log.record(e), log.record(e)
    (True, False)
    >>> [x.item_id for x in log.iter_entries("2025-W02")]
    ['jc1:ab']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from judgecache.drift.entry import LogEntry
from judgecache.drift.hashing import keep_by_rate
from judgecache.drift.period import Period
from judgecache.envelope import Label, utc_now_iso
from judgecache.errors import ConfigError, InputError, StorageError
from judgecache.store import open_store
from judgecache.store.base import Store

if TYPE_CHECKING:
    from judgecache.judges.rubric import Rubric
    from judgecache.judges.verdict import Verdict

log = logging.getLogger(__name__)

COUNTER_GROUP = "log"
_BATCH = 500


@dataclass
class RecordStats:
    """What one ``record_many`` / ``import_jsonl`` call did with its entries."""

    seen: int = 0
    stored: int = 0
    sampled_out: int = 0
    duplicate: int = 0
    dropped_full: int = 0

    def add(self, other: RecordStats) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def _meta_label(meta: Mapping[str, str], name: str, rubric: Rubric, key: str) -> Label | None:
    """A label from envelope meta (a string there) as the rubric's label, e.g. ``"3"`` -> ``3``."""
    value = meta.get(name)
    if value is None:
        return None
    try:
        return rubric.coerce_label(value)
    except ValueError as exc:
        raise InputError(
            f"verdict {key!r}: meta {name} {value!r} is not a label of rubric {rubric.name!r} "
            f"{list(rubric.labels)}",
            field=name,
        ) from exc


class ProductionLog:
    """A bounded production log in a cache backend's ``prodlog`` namespace.

    Args:
        store: a backend URL (``memory://``, ``diskcache://PATH``, ``redis://...``) or a Store.
        rate: the fraction of items kept, e.g. ``max_entries / expected items per retention``.
        max_entries: the hard cap; at the cap new entries are refused, never evicting old ones.
        on_full: ``"drop"`` (count, warn once, keep serving) or ``"raise"`` (StorageError).
    """

    def __init__(
        self,
        store: str | Store | None = None,
        *,
        namespace: str = "prodlog",
        rate: float = 1.0,
        max_entries: int = 200_000,
        on_full: Literal["drop", "raise"] = "drop",
    ) -> None:
        if not 0.0 < rate <= 1.0:
            raise ConfigError(f"log rate must be in (0, 1], got {rate}")
        if max_entries < 1:
            raise ConfigError(f"log max_entries must be >= 1, got {max_entries}")
        if on_full not in ("drop", "raise"):
            raise ConfigError(f"log on_full must be 'drop' or 'raise', got {on_full!r}")
        self.store = store if isinstance(store, Store) else open_store(store, namespace)
        self.rate = rate
        self.max_entries = max_entries
        self.on_full = on_full
        self._warned_full = False

    # ------------------------------------------------------------------------------ writing

    def keeps(self, item_id: str) -> bool:
        """Whether the hash sample keeps this item (the same answer on every host, every time)."""
        return keep_by_rate(item_id, self.rate)

    @staticmethod
    def storage_key(entry: LogEntry) -> str:
        """``DAY|item_id``: one entry per item per UTC day; the day prefix filters by period."""
        return f"{entry.day}|{entry.item_id}"

    def record(self, entry: LogEntry) -> bool:
        """Record one entry; True when it was stored."""
        return self.record_many([entry]).stored == 1

    def record_many(self, entries: Iterable[LogEntry]) -> RecordStats:
        """Record entries (hash-sampled, one per item per day, refused at the cap)."""
        stats = RecordStats()
        room = self.max_entries - self.store.count()
        for entry in entries:
            stats.seen += 1
            if not self.keeps(entry.item_id):
                stats.sampled_out += 1
                continue
            if room <= 0:
                stats.dropped_full += 1
                continue
            if self.store.add(self.storage_key(entry), entry.to_json()):
                stats.stored += 1
                room -= 1
            else:
                stats.duplicate += 1
        self.store.incr_counters(COUNTER_GROUP, {k: float(v) for k, v in asdict(stats).items()})
        if stats.dropped_full:
            self._full(stats.dropped_full)
        return stats

    def _full(self, dropped: int) -> None:
        message = (
            f"production log {self.store.url} is full ({self.max_entries} entries): {dropped} "
            "entries refused; prune old periods or lower the sampling rate"
        )
        if self.on_full == "raise":
            raise StorageError(message)
        if not self._warned_full:
            log.warning(message)
            self._warned_full = True

    def record_scored(
        self,
        judge: Any,
        inputs: Sequence[Mapping[str, str]],
        verdicts: Sequence[Verdict],
        tag: str | None,
    ) -> None:
        """The hook a :class:`~judgecache.judges.judge.Judge` calls after each scored batch.

        Reads the calibrated probability from the envelope's ``score`` (when in [0, 1]) and the
        raw score, threshold and cascade route from its ``meta`` (``raw_score``, ``threshold``,
        ``route``, ``teacher_label``, ``student_label``) when the judge puts them there. Meta
        values are strings: labels are turned back into the rubric's labels, and the student's
        own label is kept for escalated pairs (where the decision is the teacher's).
        """
        now = utc_now_iso()
        identity = judge.teacher.identity.as_dict()
        rubric = judge.rubric
        entries = []
        for inp, verdict in zip(inputs, verdicts, strict=True):
            env = verdict.envelope
            meta = dict(env.meta)
            prob = env.score if env.score is not None and 0.0 <= env.score <= 1.0 else None
            raw = meta.get("raw_score")
            score = float(raw) if raw is not None else verdict.score
            threshold = meta.get("threshold")
            route = meta.get("route")
            entries.append(
                LogEntry(
                    item_id=verdict.key,
                    inputs=dict(inp),
                    score=float(score if score is not None else 0.0),
                    probability=prob,
                    decision=verdict.label,
                    threshold=None if threshold is None else float(threshold),
                    judge=identity,
                    task=rubric.task,
                    rubric=rubric.name,
                    timestamp=now,
                    tags={"tag": tag} if tag else {},
                    route=route,
                    teacher_label=_meta_label(meta, "teacher_label", rubric, verdict.key),
                    student_label=(
                        _meta_label(meta, "student_label", rubric, verdict.key)
                        if route == "escalated"
                        else None
                    ),
                )
            )
        self.record_many(entries)

    def import_jsonl(self, path: str | Path) -> RecordStats:
        """Import entries from a JSON Lines file kept elsewhere (validated; errors name the line)."""
        from judgecache.io.jsonl import iter_jsonl

        total = RecordStats()
        batch: list[LogEntry] = []
        for number, row in iter_jsonl(path):
            batch.append(LogEntry.from_dict(row, line=number))
            if len(batch) >= _BATCH:
                total.add(self.record_many(batch))
                batch = []
        if batch:
            total.add(self.record_many(batch))
        if total.seen == 0:
            raise InputError(f"{path}: the file holds no log entries")
        return total

    # ------------------------------------------------------------------------------ reading

    def iter_entries(
        self,
        period: str | Period | None = None,
        *,
        judge: str | None = None,
        task: str | None = None,
    ) -> Iterator[LogEntry]:
        """Entries in ``period`` (a :class:`Period` or spec), optionally of one judge and task.

        ``judge`` is ``provider:model[@version]`` as :meth:`LogEntry.judge_id` writes it.
        Order: by storage key (day, then item id), so runs are reproducible.
        """
        window = Period.parse(period) if isinstance(period, str) else period
        days = None if window is None else window.days()
        keys = sorted(k for k in self.store.keys() if days is None or k.split("|", 1)[0] in days)
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start : start + _BATCH]
            for key, raw in zip(chunk, self.store.get_many(chunk), strict=True):
                if raw is None:
                    continue
                try:
                    entry = LogEntry.from_json(raw)
                except (ValueError, InputError) as exc:
                    raise StorageError(f"corrupt production log entry {key!r}: {exc}") from exc
                if window is not None and not window.contains(entry.when):
                    continue
                if judge is not None and entry.judge_id() != judge:
                    continue
                if task is not None and entry.task != task:
                    continue
                yield entry

    def judges(self) -> dict[str, int]:
        """How many entries each judge identity has (to explain an empty selection)."""
        counts: dict[str, int] = {}
        for entry in self.iter_entries():
            counts[entry.judge_id()] = counts.get(entry.judge_id(), 0) + 1
        return counts

    def stats(self) -> dict[str, Any]:
        """Entries held, the cap, the rate, and the running record counters."""
        counters = self.store.get_counters(COUNTER_GROUP)
        return {
            "url": self.store.url,
            "entries": self.store.count(),
            "max_entries": self.max_entries,
            "rate": self.rate,
            **{k: int(v) for k, v in sorted(counters.items())},
        }

    def prune(self, before: datetime) -> int:
        """Delete entries from UTC days before ``before`` (explicit retention); return how many."""
        cutoff = before.date().isoformat()
        doomed = [k for k in self.store.keys() if k.split("|", 1)[0] < cutoff]
        return sum(1 for k in doomed if self.store.delete(k))

    def close(self) -> None:
        self.store.close()
