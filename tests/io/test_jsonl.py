"""JSONL streaming and pair reading: line numbers and field names in every error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgecache.errors import InputError
from judgecache.io.jsonl import detect_fields, iter_jsonl, read_pairs, write_jsonl


def lines(path: Path, *rows: str) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_iter_jsonl_numbers_lines_and_skips_blanks(tmp_path: Path) -> None:
    path = lines(tmp_path / "x.jsonl", '{"a": 1}', "", "   ", '{"a": 2}')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, {"a": 2})]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"a": 1', r"line 3: .*invalid JSON at column 8: Expecting ',' delimiter"),
        ("[1, 2]", "line 3: expected a JSON object, got list"),
        ('"text"', "line 3: expected a JSON object, got string"),
        ("null", "line 3: expected a JSON object, got null"),
    ],
)
def test_iter_jsonl_errors_name_the_line(tmp_path: Path, bad: str, message: str) -> None:
    path = lines(tmp_path / "x.jsonl", '{"a": 1}', "", bad, '{"a": 4}')
    rows = iter_jsonl(path)
    assert next(rows) == (1, {"a": 1})  # streaming: good lines come out before the bad one
    with pytest.raises(InputError, match=message) as info:
        next(rows)
    assert info.value.line == 3


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(InputError, match=r"line 2: .*not valid UTF-8"):
        list(iter_jsonl(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        list(iter_jsonl(tmp_path / "absent.jsonl"))


def test_write_jsonl_round_trip(tmp_path: Path) -> None:
    rows = [{"query": "café", "doc": "naïve — text", "label": 2}, {"n": None}]
    path = tmp_path / "out.jsonl"
    assert write_jsonl(path, iter(rows)) == 2
    assert "café" in path.read_text(encoding="utf-8")  # written as UTF-8, not \u escapes
    assert [row for _, row in iter_jsonl(path)] == rows
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_jsonl(tmp_path / "nan.jsonl", [{"score": float("nan")}])


def test_read_pairs_fields_ids_tags_meta(tmp_path: Path) -> None:
    path = lines(
        tmp_path / "pairs.jsonl",
        json.dumps(
            {
                "id": 7,
                "tag": "nightly",
                "qid": 19335,
                "docid": "d1",
                "query": "q",
                "doc": "d",
                "x": [1],
            }
        ),
        json.dumps({"id": "r2", "query": "q2", "passage": "d2"}),
    )
    first, second = read_pairs(path, ("query", "doc"))
    assert first.inputs == {"query": "q", "doc": "d"}
    assert (first.line, first.id, first.tag, first.meta) == (
        1,
        "7",
        "nightly",
        {"qid": "19335", "docid": "d1"},
    )
    assert first.row["x"] == [1]  # every column is kept for writers
    assert (first.first, first.second) == ("q", "d")
    assert (second.inputs, second.id, second.tag) == ({"query": "q2", "doc": "d2"}, "r2", None)
    assert first.label is None


@pytest.mark.parametrize(
    ("row", "message", "field"),
    [
        (
            {"query": "q"},
            r"line 2, field 'doc': is missing \(or one of its aliases \['passage', 'document'\]\)",
            "doc",
        ),
        ({"query": "q", "doc": "   "}, "line 2, field 'doc': is empty", "doc"),
        ({"query": 3, "doc": "d"}, "line 2, field 'query': must be a string, got number", "query"),
        (
            {"query": "q", "document": None},
            "field 'document': must be a string, got null",
            "document",
        ),
        (
            {"query": "q", "doc": "d", "passage": "p"},
            r"given more than once under the names \['doc', 'passage'\]",
            "doc",
        ),
        ({"query": "q", "doc": "d", "id": 1.5}, "field 'id': must be a string or an integer", "id"),
        ({"query": "q", "doc": "d", "tag": 3}, "field 'tag': must be a string", "tag"),
    ],
)
def test_read_pairs_errors(
    tmp_path: Path, row: dict[str, object], message: str, field: str
) -> None:
    path = lines(tmp_path / "p.jsonl", json.dumps({"query": "ok", "doc": "ok"}), json.dumps(row))
    pairs = read_pairs(path, ("query", "doc"))
    next(pairs)
    with pytest.raises(InputError, match=message) as info:
        next(pairs)
    assert (info.value.line, info.value.field) == (2, field)


def test_read_pairs_with_labels(tmp_path: Path) -> None:
    path = lines(
        tmp_path / "l.jsonl",
        json.dumps({"context": "c", "summary": "s", "label": "supported", "score": 0.9}),
        json.dumps({"context": "c", "response": "r", "label": 2.0}),
        json.dumps({"context": "c", "answer": "a", "label": True}),
        json.dumps({"context": "c", "answer": "a", "label": [1], "score": "x"}),
    )
    assert [(p.label, p.score) for p in read_pairs(path, ("context", "answer"))] == [
        (None, None)
    ] * 4
    pairs = read_pairs(path, with_labels=True)
    assert [
        (p.inputs["answer"], p.label, p.score) for p in (next(pairs), next(pairs), next(pairs))
    ] == [
        ("s", "supported", 0.9),
        ("r", 2, None),
        ("a", 1, None),
    ]
    with pytest.raises(
        InputError, match="line 4, field 'label': must be an integer or a label name"
    ):
        next(pairs)


def test_bad_score_is_reported(tmp_path: Path) -> None:
    path = lines(
        tmp_path / "l.jsonl", json.dumps({"query": "q", "doc": "d", "label": 1, "score": "high"})
    )
    with pytest.raises(InputError, match="line 1, field 'score': must be a finite number"):
        list(read_pairs(path, with_labels=True))


def test_detect_fields() -> None:
    assert detect_fields({"query": "q", "passage": "p"}) == ("query", "doc")
    assert detect_fields({"context": "c", "answer": "a"}) == ("context", "answer")
    with pytest.raises(
        InputError, match=r"cannot tell the task from the columns \['text', 'title'\]"
    ):
        detect_fields({"title": "t", "text": "x"})


def test_undetectable_first_row_names_line(tmp_path: Path) -> None:
    path = lines(tmp_path / "p.jsonl", "", json.dumps({"title": "t"}))
    with pytest.raises(InputError, match="line 2: cannot tell the task"):
        list(read_pairs(path))


def test_fields_must_be_two(tmp_path: Path) -> None:
    path = lines(tmp_path / "p.jsonl", json.dumps({"query": "q", "doc": "d"}))
    with pytest.raises(InputError, match="exactly two"):
        list(read_pairs(path, ("query",)))
