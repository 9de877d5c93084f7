"""JSON Lines: stream objects in and out, and read judging pairs with line-numbered errors.

Task fields are named like the rubrics name them (``query``/``doc`` for relevance,
``context``/``answer`` for faithfulness). A few common column names are accepted as aliases, and
only these (see :data:`FIELD_ALIASES`): ``passage``/``document`` for ``doc``, ``question`` for
``query``, ``summary``/``response`` for ``answer``. A row that carries both a field and one of its
aliases is an error rather than a silent pick.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pairs.jsonl"
    >>> write_jsonl(p, [{"id": 7, "query": "q", "passage": "d", "label": 2}])
    1
    >>> rec = next(read_pairs(p, ("query", "doc"), with_labels=True))
    >>> rec.line, rec.inputs, rec.id, rec.label
    (1, {'query': 'q', 'doc': 'd'}, '7', 2)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judgecache.errors import InputError

FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "query": ("question",),
    "doc": ("passage", "document"),
    "context": (),
    "answer": ("summary", "response"),
}
"""Accepted alternative column names per task field (explicit on purpose: no fuzzy matching)."""

KNOWN_FIELD_PAIRS: tuple[tuple[str, str], ...] = (("query", "doc"), ("context", "answer"))
"""The task field pairs of the built-in rubrics, in the order :func:`detect_fields` tries them."""

META_COLUMNS = ("qid", "docid")
"""Source ids kept as strings in :attr:`PairRecord.meta` (joinable with human judgments)."""


@dataclass(frozen=True)
class PairRecord:
    """One judging pair read from a file.

    ``label`` and ``score`` are the recorded values when they were asked for
    (``read_pairs(..., with_labels=True)``, for replay and import) and present, else ``None``;
    the label is kept raw and is mapped onto a rubric's scale later. ``row`` is the whole JSON
    object as read, so a writer can echo every column back.
    """

    line: int
    inputs: dict[str, str]
    id: str | None = None
    tag: str | None = None
    label: int | str | None = None
    score: float | None = None
    meta: dict[str, str] = field(default_factory=dict)
    row: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def first(self) -> str:
        """The first task input (``query`` or ``context``)."""
        return next(iter(self.inputs.values()))

    @property
    def second(self) -> str:
        """The second task input (``doc`` or ``answer``)."""
        return list(self.inputs.values())[1]


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line, streaming (1-based line numbers).

    A line that is not valid UTF-8 or JSON, or that is not a JSON object, raises
    :class:`~judgecache.errors.InputError` with its line number.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = p.write_text('{"a": 1}\\n\\n[2]\\n')
    >>> it = iter_jsonl(p); next(it)
    (1, {'a': 1})
    >>> next(it)
    Traceback (most recent call last):
    ...
    judgecache.errors.InputError: line 3: expected a JSON object, got list
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                # Without its line ending, so a JSON error's column points into this line.
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: not valid UTF-8 ({exc.reason})", line=number) from exc
            if not text.strip():
                continue
            value = _loads(text, path, number)
            if not isinstance(value, dict):
                raise InputError(f"expected a JSON object, got {_json_type(value)}", line=number)
            yield number, value


def _loads(text: str, path: Path, number: int) -> Any:
    """One line's JSON; anything not plain JSON text is an :class:`InputError` naming the line."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: invalid JSON at column {exc.colno}: {exc.msg}", line=number
        ) from exc
    except ValueError as exc:  # NaN / Infinity
        raise InputError(f"{path}: {exc}", line=number) from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply", line=number) from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"{path}: not valid Unicode text: a lone surrogate escape "
                f"({exc.object[exc.start]!r})",
                line=number,
            ) from None
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (use null, or a finite number)")


# A \uD800-\uDFFF escape: valid only as half of a pair, which the check above verifies.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``rows`` as JSON Lines (UTF-8, one object per line), streaming; return the count.

    NaN and infinity are refused: they are not JSON and other tools would choke on them.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "out.jsonl"
    >>> write_jsonl(p, ({"i": i} for i in range(3)))
    3
    """
    path = Path(path)
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(dict(row), ensure_ascii=False, allow_nan=False))
            handle.write("\n")
            count += 1
    return count


def detect_fields(row: Mapping[str, Any]) -> tuple[str, str]:
    """Which task field pair a row carries (``query``/``doc`` or ``context``/``answer``).

    >>> detect_fields({"context": "c", "summary": "s", "label": 1})
    ('context', 'answer')
    """
    for pair in KNOWN_FIELD_PAIRS:
        if all(_present_names(row, name) for name in pair):
            return pair
    raise InputError(
        f"cannot tell the task from the columns {sorted(row)}: expected query/doc or "
        f"context/answer (aliases: {_alias_help()})"
    )


def read_pairs(
    path: str | Path, fields: Sequence[str] | None = None, *, with_labels: bool = False
) -> Iterator[PairRecord]:
    """Stream the judging pairs of a JSONL file.

    ``fields`` names the two task inputs; ``None`` detects them from the first row. Each field
    must be a non-empty string (aliases allowed, see :data:`FIELD_ALIASES`). ``id`` (string or
    integer) and ``tag`` columns are kept, as are ``qid``/``docid`` in ``meta``. With
    ``with_labels=True`` a recorded ``label`` (integer or string) and ``score`` (number) are read
    and validated too; otherwise those columns are left alone (a file to be scored may carry
    labels of any shape).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pairs.jsonl"
    >>> _ = p.write_text('{"query": "q", "doc": ""}\\n')
    >>> next(read_pairs(p, ("query", "doc")))
    Traceback (most recent call last):
    ...
    judgecache.errors.InputError: line 1, field 'doc': is empty
    """
    chosen: tuple[str, str] | None = None
    if fields is not None:
        if len(fields) != 2:
            raise InputError(f"fields must name exactly two inputs, got {list(fields)}")
        chosen = (fields[0], fields[1])
    for number, original in iter_jsonl(path):
        row = export_view(original)
        if chosen is None:
            try:
                chosen = detect_fields(row)
            except InputError as exc:
                raise InputError(str(exc), line=number) from None
        yield _record(number, row, chosen, with_labels, original)


def export_view(row: dict[str, Any]) -> dict[str, Any]:
    """An export row (``judgecache export``: nested ``inputs`` and ``meta``) seen as a flat row.

    So an exported labels file can be scored or replayed as it is. Other rows pass unchanged.

    >>> export_view({"inputs": {"query": "q", "doc": "d"}, "label": 2, "meta": {"qid": "7"}})
    {'qid': '7', 'label': 2, 'query': 'q', 'doc': 'd'}
    """
    inputs = row.get("inputs")
    if not isinstance(inputs, dict) or any(f in row for pair in KNOWN_FIELD_PAIRS for f in pair):
        return row
    meta = row.get("meta")
    ids = {k: v for k, v in meta.items() if k in META_COLUMNS} if isinstance(meta, dict) else {}
    carried = {k: row[k] for k in ("id", "tag", "label", "score") if k in row}
    return {**ids, **carried, **inputs}


def _record(
    number: int,
    row: dict[str, Any],
    fields: tuple[str, str],
    with_labels: bool,
    original: dict[str, Any] | None = None,
) -> PairRecord:
    inputs = {name: _field(number, row, name) for name in fields}
    return PairRecord(
        line=number,
        inputs=inputs,
        id=_optional_id(number, row, "id"),
        tag=_optional_str(number, row, "tag"),
        label=_label(number, row) if with_labels else None,
        score=_score(number, row) if with_labels else None,
        meta={k: v for k in META_COLUMNS if (v := _optional_id(number, row, k)) is not None},
        row=dict(row if original is None else original),
    )


def _present_names(row: Mapping[str, Any], name: str) -> list[str]:
    return [n for n in (name, *FIELD_ALIASES.get(name, ())) if n in row]


def _field(number: int, row: Mapping[str, Any], name: str) -> str:
    present = _present_names(row, name)
    if not present:
        aliases = FIELD_ALIASES.get(name, ())
        hint = f" (or one of its aliases {list(aliases)})" if aliases else ""
        raise InputError(f"is missing{hint}; columns are {sorted(row)}", field=name, line=number)
    if len(present) > 1:
        raise InputError(
            f"is given more than once under the names {present}; keep one", field=name, line=number
        )
    column = present[0]
    value = row[column]
    if not isinstance(value, str):
        raise InputError(f"must be a string, got {_json_type(value)}", field=column, line=number)
    if not value.strip():
        raise InputError("is empty", field=column, line=number)
    return value


def _optional_id(number: int, row: Mapping[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    # Integers are common ids (qids, row numbers); bools are not ids.
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise InputError(
        f"must be a string or an integer, got {_json_type(value)}", field=name, line=number
    )


def _optional_str(number: int, row: Mapping[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"must be a string, got {_json_type(value)}", field=name, line=number)


def _label(number: int, row: Mapping[str, Any]) -> int | str | None:
    value = row.get("label")
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InputError(
        f"must be an integer or a label name, got {value!r}", field="label", line=number
    )


def _score(number: int, row: Mapping[str, Any]) -> float | None:
    value = row.get("score")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"must be a finite number, got {value!r}", field="score", line=number)
    return float(value)


def _alias_help() -> str:
    return ", ".join(f"{a}->{name}" for name, aliases in FIELD_ALIASES.items() for a in aliases)


def _json_type(value: object) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "number" if isinstance(value, int | float) else type(value).__name__
