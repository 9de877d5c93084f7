"""Fixtures for the distill tests: a tiny BERT built locally (never downloaded) and label files."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the distill extra (torch) is not installed")
transformers = pytest.importorskip("transformers", reason="the distill extra is not installed")
pytest.importorskip("peft", reason="the distill extra (peft) is not installed")

TOPICS = [
    "apple",
    "river",
    "engine",
    "violin",
    "planet",
    "bread",
    "tiger",
    "winter",
    "copper",
    "garden",
]
FILLER = ["the", "a", "of", "and", "is", "about", "with", "some", "text", "words", "here", "more"]


def _vocab() -> list[str]:
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return special + sorted(set(TOPICS + FILLER + ["what", "does", "say", "claim"]))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT with a WordPiece vocab of the test words, saved like a HF model."""
    from transformers import (  # type: ignore[attr-defined]
        BertConfig,
        BertModel,
        BertTokenizerFast,
    )

    root = tmp_path_factory.mktemp("tiny-bert")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(_vocab()) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab=str(vocab), do_lower_case=True)
    tok.model_max_length = 128
    tok.save_pretrained(str(root))
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(_vocab()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    BertModel(cfg, add_pooling_layer=False).save_pretrained(str(root))
    return root


def make_rows(
    n: int = 240,
    *,
    task: str = "relevance",
    seed: int = 0,
    n_groups: int = 10,
    judge: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A synthetic but learnable task: the grade is how much of the topic the doc mentions."""
    rng = random.Random(seed)
    judge = judge or {"provider": "replay", "model": "synthetic", "version": ""}
    rows = []
    for i in range(n):
        topic = TOPICS[i % n_groups]
        grade = rng.randrange(4)
        other = rng.choice([t for t in TOPICS if t != topic])
        words = [rng.choice(FILLER) for _ in range(rng.randrange(3, 9))]
        doc_words = [topic] * grade + [other] * (3 - grade) + words
        rng.shuffle(doc_words)
        doc = " ".join(doc_words)
        if task == "relevance":
            inputs = {"query": f"what about {topic}", "doc": doc}
            label: int = grade
        else:
            inputs = {
                "context": doc,
                "answer": f"claim {topic}" if grade >= 2 else f"claim {other}",
            }
            label = int(grade >= 2)
        rows.append(
            {
                "key": f"k{i}",
                "task": task,
                "rubric": task,
                "judge": judge,
                "inputs": inputs,
                "label": label,
                "score": None,
                "source": "import",
                "meta": {"qid": str(i % n_groups), "docid": f"d{i}"},
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def relevance_file(tmp_path: Path) -> Iterator[Path]:
    yield write_jsonl(tmp_path / "labels.jsonl", make_rows())
