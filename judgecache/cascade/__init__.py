"""Cascade support: the uncertain band, choosing it from a target, its stats and its health.

The cascade judge itself is :class:`judgecache.judges.cascade.CascadeTeacher` (spec
``cascade:student:PATH>openai:gpt-4o``). This package holds the pure parts: :class:`Band`,
band selection on calibration arrays (:func:`band_for_disagreement`, certified by fixed-sequence
testing along a label-free :func:`escalation_path`, and :func:`band_for_budget`),
``cascade.json`` persistence, per-period stats and the drift report's health section. Importing
it never imports torch.

Example:
    >>> from judgecache.cascade import Band
    >>> Band(0.25, 0.75).escalates(0.5)
    True
"""

from __future__ import annotations

from judgecache.cascade.band import Band
from judgecache.cascade.health import cascade_health, health_from_log, kept_target
from judgecache.cascade.record import load_selection, save_selection
from judgecache.cascade.scan import BandTable, scan_bands
from judgecache.cascade.selection import (
    BandSelection,
    NoQualifyingBandError,
    band_for_budget,
    band_for_disagreement,
)
from judgecache.cascade.sequence import escalation_path, fixed_sequence
from judgecache.cascade.stats import PeriodRoutes, cascade_stats, routes_by_period

__all__ = [
    "Band",
    "BandSelection",
    "BandTable",
    "NoQualifyingBandError",
    "PeriodRoutes",
    "band_for_budget",
    "band_for_disagreement",
    "cascade_health",
    "cascade_stats",
    "escalation_path",
    "fixed_sequence",
    "health_from_log",
    "kept_target",
    "load_selection",
    "routes_by_period",
    "save_selection",
    "scan_bands",
]
