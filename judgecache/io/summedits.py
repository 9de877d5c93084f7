"""SummEdits-style faithfulness files: a JSON list of ``{id, doc, summary, label}`` objects.

``label`` is ``1`` (the summary is consistent with ``doc``) or ``0`` (inconsistent), as an integer
or the strings ``"1"``/``"0"``. Other keys (``original_summary``, ``edit_types``, ``split``) are
ignored. The domain comes from the file name ``summedits_<domain>.json`` unless given.

Example:
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "summedits_news.json"
    >>> _ = p.write_text(json.dumps([{"id": "a", "doc": "It rained.", "summary": "Rain.", "label": "1"}]))
    >>> list(iter_summedits(p))
    [SummEditsRecord(id='a', doc='It rained.', summary='Rain.', label=1, domain='news')]
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from judgecache.errors import InputError

_LABELS: Mapping[object, int] = {0: 0, 1: 1, "0": 0, "1": 1}


class SummEditsRecord(NamedTuple):
    """One (source document, summary) pair with its human consistency label."""

    id: str
    doc: str
    summary: str
    label: int
    domain: str


def domain_of(path: str | Path) -> str:
    """The domain named by a ``summedits_<domain>.json`` file name (else the file's stem).

    >>> domain_of("data/summedits_podcast.json")
    'podcast'
    """
    stem = Path(path).stem
    prefix = "summedits_"
    return stem[len(prefix) :] if stem.startswith(prefix) and len(stem) > len(prefix) else stem


def iter_summedits(path: str | Path, domain: str | None = None) -> Iterator[SummEditsRecord]:
    """Validate and yield the records of one SummEdits file, in file order.

    Errors name the item index (0-based) and the field: a missing or empty ``doc``/``summary``,
    a label other than 0/1, a duplicate ``id``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a valid JSON file: {exc}") from exc
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of objects, got {type(data).__name__}")
    name = domain or domain_of(path)
    seen: set[str] = set()
    for index, item in enumerate(data):
        record = _record(path, index, item, name)
        if record.id in seen:
            raise InputError(f"{path}: item {index}: duplicate id {record.id!r}", field="id")
        seen.add(record.id)
        yield record


def _record(path: Path, index: int, item: Any, domain: str) -> SummEditsRecord:
    where = f"{path}: item {index}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object, got {type(item).__name__}")
    texts: dict[str, str] = {}
    for name in ("id", "doc", "summary"):
        value = item.get(name)
        if value is None:
            raise InputError(f"{where}: is missing", field=name)
        if not isinstance(value, str):
            raise InputError(f"{where}: must be a string, got {type(value).__name__}", field=name)
        if not value.strip():
            raise InputError(f"{where}: is empty", field=name)
        texts[name] = value
    raw_label = item.get("label")
    # bool is an int subclass; True must not pass as the label 1 by accident of typing.
    ok = isinstance(raw_label, int | str) and not isinstance(raw_label, bool)
    label = _LABELS.get(raw_label) if ok else None
    if label is None:
        raise InputError(f"{where}: must be 0 or 1 (or '0'/'1'), got {raw_label!r}", field="label")
    return SummEditsRecord(texts["id"], texts["doc"], texts["summary"], label, domain)
