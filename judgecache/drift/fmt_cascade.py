"""The cascade health section as text rows, shared by the Markdown and HTML renderers.

Text only: escaping is the renderer's. Every lookup tolerates a missing key, so a report written
by an older or newer version still renders.

Example:
    >>> rows = summary_rows({"kept_disagreement": {"estimate": 0.3, "lower": 0.24,
    ...     "upper": 0.37, "n_labels": 200, "n_eff": 200.0, "target": 0.05,
    ...     "meets_target": "no"}})
    >>> rows[0]
    ('kept disagreement (weighted; 200 labels, n_eff 200)', '0.300 [0.240, 0.370]')
    >>> rows[1]
    ('band target for kept disagreement', '0.050: meets target? no')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judgecache.drift.fmt import num


def _m(section: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = section.get(key)
    return value if isinstance(value, Mapping) else {}


def summary_rows(section: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(measure, value)`` rows: kept disagreement, target, escalation, escalated stratum."""
    kept, esc = _m(section, "kept_disagreement"), _m(section, "escalation")
    stratum, overall = _m(section, "escalated_stratum"), _m(section, "overall_agreement")
    rows = [
        (
            f"kept disagreement (weighted; {num(kept.get('n_labels'))} labels, "
            f"n_eff {num(kept.get('n_eff'), 0)})",
            "–"
            if kept.get("estimate") is None
            else f"{num(kept.get('estimate'))} [{num(kept.get('lower'))}, "
            f"{num(kept.get('upper'))}]",
        ),
        (
            "band target for kept disagreement",
            "none known"
            if kept.get("target") is None
            else f"{num(kept.get('target'))}: meets target? {kept.get('meets_target', '–')}",
        ),
    ]
    if esc:
        flat = {True: "flat", False: "moved", None: "–"}.get(esc.get("flat"), "–")
        rows.append(
            (
                "escalation rate this period (calibrated)",
                f"{num(esc.get('current_rate'))} ({num(esc.get('expected_rate'))}); change "
                f"{num(esc.get('change'))}, {flat} within ±{num(esc.get('tolerance'), 2)}",
            )
        )
    if stratum:
        rows.append(
            (
                "escalated stratum: teacher overturned the student (free labels)",
                f"{num(stratum.get('teacher_overturned'))} of {num(stratum.get('n_labels'))} "
                "escalated pairs",
            )
        )
    if overall:
        rows.append(
            (
                "expected agreement over all pairs (lower bound)",
                f"{num(overall.get('estimate'))} ({num(overall.get('lower'))})",
            )
        )
    saturation = _m(section, "saturation")
    if saturation:
        rows.append(("Cascade Saturation signal", "FIRED" if saturation.get("fired") else "no"))
    band = _m(section, "band")
    if band:
        rows.append(
            ("band (escalate lo <= p <= hi)", f"[{num(band.get('lo'))}, {num(band.get('hi'))}]")
        )
    return rows


def trend_rows(section: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """``(period, pairs, kept, escalated, escalation rate)`` per period, oldest first."""
    periods = _m(section, "escalation").get("periods") or []
    return [
        (
            str(r.get("period", "")),
            num(r.get("pairs")),
            num(r.get("kept")),
            num(r.get("escalated")),
            num(r.get("escalation_rate")),
        )
        for r in periods
        if isinstance(r, Mapping)
    ]
