"""The reference (baseline) a drift run compares against, and the anchor set it re-judges.

A reference is measured once, on a period the team trusts: the student's score distribution (for
PSI and Wasserstein), its agreement and calibration against the teacher, and the threshold with its
target. It names the student, the teacher and the rubric it was measured with; a run with any other
student, teacher or rubric is refused (:class:`~judgecache.errors.DriftInputError`).

Example:
    >>> ref = Reference(student={"provider": "student", "model": "m", "version": "1"},
    ...                 teacher={"provider": "openai", "model": "gpt-4o", "version": ""},
    ...                 task="relevance", rubric="relevance", scores=[0.1, 0.9], agreement=0.9)
    >>> Reference.from_json(ref.to_json()) == ref
    True
    >>> ref.student_id
    'student:m@1'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from judgecache.envelope import Label, utc_now_iso
from judgecache.errors import ConfigError, DriftInputError

REFERENCE_SCHEMA = "judgecache.drift.reference/1"
ANCHORS_SCHEMA = "judgecache.drift.anchors/1"
MAX_REFERENCE_SCORES = 5000


def identity_id(identity: Mapping[str, str]) -> str:
    """``provider:model[@version]`` of an identity dict.

    >>> identity_id({"provider": "openai", "model": "gpt-4o", "version": ""})
    'openai:gpt-4o'
    """
    base = f"{identity.get('provider', '')}:{identity.get('model', '')}"
    return f"{base}@{identity['version']}" if identity.get("version") else base


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class Reference:
    """Baseline facts about a student judge against its teacher."""

    student: Mapping[str, str]
    teacher: Mapping[str, str]
    task: str
    rubric: str
    scores: Sequence[float]
    agreement: float
    kappa: float | None = None
    teacher_positive_rate: float | None = None
    ece: float | None = None
    brier: float | None = None
    calibration_slope: float | None = None
    threshold: float | None = None
    threshold_metric: str | None = None
    threshold_target: float | None = None
    n_labelled: int = 0
    period: str = ""
    created_at: str = field(default_factory=utc_now_iso)
    schema: str = REFERENCE_SCHEMA

    @property
    def student_id(self) -> str:
        return identity_id(self.student)

    @property
    def teacher_id(self) -> str:
        return identity_id(self.teacher)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["student"], d["teacher"] = dict(self.student), dict(self.teacher)
        d["scores"] = [round(float(s), 6) for s in self.scores]
        for name in ("kappa", "teacher_positive_rate", "ece", "brier", "calibration_slope"):
            d[name] = _finite_or_none(d[name])
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "reference") -> Reference:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("schema") != REFERENCE_SCHEMA:
            raise ConfigError(f"{where}: not a drift reference (schema {REFERENCE_SCHEMA!r})")
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; valid keys: {sorted(valid)}")
        try:
            ref = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        if not ref.scores:
            raise ConfigError(f"{where}: the reference holds no student scores")
        return ref

    @classmethod
    def load(cls, path: str | Path) -> Reference:
        path = Path(path)
        if not path.exists():
            raise ConfigError(
                f"reference {path} not found: measure one first with "
                "`judgecache drift baseline --config CONFIG --period PERIOD`"
            )
        return cls.from_json(path.read_text(encoding="utf-8"), where=str(path))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n", encoding="utf-8")

    def check_matches(self, *, student: str, teacher: str, rubric: str) -> None:
        """Refuse a run whose student, teacher or rubric differs from the reference's."""
        problems = []
        if student != self.student_id:
            problems.append(f"student {student!r} (reference: {self.student_id!r})")
        if teacher != self.teacher_id:
            problems.append(f"teacher {teacher!r} (reference: {self.teacher_id!r})")
        if rubric != self.rubric:
            problems.append(f"rubric {rubric!r} (reference: {self.rubric!r})")
        if problems:
            raise DriftInputError(
                "the reference was measured with another judge or rubric: "
                + "; ".join(problems)
                + ". Measure a new reference with `judgecache drift baseline`."
            )


@dataclass(frozen=True)
class Anchor:
    """A fixed pair re-judged every period, with the label the teacher gave at baseline."""

    item_id: str
    inputs: Mapping[str, str]
    label: Label
    student_score: float


@dataclass(frozen=True)
class AnchorSet:
    """The anchor pairs of one teacher and rubric."""

    teacher: Mapping[str, str]
    rubric: str
    anchors: Sequence[Anchor]
    created_at: str = field(default_factory=utc_now_iso)

    def to_json(self) -> str:
        return json.dumps(
            {
                "schema": ANCHORS_SCHEMA,
                "teacher": dict(self.teacher),
                "rubric": self.rubric,
                "created_at": self.created_at,
                "anchors": [
                    {
                        "item_id": a.item_id,
                        "inputs": dict(a.inputs),
                        "label": a.label,
                        "student_score": a.student_score,
                    }
                    for a in self.anchors
                ],
            },
            ensure_ascii=False,
            allow_nan=False,
            sort_keys=True,
        )

    @classmethod
    def load(cls, path: str | Path) -> AnchorSet | None:
        """The anchor set at ``path``, or ``None`` when there is none yet."""
        path = Path(path)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("schema") != ANCHORS_SCHEMA:
                raise ConfigError(f"{path}: not an anchor set (schema {ANCHORS_SCHEMA!r})")
            anchors = [
                Anchor(str(a["item_id"]), dict(a["inputs"]), a["label"], float(a["student_score"]))
                for a in data["anchors"]
            ]
            return cls(dict(data["teacher"]), str(data["rubric"]), anchors, str(data["created_at"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{path}: unreadable anchor set: {exc!r}") from exc

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
