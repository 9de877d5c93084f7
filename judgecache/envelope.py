"""The JSON value stored under each cache key. Never pickle: a shared cache is not a code path.

Example:
    >>> env = Envelope(label=2, score=None, raw_output="2", task="relevance",
    ...                judge={"provider": "callable", "model": "f", "version": "1"},
    ...                inputs={"query": "q", "doc": "d"})
    >>> Envelope.from_json(env.to_json()) == env
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from judgecache.errors import StorageError

ENVELOPE_VERSION = 1

Label = int | str


def utc_now_iso() -> str:
    """The current UTC time as an ISO-8601 string with seconds precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Usage:
    """Token usage reported by the teacher for one call."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Envelope:
    """One stored verdict: the label and everything needed to audit, cost and export it.

    ``inputs`` and ``judge`` are stored so that a cache can be exported as training data for
    distillation without keeping the original eval files. ``source`` is ``teacher`` for a live
    call and ``import`` for labels seeded from files. ``meta`` holds ids from the source files (``qid``,
    ``docid``) so exported labels can be joined with human judgments; it is not part of the key.
    """

    label: Label
    score: float | None
    raw_output: str
    task: str
    judge: Mapping[str, str]
    inputs: Mapping[str, str]
    reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    model_answered: str | None = None
    created_at: str = field(default_factory=utc_now_iso)
    source: str = "teacher"
    rubric: str = ""
    meta: Mapping[str, str] = field(default_factory=dict)
    version: int = ENVELOPE_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["judge"] = dict(self.judge)
        d["inputs"] = dict(self.inputs)
        d["meta"] = dict(self.meta)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Envelope:
        version = d.get("version")
        if version != ENVELOPE_VERSION:
            raise StorageError(
                f"unsupported envelope version {version!r} (expected {ENVELOPE_VERSION})"
            )
        try:
            usage = d.get("usage") or {}
            return cls(
                label=d["label"],
                score=None if d.get("score") is None else float(d["score"]),
                raw_output=str(d.get("raw_output", "")),
                task=str(d["task"]),
                judge=dict(d["judge"]),
                inputs=dict(d["inputs"]),
                reason=d.get("reason"),
                usage=Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))),
                cost_usd=float(d.get("cost_usd", 0.0)),
                latency_s=float(d.get("latency_s", 0.0)),
                model_answered=d.get("model_answered"),
                created_at=str(d.get("created_at", "")),
                source=str(d.get("source", "teacher")),
                rubric=str(d.get("rubric", "")),
                meta={str(k): str(v) for k, v in (d.get("meta") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(f"corrupt cache envelope: {exc!r}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StorageError(f"cache entry is not JSON: {exc}") from exc
        if not isinstance(d, dict):
            raise StorageError("cache entry is not a JSON object")
        return cls.from_dict(d)
