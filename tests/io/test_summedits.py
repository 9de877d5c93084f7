"""SummEdits loader: validation with item indexes and field names, domain from the file name."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from judgecache.errors import InputError
from judgecache.io.summedits import SummEditsRecord, domain_of, iter_summedits

GOOD = {
    "id": "a_og",
    "doc": "It rained all day.",
    "summary": "It rained.",
    "label": 1,
    "original_summary": "It rained.",
    "edit_types": [],
    "split": "test",
}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_reads_records_with_domain(tmp_path: Path) -> None:
    path = write(tmp_path / "summedits_podcast.json", [GOOD, {**GOOD, "id": "b", "label": "0"}])
    assert list(iter_summedits(path)) == [
        SummEditsRecord("a_og", "It rained all day.", "It rained.", 1, "podcast"),
        SummEditsRecord("b", "It rained all day.", "It rained.", 0, "podcast"),
    ]
    assert next(iter_summedits(path, domain="custom")).domain == "custom"
    assert domain_of("other.json") == "other"


@pytest.mark.parametrize(
    ("item", "message", "field"),
    [
        ({**GOOD, "label": 2}, "item 1: must be 0 or 1 .*got 2", "label"),
        ({**GOOD, "label": True}, "got True", "label"),
        ({**GOOD, "label": "yes"}, "got 'yes'", "label"),
        ({**GOOD, "label": [1]}, r"got \[1\]", "label"),
        ({k: v for k, v in GOOD.items() if k != "doc"}, "item 1: is missing", "doc"),
        ({**GOOD, "summary": " "}, "item 1: is empty", "summary"),
        ({**GOOD, "id": 5}, "must be a string, got int", "id"),
        (GOOD, "item 1: duplicate id 'a_og'", "id"),
    ],
)
def test_validation(tmp_path: Path, item: dict[str, Any], message: str, field: str) -> None:
    path = write(tmp_path / "summedits_news.json", [GOOD, item])
    with pytest.raises(InputError, match=message) as info:
        list(iter_summedits(path))
    assert info.value.field == field


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1}', "expected a JSON list"),
        ("[1, 2", "not a valid JSON file"),
        ("[3]", "item 0: expected an object"),
    ],
)
def test_file_level_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "summedits_x.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        list(iter_summedits(path))


@pytest.mark.data
def test_news_domain(summedits_dir: Path) -> None:
    records = list(iter_summedits(summedits_dir / "summedits_news.json"))
    assert len(records) == 819
    assert Counter(r.label for r in records) == {0: 498, 1: 321}
    assert {r.domain for r in records} == {"news"}
