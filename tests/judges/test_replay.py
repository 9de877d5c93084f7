"""ReplayTeacher: recorded labels from JSONL and TREC files, matched on normalized text."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from judgecache import Judge
from judgecache.errors import ConfigError, InputError, UnknownPairError, VerdictParseError
from judgecache.judges.rubric import get_rubric
from judgecache.judges.teachers.replay import ReplayTeacher, name_from_path

RELEVANCE = get_rubric("relevance")
FAITHFULNESS = get_rubric("faithfulness")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.fixture
def relevance_labels(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "gpt-4o-labels.jsonl",
        [
            {"id": 1, "query": "do goldfish grow", "doc": "Goldfish grow to 30 cm.", "label": 3},
            {"query": "café opening hours", "passage": "The café opens at 8.", "label": "1"},
            {"query": "do goldfish grow", "doc": "Goldfish are orange.", "label": 0},
        ],
    )


def test_answers_held_pairs_on_normalized_text(relevance_labels: Path) -> None:
    teacher = ReplayTeacher.from_jsonl(relevance_labels)
    assert len(teacher) == 3
    assert str(teacher.identity) == "replay:gpt-4o-labels"
    assert (
        teacher.judge(
            RELEVANCE, {"query": "do goldfish grow", "doc": "Goldfish grow to 30 cm."}
        ).label
        == 3
    )
    # Leading/trailing whitespace, CRLF and NFD spellings of the same text still match.
    nfd = unicodedata.normalize("NFD", "café opening hours")
    answer = teacher.judge(RELEVANCE, {"query": f"  {nfd}\r\n", "doc": "The café opens at 8. "})
    assert (answer.label, answer.raw_output, answer.cost_usd) == (1, "1", 0.0)
    assert ("do goldfish grow", "Goldfish are orange.") in teacher


def test_unknown_pairs_are_errors_naming_the_pair(relevance_labels: Path) -> None:
    teacher = ReplayTeacher.from_jsonl(relevance_labels, name="gpt-4o", version="2024-08")
    long_doc = "Goldfish " + "x" * 200
    with pytest.raises(UnknownPairError) as info:
        teacher.judge(RELEVANCE, {"query": "do goldfish grow", "doc": long_doc})
    message = str(info.value)
    assert "replay:gpt-4o@2024-08 has no label for query='do goldfish grow'" in message
    assert "doc='Goldfish xxx" in message and "…" in message
    assert "x" * 100 not in message
    assert not info.value.retryable


def test_faithfulness_labels_with_scores(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"context": "It rained.", "answer": "It rained.", "label": "supported", "score": 0.97},
            {"context": "It rained.", "summary": "It snowed.", "label": 0},
        ],
    )
    teacher = ReplayTeacher.from_jsonl(path, name="human")
    assert teacher.fields == ("context", "answer")
    hit = teacher.judge(FAITHFULNESS, {"context": "It rained.", "answer": "It rained."})
    assert (hit.label, hit.score) == (1, 0.97)
    assert teacher.judge(FAITHFULNESS, {"context": "It rained.", "answer": "It snowed."}).label == 0
    with pytest.raises(ConfigError, match="holds context/answer pairs but rubric 'relevance'"):
        teacher.judge(RELEVANCE, {"query": "It rained.", "doc": "It rained."})


def test_conflicts_keep_the_first_label_and_are_counted(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"query": "q", "doc": "d", "label": 2},
            {"query": "q ", "doc": "d", "label": 2},
            {"query": "q", "doc": "d", "label": 0},
        ],
    )
    teacher = ReplayTeacher.from_jsonl(path)
    assert (len(teacher), teacher.duplicates, teacher.conflicts) == (1, 1, 1)
    kept, dropped = teacher.conflict_examples[0]
    assert (kept.label, dropped.label) == (2, 0)
    assert teacher.judge(RELEVANCE, {"query": "q", "doc": "d"}).label == 2


def test_a_row_without_label_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "l.jsonl", [{"query": "q", "doc": "d", "label": 1}, {"query": "q2", "doc": "d2"}]
    )
    with pytest.raises(InputError, match="line 2, field 'label'"):
        ReplayTeacher.from_jsonl(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ConfigError, match="no labelled pairs"):
        ReplayTeacher.from_jsonl(tmp_path / "empty.jsonl")


def test_label_outside_the_rubric_is_a_parse_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "l.jsonl", [{"query": "q", "doc": "d", "label": 4}])
    with pytest.raises(
        VerdictParseError, match="recorded label 4 is not one of the labels"
    ) as info:
        ReplayTeacher.from_jsonl(path).judge(RELEVANCE, {"query": "q", "doc": "d"})
    assert info.value.raw_output == "4"


def test_trec_files_with_repeated_docids(tmp_path: Path) -> None:
    (tmp_path / "topics.tsv").write_text("1\tdo goldfish grow\n2\twhat is wifi\n", "utf-8")
    (tmp_path / "collection.tsv").write_text(
        "d1\tGoldfish grow to 30 cm.\nd2\tWiâ€™Fi is wireless.\nd1\tGoldfish grow to 30 cm.\n",
        "utf-8",
    )
    (tmp_path / "qrels.gpt-4o-umbrela.dl19.txt").write_text("1 0 d1 3\n2 0 d2 2\n2 0 d1 0\n")
    teacher = ReplayTeacher.from_trec(
        tmp_path / "qrels.gpt-4o-umbrela.dl19.txt",
        tmp_path / "topics.tsv",
        tmp_path / "collection.tsv",
    )
    assert str(teacher.identity) == "replay:gpt-4o-umbrela"
    assert len(teacher) == 3
    assert (
        teacher.judge(RELEVANCE, {"query": "what is wifi", "doc": "Wiâ€™Fi is wireless."}).label
        == 2
    )
    assert (
        teacher.judge(RELEVANCE, {"query": "what is wifi", "doc": "Goldfish grow to 30 cm."}).label
        == 0
    )
    metas = [r.meta for r in teacher.records()]
    assert metas[0] == {"qid": "1", "docid": "d1"}


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("qrels.gpt-4o-umbrela.dl19.txt", "gpt-4o-umbrela"),
        ("/x/qrels.gpt-4-binary.dl20.txt", "gpt-4-binary"),
        ("qrels.human.txt", "human"),
        ("labels.jsonl", "labels"),
        ("my_labels.jsonl", "my_labels"),
        ("qrels.txt", "qrels"),
    ],
)
def test_name_from_path(path: str, name: str) -> None:
    assert name_from_path(path) == name


def test_replay_behind_the_judge_does_not_store_unknown_pairs(relevance_labels: Path) -> None:
    with Judge(ReplayTeacher.from_jsonl(relevance_labels), cache="memory://") as judge:
        hit = judge.score("do goldfish grow", "Goldfish grow to 30 cm.")
        with pytest.raises(UnknownPairError):
            judge.score("do goldfish grow", "an unseen passage")
        assert judge.store.count() == 1
    assert hit.label == 3


async def test_async_replay(relevance_labels: Path) -> None:
    teacher = ReplayTeacher.from_jsonl(relevance_labels)
    answer = await teacher.ajudge(
        RELEVANCE, {"query": "do goldfish grow", "doc": "Goldfish are orange."}
    )
    assert answer.label == 0


@pytest.mark.data
def test_dl19_gpt4o_umbrela(trec_dir: Path) -> None:
    teacher = ReplayTeacher.from_trec(
        trec_dir / "qrels.gpt-4o-umbrela.dl19.txt",
        trec_dir / "topics.dl19.tsv",
        trec_dir / "collection.dl19.tsv",
    )
    assert str(teacher.identity) == "replay:gpt-4o-umbrela"
    # 9,260 judgments; one query has two docids with the same passage text (same grade).
    assert teacher.loaded == 9260
    assert (len(teacher), teacher.duplicates, teacher.conflicts) == (9259, 1, 0)
    grades = [r.label for r in teacher.records()]
    assert {g: grades.count(g) for g in range(4)} == {0: 4136, 1: 3137, 2: 1247 - 1, 3: 740}
    # First qrels line: 19335 0 1017759 1 (query 19335 is "anthropological definition of environment").
    first = next(teacher.records())
    assert first.meta == {"qid": "19335", "docid": "1017759"}
    assert teacher.judge(RELEVANCE, first.inputs).label == 1
