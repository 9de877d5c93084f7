"""TREC topics, qrels and collection files, and their join into judged pairs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from judgecache.errors import InputError
from judgecache.io.trec import (
    Qrel,
    TrecPair,
    iter_trec_pairs,
    read_collection,
    read_qrels,
    read_topics,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_topics_and_collection(tmp_path: Path) -> None:
    topics = write(
        tmp_path / "t.tsv", "156493\tdo goldfish grow\n\n1110199\twhat is wifi vs bluetooth\n"
    )
    assert read_topics(topics) == {
        "156493": "do goldfish grow",
        "1110199": "what is wifi vs bluetooth",
    }
    coll = write(
        tmp_path / "c.tsv",
        "d1\tA studyâ€™s participants\td1 has a tab\nd2\tother\r\nd1\tA studyâ€™s participants\td1 has a tab\n",
    )
    # Mojibake and in-text tabs are kept as written; a repeated docid with the same text is fine.
    assert read_collection(coll) == {"d1": "A studyâ€™s participants\td1 has a tab", "d2": "other"}


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("d1\tone\nd1\ttwo\n", r"docid 'd1' repeats with a different text \(first at line 1\)", 2),
        ("d1\tone\nno tab here\n", "expected 'docid<TAB>text'", 2),
        ("d1\t  \n", "docid 'd1' has an empty text", 1),
    ],
)
def test_collection_errors(tmp_path: Path, text: str, message: str, line: int) -> None:
    with pytest.raises(InputError, match=message) as info:
        read_collection(write(tmp_path / "c.tsv", text))
    assert info.value.line == line


def test_read_qrels_ignores_the_iteration_column(tmp_path: Path) -> None:
    qrels = write(
        tmp_path / "q.txt", "19335 0 1017759 1\n19335 Q0 1082489 0\n1964316 U0 1964316_5 4\n"
    )
    assert list(read_qrels(qrels)) == [
        Qrel("19335", "1017759", 1, 1),
        Qrel("19335", "1082489", 0, 2),
        Qrel("1964316", "1964316_5", 4, 3),
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("19335 0 1017759", "4 columns 'qid iteration docid grade', got 3"),
        ("19335 0 1017759 1 extra", "got 5"),
        ("19335 0 1017759 high", "grade must be an integer, got 'high'"),
    ],
)
def test_qrels_errors_name_the_line(tmp_path: Path, bad: str, message: str) -> None:
    qrels = write(tmp_path / "q.txt", f"1 0 d 1\n{bad}\n")
    with pytest.raises(InputError, match=message) as info:
        list(read_qrels(qrels))
    assert info.value.line == 2


@pytest.fixture
def trec_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    topics = write(tmp_path / "topics.tsv", "1\tdo goldfish grow\n2\twhat is wifi\n")
    coll = write(
        tmp_path / "coll.tsv", "d1\tGoldfish grow.\nd2\tWi-Fi is radio.\nd1\tGoldfish grow.\n"
    )
    qrels = write(tmp_path / "qrels.txt", "1 0 d1 3\n2 0 d2 2\n2 0 d1 0\n")
    return qrels, topics, coll


def test_iter_trec_pairs_joins_by_docid(trec_files: tuple[Path, Path, Path]) -> None:
    qrels, topics, coll = trec_files
    pairs = list(iter_trec_pairs(qrels, topics, coll))
    assert pairs == [
        TrecPair("1", "d1", "do goldfish grow", "Goldfish grow.", 3),
        TrecPair("2", "d2", "what is wifi", "Wi-Fi is radio.", 2),
        TrecPair("2", "d1", "what is wifi", "Goldfish grow.", 0),
    ]
    # Loaded mappings work too (to share one collection across qrels files).
    assert list(iter_trec_pairs(qrels, read_topics(topics), read_collection(coll))) == pairs


def test_unknown_ids_name_the_qrels_line(
    trec_files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, topics, coll = trec_files
    bad_qid = write(tmp_path / "q1.txt", "1 0 d1 3\n9 0 d1 1\n")
    with pytest.raises(
        InputError, match=r"line 2, field 'qid': .*qid '9' is not in the topics file"
    ):
        list(iter_trec_pairs(bad_qid, topics, coll))
    bad_doc = write(tmp_path / "q2.txt", "1 0 d404 3\n")
    with pytest.raises(
        InputError, match=r"line 1, field 'docid': .*docid 'd404' is not in the collection"
    ):
        list(iter_trec_pairs(bad_doc, topics, coll))


@pytest.mark.data
def test_dl19_and_dl20(trec_dir: Path) -> None:
    for ds, n, grades in [
        ("dl19", 9260, {0: 4136, 1: 3137, 2: 1247, 3: 740}),
        ("dl20", 11386, {0: 6188, 1: 3363, 2: 1148, 3: 687}),
    ]:
        pairs = list(
            iter_trec_pairs(
                trec_dir / f"qrels.gpt-4o-umbrela.{ds}.txt",
                trec_dir / f"topics.{ds}.tsv",
                trec_dir / f"collection.{ds}.tsv",
            )
        )
        assert len(pairs) == n
        assert dict(Counter(p.grade for p in pairs)) == grades
        # MS MARCO's mojibake (UTF-8 read as Latin-1: "â\x80\x99" for ’) is kept as is.
        share = sum("â\x80" in p.doc for p in pairs) / n
        assert 0.10 < share < 0.30
    assert read_topics(trec_dir / "topics.dl19.tsv")["156493"] == "do goldfish grow"


@pytest.mark.data
def test_antique_human_qrels(antique_dir: Path) -> None:
    pairs = list(
        iter_trec_pairs(
            antique_dir / "qrels.human.txt",
            antique_dir / "topics.tsv",
            antique_dir / "collection.tsv",
        )
    )
    assert len(pairs) == 6589
    assert {p.grade for p in pairs} == {1, 2, 3, 4}
