"""A recorded teacher: answers from label files instead of an API (labels already paid for).

Sources: a JSONL file of ``{"query", "doc", "label"}`` or ``{"context", "answer", "label"}`` rows
(optional ``score``; aliases as in :mod:`judgecache.io.jsonl`), or TREC qrels + topics +
collection files. Pairs are matched on :func:`judgecache.keys.normalize_text` of both inputs; any
other pair raises :class:`~judgecache.errors.UnknownPairError`, so a replay run can never invent a
label.

Conflicts: when a file gives the same text pair two different labels (the same passage judged
under two docids, say), the label kept follows ``on_conflict``, the policy ``judgecache import``
shares (:mod:`judgecache.io.conflicts`; default ``majority``, a tie going to the highest label;
``refuse`` stops at load). Rows that disagree are counted in :attr:`ReplayTeacher.conflicts`, the
pairs concerned in :attr:`ReplayTeacher.conflicted_pairs` (a few examples in
:attr:`ReplayTeacher.conflict_examples`).
Repeats with the same label are counted in :attr:`ReplayTeacher.duplicates`; :attr:`loaded` counts
the judgments read and ``len()`` the distinct text pairs held (TREC DL19 has 9,260 judgments of
9,259 distinct pairs: one query has two docids with the same passage text).

Example:
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "gpt-4o-labels.jsonl"
    >>> _ = p.write_text(json.dumps({"query": "q", "doc": "d", "label": 2}) + "\\n")
    >>> from judgecache.judges.rubric import get_rubric
    >>> t = ReplayTeacher.from_jsonl(p)
    >>> str(t.identity), t.judge(get_rubric("relevance"), {"query": " q", "doc": "d\\r\\n"}).label
    ('replay:gpt-4o-labels', 2)
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judgecache.errors import ConfigError, InputError, UnknownPairError, VerdictParseError
from judgecache.io.conflicts import DEFAULT_POLICY, check_policy, resolve
from judgecache.io.jsonl import read_pairs
from judgecache.io.trec import iter_trec_pairs
from judgecache.judges.parsing import coerce_value
from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.keys import JudgeIdentity, normalize_text

MAX_CONFLICT_EXAMPLES = 5
_GENERIC_PARTS = frozenset({"qrels", "labels", "label", "judgments"})


@dataclass(frozen=True)
class ReplayRecord:
    """One recorded judgment: the named inputs, the raw label, an optional score and source ids."""

    inputs: dict[str, str]
    label: int | str
    score: float | None = None
    meta: dict[str, str] = field(default_factory=dict)


def name_from_path(path: str | Path) -> str:
    """A judge name from a label file: the first dotted part that is not a generic word.

    ``qrels.gpt-4o-umbrela.dl19.txt`` and ``qrels.gpt-4o-umbrela.dl20.txt`` both give
    ``gpt-4o-umbrela``: the same judge, so their labels share one identity in the cache.

    >>> name_from_path("data/qrels.gpt-4o-umbrela.dl19.txt"), name_from_path("labels.jsonl")
    ('gpt-4o-umbrela', 'labels')
    """
    stem = Path(path).name
    for suffix in (".jsonl", ".json", ".txt", ".tsv", ".qrels"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    parts = [p for p in stem.split(".") if p]
    specific = [p for p in parts if p.lower() not in _GENERIC_PARTS]
    return specific[0] if specific else (parts[0] if parts else "replay")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def task_material(rubric: Rubric) -> dict[str, Any]:
    """The key material of labels that never saw a prompt (recorded or human): the task only."""
    return {
        "rubric": rubric.name,
        "task": rubric.task,
        "labels": list(rubric.labels),
        "fields": list(rubric.fields),
    }


class ReplayTeacher(Teacher):
    """Answer from recorded labels; identity ``replay:<name>@<version>``."""

    def __init__(
        self,
        records: Iterable[ReplayRecord],
        *,
        name: str,
        fields: tuple[str, str],
        version: str = "",
        on_conflict: str = DEFAULT_POLICY,
    ) -> None:
        if not name or not name.strip():
            raise ConfigError(
                "a replay teacher needs a non-empty name (it is part of the cache key)"
            )
        self.name = name
        self.fields = fields
        self.identity = JudgeIdentity("replay", name, version)
        self.loaded = 0
        self.conflicts = 0
        self.duplicates = 0
        self.conflict_examples: list[tuple[ReplayRecord, ReplayRecord]] = []
        self.on_conflict = check_policy(on_conflict)
        self._labels: dict[tuple[str, str], ReplayRecord] = {}
        self._seen: dict[tuple[str, str], list[int | str]] = {}
        for record in records:
            self._add(record)
        self.conflicted_pairs = 0
        for key, labels in self._seen.items():
            if len(set(map(str, labels))) > 1:
                self.conflicted_pairs += 1
                try:
                    label = resolve(labels, self.on_conflict)
                except InputError as exc:
                    raise InputError(
                        f"replay teacher {self.identity}: {key[0][:60]!r} / {key[1][:60]!r}: {exc}"
                    ) from None
                self._labels[key] = dataclasses.replace(self._labels[key], label=label)
        del self._seen

    def _key(self, inputs: Mapping[str, str]) -> tuple[str, str]:
        return normalize_text(inputs[self.fields[0]]), normalize_text(inputs[self.fields[1]])

    def _add(self, record: ReplayRecord) -> None:
        self.loaded += 1
        key = self._key(record.inputs)
        held = self._labels.get(key)
        self._seen.setdefault(key, []).append(record.label)
        if held is None:
            self._labels[key] = record
        elif held.label == record.label:
            self.duplicates += 1
        else:
            self.conflicts += 1
            if len(self.conflict_examples) < MAX_CONFLICT_EXAMPLES:
                self.conflict_examples.append((held, record))

    @classmethod
    def from_jsonl(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        version: str = "",
        fields: tuple[str, str] | None = None,
        on_conflict: str = DEFAULT_POLICY,
    ) -> ReplayTeacher:
        """Load ``{"query", "doc", "label"}``-style rows; every row must carry a label."""
        pairs = read_pairs(path, fields, with_labels=True)
        first = next(pairs, None)
        if first is None:
            raise ConfigError(f"{path}: no labelled pairs to replay")
        names = tuple(first.inputs)

        def records() -> Iterator[ReplayRecord]:
            for pair in itertools.chain([first], pairs):
                if pair.label is None:
                    raise InputError(
                        f"{path}: a replay file needs a label on every row",
                        line=pair.line,
                        field="label",
                    )
                meta = dict(pair.meta)
                if pair.id is not None:
                    meta["id"] = pair.id
                yield ReplayRecord(pair.inputs, pair.label, pair.score, meta)

        return cls(
            records(),
            name=name or name_from_path(path),
            fields=(names[0], names[1]),
            version=version,
            on_conflict=on_conflict,
        )

    @classmethod
    def from_trec(
        cls,
        qrels: str | Path,
        topics: str | Path | Mapping[str, str],
        collection: str | Path | Mapping[str, str],
        *,
        name: str | None = None,
        version: str = "",
        on_conflict: str = DEFAULT_POLICY,
    ) -> ReplayTeacher:
        """Load graded qrels joined with topic and passage text (relevance: ``query``/``doc``)."""
        records = (
            ReplayRecord(
                {"query": p.query, "doc": p.doc}, p.grade, None, {"qid": p.qid, "docid": p.docid}
            )
            for p in iter_trec_pairs(qrels, topics, collection)
        )
        teacher = cls(
            records,
            name=name or name_from_path(qrels),
            fields=("query", "doc"),
            version=version,
            on_conflict=on_conflict,
        )
        if not teacher._labels:
            raise ConfigError(f"{qrels}: no judged pairs to replay")
        return teacher

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, pair: object) -> bool:
        if not isinstance(pair, tuple) or len(pair) != 2:
            return False
        return (normalize_text(str(pair[0])), normalize_text(str(pair[1]))) in self._labels

    def records(self) -> Iterator[ReplayRecord]:
        """The held judgments (one per text pair, label by the conflict policy), in file order."""
        return iter(self._labels.values())

    def prompt_material(self, rubric: Rubric) -> dict[str, Any]:
        """Recorded labels do not depend on judgecache's prompt template: key on the task only."""
        return task_material(rubric)

    def lookup(self, rubric: Rubric, inputs: Mapping[str, str]) -> ReplayRecord:
        """The recorded judgment for a pair, or :class:`UnknownPairError` naming it."""
        if tuple(rubric.fields) != self.fields:
            raise ConfigError(
                f"replay teacher {self.identity} holds {'/'.join(self.fields)} pairs but rubric "
                f"{rubric.name!r} takes {'/'.join(rubric.fields)}"
            )
        record = self._labels.get(self._key(inputs))
        if record is None:
            first, second = (inputs[f] for f in self.fields)
            raise UnknownPairError(
                f"replay teacher {self.identity} has no label for {self.fields[0]}="
                f"{_short(normalize_text(first))!r}, {self.fields[1]}={_short(normalize_text(second))!r}"
            )
        return record

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        record = self.lookup(rubric, inputs)
        raw = str(record.label)
        try:
            label = coerce_value(rubric, record.label, "recorded label")
        except ValueError as exc:
            raise VerdictParseError(str(exc), raw_output=raw) from None
        return TeacherAnswer(label=label, raw_output=raw, score=record.score)

    async def ajudge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        # A dictionary lookup: no need for a worker thread.
        return self.judge(rubric, inputs)
