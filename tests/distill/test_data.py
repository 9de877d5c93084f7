"""Label loading, validation before training, and seeded, leak-free splits."""

from __future__ import annotations

from pathlib import Path

import pytest
from distill_rows import make_rows, write_jsonl

from judgecache.distill.config import DistillConfig
from judgecache.distill.data import (
    check_splits,
    group_of,
    labels_from_rows,
    load_labels,
    split_labels,
)
from judgecache.distill.pipeline import prepare
from judgecache.errors import DistillationError, InputError, InsufficientDataError

pytestmark = pytest.mark.distill


def test_load_jsonl_export(relevance_file: Path) -> None:
    ls = load_labels(relevance_file)
    assert len(ls) == 240
    assert ls.rubric.name == "relevance"
    assert str(ls.judge) == "replay:synthetic"
    assert ls.pairs[0].meta["qid"] == "0"


def test_label_outside_rubric_names_line_and_allowed(tmp_path: Path) -> None:
    rows = make_rows(20)
    rows[6]["label"] = 7
    with pytest.raises(InputError, match=r"line 7.*'label'.*allowed labels: \[0, 1, 2, 3\]"):
        load_labels(write_jsonl(tmp_path / "l.jsonl", rows))


def test_empty_text_names_line_and_field(tmp_path: Path) -> None:
    rows = make_rows(20)
    rows[2]["inputs"]["doc"] = "   "
    with pytest.raises(InputError, match=r"line 3.*inputs.doc.*empty"):
        load_labels(write_jsonl(tmp_path / "l.jsonl", rows))


def test_mixed_judge_identities_refused_unless_one_is_picked() -> None:
    rows = make_rows(20) + make_rows(
        10, judge={"provider": "openai", "model": "gpt-4o", "version": ""}
    )
    with pytest.raises(
        DistillationError,
        match=r"2 judge identities: replay:synthetic \(20\), openai:gpt-4o \(10\)",
    ):
        labels_from_rows(rows)
    assert len(labels_from_rows(rows, judge="openai:gpt-4o")) == 10


def test_wrong_task_refused() -> None:
    with pytest.raises(InputError, match="does not match the rubric's task 'faithfulness'"):
        labels_from_rows(make_rows(5), task="faithfulness")


def test_soft_score_must_be_a_probability() -> None:
    rows = make_rows(6, task="faithfulness")
    rows[1]["score"] = 1.7
    with pytest.raises(InputError, match=r"line 2.*'score'.*\[0, 1\]"):
        labels_from_rows(rows)
    rows[1]["score"] = 0.8
    assert labels_from_rows(rows).pairs[1].score == 0.8


def test_group_split_never_leaks_a_query() -> None:
    ls = labels_from_rows(make_rows(400, n_groups=10))
    splits = split_labels(ls, by="group", fractions={"val": 0.1, "calib": 0.2, "test": 0.2}, seed=3)
    seen: dict[str, str] = {}
    for name, part in splits.items():
        for p in part.pairs:
            q = group_of(p, ls.rubric)
            assert seen.setdefault(q, name) == name, f"query {q!r} in {seen[q]} and {name}"
    assert sum(len(s) for s in splits.values()) == 400


def test_test_seen_holds_documents_of_training_queries_only() -> None:
    ls = labels_from_rows(make_rows(400, n_groups=10))
    splits = split_labels(ls, fractions={"val": 0.1, "calib": 0.1, "test": 0.2}, test_seen=0.2)
    train_queries = {p.first for p in splits["train"].pairs}
    assert splits["test_seen"].pairs
    assert {p.first for p in splits["test_seen"].pairs} <= train_queries
    assert not {p.second for p in splits["test_seen"].pairs} & {
        p.second for p in splits["train"].pairs
    }


def test_split_is_seeded_and_pair_split_is_stratified() -> None:
    ls = labels_from_rows(make_rows(400))
    a = split_labels(ls, by="pair", seed=5)
    b = split_labels(ls, by="pair", seed=5)
    c = split_labels(ls, by="pair", seed=6)
    assert [p.second for p in a["test"].pairs] == [p.second for p in b["test"].pairs]
    assert [p.second for p in a["test"].pairs] != [p.second for p in c["test"].pairs]
    for label in range(4):
        share_all = sum(p.label == label for p in ls.pairs) / len(ls)
        share_test = sum(p.label == label for p in a["test"].pairs) / len(a["test"])
        assert abs(share_all - share_test) < 0.03


def test_too_few_examples_refused() -> None:
    ls = labels_from_rows(make_rows(40))
    splits = split_labels(ls, by="pair")
    with pytest.raises(InsufficientDataError, match=r"40 labelled examples; .* at least 50"):
        check_splits(splits, binary=False, min_examples=50)


def test_class_missing_from_a_split_refused() -> None:
    ls = labels_from_rows(make_rows(200, task="faithfulness"))
    # Make the calib split all-negative: move every positive out of it.
    splits = split_labels(ls, by="pair", seed=1)
    only_neg = splits["calib"].subset(p for p in splits["calib"].pairs if p.label == 0)
    with pytest.raises(
        InsufficientDataError, match=r"split 'calib' .* no binary examples of class \[1\]"
    ):
        check_splits({**splits, "calib": only_neg}, binary=True, min_examples=10)


def test_grade_missing_from_train_refused() -> None:
    ls = labels_from_rows([r for r in make_rows(300) if r["label"] != 1])
    splits = split_labels(ls, by="pair")
    with pytest.raises(InsufficientDataError, match=r"split 'train' .* class \[1\]"):
        check_splits(splits, binary=False, min_examples=10)


def test_missing_base_model_refused_before_anything(tmp_path: Path, relevance_file: Path) -> None:
    cfg = DistillConfig(
        labels=str(relevance_file), output=str(tmp_path / "o"), base_model=str(tmp_path / "nope")
    )
    with pytest.raises(DistillationError, match="not a local Hugging Face model directory"):
        prepare(cfg)
    assert not (tmp_path / "o").exists()


def test_unsupportable_target_refused_before_training(tmp_path: Path, tiny_bert: Path) -> None:
    rows = make_rows(120, task="faithfulness")
    cfg = DistillConfig(
        labels="",
        output=str(tmp_path / "o"),
        task="faithfulness",
        target="binary",
        base_model=str(tiny_bert),
    ).with_overrides(["threshold.target_precision=0.99", "split.min_examples=10"])
    with pytest.raises(InsufficientDataError, match="even a perfect student"):
        prepare(cfg, labels_from_rows(rows))
