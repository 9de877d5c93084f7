"""Fixtures for the distill tests: a tiny BERT built locally (never downloaded) and label files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from distill_rows import graded_spec, make_rows, tiny_vocab, write_jsonl

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


@pytest.fixture(scope="session")
def student_dir(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved (untrained) tiny bi-encoder student of the synthetic teacher."""
    import torch

    from judgecache.distill.build import build_student
    from judgecache.distill.calibrate import Calibrator
    from judgecache.distill.config import LoraConfig
    from judgecache.distill.student import save_student

    out = tmp_path_factory.mktemp("memory-student")
    torch.manual_seed(0)
    model, tokenizer = build_student(tiny_bert, "bi", 4, LoraConfig(r=4, alpha=8))
    model.head.set_cuts([0.2, 0.5, 0.8], scale=3.0)
    spec = graded_spec(tiny_bert, "mem", 24, 16)
    save_student(out, model, tokenizer, spec, Calibrator("platt"), {"chosen": None})
    return out
