"""NLI-style JSONL as faithfulness labels: ``{"premise", "hypothesis", "label"}`` rows.

The premise is the ``context``, the hypothesis the ``answer``. ``label`` is a word
(``entailment`` -> 1; ``neutral``, ``contradiction``, ``not_entailment`` -> 0, any case) or the
integer 0/1 (or ``"0"``/``"1"``) already binary. Numeric 3-way codes are refused: datasets disagree
on which number means entailment. Other columns are ignored; ``id`` is kept in the meta.

Example:
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "nli.jsonl"
    >>> _ = p.write_text(json.dumps({"premise": "It rained.", "hypothesis": "Wet.", "label": "entailment"}) + "\\n")
    >>> list(iter_nli(p))
    [NliRecord(premise='It rained.', hypothesis='Wet.', label=1, line=1, id=None)]
    >>> is_nli_row({"premise": "a", "hypothesis": "b"}), is_nli_row({"query": "a"})
    (True, False)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from judgecache.errors import InputError

WORDS: Mapping[str, int] = {
    "entailment": 1,
    "neutral": 0,
    "contradiction": 0,
    "not_entailment": 0,
}
_BINARY: Mapping[object, int] = {0: 0, 1: 1, "0": 0, "1": 1}


class NliRecord(NamedTuple):
    """One (premise, hypothesis) pair with its binary faithfulness label and source line."""

    premise: str
    hypothesis: str
    label: int
    line: int
    id: str | None


def is_nli_row(row: Mapping[str, Any]) -> bool:
    """Whether a JSON row looks NLI-style (has both ``premise`` and ``hypothesis``)."""
    return "premise" in row and "hypothesis" in row


def nli_label(raw: object, line: int) -> int:
    """The binary label of an NLI ``label`` value, or an :class:`InputError` naming the allowed ones."""
    if isinstance(raw, str) and raw.strip().lower() in WORDS:
        return WORDS[raw.strip().lower()]
    if not isinstance(raw, bool) and isinstance(raw, int | str) and raw in _BINARY:
        return _BINARY[raw]
    raise InputError(
        f"must be one of {sorted(WORDS)} or 0/1, got {raw!r}", field="label", line=line
    )


def iter_nli(path: str | Path) -> Iterator[NliRecord]:
    """Validate and yield the rows of an NLI-style JSONL file (errors name line and field)."""
    from judgecache.io.jsonl import iter_jsonl

    for line, row in iter_jsonl(path):
        texts: list[str] = []
        for name in ("premise", "hypothesis"):
            value = row.get(name)
            if not isinstance(value, str) or not value.strip():
                raise InputError("is missing, empty or not a string", field=name, line=line)
            texts.append(value)
        if "label" not in row:
            raise InputError("is missing", field="label", line=line)
        ident = row.get("id")
        yield NliRecord(
            texts[0],
            texts[1],
            nli_label(row["label"], line),
            line,
            None if ident is None else str(ident),
        )
