"""One production-log record: what a student (or cascade) judge scored, and how it decided.

Example:
    >>> e = LogEntry.from_dict({"item_id": "jc1:ab", "inputs": {"query": "q", "doc": "d"},
    ...     "score": 1.7, "probability": 0.8, "decision": 1, "threshold": 0.5,
    ...     "judge": {"provider": "student", "model": "m"}, "task": "relevance",
    ...     "timestamp": "2025-01-06T10:00:00Z", "tags": {"team": "search"}})
    >>> e.student_score, e.day
    (0.8, '2025-01-06')
    >>> LogEntry.from_json(e.to_json()) == e
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from judgecache.drift.period import parse_timestamp
from judgecache.envelope import Label, utc_now_iso
from judgecache.errors import InputError

ROUTES = ("kept", "escalated")
LOG_ENTRY_VERSION = 1


def _label(value: object, name: str, line: int | None) -> Label | None:
    if value is None or (isinstance(value, int | str) and not isinstance(value, bool)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InputError(f"must be an integer or string label, got {value!r}", field=name, line=line)


def _number(value: object, name: str, line: int | None, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"must be a finite number, got {value!r}", field=name, line=line)
    return float(value)


def _str_map(value: object, name: str, line: int | None) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InputError(f"must be an object of strings, got {value!r}", field=name, line=line)
    out = {}
    for k, v in value.items():
        if not isinstance(v, str | int | float) or isinstance(v, bool):
            raise InputError(f"value of {k!r} must be a string, got {v!r}", field=name, line=line)
        out[str(k)] = str(v)
    return out


@dataclass(frozen=True)
class LogEntry:
    """A scored pair as the production judge saw it.

    ``item_id`` is the pair's cache key under the logged judge. ``score`` is the raw score,
    ``probability`` the calibrated probability of the positive class (``None`` when the judge is
    not calibrated), ``decision`` the label it returned, ``threshold`` the decision threshold.
    ``route`` and ``teacher_label`` are set by a cascade (``kept`` or ``escalated``);
    ``student_label`` is the student's own label on an escalated pair, where ``decision`` is the
    teacher's (on a kept pair the decision is the student's already).
    """

    item_id: str
    inputs: Mapping[str, str]
    score: float
    judge: Mapping[str, str]
    task: str
    rubric: str = ""
    probability: float | None = None
    decision: Label | None = None
    threshold: float | None = None
    timestamp: str = field(default_factory=utc_now_iso)
    tags: Mapping[str, str] = field(default_factory=dict)
    route: str | None = None
    teacher_label: Label | None = None
    student_label: Label | None = None
    version: int = LOG_ENTRY_VERSION

    @property
    def student_score(self) -> float:
        """The number the drift checks use: the calibrated probability when logged, else the score."""
        return self.score if self.probability is None else self.probability

    @property
    def when(self) -> datetime:
        """The timestamp as an aware UTC datetime."""
        return parse_timestamp(self.timestamp)

    @property
    def day(self) -> str:
        """The UTC date of the timestamp (``YYYY-MM-DD``)."""
        return self.when.date().isoformat()

    def judge_id(self) -> str:
        """``provider:model[@version]`` of the judge that scored the pair."""
        base = f"{self.judge.get('provider', '')}:{self.judge.get('model', '')}"
        return f"{base}@{self.judge['version']}" if self.judge.get("version") else base

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["inputs"], d["judge"], d["tags"] = dict(self.inputs), dict(self.judge), dict(self.tags)
        if d["student_label"] is None:
            # Written only when set, so entries of plain students stay readable by older readers.
            del d["student_label"]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LogEntry:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, line: int | None = None) -> LogEntry:
        """Validate a record; errors name the field (and the line when reading a file)."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - valid)
        if unknown:
            raise InputError(
                f"unknown log fields {unknown}; valid fields: {sorted(valid)}", line=line
            )
        for name in ("item_id", "inputs", "score", "judge", "task"):
            if d.get(name) is None:
                raise InputError("is missing", field=name, line=line)
        item_id, task = d["item_id"], d["task"]
        if not isinstance(item_id, str) or not item_id:
            raise InputError("must be a non-empty string", field="item_id", line=line)
        if not isinstance(task, str) or not task:
            raise InputError("must be a non-empty string", field="task", line=line)
        inputs = _str_map(d["inputs"], "inputs", line)
        if len(inputs) != 2:
            raise InputError(
                f"must hold exactly two task fields, got {sorted(inputs)}",
                field="inputs",
                line=line,
            )
        judge = _str_map(d["judge"], "judge", line)
        for key in ("provider", "model"):
            if not judge.get(key):
                raise InputError(f"needs a non-empty {key!r}", field="judge", line=line)
        probability = _number(d.get("probability"), "probability", line, optional=True)
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise InputError(
                f"must be in [0, 1], got {probability}", field="probability", line=line
            )
        route = d.get("route")
        if route is not None and route not in ROUTES:
            raise InputError(
                f"must be one of {list(ROUTES)}, got {route!r}", field="route", line=line
            )
        timestamp = d.get("timestamp") or utc_now_iso()
        try:
            parse_timestamp(str(timestamp))
        except ValueError as exc:
            raise InputError(
                f"not an ISO-8601 time: {timestamp!r}", field="timestamp", line=line
            ) from exc
        version = d.get("version", LOG_ENTRY_VERSION)
        if version != LOG_ENTRY_VERSION:
            raise InputError(
                f"unsupported version {version!r} (expected {LOG_ENTRY_VERSION})",
                field="version",
                line=line,
            )
        score = _number(d["score"], "score", line, optional=False)
        assert score is not None  # optional=False never returns None
        return cls(
            item_id=item_id,
            inputs=inputs,
            score=score,
            judge={
                "provider": judge["provider"],
                "model": judge["model"],
                "version": judge.get("version", ""),
            },
            task=task,
            rubric=str(d.get("rubric") or task),
            probability=probability,
            decision=_label(d.get("decision"), "decision", line),
            threshold=_number(d.get("threshold"), "threshold", line, optional=True),
            timestamp=str(timestamp),
            tags=_str_map(d.get("tags") or {}, "tags", line),
            route=route,
            teacher_label=_label(d.get("teacher_label"), "teacher_label", line),
            student_label=_label(d.get("student_label"), "student_label", line),
        )
