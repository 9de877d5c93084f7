"""Save a band selection beside its student (``PATH/cascade.json``) and load it back.

JSON only (never pickle); a file from a newer format or with unknown keys is refused with the
reason.

Example:
    >>> import tempfile
    >>> from judgecache.cascade.selection import band_for_budget
    >>> sel = band_for_budget([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], [0, 1, 0, 1],
    ...                       max_escalation=0.5, grid=4)
    >>> path = save_selection(sel, tempfile.mkdtemp())
    >>> path.name, load_selection(path.parent).band == sel.band
    ('cascade.json', True)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from judgecache.cascade.selection import BandSelection
from judgecache.errors import ConfigError

CASCADE_FILE = "cascade.json"
FORMAT = 1


def selection_path(path: str | Path) -> Path:
    """``path`` itself when it names a file, else ``path/cascade.json``."""
    p = Path(path).expanduser()
    return p if p.suffix == ".json" else p / CASCADE_FILE


def save_selection(selection: BandSelection, path: str | Path) -> Path:
    """Write the selection as JSON (a student directory gets ``cascade.json``); return the file."""
    target = selection_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(target, {"format": FORMAT, **selection.to_dict()})
    return target


def write_json_atomically(target: Path, doc: Any) -> None:
    """Write ``doc`` as JSON beside ``target`` first, then rename: readers never see half a file.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "state.json"
    >>> write_json_atomically(p, {"b": 1, "a": [0.5]})
    >>> json.loads(p.read_text()), [x.name for x in p.parent.iterdir()]
    ({'a': [0.5], 'b': 1}, ['state.json'])
    """
    text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def load_selection(path: str | Path) -> BandSelection:
    """Read a saved selection; a missing or malformed file is a :class:`ConfigError`."""
    target = selection_path(path)
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{target}: no cascade band saved here; choose one with "
            "judgecache.cascade.band_for_disagreement or band_for_budget and save_selection"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{target}: cannot read the cascade band: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{target}: expected a JSON object")
    if doc.get("format") != FORMAT:
        raise ConfigError(f"{target}: unsupported format {doc.get('format')!r} (expected {FORMAT})")
    return BandSelection.from_dict(doc, str(target))
