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
from collections.abc import Callable, Iterable, Mapping
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

    def pair_keys(self, names: tuple[str, str]) -> PairKeys:
        """The batch fast path for a two-field task: see :data:`PairKeys`.

        >>> b = KeyBuilder(JudgeIdentity("callable", "f", "1"), {"template": "{query}"}, {})
        >>> keys_of = b.pair_keys(("query", "doc"))
        >>> def general(index, pair):  # what the judge does for odd input: validate, name it
        ...     raise ValueError(f"pair {index} needs the general path")
        >>> keys, unique = keys_of([(" tea ", "tea is a drink"), ("tea", "tea is a drink")], general)
        >>> keys[0] == keys[1] == b.digest(b.normalize({"query": "tea", "doc": "tea is a drink"}))
        True
        >>> unique[keys[0]]
        {'query': 'tea', 'doc': 'tea is a drink'}
        >>> keys_of([("cafe\u0301", "x")], general)[1].popitem()[1]["query"] == "caf\u00e9"  # NFC
        True
        >>> keys_of([("tea", "  ")], general)  # blank: the general path names the field
        Traceback (most recent call last):
        ValueError: pair 0 needs the general path
        """
        first, second = (unicodedata.normalize("NFC", n) for n in names)
        # Everything after the inputs is constant for this judge; the inputs dict is encoded in one
        # call with its keys sorted, as canonical JSON has them (msgspec writes the same JSON string
        # bytes as encode_basestring, a test checks every code point, without a str round trip).
        suffix = self._suffix
        sha256, nfc = hashlib.sha256, unicodedata.normalize
        encode = msgspec.json.Encoder(order="sorted").encode
        version = KEY_SCHEMA_VERSION + ":"

        def keys_of(
            pairs: Iterable[object], general: Callable[[int, object], tuple[str, dict[str, str]]]
        ) -> tuple[list[str], dict[str, dict[str, str]]]:
            keys: list[str] = []
            unique: dict[str, dict[str, str]] = {}
            append = keys.append
            # One loop with the fast path inline: a function call per pair cost ~10% of a hit.
            for index, pair in enumerate(pairs):
                if type(pair) is tuple and len(pair) == 2:
                    a, b = pair
                    if type(a) is str and type(b) is str:
                        # The text policy in the order normalize_text applies it; ASCII is NFC.
                        a = (a if a.isascii() else nfc("NFC", a)).strip()
                        b = (b if b.isascii() else nfc("NFC", b)).strip()
                        # Blank (the rubric names it), a CR to rewrite or a lone surrogate
                        # (UnicodeEncodeError) take the general path, which says what is wrong.
                        if a and b and "\r" not in a and "\r" not in b:
                            inputs = {first: a, second: b}
                            try:
                                material = b'{"inputs":' + encode(inputs) + suffix
                            except UnicodeEncodeError:
                                pass
                            else:
                                key = version + sha256(material).hexdigest()
                                append(key)
                                if key not in unique:
                                    unique[key] = inputs
                                continue
                key, inputs = general(index, pair)
                append(key)
                if key not in unique:
                    unique[key] = inputs
            return keys, unique

        return keys_of


PairKeys = Callable[
    [Iterable[object], Callable[[int, object], "tuple[str, dict[str, str]]"]],
    "tuple[list[str], dict[str, dict[str, str]]]",
]
"""``(pairs, general) -> (key of every pair in order, {unique key: normalized inputs})``.

Pairs of two non-blank strings without CR or lone surrogates (the common case) are keyed inline,
byte for byte as :meth:`KeyBuilder.digest` keys them; any other item goes to ``general(index,
item)``, which validates it (and names what is wrong) or returns its key and inputs."""
