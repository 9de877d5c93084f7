"""The report's plots at their boundaries: agreement 0 and 1, one period, no points, empty bins."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from judgecache.drift import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(b64: str) -> bool:
    return base64.b64decode(b64).startswith(PNG_SIGNATURE)


def _trend(agreement: float | None, low: float | None, high: float | None) -> dict[str, object]:
    return {
        "period": "2025-W02",
        "status": "pass",
        "agreement": agreement,
        "agreement_low": low,
        "agreement_high": high,
    }


@pytest.mark.parametrize(
    "rows",
    [
        # A perfect period whose upper bound came out a rounding error below the estimate: this
        # once made a negative error bar, which matplotlib refuses (the quickstart crashed on it).
        [_trend(1.0, 0.97, 0.9999999999999999)],
        [_trend(0.0, 1e-17, 0.05)],  # the same at zero
        [_trend(0.9, None, None)],  # one period, no interval
        [_trend(None, None, None)],  # nothing measured (inconclusive)
        [],  # no history yet
        [_trend(0.8, 0.7, 0.9), _trend(1.0, 0.95, 1.0), _trend(0.0, 0.0, 0.1)],
    ],
    ids=["one-at-1", "one-at-0", "no-interval", "no-agreement", "empty", "mixed"],
)
def test_trend_plot_draws_at_the_boundaries(rows: list[dict[str, object]]) -> None:
    assert _is_png(plots.trend_png(rows))


@pytest.mark.parametrize(
    "draw",
    [
        lambda: plots.reliability_png([]),
        lambda: plots.reliability_png([{"mean_p": 1.0, "observed": 0.0}]),
        lambda: plots.histogram_png({"edges": [0.0, 1.0], "reference": [0.0], "current": [0.0]}),
        lambda: plots.escalation_png([], expected=None),
        lambda: plots.escalation_png([{"period": "w1", "escalation_rate": 1.0}], expected=0.0),
    ],
    ids=["reliability-empty", "reliability-corner", "histogram-empty", "escalation-none", "one"],
)
def test_other_plots_draw_at_the_boundaries(draw: Callable[[], str]) -> None:
    assert _is_png(draw())
