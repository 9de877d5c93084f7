"""Truncation policy: the document/context is cut, the query/answer never is."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgecache.distill.build import build_student, load_tokenizer
from judgecache.distill.config import LoraConfig
from judgecache.distill.model import PairEncoder
from judgecache.distill.scoring import encode_pairs
from judgecache.errors import DistillationError, InputError

pytestmark = pytest.mark.distill


def test_bi_encoder_cuts_doc_and_keeps_query(tiny_bert: Path) -> None:
    tok = load_tokenizer(tiny_bert)
    pe = PairEncoder(tok, max_length=12, max_length_protected=4, protected=0)
    query = "what about apple and river and tiger"  # 7 tokens > max_length_protected
    doc = " ".join(["bread"] * 50)
    [e] = encode_pairs(pe, "bi", [(query, doc)])
    assert tok.decode(list(e.first), skip_special_tokens=True) == query
    assert (
        len(e.second) == 12
        and tok.decode(list(e.second), skip_special_tokens=True).split() == ["bread"] * 10
    )


def test_cross_encoder_keeps_answer_whole_and_cuts_context(tiny_bert: Path) -> None:
    tok = load_tokenizer(tiny_bert)
    pe = PairEncoder(tok, max_length=24, max_length_protected=24, protected=1)  # faithfulness
    context = " ".join(["garden"] * 100)
    answer = "claim tiger river apple"
    [e] = encode_pairs(pe, "cross", [(context, answer)])
    tokens = tok.convert_ids_to_tokens(list(e.joint))
    assert len(tokens) == 24
    sep = tokens.index("[SEP]")
    assert tokens[1:sep] == ["claim", "tiger", "river", "apple"]  # the answer, whole, first
    assert set(tokens[sep + 1 : -1]) == {"garden"}
    assert e.types[sep + 1] == 1


def test_overlong_query_is_refused_not_cut(tiny_bert: Path) -> None:
    tok = load_tokenizer(tiny_bert)
    pe = PairEncoder(tok, max_length=16, max_length_protected=8, protected=0)
    with pytest.raises(InputError, match="never truncated"):
        encode_pairs(pe, "cross", [(" ".join(["apple"] * 10), "bread")])


def test_unknown_lora_targets_are_named(tiny_bert: Path) -> None:
    with pytest.raises(DistillationError, match=r"\['qkv'\] are not linear layers.*'query'"):
        build_student(tiny_bert, "bi", 4, LoraConfig(target_modules=["qkv"]))
