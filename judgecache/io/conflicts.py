"""One policy for labels that disagree about the same text pair (``import`` and ``replay:`` share it).

Content addressing makes two rows with the same (normalised) text pair one cache entry, even when
they came from different ids (TREC docids with identical passage text, say). When such rows carry
different labels, the policy decides which label the entry gets:

* ``majority`` (default): the most frequent label; a tie goes to the highest label.
* ``max`` / ``min``: the highest / lowest label (by grade; strings by their numeric value when
  they have one).
* ``first`` / ``last``: the label of the first / last row in file order.
* ``refuse``: stop with an :class:`~judgecache.errors.InputError` naming the pair and its rows.

Example:
    >>> merged = merge_labels([("q", "d", 1, {}), ("q", "d", 3, {}), ("q", "d", 3, {}), ("x", "y", 0, {})])
    >>> [(m.first, m.label, m.rows) for m in merged.records], merged.merged, merged.conflicted
    ([('q', 3, 3), ('x', 0, 1)], 2, 1)
    >>> resolve([1, 3], "max"), resolve([2, 1, 1], "majority"), resolve([2, 1], "first")
    (3, 1, 2)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from judgecache.errors import ConfigError, InputError
from judgecache.keys import normalize_text

ConflictPolicy = Literal["majority", "max", "min", "first", "last", "refuse"]
POLICIES: tuple[str, ...] = ("majority", "max", "min", "first", "last", "refuse")
DEFAULT_POLICY: ConflictPolicy = "majority"


def check_policy(policy: str) -> ConflictPolicy:
    """``policy`` itself when valid, else a :class:`ConfigError` listing the valid ones."""
    if policy not in POLICIES:
        raise ConfigError(f"on_conflict must be one of {list(POLICIES)}, got {policy!r}")
    return policy  # type: ignore[return-value]


def _order(label: object) -> tuple[int, float, str]:
    # Grades compare as numbers ("2" and 2 alike); other strings after every number.
    try:
        return (0, float(str(label)), "")
    except ValueError:
        return (1, 0.0, str(label))


def resolve(labels: Sequence[Any], policy: str) -> Any:
    """The label a pair keeps among the ``labels`` its rows gave, in file order."""
    check_policy(policy)
    if len({_order(x) for x in labels}) > 1 and policy == "refuse":
        raise InputError(f"conflicting labels {list(labels)} (on_conflict=refuse)")
    if policy == "first":
        return labels[0]
    if policy == "last":
        return labels[-1]
    if policy == "min":
        return min(labels, key=_order)
    if policy == "max":
        return max(labels, key=_order)
    counts = Counter(_order(x) for x in labels)
    # Majority; the highest label wins a tie.
    best = max(counts, key=lambda k: (counts[k], k))
    return next(x for x in labels if _order(x) == best)


@dataclass
class MergedRecord:
    """One distinct text pair: its inputs, the kept label, how many rows gave it, their labels."""

    first: object
    second: object
    label: object
    meta: Mapping[str, str] | None
    rows: int = 1
    labels: list[object] = field(default_factory=list)
    where: list[str] = field(default_factory=list)


@dataclass
class MergeResult:
    """Distinct records, plus counts: rows read, rows merged into another, pairs in conflict."""

    records: list[MergedRecord]
    rows: int
    merged: int
    conflicted: int
    policy: str
    examples: list[MergedRecord] = field(default_factory=list)


def _where(meta: Mapping[str, str] | None, index: int) -> str:
    meta = meta or {}
    if meta.get("docid"):
        return f"qid {meta.get('qid', '?')} docid {meta['docid']}"
    if meta.get("id"):
        return f"id {meta['id']}"
    return f"row {index + 1}"


def merge_labels(
    rows: Iterable[tuple[object, object, object, Mapping[str, str] | None]],
    policy: str = DEFAULT_POLICY,
    *,
    max_examples: int = 5,
) -> MergeResult:
    """Group rows by normalised text pair and apply ``policy`` where their labels disagree.

    The kept record has the first row's inputs and meta. ``refuse`` raises an
    :class:`InputError` naming the first conflicting pair's rows and labels.
    """
    check_policy(policy)
    groups: dict[tuple[str, str], MergedRecord] = {}
    n = 0
    for index, (first, second, label, meta) in enumerate(rows):
        n += 1
        key = (normalize_text(str(first)), normalize_text(str(second)))
        held = groups.get(key)
        if held is None:
            groups[key] = MergedRecord(
                first, second, label, meta, 1, [label], [_where(meta, index)]
            )
        else:
            held.rows += 1
            held.labels.append(label)
            held.where.append(_where(meta, index))
    conflicts = [g for g in groups.values() if len({_order(x) for x in g.labels}) > 1]
    if conflicts and policy == "refuse":
        g = conflicts[0]
        rows_text = ", ".join(f"{w}: {lab!r}" for w, lab in zip(g.where, g.labels, strict=True))
        raise InputError(
            f"{len(conflicts)} text pair(s) have conflicting labels (on_conflict=refuse); first: "
            f"{rows_text}; choose --on-conflict {'/'.join(p for p in POLICIES if p != 'refuse')}"
        )
    for g in conflicts:
        g.label = resolve(g.labels, policy)
    return MergeResult(
        list(groups.values()),
        rows=n,
        merged=n - len(groups),
        conflicted=len(conflicts),
        policy=policy,
        examples=conflicts[:max_examples],
    )
