"""What an audited cascade carries from one batch to the next: its audits and a line per batch.

:func:`~judgecache.cascade.audit.run_batch` corrects each batch by the over-confidence the latest
audits saw, so a weekly job must keep those tallies between runs. :class:`AuditState` is that
memory, one small JSON file: the teacher it belongs to, every batch's tally and a one-line summary
of each batch (what the weekly trend reads); the next batch's number, counted from 1, seeds its
audit draw. It is written only after a batch is complete, atomically: a run killed half-way
leaves the state as it was, so the rerun is the same batch with the same audit seed, and every
teacher label the killed run bought comes from the cache.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "audit-state.json"
    >>> state = AuditState.load(path, teacher="openai:gpt-4o")
    >>> state.batch, state.history
    (1, [])
    >>> state.add(Overconfidence(40, 3, 1.5), {"pairs": 800, "teacher_calls": 240}).save(path)
    >>> AuditState.load(path, teacher="openai:gpt-4o").batch
    2
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from judgecache.cascade.audit import Overconfidence
from judgecache.cascade.record import write_json_atomically
from judgecache.errors import ConfigError, InputError

STATE_VERSION = 1


@dataclass
class AuditState:
    """The audits and batch summaries of one teacher's audited cascade (see the module doc)."""

    teacher: str
    history: list[Overconfidence] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def batch(self) -> int:
        """The number of the next batch, counted from 1 (it seeds that batch's audit draw)."""
        return len(self.batches) + 1

    def add(self, tally: Overconfidence, summary: dict[str, Any]) -> AuditState:
        """Record a finished batch: its audit tally and its summary line (numbered here)."""
        self.history.append(tally)
        self.batches.append({"batch": self.batch, **summary})
        return self

    @classmethod
    def load(cls, path: str | Path, *, teacher: str) -> AuditState:
        """The state at ``path`` (fresh when there is no file); another teacher's is refused."""
        p = Path(path)
        if not p.exists():
            return cls(teacher)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read the audit state {p}: {exc}") from None
        state = _parse(data, p)
        if state.teacher != teacher:
            raise ConfigError(
                f"the audit state {p} belongs to teacher {state.teacher!r}, not {teacher!r}: its "
                "audits say nothing about this teacher; give another --state file"
            )
        return state

    def save(self, path: str | Path) -> None:
        """Write the state atomically (:func:`~judgecache.cascade.record.write_json_atomically`)."""
        p = Path(path)
        data = {
            "version": STATE_VERSION,
            "teacher": self.teacher,
            "history": [asdict(t) for t in self.history],
            "batches": self.batches,
        }
        write_json_atomically(p, data)


def _parse(data: Any, path: Path) -> AuditState:
    """A state from its JSON, naming the field that is wrong."""

    def bad(name: str, allowed: str) -> InputError:
        return InputError(f"audit state {path}: {allowed}", field=name)

    if not isinstance(data, dict):
        raise bad("(top level)", "must be a JSON object")
    if data.get("version") != STATE_VERSION:
        raise bad("version", f"must be {STATE_VERSION}, got {data.get('version')!r}")
    if not isinstance(data.get("teacher"), str):
        raise bad("teacher", "must be the teacher's identity as a string")
    history, batches = data.get("history"), data.get("batches")
    if not isinstance(batches, list) or not all(isinstance(b, dict) for b in batches):
        raise bad("batches", "must be a list of objects")
    if not isinstance(history, list) or len(history) != len(batches):
        raise bad("history", "must be a list with one tally per batch")
    tallies = []
    for i, t in enumerate(history):
        ok = (
            isinstance(t, dict)
            and set(t) == {"audited", "observed", "expected"}
            and all(isinstance(t[k], int) and t[k] >= 0 for k in ("audited", "observed"))
            and isinstance(t["expected"], int | float)
            and t["expected"] >= 0
        )
        if not ok:
            raise bad(f"history[{i}]", "must be {audited, observed: integers >= 0, expected >= 0}")
        tallies.append(Overconfidence(t["audited"], t["observed"], float(t["expected"])))
    return AuditState(data["teacher"], tallies, batches)
