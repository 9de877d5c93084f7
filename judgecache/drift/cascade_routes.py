"""A cascade's routes in the production log: kept and escalated pairs per period, teacher calls
avoided and dollars saved.

A kept pair is a teacher call avoided. Its price is estimated from token counts, as for a cache
hit on imported labels: about four characters of rendered prompt (system + template + inputs) per
input token plus ``output_tokens`` per answer, priced with :mod:`judgecache.prices`.

Example:
    >>> from judgecache.drift.entry import LogEntry
    >>> from judgecache.judges.rubric import get_rubric
    >>> def entry(i, route):
    ...     return LogEntry(item_id=f"k{i}", inputs={"query": "q", "doc": "d"}, score=0.5,
    ...                     judge={"provider": "cascade", "model": "m"}, task="relevance",
    ...                     timestamp="2025-01-06T10:00:00Z", route=route)
    >>> s = cascade_stats([entry(0, "kept"), entry(1, "kept"), entry(2, "escalated")],
    ...                   rubric=get_rubric("relevance"), price_model="gpt-4o")
    >>> row = s["periods"][0]
    >>> row["period"], row["teacher_calls_avoided"], round(row["escalation_rate"], 3), row["saved_usd"] > 0
    ('2025-W02', 2, 0.333, True)
    >>> split = split_routes([entry(0, "kept"), entry(1, "escalated"), entry(2, "kept")])
    >>> [x.item_id for x in split.kept], split.routes("2025-W02").escalation_rate
    (['k0', 'k2'], 0.3333333333333333)
    >>> split_routes([entry(0, None)]) is None
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from judgecache.drift.entry import LogEntry
from judgecache.errors import ConfigError, DriftInputError
from judgecache.judges.rubric import Rubric
from judgecache.prices import PriceTable, default_prices

Granularity = Literal["day", "week"]
GRANULARITIES = ("day", "week")
CHARS_PER_TOKEN = 4


def period_of(when: datetime, granularity: Granularity = "week") -> str:
    """``YYYY-Www`` (ISO week) or ``YYYY-MM-DD`` for a UTC time.

    >>> from datetime import UTC, datetime
    >>> period_of(datetime(2025, 1, 6, tzinfo=UTC)), period_of(datetime(2025, 1, 6, tzinfo=UTC), "day")
    ('2025-W02', '2025-01-06')
    """
    if granularity == "day":
        return when.date().isoformat()
    if granularity == "week":
        year, week, _ = when.isocalendar()
        return f"{year}-W{week:02d}"
    raise ConfigError(f"granularity {granularity!r} not in {list(GRANULARITIES)}")


@dataclass(frozen=True)
class PeriodRoutes:
    """How a period's cascade traffic was routed."""

    period: str
    pairs: int
    kept: int
    escalated: int

    @property
    def escalation_rate(self) -> float | None:
        return self.escalated / self.pairs if self.pairs else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "escalation_rate": self.escalation_rate}


def routes_by_period(
    entries: Iterable[LogEntry], granularity: Granularity = "week"
) -> list[PeriodRoutes]:
    """Kept and escalated counts per period, oldest first (entries without a route are skipped)."""
    counts: dict[str, list[int]] = {}
    for e in entries:
        if e.route is None:
            continue
        row = counts.setdefault(period_of(e.when, granularity), [0, 0])
        row[0 if e.route == "kept" else 1] += 1
    return [PeriodRoutes(p, k + x, k, x) for p, (k, x) in sorted(counts.items())]


def teacher_call_cost(
    rubric: Rubric,
    inputs: Mapping[str, str],
    model: str,
    prices: PriceTable,
    *,
    output_tokens: int = 10,
) -> float:
    """The estimated USD of one teacher call on ``inputs`` (0.0 for an unpriced model)."""
    prompt_chars = len(rubric.render(inputs)) + len(rubric.system)
    return prices.estimate_cost(model, prompt_chars // CHARS_PER_TOKEN + 1, output_tokens)


def cascade_stats(
    entries: Iterable[LogEntry],
    *,
    rubric: Rubric,
    price_model: str | None = None,
    prices: PriceTable | None = None,
    granularity: Granularity = "week",
    output_tokens: int = 10,
) -> dict[str, Any]:
    """Per period and in total: pairs, kept, escalated, escalation rate, calls avoided, $ saved.

    ``price_model`` names the teacher's priced model (``gpt-4o``); without it dollars are not
    estimated (``saved_usd`` is ``None``).
    """
    if granularity not in GRANULARITIES:
        raise ConfigError(f"granularity {granularity!r} not in {list(GRANULARITIES)}")
    table = prices or (default_prices() if price_model else None)
    routed = [e for e in entries if e.route is not None]
    saved: dict[str, float] = {}
    if price_model and table is not None:
        for e in routed:
            if e.route == "kept":
                p = period_of(e.when, granularity)
                cost = teacher_call_cost(
                    rubric, e.inputs, price_model, table, output_tokens=output_tokens
                )
                saved[p] = saved.get(p, 0.0) + cost
    rows = []
    for r in routes_by_period(routed, granularity):
        rows.append(
            {
                **r.to_dict(),
                "teacher_calls_avoided": r.kept,
                "saved_usd": saved.get(r.period, 0.0) if price_model else None,
            }
        )
    pairs = sum(r["pairs"] for r in rows)
    kept = sum(r["kept"] for r in rows)
    return {
        "granularity": granularity,
        "price_model": price_model,
        "cost_basis": (
            f"estimated: rendered prompt chars/{CHARS_PER_TOKEN} input tokens + {output_tokens} "
            "output tokens per avoided teacher call"
        ),
        "periods": rows,
        "total": {
            "pairs": pairs,
            "kept": kept,
            "escalated": pairs - kept,
            "escalation_rate": (pairs - kept) / pairs if pairs else None,
            "teacher_calls_avoided": kept,
            "saved_usd": sum(saved.values()) if price_model else None,
        },
    }


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
