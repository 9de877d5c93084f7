"""Cascade stats per period: routes, teacher calls avoided and estimated dollars saved."""

from __future__ import annotations

import pytest

from judgecache.drift.cascade_routes import cascade_stats, period_of, routes_by_period
from judgecache.drift.entry import LogEntry
from judgecache.errors import ConfigError
from judgecache.judges.rubric import get_rubric
from judgecache.prices import PriceTable

RELEVANCE = get_rubric("relevance")
# $1 per input token and $0.5 per output token: dollars equal token counts, easy to check by hand.
PRICES = PriceTable.from_dict({"models": {"judge-x": {"input": 1_000_000, "output": 500_000}}})


def entry(i: int, route: str | None, when: str, doc: str = "a passage") -> LogEntry:
    return LogEntry(
        item_id=f"k{i}",
        inputs={"query": "what is tea", "doc": doc},
        score=0.5,
        judge={"provider": "cascade", "model": "s>t"},
        task="relevance",
        timestamp=when,
        route=route,
    )


ENTRIES = [
    entry(0, "kept", "2025-01-06T10:00:00Z"),
    entry(1, "kept", "2025-01-07T10:00:00Z", doc="a much longer passage about tea"),
    entry(2, "escalated", "2025-01-08T10:00:00Z"),
    entry(3, "escalated", "2025-01-13T10:00:00Z"),  # next ISO week
    entry(4, None, "2025-01-13T11:00:00Z"),  # not a cascade entry: skipped
]


def test_routes_by_period_counts_each_week_and_day() -> None:
    weeks = routes_by_period(ENTRIES)
    assert [(r.period, r.pairs, r.kept, r.escalated) for r in weeks] == [
        ("2025-W02", 3, 2, 1),
        ("2025-W03", 1, 0, 1),
    ]
    assert weeks[0].escalation_rate == pytest.approx(1 / 3)
    days = routes_by_period(ENTRIES, "day")
    assert [d.period for d in days] == ["2025-01-06", "2025-01-07", "2025-01-08", "2025-01-13"]


def test_dollars_saved_are_estimated_from_token_counts() -> None:
    stats = cascade_stats(ENTRIES, rubric=RELEVANCE, price_model="judge-x", prices=PRICES)

    def tokens(doc: str) -> int:
        prompt = RELEVANCE.render({"query": "what is tea", "doc": doc})
        return (len(prompt) + len(RELEVANCE.system)) // 4 + 1

    expected = tokens("a passage") + 10 * 0.5 + tokens("a much longer passage about tea") + 10 * 0.5
    week2, week3 = stats["periods"]
    assert week2["teacher_calls_avoided"] == 2 and week2["saved_usd"] == pytest.approx(expected)
    assert week3["teacher_calls_avoided"] == 0 and week3["saved_usd"] == 0.0
    assert stats["total"] == {
        "pairs": 4,
        "kept": 2,
        "escalated": 2,
        "escalation_rate": 0.5,
        "teacher_calls_avoided": 2,
        "saved_usd": pytest.approx(expected),
    }


def test_without_a_price_model_no_dollars_are_claimed() -> None:
    stats = cascade_stats(ENTRIES, rubric=RELEVANCE)
    assert stats["total"]["saved_usd"] is None and stats["periods"][0]["saved_usd"] is None
    assert stats["total"]["teacher_calls_avoided"] == 2


def test_bad_granularity_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"granularity 'month' not in \['day', 'week'\]"):
        cascade_stats(ENTRIES, rubric=RELEVANCE, granularity="month")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="granularity"):
        period_of(ENTRIES[0].when, "year")  # type: ignore[arg-type]
