"""A fleet of scoring workers: ``judgecache score --shard I/N`` and merging their outputs.

Worker ``I`` of ``N`` (``0 <= I < N``) judges the pairs whose cache key hashes to ``I`` modulo
``N``: the same pairs on every rerun, whatever the machine, and every copy of a pair in the same
worker. The share only spreads the work; exactly one teacher call per pair across the fleet
comes from the shared cache's leases, so overlapping or mis-numbered shards still never pay twice.

Each sharded output line carries ``input_line`` (its 1-based line in the input file);
:func:`merge_outputs` (``judgecache merge``) puts the parts back in input order, drops that field
and checks that every line from 1 to the last one is there exactly once.

Example:
    >>> shard = parse_shard("1/4")
    >>> shard, shard.takes("0" * 64) in (True, False)
    (Shard(index=1, count=4), True)
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from judgecache.errors import ConfigError, JudgecacheError
from judgecache.io.jsonl import PairRecord

LINE_FIELD = "input_line"


@dataclass(frozen=True)
class Shard:
    """Worker ``index`` of ``count``."""

    index: int
    count: int

    def takes(self, key: str) -> bool:
        """Whether the pair with cache key ``key`` is this worker's.

        >>> sum(Shard(i, 3).takes("abc") for i in range(3))
        1
        """
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


def parse_shard(text: str) -> Shard:
    """``"I/N"`` as a :class:`Shard`; :class:`ConfigError` naming the rule otherwise.

    >>> parse_shard("0/2")
    Shard(index=0, count=2)
    """
    index, slash, count = text.strip().partition("/")
    if not (slash and index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise ConfigError(
            f"--shard must be I/N with whole numbers 0 <= I < N (e.g. 0/4 ... 3/4), got {text!r}"
        )
    return Shard(int(index), int(count))


class _Keyed(Protocol):
    rubric: Any

    def key(self, first: object, second: object) -> str: ...


def shard_records(
    records: Iterable[PairRecord], shard: Shard, judge: _Keyed
) -> Iterator[PairRecord]:
    """The records of ``shard``, by their cache key under ``judge``.

    A record whose key cannot be built (bad input) goes to shard 0, so exactly one worker
    reports its error.
    """
    first, second = judge.rubric.fields
    for record in records:
        try:
            key = judge.key(record.inputs[first], record.inputs[second])
        except JudgecacheError:
            if shard.index == 0:
                yield record
            continue
        if shard.takes(key):
            yield record


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise JudgecacheError(f"{path}:{number}: not JSON ({exc.msg})") from None
            line = row.get(LINE_FIELD) if isinstance(row, dict) else None
            if not isinstance(line, int) or isinstance(line, bool) or line < 1:
                raise JudgecacheError(
                    f"{path}:{number}: no positive integer {LINE_FIELD!r}; "
                    "was this part written by `judgecache score --shard I/N`?"
                )
            yield line, row


def merge_outputs(parts: Sequence[Path], out: Path) -> int:
    """Merge sharded score outputs into ``out`` in input order; return the lines written.

    Raises :class:`JudgecacheError` naming the first missing or repeated input line.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a").write_text('{"q": "x", "input_line": 2}\\n')
    >>> _ = (d / "b").write_text('{"q": "y", "input_line": 1}\\n')
    >>> merge_outputs([d / "a", d / "b"], d / "all.jsonl"), (d / "all.jsonl").read_text()
    (2, '{"q": "y"}\\n{"q": "x"}\\n')
    """
    streams: Iterable[tuple[int, dict[str, Any]]] = heapq.merge(
        *(_lines(p) for p in parts), key=lambda item: item[0]
    )
    expected = 1
    tmp = out.with_name(out.name + ".partial")
    with tmp.open("w", encoding="utf-8") as f:
        for line, row in streams:
            if line != expected:
                what = "repeated" if line < expected else f"missing (next is {line})"
                tmp.unlink()
                raise JudgecacheError(
                    f"cannot merge {len(parts)} part(s): input line {expected} is {what}; "
                    "pass every shard's output once, and rerun a shard that stopped early"
                )
            del row[LINE_FIELD]
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            expected += 1
    tmp.replace(out)
    return expected - 1
