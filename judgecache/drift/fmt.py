"""Number formatting shared by the Markdown and HTML renderers (text only; escaping is theirs).

Example:
    >>> num(0.91234), num(None), interval({"estimate": 0.9, "low": 0.85, "high": 0.94})
    ('0.912', '–', '0.900 [0.850, 0.940]')
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

SECTION_TITLES = {
    "cascade_health": "Cascade health",
    "agreement": "Agreement with the teacher",
    "teacher_stability": "Teacher stability (anchor set)",
    "calibration": "Calibration",
    "score_drift": "Score drift",
    "threshold": "Threshold re-check",
    "segments": "Segments by tag",
    "ppi": "Prediction-powered estimates over all traffic",
    "disagreements": "Worst disagreements",
}
KNOWN_SECTIONS = tuple(SECTION_TITLES)


def num(x: Any, digits: int = 3) -> str:
    """A number with fixed decimals; ``–`` for missing values."""
    if x is None or isinstance(x, bool):
        return "–" if x is None else str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return "–"
        # Counts stored as floats (gate values such as a label count) read better as integers.
        return str(int(x)) if x.is_integer() and abs(x) >= 10 else f"{x:.{digits}f}"
    return str(x)


def interval(d: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``estimate [low, high]`` from a rate dict."""
    if not d or d.get("estimate") is None:
        return "–"
    return (
        f"{num(d['estimate'], digits)} [{num(d.get('low'), digits)}, {num(d.get('high'), digits)}]"
    )


def bin_ranges(bins: Sequence[Mapping[str, Any]]) -> list[str]:
    """Score-drift bins as ranges, ``< a``, ``a – b``, ..., ``≥ z``, from their upper edges.

    Three significant digits, so that close edges of a reference piled up near 0 or 1 stay apart
    (a bin edge of 0.0004 printed as ``0.000`` read as an empty range).

    >>> bin_ranges([{"upper_edge": 0.0004}, {"upper_edge": 0.5}, {"upper_edge": None}])
    ['< 0.0004', '0.0004 – 0.5', '≥ 0.5']
    """
    # Only real numbers are edges: a hand-edited report may hold anything.
    edges = [
        float(e)
        for b in bins
        if isinstance(e := b.get("upper_edge"), int | float) and not isinstance(e, bool)
    ]
    if not edges:
        return ["all scores"] * len(bins)
    labels = [f"< {edges[0]:.3g}"]
    labels += [f"{lo:.3g} – {hi:.3g}" for lo, hi in itertools.pairwise(edges)]
    return [*labels, f"≥ {edges[-1]:.3g}"][: len(bins)]


def title(name: str) -> str:
    """A section's display title (unknown sections: the key, capitalised)."""
    return SECTION_TITLES.get(name, name.replace("_", " ").capitalize())


TREND_HEADERS = ["period", "status", "agreement", "kappa", "PSI", "labels"]


def trend_cells(row: Mapping[str, Any]) -> tuple[str, str, list[str]]:
    """One trend row for any renderer: (period, status, formatted numbers); the renderer escapes
    the first two its own way.

    >>> trend_cells({"period": "2025-W02", "status": "pass", "agreement": 0.9, "kappa": 0.8})[2][1]
    '0.800'
    """
    agreement = interval(
        {
            "estimate": row.get("agreement"),
            "low": row.get("agreement_low"),
            "high": row.get("agreement_high"),
        }
    )
    numbers = [agreement, num(row.get("kappa")), num(row.get("psi")), num(row.get("n_labelled"))]
    return str(row.get("period")), str(row.get("status")), numbers


def ordered_sections(sections: Mapping[str, Any]) -> list[str]:
    """Section names in report order: the known ones first, then any others as they come.

    >>> ordered_sections({"zeta": 1, "agreement": 2})[-1]
    'zeta'
    """
    return [n for n in KNOWN_SECTIONS if n in sections] + [
        n for n in sections if n not in KNOWN_SECTIONS
    ]
