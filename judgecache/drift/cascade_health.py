"""The drift check's view of a cascade: kept and escalated pairs apart, and the health section.

A cascade's log holds two populations. On a *kept* pair the student's decision stood: only
teacher labels sampled from kept pairs can show that those decisions went wrong, so the
agreement and calibration sample is drawn from kept entries alone (weighted by its design). On
an *escalated* pair the decision is the teacher's own label, which the cascade logged for free:
those labels form their own stratum (how often the teacher overturned the student inside the
band) and are never mixed into the kept estimates, where they would count as sure agreements.

Example:
    >>> from judgecache.drift.entry import LogEntry
    >>> def e(i, route):
    ...     return LogEntry(item_id=f"k{i}", inputs={"query": "q", "doc": str(i)}, score=0.5,
    ...                     judge={"provider": "cascade", "model": "m"}, task="relevance",
    ...                     timestamp="2025-01-06T10:00:00Z", route=route)
    >>> split = split_routes([e(0, "kept"), e(1, "escalated"), e(2, "kept")])
    >>> [x.item_id for x in split.kept], split.routes("2025-W02").escalation_rate
    (['k0', 'k2'], 0.3333333333333333)
    >>> split_routes([e(0, None)]) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judgecache.cascade.health import health_from_log
from judgecache.cascade.record import load_selection, selection_path
from judgecache.cascade.selection import BandSelection
from judgecache.cascade.stats import PeriodRoutes
from judgecache.drift.analysis import LabelledData
from judgecache.drift.entry import LogEntry
from judgecache.errors import DriftInputError
from judgecache.judges.rubric import Rubric

KEPT_SCOPE = (
    "kept pairs only: the cascade's student decided these; escalated pairs carry the teacher's "
    "own label and are reported in the cascade health section"
)


@dataclass(frozen=True)
class CascadeSplit:
    """A cascade period's entries by route."""

    kept: list[LogEntry]
    escalated: list[LogEntry]

    def routes(self, period: str) -> PeriodRoutes:
        """This period's route counts (one log entry per item per day, as the log keeps them)."""
        n_kept, n_esc = len(self.kept), len(self.escalated)
        return PeriodRoutes(period, n_kept + n_esc, n_kept, n_esc)


def split_routes(entries: Sequence[LogEntry]) -> CascadeSplit | None:
    """Kept and escalated entries, or ``None`` when no entry carries a route (not a cascade)."""
    routed = sum(1 for e in entries if e.route is not None)
    if routed == 0:
        return None
    if routed != len(entries):
        raise DriftInputError(
            f"{len(entries) - routed} of {len(entries)} log entries of this judge carry no cascade "
            "route (kept or escalated) while the others do; a cascade logs a route on every pair"
        )
    return CascadeSplit(
        kept=[e for e in entries if e.route == "kept"],
        escalated=[e for e in entries if e.route == "escalated"],
    )


def load_band(path: str | None, entries: Sequence[LogEntry]) -> BandSelection | None:
    """The band selection the config points at, checked against the band that scored the log.

    A cascade's identity version is its band's digest, so a ``cascade.json`` holding another
    band (re-chosen since, or another student's) is refused rather than judged against.
    """
    if path is None:
        return None
    selection = load_selection(path)
    digest = selection.band.digest()
    logged = sorted(
        {e.judge.get("version", "") for e in entries if e.judge.get("provider") == "cascade"}
    )
    if logged and logged != [digest]:
        raise DriftInputError(
            f"{selection_path(path)} holds band {selection.band} (digest {digest}) but the "
            f"logged cascade used band digest(s) {logged}: point `cascade:` at the band that "
            "scored this log"
        )
    return selection


def route_history(trend: Sequence[Mapping[str, Any]], current: PeriodRoutes) -> list[PeriodRoutes]:
    """Past periods' routes from the run history (latest run per period), then this period."""
    by_period: dict[str, PeriodRoutes] = {}
    for row in trend:
        r = row.get("routes")
        if not isinstance(r, Mapping) or r.get("period") in (None, current.period):
            continue
        try:
            routes = PeriodRoutes(
                str(r["period"]), int(r["pairs"]), int(r["kept"]), int(r["escalated"])
            )
        except (KeyError, TypeError, ValueError):
            continue  # a hand-edited or older history row: leave it out of the trend
        by_period.pop(routes.period, None)  # a rerun of a period replaces it, latest last
        by_period[routes.period] = routes
    return [*by_period.values(), current]


def health_section(
    split: CascadeSplit,
    data: LabelledData,
    selection: BandSelection | None,
    *,
    rubric: Rubric,
    routes: Sequence[PeriodRoutes],
    alpha: float,
    min_labels: int,
) -> dict[str, Any]:
    """The report's ``cascade_health`` section, its bounds one-sided at the run's ``alpha``.

    ``data`` must be the labelled sample of KEPT entries; its weights (inverse inclusion
    probabilities) carry into the kept estimate unchanged.
    """
    labels = {
        it.entry.item_id: (label, float(w))
        for it, label, w in zip(data.items, data.teacher, data.weights, strict=True)
    }
    section = health_from_log(
        [*split.kept, *split.escalated],
        labels,
        selection,
        rubric=rubric,
        routes=routes,
        confidence=1.0 - alpha,
        min_labels=min_labels,
    )
    section["population"] = {"kept": len(split.kept), "escalated": len(split.escalated)}
    section["target_source"] = None if selection is None else selection.target
    return section
