"""Faithfulness as entailment: evidence selection, claim splitting, NLI labels files, end to end."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from distill_rows import TOPICS, write_jsonl

from judgecache.distill.config import DistillConfig
from judgecache.distill.data import load_labels
from judgecache.distill.evidence import (
    EvidenceSettings,
    evidence_view,
    expand_claims,
    select_evidence,
    split_claims,
    weakest_claim,
)
from judgecache.errors import ConfigError, InputError

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "distill" / "faithfulness.yaml"
SOURCE = (
    "The council met on Monday to discuss the budget. "
    "Heavy rain flooded the lower town and closed the bridge. "
    "The mayor said repairs would cost four million euros. "
    "A new school opens in the autumn near the station."
)


def test_evidence_is_the_sentence_sharing_the_claims_rare_words() -> None:
    evidence = select_evidence(SOURCE, "Repairs will cost the town four million.", max_words=12)
    assert evidence == "The mayor said repairs would cost four million euros."


def test_evidence_keeps_source_order_and_the_word_budget() -> None:
    claim = "The bridge closed after rain, and a school opens near the station."
    evidence = select_evidence(SOURCE, claim, max_words=25)
    assert evidence == (
        "Heavy rain flooded the lower town and closed the bridge. "
        "A new school opens in the autumn near the station."
    )
    assert len(select_evidence(SOURCE, claim, max_words=5).split()) == 5


def test_a_short_source_is_kept_whole() -> None:
    assert select_evidence("Rain fell.", "It rained.", max_words=50) == "Rain fell."
    assert select_evidence(SOURCE, "anything", max_words=0) == SOURCE


def test_claims_are_sentences_and_fragments_join_their_neighbour() -> None:
    assert split_claims("Rain fell all day. Yes. The bridge is closed.") == [
        "Rain fell all day. Yes.",
        "The bridge is closed.",
    ]
    assert split_claims("one line without a stop") == ["one line without a stop"]
    # CNN/DM-style <t> tags mark sentences too.
    assert split_claims("<t> the mayor spoke today </t> <t> the bridge was closed </t>") == [
        "the mayor spoke today",
        "the bridge was closed",
    ]


def test_expand_claims_tracks_owners_and_weakest_claim_takes_the_minimum() -> None:
    pairs = [
        (SOURCE, "The council met on Monday. The bridge was closed by rain."),
        (SOURCE, "Rain."),
    ]
    view, owners = expand_claims(pairs, max_words=12)
    assert owners == [0, 0, 1]
    assert view[1] == (
        "Heavy rain flooded the lower town and closed the bridge.",
        "The bridge was closed by rain.",
    )
    logits = np.array([[1.5], [-0.5], [2.0]])
    assert weakest_claim(logits, owners, 2).ravel().tolist() == [-0.5, 2.0]


def test_evidence_view_training_keeps_the_answer_whole() -> None:
    settings = EvidenceSettings(max_words=12, split_claims=True)
    answer = "The council met on Monday. The bridge was closed by rain."
    train_view, owners = evidence_view([(SOURCE, answer)], settings, claims=False)
    assert owners is None and train_view[0][1] == answer
    assert len(train_view[0][0].split()) <= 12


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"evidence.max_words": -1}, "evidence.max_words must be >= 0"),
        ({"task": "relevance", "evidence.max_words": 50}, "applies to task 'faithfulness'"),
        ({"evidence.split_claims": True, "evidence.max_words": 0}, "needs evidence.max_words > 0"),
    ],
)
def test_evidence_config_errors_name_the_field(values: dict[str, object], message: str) -> None:
    base = DistillConfig(task="faithfulness", target="binary", architecture="cross")
    with pytest.raises(ConfigError, match=message):
        base.with_values(values)


def _nli_rows(n: int, seed: int = 0) -> list[dict[str, object]]:
    """Premises of several topic sentences; the hypothesis names a topic in it (1) or not (0)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n):
        topics = rng.sample(TOPICS, 4)
        premise = " ".join(f"the {t} is here with some words." for t in topics)
        supported = i % 2 == 0
        named = topics[0] if supported else rng.choice([t for t in TOPICS if t not in topics])
        labels = ["entailment", "neutral" if i % 4 == 1 else "contradiction"]
        rows.append(
            {
                "premise": premise,
                "hypothesis": f"the {named} is here.",
                "label": labels[0] if supported else labels[1],
                "dataset": "toy",
            }
        )
    return rows


def test_an_nli_file_loads_as_faithfulness_labels(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "toy_nli.jsonl", _nli_rows(8))  # type: ignore[arg-type]
    labels = load_labels(path)
    assert labels.rubric.task == "faithfulness" and str(labels.judge) == "dataset:toy_nli"
    assert [p.label for p in labels.pairs] == [1, 0] * 4
    assert labels.pairs[0].meta == {"dataset": "toy"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("label", "maybe", "line 3, field 'label': must be one of"),
        ("premise", "  ", "line 3, field 'premise': is missing, empty or not a string"),
        ("hypothesis", 7, "line 3, field 'hypothesis'"),
    ],
)
def test_bad_nli_rows_name_line_and_field(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    rows = _nli_rows(5)
    rows[2][field] = value
    path = write_jsonl(tmp_path / "nli.jsonl", rows)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=message):
        load_labels(path)


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("judgecache", path=str(Path(sys.executable).parent)) or "judgecache"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.distill
def test_distill_trains_a_claim_splitting_student_from_an_nli_file(
    tmp_path: Path, tiny_bert: Path
) -> None:
    from judgecache.distill.student import load_predictor

    labels = write_jsonl(tmp_path / "nli.jsonl", _nli_rows(240))  # type: ignore[arg-type]
    out = tmp_path / "student"
    run = _console(
        "distill", "--config", str(CONFIG), "--labels", str(labels), "--output", str(out),
        "--base-model", str(tiny_bert), "--no-progress", "--set", "split.min_examples=20",
        "--set", "train.max_length=48", "--set", "evidence.max_words=12",
        "--set", "train.eval_every=5", "--set", "train.patience=1", "--set", "eval.bootstrap=10",
        "--set", "train.init_examples=100", "--set", "lora.target_modules=[query,value]",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    spec = json.loads((out / "student.json").read_text())
    assert (spec["evidence_max_words"], spec["split_claims"]) == (12, True)
    assert spec["teacher"] == {"provider": "dataset", "model": "nli", "version": ""}
    assert "at most 12 words; each sentence of the answer is scored apart" in (
        out / "README.md"
    ).read_text(encoding="utf-8")

    # Serving splits the answer into claims: the pair scores as its weakest claim, each claim
    # read with its own evidence.
    predictor = load_predictor(out)
    source = _nli_rows(1, seed=3)[0]["premise"]
    assert isinstance(source, str)
    first, second = "the apple is here with words.", "the tiger is here with words."
    both = predictor.predict([(source, f"{first} {second}")])
    apart = predictor.predict([(source, first), (source, second)])
    assert both.logits[0, -1] == pytest.approx(apart.logits[:, -1].min(), abs=1e-5)


def test_distill_refuses_a_bad_nli_label_before_training(tmp_path: Path) -> None:
    rows = _nli_rows(30)
    rows[6]["label"] = 2  # numeric 3-way codes are ambiguous between datasets
    labels = write_jsonl(tmp_path / "nli.jsonl", rows)  # type: ignore[arg-type]
    run = _console(
        "distill", "--config", str(CONFIG), "--labels", str(labels),
        "--output", str(tmp_path / "o"), "--no-progress",
    )  # fmt: skip
    assert run.returncode == 1, run.stderr  # bad input data (3 is for configuration)
    assert "line 7" in run.stderr and "label" in run.stderr
    assert not (tmp_path / "o").exists()
