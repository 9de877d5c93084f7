"""What a student was trained on: ``trained_on.json``, so a refresh can tell new labels from old.

``judgecache distill`` (and every ``judgecache cascade refresh``) writes it beside the student:
the teacher's identity and the pair keys of every label the run read, in two roles --

* ``train``: pairs the run could take gradient steps on (replayed by a refresh, against forgetting);
* ``held_out``: pairs it never trained on (validation, calibration, test): a refresh recalibrates
  on them beside the new labels' own calibration slice.

A label of the same teacher in the cache (or labels file) whose key is in neither role is *new*:
what the cache gained since (cascade escalations, imports, drift re-labels). Keys are
:func:`~judgecache.distill.memory.pair_key` digests of the pair's texts (no texts are stored).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> rec = TrainedOn("replay:gpt-4o", train={pair_key("q", "d1")}, held_out={pair_key("q", "d2")})
    >>> rec.save(d)
    >>> back = TrainedOn.load(d)
    >>> back.teacher, back.is_new(pair_key("q", "d3")), back.is_new(pair_key("q", "d1"))
    ('replay:gpt-4o', True, False)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judgecache.distill.memory import pair_key
from judgecache.errors import ConfigError

FILE = "trained_on.json"
FORMAT = 1

__all__ = ["FILE", "TrainedOn", "pair_key", "record_distill_run"]


@dataclass
class TrainedOn:
    """The teacher and the pair keys a student saw, by role (see the module docstring)."""

    teacher: str
    train: set[str] = field(default_factory=set)
    held_out: set[str] = field(default_factory=set)

    def is_new(self, key: str) -> bool:
        """Whether a label of this key arrived after the student was trained."""
        return key not in self.train and key not in self.held_out

    def save(self, directory: Path) -> None:
        data = {
            "format": FORMAT,
            "teacher": self.teacher,
            "train": sorted(self.train),
            "held_out": sorted(self.held_out - self.train),
        }
        (directory / FILE).write_text(json.dumps(data) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> TrainedOn:
        """Read ``trained_on.json``; a student saved before it existed is a clear error."""
        path = directory / FILE
        if not path.is_file():
            raise ConfigError(
                f"{directory} has no {FILE}: it does not record what it was trained on (made "
                "before refresh existed); distill it again to refresh it"
            )
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        if data.get("format") != FORMAT:
            raise ConfigError(f"{path}: unsupported format {data.get('format')!r}")
        return cls(str(data["teacher"]), set(data["train"]), set(data["held_out"]))


def keys_of(pairs: Iterable[Any]) -> set[str]:
    """Pair keys of labelled pairs (anything with ``first`` and ``second`` texts)."""
    return {pair_key(p.first, p.second) for p in pairs}


def record_distill_run(out: Path, labels: Any, train: Any) -> None:
    """Write what a ``judgecache distill`` run read: its train split, and every other label."""
    every, trained = keys_of(labels.pairs), keys_of(train.pairs)
    TrainedOn(str(labels.judge), trained, every - trained).save(out)
