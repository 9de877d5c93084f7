"""Fixtures for the distill tests: a tiny BERT built locally (never downloaded) and label files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from distill_rows import make_rows, tiny_vocab, write_jsonl

torch = pytest.importorskip("torch", reason="the distill extra (torch) is not installed")
transformers = pytest.importorskip("transformers", reason="the distill extra is not installed")
pytest.importorskip("peft", reason="the distill extra (peft) is not installed")


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
    vocab.write_text("\n".join(tiny_vocab()) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab=str(vocab), do_lower_case=True)
    tok.model_max_length = 128
    tok.save_pretrained(str(root))
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(tiny_vocab()),
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


@pytest.fixture
def relevance_file(tmp_path: Path) -> Iterator[Path]:
    yield write_jsonl(tmp_path / "labels.jsonl", make_rows())
