"""Report plots as base64 PNG strings, drawn with matplotlib's object API (no pyplot state).

matplotlib is imported only inside these functions (the ``report`` extra); without it the HTML
report is still written, with a note in place of each plot.

Example:
    >>> png = histogram_png({"edges": [0, 0.5, 1], "reference": [0.5, 0.5], "current": [0.2, 0.8]})
    >>> png.startswith("iVBOR")  # base64 of the PNG signature
    True
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

from judgecache.errors import MissingDependencyError


def _figure(width: float = 5.0, height: float = 3.2) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyError("matplotlib", "report") from exc
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def reliability_png(rows: Sequence[Mapping[str, Any]]) -> str:
    """Reliability diagram: observed teacher-positive rate against mean predicted probability."""
    fig = _figure(4.2, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888888", label="perfect calibration")
    xs = [float(r["mean_p"]) for r in rows]
    ys = [float(r["observed"]) for r in rows]
    ax.plot(xs, ys, marker="o", color="#1f77b4", label="student (equal-mass bins)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("teacher-positive rate")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def histogram_png(hist: Mapping[str, Sequence[float]]) -> str:
    """Student score histograms, reference against this period."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    edges = [float(e) for e in hist["edges"]]
    for key, color in (("reference", "#7f7f7f"), ("current", "#d62728")):
        ax.stairs([float(v) for v in hist[key]], edges, label=key, color=color, linewidth=2)
    ax.set_xlabel("student score")
    ax.set_ylabel("fraction of pairs")
    ax.legend(fontsize=8)
    return _png(fig)


def _or(value: Any, default: float) -> float:
    return default if value is None else float(value)


def trend_png(rows: Sequence[Mapping[str, Any]]) -> str:
    """Agreement per run with its interval, oldest first."""
    fig = _figure(6.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    pts = [(i, r) for i, r in enumerate(rows) if r.get("agreement") is not None]
    xs = [i for i, _ in pts]
    ys = [float(r["agreement"]) for _, r in pts]
    # Error bars are distances from the point, so never negative: an interval computed apart from
    # its estimate (e.g. a weighted rate of 1.0 with an upper bound of 0.9999999999999999) may
    # sit a rounding error inside it, and matplotlib rejects a negative bar outright.
    lo = [max(0.0, y - _or(r.get("agreement_low"), y)) for y, (_, r) in zip(ys, pts, strict=True)]
    hi = [max(0.0, _or(r.get("agreement_high"), y) - y) for y, (_, r) in zip(ys, pts, strict=True)]
    colors = {"pass": "#2ca02c", "warn": "#ff7f0e", "fail": "#d62728", "inconclusive": "#7f7f7f"}
    ax.errorbar(xs, ys, yerr=[lo, hi], fmt="-", color="#1f77b4", ecolor="#9ecae1", capsize=3)
    ax.scatter(xs, ys, c=[colors.get(str(r.get("status")), "#1f77b4") for _, r in pts], zorder=3)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(
        [str(r.get("period", "")) for r in rows], rotation=45, ha="right", fontsize=7
    )
    ax.set_ylabel("student-teacher agreement")
    ax.set_ylim(max(0.0, min([*ys, 1.0]) - 0.1), 1.0)
    return _png(fig)


def escalation_png(rows: Sequence[Mapping[str, Any]], expected: float | None = None) -> str:
    """A cascade's escalation rate per period, oldest first, against the calibrated rate."""
    fig = _figure(5.0, 2.8)
    ax = fig.add_subplot(1, 1, 1)
    pts = [(i, r) for i, r in enumerate(rows) if r.get("escalation_rate") is not None]
    ax.plot(
        [i for i, _ in pts],
        [float(r["escalation_rate"]) for _, r in pts],
        marker="o",
        color="#1f77b4",
        label="escalation rate",
    )
    if expected is not None:
        ax.axhline(float(expected), linestyle="--", color="#888888", label="calibrated rate")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(
        [str(r.get("period", "")) for r in rows], rotation=45, ha="right", fontsize=7
    )
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("share sent to the teacher")
    ax.legend(fontsize=8)
    return _png(fig)
