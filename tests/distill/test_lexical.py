"""Lexical features: what they compute, their JSON round trip, and the head that reads them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from judgecache.distill.build import load_tokenizer
from judgecache.distill.lexical import FEATURES, LexicalScorer, words
from judgecache.distill.model import OrdinalHead, PairEncoder, StudentModel
from judgecache.distill.scoring import encode_pairs, extra_features
from judgecache.distill.train import fit_head, validation_metric
from judgecache.errors import DistillationError

pytestmark = pytest.mark.distill

DOCS = [
    "the tiger lives in the garden",
    "the river is cold in winter",
    "copper wire and the engine",
    "the violin and the bread",
]


def test_words_lowercases_and_splits_on_non_word_characters() -> None:
    assert words("Wi-Fi ROUTER's range") == ["wi", "fi", "router", "s", "range"]


def test_rare_terms_weigh_more_than_common_ones() -> None:
    lex = LexicalScorer.fit(DOCS)
    assert lex.term_idf("tiger") > lex.term_idf("the")
    assert lex.term_idf("never-seen") >= lex.term_idf("tiger")
    # "the tiger": the doc with the rare word covers most of the idf mass, the other only "the".
    with_rare = lex.features("the tiger", "a tiger sleeps")
    common_only = lex.features("the tiger", "the engine")
    assert with_rare[1] == common_only[1] == 0.5  # plain coverage cannot tell them apart
    assert with_rare[0] > 0.8 > 0.2 > common_only[0]
    assert with_rare[2] > common_only[2] > 0.0
    assert dict(zip(FEATURES, with_rare, strict=True))["log_doc_len"] == pytest.approx(math.log(4))


def test_bm25_saturates_with_repetition_and_empty_query_is_zero() -> None:
    lex = LexicalScorer.fit(DOCS)
    once, many = lex.features("tiger", "tiger x x x"), lex.features("tiger", "tiger tiger tiger x")
    assert once[2] < many[2] < (lex.k1 + 1)  # more mentions help, with a ceiling
    assert lex.features("?!", "tiger")[:3] == (0.0, 0.0, 0.0)


def test_json_round_trip_and_bad_tables_are_named(tmp_path: Path) -> None:
    lex = LexicalScorer.fit(DOCS)
    lex.save(tmp_path / "lexical.json")
    back = LexicalScorer.load(tmp_path / "lexical.json")
    pair = ("tiger in the river", "the tiger swims in a river")
    assert back.features(*pair) == pytest.approx(lex.features(*pair), abs=1e-5)
    data = json.loads((tmp_path / "lexical.json").read_text())
    data["features"] = ["bm25"]
    with pytest.raises(DistillationError, match="unsupported lexical features"):
        LexicalScorer.from_dict(data)
    del data["idf"]
    data["features"] = list(FEATURES)
    with pytest.raises(DistillationError, match=r"malformed lexical table.*idf"):
        LexicalScorer.from_dict(data)
    with pytest.raises(DistillationError, match="at least one training document"):
        LexicalScorer.fit([])


def test_features_use_the_whole_doc_though_the_encoder_cuts_it(tiny_bert: Path) -> None:
    lex = LexicalScorer.fit(DOCS)
    pe = PairEncoder(load_tokenizer(tiny_bert), max_length=8, max_length_protected=8, protected=0)
    doc = " ".join(["bread"] * 30 + ["tiger"])  # the only query word sits past the cut
    [e] = encode_pairs(pe, "bi", [("tiger", doc)], lex)
    assert len(e.second) == 8 and e.extra[1] == 1.0


def test_head_reads_extra_features_and_refuses_missing_ones() -> None:
    head = OrdinalHead(4, n_extra=2)
    head.set_cuts([0.0, 1.0, 2.0], 1.0, [2.0, -1.0])
    z = head(torch.tensor([0.5]), torch.tensor([[1.0, 1.0]]))
    assert z[0].tolist() == pytest.approx([1.5, 0.5, -0.5])
    with pytest.raises(DistillationError, match="needs 2 extra features"):
        head(torch.tensor([0.5]))


def test_fit_head_learns_a_lexical_signal_the_score_lacks() -> None:
    lex = LexicalScorer.fit(DOCS)
    model = StudentModel(torch.nn.Identity(), "bi", 2, 1, lexical=lex)
    g = torch.Generator().manual_seed(0)
    n = 400
    feats = torch.rand(n, generator=g)  # an uninformative score
    extra = torch.rand(n, len(FEATURES), generator=g)
    truth = (extra[:, 0] > 0.5).float()  # the label follows idf coverage
    info = fit_head(model, feats, extra, truth.unsqueeze(-1))
    assert info["w_idf_coverage"] > 5 * max(abs(info[f"w_{f}"]) for f in FEATURES[1:])
    z = model.head(feats, extra)[:, 0]
    assert validation_metric(truth.int().tolist(), z.detach().unsqueeze(-1), [0, 1]) > 0.95


def test_extra_features_name_the_pair_encoded_without_them(tiny_bert: Path) -> None:
    lex = LexicalScorer.fit(DOCS)
    model = StudentModel(torch.nn.Identity(), "bi", 2, 1, lexical=lex)
    pe = PairEncoder(load_tokenizer(tiny_bert), max_length=8, max_length_protected=8, protected=0)
    encoded = encode_pairs(pe, "bi", [("tiger", "the tiger")])  # no scorer given
    with pytest.raises(DistillationError, match="pair 0 carries 0 lexical features"):
        extra_features(model, encoded)


def test_binary_validation_metric_is_auc_not_kappa_at_one_half() -> None:
    # All logits below 0 (kappa at p >= 0.5 would be 0), but the ranking is perfect.
    logits = torch.tensor([[-3.0], [-2.0], [-1.5], [-1.0]])
    assert validation_metric([0, 0, 1, 1], logits, [0, 1]) == 1.0
    graded = validation_metric([0, 1, 2, 3], torch.tensor([[-1.0] * 3] * 4), [0, 1, 2, 3])
    assert graded == 0.0
