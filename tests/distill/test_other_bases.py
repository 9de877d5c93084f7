"""Bases other than BERT: a student trains, saves and reloads on tiny DistilBERT, RoBERTa and
DeBERTa-v2 encoders built locally, with each architecture's default LoRA targets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from distill_rows import make_rows, tiny_config, tiny_vocab
from torch import nn

from judgecache.distill.data import labels_from_rows
from judgecache.distill.pipeline import prepare, run_distill
from judgecache.distill.student import load_predictor
from judgecache.stats import roc_auc

pytestmark = pytest.mark.distill

SIZE = {"num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def _distilbert(vocab: int) -> nn.Module:
    from transformers import DistilBertConfig, DistilBertModel

    return DistilBertModel(
        DistilBertConfig(
            vocab_size=vocab, dim=32, n_layers=2, n_heads=2, hidden_dim=64, pad_token_id=0
        )
    )


def _roberta(vocab: int) -> nn.Module:
    from transformers import RobertaConfig, RobertaModel

    # One segment row, as in the real RoBERTa: a pair's second segment must not index it.
    config = RobertaConfig(
        vocab_size=vocab,
        hidden_size=32,
        max_position_embeddings=130,
        pad_token_id=0,
        type_vocab_size=1,
        **SIZE,
    )
    return RobertaModel(config, add_pooling_layer=False)


def _deberta_v2(vocab: int) -> nn.Module:
    from transformers import DebertaV2Config, DebertaV2Model

    return DebertaV2Model(DebertaV2Config(vocab_size=vocab, hidden_size=32, pad_token_id=0, **SIZE))


ENCODERS: dict[str, tuple[Callable[[int], nn.Module], set[str]]] = {
    "distilbert": (_distilbert, {"q_lin", "v_lin"}),
    "roberta": (_roberta, {"query", "value"}),
    "deberta-v2": (_deberta_v2, {"query_proj", "value_proj"}),
}


@pytest.fixture(scope="module", params=list(ENCODERS))
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny encoder of one architecture with the test WordPiece tokenizer, saved like a HF model."""
    from transformers import BertTokenizerFast  # type: ignore[attr-defined]

    root = tmp_path_factory.mktemp(request.param)
    (root / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(root / "vocab.txt"), do_lower_case=True)
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(str(root))
    torch.manual_seed(0)
    ENCODERS[request.param][0](len(tiny_vocab())).save_pretrained(str(root))
    return root


@pytest.mark.parametrize("architecture", ["bi", "cross"])
def test_student_on_another_base_reloads_and_scores_as_evaluated(
    base: Path, architecture: str, tmp_path: Path
) -> None:
    labels = labels_from_rows(make_rows(240, n_groups=8), source="synthetic")
    cfg = tiny_config(base, tmp_path / "s", epochs=1).with_overrides(
        [f"architecture={architecture}"]
    )
    result = run_distill(cfg, labels=labels)
    model_type = json.loads((base / "config.json").read_text())["model_type"]
    adapter = json.loads((result.output / "adapter" / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == ENCODERS[model_type][1]
    # The reloaded student scores the held-out split exactly as the run evaluated it.
    test = prepare(cfg, labels).splits["test"].pairs
    probs = load_predictor(result.output).predict([(p.first, p.second) for p in test]).prob
    positive = np.array([p.label >= 2 for p in test])
    evaluated = result.metrics["eval"]["test"]["student"]["auc"]["value"]
    assert roc_auc(positive, probs) == pytest.approx(evaluated, abs=1e-6)
