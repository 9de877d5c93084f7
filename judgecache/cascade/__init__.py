"""Cascade band maths: the uncertain band, choosing it from a target, and its record.

The cascade judge itself is :class:`judgecache.judges.cascade.CascadeTeacher` (spec
``cascade:student:PATH>openai:gpt-4o``). This package holds the pure parts: :class:`Band`,
band selection on calibration arrays (:func:`band_for_disagreement`, certified by fixed-sequence
testing along a label-free :func:`escalation_path`, and :func:`band_for_budget`),
``cascade.json`` persistence, and the audited batch cascade (:func:`run_batch`: escalate until a
target agreement corrected by what a random audit of kept pairs saw; :mod:`judgecache.cascade.audit`). Pure: it imports neither the drift checker nor the judges
(what reads the production log -- routes per period, dollars saved, the health section -- lives in
:mod:`judgecache.drift.cascade_routes` and :mod:`judgecache.drift.cascade_health`). Importing it
never imports torch.

Example:
    >>> from judgecache.cascade import Band
    >>> Band(0.25, 0.75).escalates(0.5)
    True
"""

from __future__ import annotations

from judgecache.cascade.audit import (
    AuditEstimate,
    AuditPolicy,
    BatchResult,
    Overconfidence,
    audit_sample,
    escalate_until,
    run_batch,
)
from judgecache.cascade.band import Band
from judgecache.cascade.record import load_selection, save_selection
from judgecache.cascade.scan import BandTable, scan_bands
from judgecache.cascade.selection import (
    BandSelection,
    NoQualifyingBandError,
    band_for_budget,
    band_for_disagreement,
    kept_target,
)
from judgecache.cascade.sequence import escalation_path, fixed_sequence

__all__ = [
    "AuditEstimate",
    "AuditPolicy",
    "Band",
    "BandSelection",
    "BandTable",
    "BatchResult",
    "NoQualifyingBandError",
    "Overconfidence",
    "audit_sample",
    "band_for_budget",
    "band_for_disagreement",
    "escalate_until",
    "escalation_path",
    "fixed_sequence",
    "kept_target",
    "load_selection",
    "run_batch",
    "save_selection",
    "scan_bands",
]
