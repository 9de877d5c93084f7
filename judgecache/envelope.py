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
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from judgecache.errors import StorageError

ENVELOPE_VERSION = 1

Label = int | str


def utc_now_iso() -> str:
    """The current UTC time as an ISO-8601 string with seconds precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Usage(msgspec.Struct, frozen=True, gc=False):
    """Token usage reported by the teacher for one call.

    >>> Usage(120, 3).total
    123
    """

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class Envelope(msgspec.Struct, frozen=True, gc=False):
    """One stored verdict: the label and everything needed to audit, cost and export it.

    ``inputs`` and ``judge`` are stored so that a cache can be exported as training data for
    distillation without keeping the original eval files. ``source`` is ``teacher`` for a live
    call and ``import`` for labels seeded from files. ``meta`` holds ids from the source files (``qid``,
    ``docid``) so exported labels can be joined with human judgments; it is not part of the key.

    A frozen msgspec struct that the cyclic garbage collector does not track (``gc=False``): it
    holds JSON data only (text, numbers, maps of text), so it can never be part of a reference
    cycle, and a batch of cache hits builds one per pair without feeding GC passes.
    """

    label: Label
    score: float | None
    raw_output: str
    task: str
    judge: Mapping[str, str]
    inputs: Mapping[str, str]
    reason: str | None = None
    usage: Usage = msgspec.field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    model_answered: str | None = None
    created_at: str = msgspec.field(default_factory=utc_now_iso)
    source: str = "teacher"
    rubric: str = ""
    meta: Mapping[str, str] = msgspec.field(default_factory=dict)
    version: int = ENVELOPE_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = msgspec.structs.asdict(self)
        d["usage"] = msgspec.structs.asdict(self.usage)
        d["judge"] = dict(self.judge)
        d["inputs"] = dict(self.inputs)
        d["meta"] = dict(self.meta)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Envelope:
        """Decode a stored envelope; any field of the wrong shape is a :class:`StorageError`.

        >>> Envelope.from_dict({"version": 1, "label": 1, "task": "t", "judge": {},
        ...                     "inputs": {}, "usage": 5})
        Traceback (most recent call last):
        judgecache.errors.StorageError: corrupt cache envelope: 'usage' must be an object, got int
        """
        version = d.get("version")
        if version != ENVELOPE_VERSION:
            raise StorageError(
                f"unsupported envelope version {version!r} (expected {ENVELOPE_VERSION})"
            )
        try:
            usage = _mapping(d, "usage")
            label = d["label"]
            if type(label) not in (int, str):
                raise ValueError(f"'label' must be an integer or a string, got {label!r}")
            return cls(
                label=label,
                score=_number(d.get("score"), "score"),
                raw_output=str(d.get("raw_output", "")),
                task=str(d["task"]),
                judge=_strings(_mapping(d, "judge", required=True)),
                inputs=_strings(_mapping(d, "inputs", required=True)),
                reason=None if d.get("reason") is None else str(d["reason"]),
                usage=Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))),
                cost_usd=_number(d.get("cost_usd", 0.0), "cost_usd") or 0.0,
                latency_s=_number(d.get("latency_s", 0.0), "latency_s") or 0.0,
                model_answered=None
                if d.get("model_answered") is None
                else str(d["model_answered"]),
                created_at=str(d.get("created_at", "")),
                source=str(d.get("source", "teacher")),
                rubric=str(d.get("rubric", "")),
                meta=_strings(_mapping(d, "meta")),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise StorageError(f"corrupt cache envelope: {_why(exc)}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        """Decode stored JSON text; anything malformed is a :class:`StorageError` saying why."""
        fast = decode_written(text)
        if fast is not None:
            return fast
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StorageError(f"cache entry is not JSON: {exc}") from exc
        except RecursionError:
            raise StorageError("cache entry is not JSON: nested too deeply") from None
        if not isinstance(d, dict):
            raise StorageError("cache entry is not a JSON object")
        return cls.from_dict(d)


class _Stored(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """The decoding target of the hit path: :class:`Envelope`'s fields, with
    :meth:`Envelope.from_dict`'s defaults for absent fields (no ``created_at`` is ``""``, not now)
    and ``version`` required. msgspec checks every type in C while it parses: labels int or str
    (never bool), numbers finite and in range, maps of text.

    The fields are in the order :meth:`Envelope.to_json` writes them (sorted): msgspec matches
    each key against the next expected field first, which makes the decode ~15% faster.
    """

    cost_usd: float = 0.0
    created_at: str = ""
    inputs: dict[str, str]
    judge: dict[str, str]
    label: Label
    latency_s: float = 0.0
    meta: dict[str, str] = {}
    model_answered: str | None = None
    raw_output: str = ""
    reason: str | None = None
    rubric: str = ""
    score: float | None = None
    source: str = "teacher"
    task: str
    usage: Usage = Usage()
    version: int


class _StoredHit(_Stored, frozen=True, gc=False, kw_only=True):
    """:class:`_Stored` for a cache hit: ``inputs`` and ``judge`` are parsed (well-formed JSON,
    present) but not built. A hit already holds both exactly: they are the key's own preimage
    (the caller's normalized inputs and the judge's identity), so decoding the stored copies
    again would only rebuild the same strings (~40% of a hit's decode). The copies are there
    for export, whose reader checks them in full."""

    inputs: msgspec.Raw  # type: ignore[assignment]
    judge: msgspec.Raw  # type: ignore[assignment]


_decode_stored = msgspec.json.Decoder(_Stored).decode
_decode_hit = msgspec.json.Decoder(_StoredHit).decode
_NOT_WRITTEN = (msgspec.DecodeError, RecursionError, UnicodeError)  # UnicodeError: lone surrogates


def decode_written(text: str | bytes) -> Envelope | None:
    """The envelope of an entry exactly as judgecache writes it, decoded and type-checked in one
    C pass; ``None`` for anything else, which :meth:`Envelope.from_json` then checks field by
    field (and either accepts, e.g. a numeric string score, or rejects, saying why).

    >>> decode_written('{"version": 1, "label": 2, "task": "t", "judge": {}, "inputs": {}}').label
    2
    >>> decode_written('{"version": 1, "label": true, "task": "t", "judge": {}, "inputs": {}}')
    """
    try:
        s = _decode_stored(text)
    except _NOT_WRITTEN:
        return None
    return _envelope(s, s.judge, s.inputs)


def decode_hit(
    text: str | bytes, inputs: Mapping[str, str], judge: Mapping[str, str]
) -> Envelope | None:
    """:func:`decode_written` for the hit path: the entry under the key of ``inputs`` for the
    judge ``judge``, which the envelope carries as given (see :class:`_StoredHit`). Every field a
    verdict serves is type-checked as in :func:`decode_written`; ``None`` for anything else.

    >>> raw = '{"version": 1, "label": 2, "task": "t", "judge": {"model": "m"}, "inputs": {}}'
    >>> env = decode_hit(raw, {"query": "q", "doc": "d"}, {"model": "m"})
    >>> env.label, env.inputs["doc"]
    (2, 'd')
    >>> decode_hit('{"version": 1, "label": 2, "task": "t", "judge": {}}', {}, {})  # no inputs
    """
    try:
        s = _decode_hit(text)
    except _NOT_WRITTEN:
        return None
    return _envelope(s, judge, inputs)


def _envelope(s: _Stored, judge: Mapping[str, str], inputs: Mapping[str, str]) -> Envelope | None:
    if s.version != ENVELOPE_VERSION:
        return None
    return Envelope(  # by position: msgspec builds a struct from keywords ~3x slower
        s.label,
        s.score,
        s.raw_output,
        s.task,
        judge,
        inputs,
        s.reason,
        s.usage,
        s.cost_usd,
        s.latency_s,
        s.model_answered,
        s.created_at,
        s.source,
        s.rubric,
        s.meta,
        s.version,
    )


def _why(exc: Exception) -> str:
    return f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)


def _mapping(d: Mapping[str, Any], name: str, *, required: bool = False) -> Mapping[str, Any]:
    value = d[name] if required else (d.get(name) or {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{name!r} must be an object, got {type(value).__name__}")
    return value


def _strings(value: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()}


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name!r} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name!r} must be finite, got {value!r}")
    return number
