"""Turn a teacher's raw text into an allowed label, robustly but without guessing.

Real LLM output wraps the answer in markdown, prose and code fences. :func:`parse_output` tries
explicit forms only, in an order set by the rubric's parser:

- ``marker``: a keyword and a value, e.g. ``##final score: 2``, ``**Score:** 3``,
  ``Final Score = 2.``, ``Label: supported``. ``final score`` wins over the other keywords
  (``score``, ``grade``, ``rating``, ``label``, ``verdict``, ``answer``); within a keyword the
  last occurrence wins (models restate the format before answering).
- ``json``: the first JSON object (in a ```` ```json ```` fence or inside prose) that has a
  ``label`` key (else ``verdict``, ``final_score``, ``score`` or ``grade``); its ``reason``
  (or ``explanation``/``rationale``) and a numeric ``score``/``probability`` beside the label are kept.
- ``bare``: the whole output is one label: ``2``, ``2.``, ``**3**``, ``"supported"``, or
  ``Yes``/``No`` when the rubric's ``label_names`` name those labels.
- ``word`` (``label`` parser only): exactly one distinct label name occurs as a word and is not
  negated (``not supported`` is refused, not read as ``supported``).
- ``number`` (``final_score`` parser only): the output holds exactly one number.

Order: ``final_score`` -> marker, json, bare, number; ``json`` -> json, marker, bare;
``label`` -> bare, marker, json, word. When an explicit form is found but its value is not an
allowed label (``final score: 5`` on a 0-3 scale) that is an error, not a cue to keep looking.
Anything else raises :class:`~judgecache.errors.VerdictParseError` carrying the raw output.

Example:
    >>> from judgecache.judges.rubric import get_rubric
    >>> parse_output(get_rubric("relevance"), "M: 2\\nT: 1\\n##final score: 2")
    ParsedOutput(label=2, score=None, reason=None)
    >>> parse_output(get_rubric("faithfulness"), '```json\\n{"label": "supported", "reason": "ok"}\\n```')
    ParsedOutput(label=1, score=None, reason='ok')
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from judgecache.envelope import Label
from judgecache.errors import InputError, VerdictParseError
from judgecache.judges.rubric import Rubric


@dataclass(frozen=True)
class ParsedOutput:
    """A label on the rubric's scale, plus the teacher's own score and reason when it gave them."""

    label: Label
    score: float | None = None
    reason: str | None = None


class _InvalidAnswerError(Exception):
    """An explicit answer was found but it is not an allowed label."""


_NUMBER = r"[-+]?\d+(?:\.\d+)?"
# keyword, optional markdown/quotes, a separator (":", "=", "is"), optional markdown, the value.
_MARKER = re.compile(
    r"(?P<key>final[ \t_-]*score|score|grade|rating|label|verdict|answer)"
    r"[ \t*_\"']*(?::|=|\bis\b)[ \t*_\"'`]*"
    r"(?P<value>" + _NUMBER + r"(?:\s*/\s*\d+)?|[A-Za-z][A-Za-z \t-]*)",
    re.IGNORECASE,
)
_KEY_PRIORITY = ("final", "label", "verdict", "score", "grade", "rating", "answer")
_JSON_LABEL_KEYS = ("label", "verdict", "final_score", "score", "grade")
_JSON_SCORE_KEYS = ("score", "probability", "confidence")
_JSON_REASON_KEYS = ("reason", "explanation", "rationale", "reasoning")
# A standalone number: not part of a word or model name ("gpt-4o", "M2") or of a longer number.
_NUMBER_TOKEN = re.compile(r"(?<![\w.-])\d+(?:\.\d+)?(?!\w|\.\d)")
_NEGATION = re.compile(r"(?:\bnot|n't|\bno)\s+(?:\w+\s+)?$", re.IGNORECASE)
_STRIP = " \t\r\n*_`\"'#.:;!"


def parse_output(rubric: Rubric, raw: str) -> ParsedOutput:
    """Parse ``raw`` into a :class:`ParsedOutput` on ``rubric``'s scale, or raise VerdictParseError.

    >>> from judgecache.judges.rubric import get_rubric
    >>> parse_output(get_rubric("relevance"), "**Score:** 3").label
    3
    >>> parse_output(get_rubric("relevance"), "##final score: 7")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    judgecache.errors.VerdictParseError: final score 7 is not one of the labels [0, 1, 2, 3] ...
    """
    if not isinstance(raw, str):
        raise VerdictParseError(f"expected text, got {type(raw).__name__}", raw_output=repr(raw))
    if not raw.strip():
        raise VerdictParseError("the output is empty", raw_output=raw)
    for strategy in _STRATEGIES[rubric.parser]:
        try:
            parsed = strategy(rubric, raw)
        except _InvalidAnswerError as exc:
            raise VerdictParseError(str(exc), raw_output=raw) from None
        if parsed is not None:
            return parsed
    raise VerdictParseError(
        f"no {rubric.parser!r} answer found (allowed labels {_allowed(rubric)})", raw_output=raw
    )


def coerce_value(rubric: Rubric, value: object, what: str = "value") -> Label:
    """Map one explicit value onto the rubric's labels, or raise :class:`InputError` naming them.

    Accepts integers, integral floats and numeric strings (``"2.0"``, ``"2/3"``), label names and
    string labels (case-insensitive). Booleans only count on a two-label scale.

    >>> from judgecache.judges.rubric import get_rubric
    >>> coerce_value(get_rubric("relevance"), "2.0")
    2
    """
    if isinstance(value, bool) and len(rubric.labels) != 2:
        raise InputError(f"{what} {value!r} is a boolean but the scale is {_allowed(rubric)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{what} {value!r} is not a finite number")
    if isinstance(value, str):
        text = value.strip().strip(_STRIP).strip()
        fraction = re.fullmatch(r"(" + _NUMBER + r")\s*/\s*\d+", text)
        if fraction:
            text = fraction.group(1)
        if re.fullmatch(_NUMBER, text):
            number = float(text)
            value = int(number) if number.is_integer() else number
        else:
            value = text
    try:
        return rubric.coerce_label(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not one of the labels {_allowed(rubric)}") from None


def _allowed(rubric: Rubric) -> str:
    if not rubric.label_names:
        return str(list(rubric.labels))
    names = ", ".join(f"{k}={v!r}" for k, v in rubric.label_names.items())
    return f"{list(rubric.labels)} ({names})"


def _coerce(rubric: Rubric, value: object, what: str) -> Label:
    try:
        return coerce_value(rubric, value, what)
    except ValueError as exc:
        raise _InvalidAnswerError(str(exc)) from None


def _by_marker(rubric: Rubric, raw: str) -> ParsedOutput | None:
    best: tuple[int, str, str] | None = None
    for match in _MARKER.finditer(raw):
        key = re.sub(r"[ \t_-]+", " ", match.group("key").lower())
        rank = next(i for i, k in enumerate(_KEY_PRIORITY) if key.startswith(k))
        value = _marker_value(rubric, match.group("value"))
        if value is None:
            continue
        # Lower rank wins; for equal rank the later match wins (answers follow restated formats).
        if best is None or rank <= best[0]:
            best = (rank, key, value)
    if best is None:
        return None
    return ParsedOutput(_coerce(rubric, best[2], best[1]))


def _marker_value(rubric: Rubric, value: str) -> str | None:
    """The value after a marker: a number as written, or the label name that starts a phrase.

    A phrase that starts with no label name is prose ("the score is based on..."), not an answer.
    """
    value = value.strip()
    if value[0].isdigit() or value[0] in "+-":
        return value
    words = value.split()
    for n in (3, 2, 1):
        candidate = " ".join(words[:n])
        try:
            coerce_value(rubric, candidate)
        except ValueError:
            continue
        return candidate
    return None


def _json_objects(raw: str) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder()
    fenced = re.findall(r"```(?:json|JSON)?\s*(.*?)```", raw, flags=re.DOTALL)
    for text in [*fenced, raw]:
        start = text.find("{")
        while start != -1:
            try:
                value, _end = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                yield value
            start = text.find("{", start + 1)


def _by_json(rubric: Rubric, raw: str) -> ParsedOutput | None:
    for obj in _json_objects(raw):
        lowered = {str(k).lower(): v for k, v in obj.items()}
        label_key = next((k for k in _JSON_LABEL_KEYS if k in lowered), None)
        if label_key is None:
            continue
        label = _coerce(rubric, lowered[label_key], f"JSON {label_key!r}")
        score: float | None = None
        for key in _JSON_SCORE_KEYS:
            score = _as_number(lowered.get(key)) if key != label_key else None
            if score is not None:
                break
        reason = next(
            (str(lowered[k]) for k in _JSON_REASON_KEYS if isinstance(lowered.get(k), str)), None
        )
        return ParsedOutput(label, score, reason)
    return None


def _as_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _by_bare(rubric: Rubric, raw: str) -> ParsedOutput | None:
    text = raw.strip().strip(_STRIP).strip()
    if not text or "\n" in text or len(text) > 40:
        return None
    try:
        return ParsedOutput(coerce_value(rubric, text, "output"))
    except ValueError:
        return None


def _label_words(rubric: Rubric) -> list[tuple[str, Label]]:
    words: list[tuple[str, Label]] = []
    for key, name in rubric.label_names.items():
        words.append((name.lower(), rubric.coerce_label(key)))
    for label in rubric.labels:
        if isinstance(label, str):
            words.append((label.lower(), label))
    # Longest first so "highly relevant" is matched before a shorter name inside it.
    return sorted(words, key=lambda w: -len(w[0]))


def _by_word(rubric: Rubric, raw: str) -> ParsedOutput | None:
    words = _label_words(rubric)
    if not words:
        return None
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(re.escape(w) for w, _ in words) + r")(?![\w-])", re.IGNORECASE
    )
    lookup = dict(words)
    found: set[Label] = set()
    for match in pattern.finditer(raw):
        if _NEGATION.search(raw[: match.start()]):
            raise _InvalidAnswerError(f"label word {match.group(1)!r} is negated")
        found.add(lookup[match.group(1).lower()])
    if len(found) > 1:
        raise _InvalidAnswerError(f"the output names several labels {sorted(map(str, found))}")
    return ParsedOutput(found.pop()) if found else None


def _by_number(rubric: Rubric, raw: str) -> ParsedOutput | None:
    numbers = _NUMBER_TOKEN.findall(raw)
    if len(numbers) != 1:
        return None
    return ParsedOutput(_coerce(rubric, numbers[0], "number"))


_Strategy = Callable[[Rubric, str], ParsedOutput | None]
_STRATEGIES: dict[str, tuple[_Strategy, ...]] = {
    "final_score": (_by_marker, _by_json, _by_bare, _by_number),
    "json": (_by_json, _by_marker, _by_bare),
    "label": (_by_bare, _by_marker, _by_json, _by_word),
}
