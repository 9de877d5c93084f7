"""Budgeted stratified re-sampling of a period's production log, deterministic and unbiased.

Strata: a band of student scores around the decision threshold (oversampled, because that is where
a drifting judge flips decisions) and equal-count buckets of the remaining scores. Within each
stratum the items with the smallest ``hash(item_id, period)`` are taken: a uniform random sample
that a rerun of the same period reproduces exactly. Each item carries its inclusion probability
``n_h / N_h`` so estimates weight it by ``N_h / n_h``.

Example:
    >>> from judgecache.drift.entry import LogEntry
    >>> entries = [LogEntry(item_id=f"i{k}", inputs={"query": "q", "doc": str(k)}, score=k / 100,
    ...            judge={"provider": "student", "model": "m"}, task="relevance")
    ...            for k in range(100)]
    >>> s = stratified_sample(entries, 20, period_label="2025-W02", threshold=0.5, band=0.05)
    >>> len(s.items), round(sum(i.weight for i in s.items))
    (20, 100)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from judgecache.drift.entry import LogEntry
from judgecache.drift.hashing import unit_hash
from judgecache.errors import ConfigError

BAND = "near-threshold"


@dataclass(frozen=True)
class SampledItem:
    """One sampled log entry with its design facts.

    ``priority`` orders labelling: when the budget runs out part-way, the items labelled first
    are spread across strata in proportion to each stratum's sample size.
    """

    entry: LogEntry
    stratum: str
    inclusion_prob: float
    priority: float

    @property
    def weight(self) -> float:
        """The inverse inclusion probability."""
        return 1.0 / self.inclusion_prob


@dataclass(frozen=True)
class Stratum:
    """A stratum's score range, population ``N_h`` and sample size ``n_h``."""

    name: str
    low: float
    high: float
    population: int
    sample_size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "low": self.low,
            "high": self.high,
            "population": self.population,
            "sample_size": self.sample_size,
        }


@dataclass
class Sample:
    """The sampled items (in labelling-priority order) and the strata they came from."""

    period: str
    population: int
    items: list[SampledItem] = field(default_factory=list)
    strata: list[Stratum] = field(default_factory=list)

    def stratum_population(self) -> dict[str, int]:
        return {s.name: s.population for s in self.strata}


def latest_per_item(entries: Sequence[LogEntry]) -> list[LogEntry]:
    """One entry per item id (its latest), in item-id order: the sampling frame."""
    latest: dict[str, LogEntry] = {}
    for e in entries:
        if e.item_id not in latest or e.timestamp >= latest[e.item_id].timestamp:
            latest[e.item_id] = e
    return [latest[k] for k in sorted(latest)]


def allocate(sizes: Sequence[int], multipliers: Sequence[float], n: int) -> list[int]:
    """Split ``n`` over strata in proportion to ``size * multiplier`` (largest remainder, capped).

    >>> allocate([50, 50, 10], [1, 1, 3], 20)
    [8, 8, 4]
    """
    if n >= sum(sizes):
        return list(sizes)
    alloc = [0] * len(sizes)
    remaining = n
    while remaining > 0:
        open_ = [i for i, size in enumerate(sizes) if alloc[i] < size]
        if not open_:
            break
        mass = sum(sizes[i] * multipliers[i] for i in open_)
        shares = {i: remaining * sizes[i] * multipliers[i] / mass for i in open_}
        room = {i: sizes[i] - alloc[i] for i in open_}
        capped = any(math.floor(shares[i]) > room[i] for i in open_)
        for i in open_:
            alloc[i] += min(math.floor(shares[i]), room[i])
        remaining = n - sum(alloc)
        if capped:
            # A small stratum is full: share what it could not take among the others afresh.
            continue
        for i in sorted(open_, key=lambda i: (-(shares[i] - math.floor(shares[i])), i)):
            if remaining == 0:
                break
            if alloc[i] < sizes[i]:
                alloc[i] += 1
                remaining -= 1
    return alloc


def stratified_sample(
    entries: Sequence[LogEntry],
    n: int,
    *,
    period_label: str,
    threshold: float | None = None,
    buckets: int = 5,
    band: float = 0.1,
    oversample: float = 3.0,
    salt: str = "drift",
) -> Sample:
    """Draw ``n`` items stratified by student score, the threshold band oversampled.

    ``threshold`` is on the scale of :attr:`LogEntry.student_score` (the calibrated probability
    when logged). Without it there is no band, only score buckets.
    """
    if n < 1:
        raise ConfigError(f"sample size must be >= 1, got {n}")
    if buckets < 1:
        raise ConfigError(f"strata must be >= 1, got {buckets}")
    if oversample < 1.0:
        raise ConfigError(f"oversample must be >= 1, got {oversample}")
    frame = latest_per_item(entries)
    sample = Sample(period=period_label, population=len(frame))
    if not frame:
        return sample
    scores = np.array([e.student_score for e in frame], dtype=np.float64)
    names = np.empty(len(frame), dtype=object)
    in_band = (
        np.abs(scores - threshold) <= band
        if threshold is not None
        else np.zeros(len(frame), dtype=bool)
    )
    names[in_band] = BAND
    rest = ~in_band
    if np.any(rest):
        edges = np.unique(np.quantile(scores[rest], np.linspace(0, 1, buckets + 1)[1:-1]))
        idx = np.searchsorted(edges, scores[rest], side="right")
        names[rest] = [f"bucket-{int(i) + 1}" for i in idx]
    levels = sorted(set(names.tolist()), key=lambda s: (s == BAND, s))
    members = {lv: np.flatnonzero(names == lv) for lv in levels}
    sizes = [len(members[lv]) for lv in levels]
    mults = [oversample if lv == BAND else 1.0 for lv in levels]
    alloc = allocate(sizes, mults, n)
    for lv, n_h in zip(levels, alloc, strict=True):
        idx = members[lv]
        n_pop = len(idx)
        sample.strata.append(
            Stratum(lv, float(scores[idx].min()), float(scores[idx].max()), n_pop, n_h)
        )
        if n_h == 0:
            continue
        ranked = sorted(
            idx.tolist(), key=lambda i: unit_hash(frame[i].item_id, salt + period_label)
        )
        for j, i in enumerate(ranked[:n_h]):
            sample.items.append(SampledItem(frame[i], lv, n_h / n_pop, (j + 0.5) / n_h))
    sample.items.sort(key=lambda it: (it.priority, it.stratum, it.entry.item_id))
    return sample
