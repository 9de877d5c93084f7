"""Drift checking: a bounded production log, a budgeted sampler, pure statistics, gates, reports.

Example:
    >>> from judgecache.drift import ProductionLog, DriftConfig
    >>> ProductionLog("memory://").stats()["entries"]
    0
    >>> DriftConfig.from_dict({"teacher": "openai:gpt-4o"}).budget
    400
"""

from __future__ import annotations

from judgecache.drift.checker import DriftRun, EmptyPeriodError, make_baseline, run_check
from judgecache.drift.config import DriftConfig, GateConfig
from judgecache.drift.entry import LogEntry
from judgecache.drift.history import RunHistory
from judgecache.drift.log import ProductionLog, RecordStats
from judgecache.drift.period import Period
from judgecache.drift.reference import Anchor, AnchorSet, Reference
from judgecache.drift.sampler import Sample, SampledItem, stratified_sample
from judgecache.drift.verdict import Gate, RunVerdict

__all__ = [
    "Anchor",
    "AnchorSet",
    "DriftConfig",
    "DriftRun",
    "EmptyPeriodError",
    "Gate",
    "GateConfig",
    "LogEntry",
    "Period",
    "ProductionLog",
    "RecordStats",
    "Reference",
    "RunHistory",
    "RunVerdict",
    "Sample",
    "SampledItem",
    "make_baseline",
    "run_check",
    "stratified_sample",
]
