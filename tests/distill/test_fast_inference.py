"""The padding-free serving path: same numbers as the padded path, only faster.

Packed batches (rows laid end to end, attention run by run), token-budget batching and the
per-query MaxSim are checked against the padded path they replace, on a tiny BERT student whose
LoRA, head and lexical weights are all non-trivial, fp32 to 1e-5 and int8 within its tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from distill_rows import graded_spec, varied_pairs
from torch import nn

from judgecache.distill.build import build_student
from judgecache.distill.calibrate import Calibrator
from judgecache.distill.config import LoraConfig
from judgecache.distill.lexical import LexicalScorer
from judgecache.distill.maxsim import maxsim, maxsim_pairs, pad_tokens
from judgecache.distill.model import PackedBatch, PairEncoder, packable, packed_token_states
from judgecache.distill.scoring import (
    encode_pairs,
    head_inputs,
    token_budget_batches,
    use_packed,
)
from judgecache.distill.student import Predictor, load_predictor, save_student
from judgecache.errors import ConfigError

pytestmark = pytest.mark.distill

CPU = torch.device("cpu")


@dataclass
class Student:
    path: Path
    pairs: list[tuple[str, str]]


@pytest.fixture(scope="module")
def student(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Student:
    """A saved MaxSim + lexical student with random LoRA weights (the merge changes the encoder)."""
    out = tmp_path_factory.mktemp("fast-student")
    pairs = varied_pairs(120)
    lexical = LexicalScorer.fit(d for _, d in pairs)
    model, tokenizer = build_student(
        tiny_bert, "bi", 4, LoraConfig(r=4, alpha=8), lexical=lexical, maxsim=True
    )
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.encoder.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    model.eval()
    weights = torch.tensor([2.0, 0.7, 0.5, 0.3, -0.2])
    pe = PairEncoder(tokenizer, max_length=24, max_length_protected=16, protected=0)
    with torch.no_grad():
        cos, extra = head_inputs(model, pe, encode_pairs(pe, "bi", pairs, lexical), CPU)
        assert extra is not None
        score = 3.0 * cos + extra @ weights
    # Cuts at the score quartiles: every grade occurs, probabilities spread over (0, 1).
    cuts = torch.quantile(score, torch.tensor([0.25, 0.5, 0.75])).tolist()
    model.head.set_cuts(cuts, scale=3.0, extra_weight=weights.tolist())
    spec = graded_spec(tiny_bert, "fast", 24, 16, maxsim=True)
    save_student(out, model, tokenizer, spec, Calibrator("platt"), {"chosen": None})
    return Student(out, pairs)


def test_packed_batch_lays_rows_end_to_end_with_runs_of_equal_length() -> None:
    b = PackedBatch.of([[7, 8, 9], [4, 5, 6], [1, 2], [3]])
    assert b.input_ids.tolist() == [7, 8, 9, 4, 5, 6, 1, 2, 3]
    assert b.position_ids.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 0]
    assert b.runs == [(0, 2, 3), (6, 1, 2), (8, 1, 1)] and b.lengths == [3, 3, 2, 1]


def test_token_budget_batches_cover_each_row_once_in_length_order() -> None:
    lengths = [5, 1, 9, 3, 3, 12, 2]
    batches = token_budget_batches(lengths, 8)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)
    # Within budget, except a row longer than the budget, which goes alone.
    assert all(sum(lengths[i] for i in b) <= 8 or len(b) == 1 for b in batches)
    assert [5] in batches and token_budget_batches([], 8) == []


def test_packed_encoder_equals_the_padded_forward_row_by_row(student: Student) -> None:
    p = load_predictor(student.path, runtime="torch")
    assert packable(p.model.encoder)  # else this test would compare the padded path to itself
    rows = sorted({e.second for e in p.encode(student.pairs[:30])}, key=len)
    assert len({len(r) for r in rows}) > 5  # several runs, and padding in the padded batch
    with torch.no_grad():
        flat = packed_token_states(p.model.encoder, PackedBatch.of(rows))
        padded = p.pe.pad([list(r) for r in rows])
        ref = p.model.token_states(padded)
    parts = torch.split(flat, [len(r) for r in rows])
    for i, part in enumerate(parts):
        assert torch.allclose(part, ref[i, : len(rows[i])], atol=1e-5)


def test_fp32_packed_probabilities_equal_the_padded_ones(student: Student) -> None:
    p = load_predictor(student.path, runtime="torch")
    p.cache = None
    packed = p.predict(student.pairs)
    p.packed = False
    padded = p.predict(student.pairs)
    assert np.abs(packed.prob - padded.prob).max() < 1e-5
    assert np.abs(packed.logits - padded.logits).max() < 1e-5
    assert np.array_equal(packed.labels, padded.labels)
    # Probabilities and grades vary across pairs: equal outputs are no constant coincidence.
    assert np.ptp(padded.prob) > 0.3 and len(set(padded.labels.tolist())) >= 3


def test_packed_scores_do_not_depend_on_the_token_budget(student: Student) -> None:
    p = load_predictor(student.path, runtime="torch")
    p.cache = None
    p.max_tokens = 16  # many tiny batches (rows longer than 16 tokens go alone)
    small = p.predict(student.pairs).logits
    p.max_tokens = 100_000  # one batch
    assert np.abs(p.predict(student.pairs).logits - small).max() < 1e-5


def test_packed_path_with_the_embedding_cache_gives_the_same_scores(student: Student) -> None:
    p = load_predictor(student.path, runtime="torch")
    assert p.cache is not None
    first = p.predict(student.pairs)
    assert len(p.cache) > 0
    again = p.predict(student.pairs)  # every document's vectors come from the cache now
    p.cache, p.packed = None, False
    assert np.abs(again.logits - first.logits).max() < 1e-5
    assert np.abs(p.predict(student.pairs).logits - first.logits).max() < 1e-5


def test_int8_quantizes_in_place_and_packed_int8_stays_within_tolerance(student: Student) -> None:
    fp32 = load_predictor(student.path, runtime="torch").predict(student.pairs)
    q = load_predictor(student.path, int8=True, runtime="torch")
    # No float Linear left anywhere: the int8 model holds no fp32 copy of those weights.
    assert not any(type(m) is nn.Linear for m in q.model.modules())
    assert packable(q.model.encoder)
    packed = q.predict(student.pairs)
    q.cache, q.packed = None, False
    padded = q.predict(student.pairs)
    for got in (packed, padded):
        assert np.abs(got.prob - fp32.prob).max() < 0.1
        assert np.mean(got.labels == fp32.labels) >= 0.8


def test_training_keeps_the_padded_differentiable_path(tiny_bert: Path, student: Student) -> None:
    model, _ = build_student(tiny_bert, "bi", 4, LoraConfig(r=4, alpha=8), maxsim=True)
    assert not packable(model.encoder)  # the peft-wrapped encoder being trained
    loaded = load_predictor(student.path, runtime="torch")
    assert use_packed(loaded.model, True) is False  # autograd on: padded path
    with torch.no_grad():
        assert use_packed(loaded.model, True) and not use_packed(loaded.model, False)
    encoded = encode_pairs(loaded.pe, "bi", student.pairs[:6], loaded.model.lexical)
    for param in loaded.model.parameters():
        param.requires_grad_(True)
    score, extra = head_inputs(loaded.model, loaded.pe, encoded, CPU, packed=True)
    assert extra is not None
    (score.sum() + extra[:, 0].sum()).backward()  # cosine and MaxSim both differentiable
    grad = loaded.model.encoder.embeddings.LayerNorm.weight.grad  # type: ignore[union-attr]
    assert grad is not None and float(grad.abs().sum()) > 0
    loaded.model.train()
    assert not packable(loaded.model.encoder)


def test_maxsim_pairs_equals_padded_maxsim_including_empty_sides() -> None:
    g = torch.Generator().manual_seed(0)

    def unit(n: int) -> torch.Tensor:
        return nn.functional.normalize(torch.randn(n, 8, generator=g), dim=-1)

    queries = [unit(3), unit(0), unit(5)]
    docs = [unit(7), unit(1), unit(0), unit(12)]
    pairs = [(q, d) for q in range(3) for d in range(4)] + [(2, 3), (0, 0)]
    got = maxsim_pairs(queries, docs, pairs, block=2)
    for k, (qi, di) in enumerate(pairs):
        (q, qm), (d, dm) = pad_tokens([queries[qi]]), pad_tokens([docs[di]])
        assert float(got[k]) == pytest.approx(float(maxsim(q, qm, d, dm)[0]), abs=1e-6)
    assert float(got[pairs.index((1, 0))]) == 0.0 and float(got[pairs.index((0, 2))]) == 0.0


def test_predictor_built_directly_defaults_to_packed(student: Student) -> None:
    loaded = load_predictor(student.path, runtime="torch")
    direct = Predictor(loaded.model, loaded.pe, loaded.spec, loaded.calibrator)
    assert direct.packed and direct.max_tokens > 0
    assert np.allclose(direct.predict(student.pairs).prob, loaded.predict(student.pairs).prob)


def test_loaded_student_sits_on_the_device_asked_for(student: Student) -> None:
    # The Predictor sends its batches to ``device``: the loader must put the weights there too
    # (it left them on the CPU, and a CUDA predict crashed). "meta" stands in for a GPU here.
    p = load_predictor(student.path, device="meta", runtime="torch")
    assert p.device == torch.device("meta")
    assert {t.device.type for t in p.model.parameters()} == {"meta"}
    with pytest.raises(ConfigError, match="CPU-only"):
        load_predictor(student.path, int8=True, device="meta")


def test_student_spec_takes_device_and_batch_size_options(student: Student) -> None:
    from judgecache.judges.spec import teacher_from_spec

    teacher: Any = teacher_from_spec(f"student:{student.path}", device="meta", batch_size=8)
    assert teacher.predictor.device == torch.device("meta") and teacher.predictor.batch_size == 8
    with pytest.raises(
        ConfigError, match=r"valid options: \['int8', 'device', 'batch_size', 'memory', 'runtime'\]"
    ):
        teacher_from_spec(f"student:{student.path}", gpu=True)
