"""Content-addressed cache keys: a schema version plus sha256 of canonical JSON.

The key material is an *allow-list*: judge identity, the full prompt and rubric, the output-affecting
parameters and the task inputs as separate named fields. Credentials, base URLs, timeouts and retry
settings are never part of it, so they can neither split the cache nor leak into it.

Text policy: every string is Unicode NFC-normalized, ``\\r\\n`` and ``\\r`` become ``\\n``, and leading
and trailing whitespace of task inputs is stripped. Interior whitespace is kept: it can change what a
model reads.

Example:
    >>> from judgecache.keys import JudgeIdentity, KeyMaterial
    >>> m = KeyMaterial(JudgeIdentity("callable", "f", "1"), {"template": "{query}"}, {}, {"query": "a"})
    >>> m.digest().startswith("jc1:")
    True
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from judgecache.errors import ConfigError

_quote = json.encoder.encode_basestring
"""JSON string literal with ``ensure_ascii=False`` (the C implementation when available)."""

KEY_SCHEMA_VERSION = "jc1"
"""Bumped deliberately (and noted in CHANGELOG.md) whenever the key material or encoding changes."""

OUTPUT_AFFECTING_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "response_format",
        "logprobs",
        "top_logprobs",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "n",
        "reasoning_effort",
        "thinking",
        "system",
    }
)
"""Request parameters that can change a judge's answer, and so belong in the key."""


def normalize_text(text: str) -> str:
    """Apply the key's text policy: NFC, LF line endings, no leading or trailing whitespace.

    >>> normalize_text("  Cafe\\u0301\\r\\n ")
    'Café'
    """
    if not text.isascii():  # ASCII is already NFC: skip the call on the common case
        text = unicodedata.normalize("NFC", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def _text(value: str, path: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigError(
                f"key material {path or 'value'} is not valid Unicode text: lone surrogate "
                f"{value[exc.start]!r}"
            ) from None
    return unicodedata.normalize("NFC", value)


def _canonical(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"key material {path or 'value'} is not finite: {value!r}")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"key material {path} has a non-string key: {k!r}")
            out[_text(k, path)] = _canonical(v, f"{path}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_canonical(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise ConfigError(f"key material {path or 'value'} has unsupported type {type(value).__name__}")


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON: sorted keys, no spaces, NFC strings, UTF-8, no NaN.

    >>> canonical_json({"b": 1, "a": "x"})
    b'{"a":"x","b":1}'
    """
    return json.dumps(
        _canonical(value, ""),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def filter_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the output-affecting parameters (the allow-list); drop ``None`` values.

    >>> filter_params({"temperature": 0, "api_key": "sk-...", "timeout": 30})
    {'temperature': 0}
    """
    return {k: v for k, v in params.items() if k in OUTPUT_AFFECTING_PARAMS and v is not None}


@dataclass(frozen=True)
class JudgeIdentity:
    """Who answers: provider (``openai``, ``anthropic``, ``callable``, ``student``...), model, version.

    >>> str(JudgeIdentity("openai", "gpt-4o", ""))
    'openai:gpt-4o'
    """

    provider: str
    model: str
    version: str = ""

    def __str__(self) -> str:
        base = f"{self.provider}:{self.model}"
        return f"{base}@{self.version}" if self.version else base

    def as_dict(self) -> dict[str, str]:
        return {"provider": self.provider, "model": self.model, "version": self.version}


@dataclass(frozen=True)
class KeyMaterial:
    """Everything that determines a judge's answer, and nothing else.

    ``inputs`` are the task's named fields (``query``/``doc`` or ``context``/``answer``); they are
    normalized with :func:`normalize_text`. ``params`` is filtered through the allow-list.
    """

    judge: JudgeIdentity
    prompt: Mapping[str, Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The exact structure that is hashed (useful to see why a lookup missed)."""
        return {
            "schema": KEY_SCHEMA_VERSION,
            "judge": self.judge.as_dict(),
            "prompt": dict(self.prompt),
            "params": filter_params(self.params),
            "inputs": {k: normalize_text(v) for k, v in self.inputs.items()},
        }

    def digest(self) -> str:
        """The cache key: ``jc1:`` plus the sha256 hex digest of the canonical JSON."""
        return f"{KEY_SCHEMA_VERSION}:{hashlib.sha256(canonical_json(self.as_dict())).hexdigest()}"


def diff_material(a: Mapping[str, Any], b: Mapping[str, Any], path: str = "") -> list[str]:
    """List the dotted paths where two key materials differ (why did this lookup miss?).

    >>> diff_material({"p": {"t": 0}, "x": 1}, {"p": {"t": 1}, "x": 1})
    ['p.t']
    """
    diffs: list[str] = []
    for k in sorted(set(a) | set(b)):
        where = f"{path}.{k}" if path else k
        va, vb = a.get(k), b.get(k)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            diffs.extend(diff_material(va, vb, where))
        elif va != vb:
            diffs.append(where)
    return diffs


class KeyBuilder:
    """Fast keys for one judge: the constant parts are encoded once, only the inputs per pair.

    The canonical JSON of the material is ``{"inputs":...,"judge":...,"params":...,
    "prompt":...,"schema":...}`` (keys sorted), so the bytes after the inputs never change for a
    given judge. Digests are identical to :meth:`KeyMaterial.digest` (a test checks).

    >>> b = KeyBuilder(JudgeIdentity("callable", "f", "1"), {"template": "{query}"}, {})
    >>> m = KeyMaterial(JudgeIdentity("callable", "f", "1"), {"template": "{query}"}, {}, {"query": " a "})
    >>> b.digest(b.normalize({"query": " a "})) == m.digest()
    True
    """

    def __init__(
        self, judge: JudgeIdentity, prompt: Mapping[str, Any], params: Mapping[str, Any]
    ) -> None:
        constant = canonical_json(
            {
                "schema": KEY_SCHEMA_VERSION,
                "judge": judge.as_dict(),
                "prompt": dict(prompt),
                "params": filter_params(params),
            }
        )
        self._suffix = b"," + constant[1:]

    @staticmethod
    def normalize(inputs: Mapping[str, str]) -> dict[str, str]:
        """The inputs under the key's text policy (what is hashed and what is stored)."""
        return {unicodedata.normalize("NFC", k): normalize_text(v) for k, v in inputs.items()}

    def digest(self, normalized_inputs: Mapping[str, str]) -> str:
        """The key of already-normalized inputs (see :meth:`normalize`)."""
        # Byte for byte what json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        # writes for a dict of strings, without its generic encoder machinery (the hit path).
        body = (
            "{"
            + ",".join(f"{_quote(k)}:{_quote(v)}" for k, v in sorted(normalized_inputs.items()))
            + "}"
        ).encode("utf-8")
        digest = hashlib.sha256(b'{"inputs":' + body + self._suffix).hexdigest()
        return f"{KEY_SCHEMA_VERSION}:{digest}"

    def pair_keyer(self, names: tuple[str, str]) -> PairKeyer:
        """A per-pair fast path for a two-field task: see :data:`PairKeyer`.

        >>> b = KeyBuilder(JudgeIdentity("callable", "f", "1"), {"template": "{query}"}, {})
        >>> keyer = b.pair_keyer(("query", "doc"))
        >>> key, inputs = keyer(" tea ", "tea is a drink")
        >>> inputs, key == b.digest(b.normalize({"query": " tea ", "doc": "tea is a drink"}))
        ({'query': 'tea', 'doc': 'tea is a drink'}, True)
        >>> keyer("cafe\\u0301", "x")[1]["query"] == "caf\\u00e9"  # NFC, as normalize_text
        True
        >>> keyer("tea", "  ") is None  # blank: the general path names the field
        True
        """
        first, second = (unicodedata.normalize("NFC", n) for n in names)
        swap = second < first  # canonical JSON sorts the field names
        low, high = (second, first) if swap else (first, second)
        # Everything around the two values is constant for this judge and task: only the values
        # are quoted (msgspec writes the same JSON string bytes as encode_basestring, a test checks
        # every code point, without the str round trip), and sha256 reads the judge part as is.
        head = ('{"inputs":{' + _quote(low) + ":").encode()
        mid = ("," + _quote(high) + ":").encode()
        tail = b"}" + self._suffix
        sha256, quote, nfc = hashlib.sha256, msgspec.json.encode, unicodedata.normalize
        version = KEY_SCHEMA_VERSION + ":"

        def keyer(a: object, b: object) -> tuple[str, dict[str, str]] | None:
            if type(a) is not str or type(b) is not str:
                return None
            # The text policy in the order normalize_text applies it; ASCII is already NFC.
            if not a.isascii():
                a = nfc("NFC", a)
            if not b.isascii():
                b = nfc("NFC", b)
            a, b = a.strip(), b.strip()
            if not a or not b or "\r" in a or "\r" in b:
                return None  # blank (the rubric names it) or CR to rewrite: the general path
            x, y = (b, a) if swap else (a, b)
            try:
                material = head + quote(x) + mid + quote(y) + tail
            except UnicodeEncodeError:
                return None  # a lone surrogate: the general path reports it
            return version + sha256(material).hexdigest(), {first: a, second: b}

        return keyer


PairKeyer = Callable[[object, object], "tuple[str, dict[str, str]] | None"]
"""``(first, second) -> (key, normalized inputs)`` for two non-blank strings without CR or lone
surrogates (the common case; byte for byte the key :meth:`KeyBuilder.digest` gives), or ``None``:
then the caller takes the general path, which validates the inputs (and names what is wrong)."""
