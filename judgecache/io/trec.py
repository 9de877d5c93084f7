"""TREC relevance files: topics, graded qrels and a passage collection, joined into pairs.

Formats: topics ``qid<TAB>query``; qrels ``qid <iteration> docid grade`` (whitespace-separated,
the iteration column, ``0``/``Q0``/``U0``, is ignored); collection ``docid<TAB>text``. The
TREC DL files shipped with the benchmarks list one collection line per judged pair, so a docid can
repeat; the join is by docid, and a docid that repeats with *different* text is an error because
the join would be ambiguous. Text is kept exactly as written, including MS MARCO's mojibake.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "topics.tsv").write_text("1\\tdo goldfish grow\\n")
    >>> _ = (d / "qrels.txt").write_text("1 0 d7 2\\n")
    >>> _ = (d / "collection.tsv").write_text("d7\\tGoldfish grow to 30 cm.\\n")
    >>> list(iter_trec_pairs(d / "qrels.txt", d / "topics.tsv", d / "collection.tsv"))
    [TrecPair(qid='1', docid='d7', query='do goldfish grow', doc='Goldfish grow to 30 cm.', grade=2)]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from judgecache.errors import InputError


class Qrel(NamedTuple):
    """One qrels line: a graded judgment of ``docid`` for query ``qid``."""

    qid: str
    docid: str
    grade: int
    line: int


class TrecPair(NamedTuple):
    """A judged pair with its text, ready to be judged or replayed."""

    qid: str
    docid: str
    query: str
    doc: str
    grade: int


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` without the line ending; blank lines are skipped."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: not valid UTF-8 ({exc.reason})", line=number) from exc
            if text.strip():
                yield number, text


def _read_tsv_map(path: str | Path, key_name: str, value_name: str) -> dict[str, str]:
    path = Path(path)
    out: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, text in _lines(path):
        key, sep, value = text.partition("\t")
        key = key.strip()
        if not sep or not key:
            raise InputError(
                f"{path}: expected '{key_name}<TAB>{value_name}', got {text[:80]!r}", line=number
            )
        if not value.strip():
            raise InputError(f"{path}: {key_name} {key!r} has an empty {value_name}", line=number)
        if key in out:
            if out[key] != value:
                raise InputError(
                    f"{path}: {key_name} {key!r} repeats with a different {value_name} "
                    f"(first at line {first_line[key]})",
                    line=number,
                )
            continue
        out[key] = value
        first_line[key] = number
    return out


def read_topics(path: str | Path) -> dict[str, str]:
    """Read ``qid<TAB>query`` lines into ``{qid: query}``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "topics.tsv"
    >>> _ = p.write_text("156493\\tdo goldfish grow\\n")
    >>> read_topics(p)
    {'156493': 'do goldfish grow'}
    """
    return _read_tsv_map(path, "qid", "query")


def read_collection(path: str | Path) -> dict[str, str]:
    """Read ``docid<TAB>text`` lines into ``{docid: text}``; a docid may repeat with the same text.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "collection.tsv"
    >>> _ = p.write_text("d1\\tstudyâ€™s text\\nd1\\tstudyâ€™s text\\n")
    >>> read_collection(p)
    {'d1': 'studyâ€™s text'}
    """
    return _read_tsv_map(path, "docid", "text")


def read_qrels(path: str | Path) -> Iterator[Qrel]:
    """Stream ``qid iteration docid grade`` lines as :class:`Qrel` (integer grades).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "qrels.txt"
    >>> _ = p.write_text("19335 Q0 1017759 1\\n")
    >>> list(read_qrels(p))
    [Qrel(qid='19335', docid='1017759', grade=1, line=1)]
    """
    path = Path(path)
    for number, text in _lines(path):
        parts = text.split()
        if len(parts) != 4:
            raise InputError(
                f"{path}: a qrels line has 4 columns 'qid iteration docid grade', "
                f"got {len(parts)}: {text[:80]!r}",
                line=number,
            )
        qid, _iteration, docid, grade = parts
        try:
            value = int(grade)
        except ValueError:
            raise InputError(
                f"{path}: grade must be an integer, got {grade!r}", line=number, field="grade"
            ) from None
        yield Qrel(qid, docid, value, number)


def iter_trec_pairs(
    qrels: str | Path,
    topics: str | Path | Mapping[str, str],
    collection: str | Path | Mapping[str, str],
) -> Iterator[TrecPair]:
    """Join qrels with topic and passage text, in qrels order.

    ``topics`` and ``collection`` may be paths or already-loaded mappings (to share them between
    several qrels files). A qid or docid missing from them raises
    :class:`~judgecache.errors.InputError` naming the qrels line.
    """
    topic_map = topics if isinstance(topics, Mapping) else read_topics(topics)
    doc_map = collection if isinstance(collection, Mapping) else read_collection(collection)
    for qrel in read_qrels(qrels):
        query = topic_map.get(qrel.qid)
        if query is None:
            raise InputError(
                f"{qrels}: qid {qrel.qid!r} is not in the topics file", line=qrel.line, field="qid"
            )
        doc = doc_map.get(qrel.docid)
        if doc is None:
            raise InputError(
                f"{qrels}: docid {qrel.docid!r} is not in the collection file",
                line=qrel.line,
                field="docid",
            )
        yield TrecPair(qrel.qid, qrel.docid, query, doc, qrel.grade)
