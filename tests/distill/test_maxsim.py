"""Late interaction (MaxSim): the feature itself, the scoring path, and a student that reads it."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from distill_rows import graded_spec, make_rows, tiny_config

from judgecache.distill.build import build_student
from judgecache.distill.calibrate import Calibrator
from judgecache.distill.config import DistillConfig, LoraConfig
from judgecache.distill.data import labels_from_rows
from judgecache.distill.maxsim import content_mask, maxsim, pad_tokens
from judgecache.distill.model import PairEncoder, StudentModel
from judgecache.distill.pipeline import DistillResult, run_distill
from judgecache.distill.scoring import EmbeddingCache, encode_pairs, head_inputs
from judgecache.distill.student import (
    Predictor,
    StudentTeacher,
    export_merged,
    load_predictor,
    save_student,
)
from judgecache.errors import ConfigError, DistillationError

pytestmark = pytest.mark.distill

CPU = torch.device("cpu")


def _unit(*rows: list[float]) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def _score(q: torch.Tensor, d: torch.Tensor) -> float:
    (qp, qm), (dp, dm) = pad_tokens([q]), pad_tokens([d])
    return float(maxsim(qp, qm, dp, dm)[0])


def test_identical_token_sets_score_one_in_any_order() -> None:
    q = _unit([1, 0, 0], [0, 1, 0], [1, 1, 0])
    assert _score(q, q) == pytest.approx(1.0)
    assert _score(q, q.flip(0)) == pytest.approx(1.0)
    # Each query token's best match counts once, however many document tokens repeat it.
    assert _score(q, torch.cat([q, q, q])) == pytest.approx(1.0)


def test_score_is_the_mean_of_each_query_tokens_best_cosine() -> None:
    q = _unit([1, 0], [0, 1])
    d = _unit([1, 0], [0.6, -0.8])
    # Token 1 matches [1, 0] exactly; token 2's best is max(0, -0.8) = 0.
    assert _score(q, d) == pytest.approx(0.5)
    assert _score(d, q) == pytest.approx((1.0 + 0.6) / 2)  # not symmetric


def test_masked_tokens_are_ignored_on_both_sides() -> None:
    q = _unit([1, 0], [0, 1])
    d = _unit([1, 0], [0, 1], [0.6, 0.8])
    qp, qm = pad_tokens([q])
    dp, dm = pad_tokens([d])
    dm[0, :2] = False  # only [0.6, 0.8] is visible in the document
    assert float(maxsim(qp, qm, dp, dm)[0]) == pytest.approx((0.6 + 0.8) / 2)
    qm[0, 1] = False  # and only [1, 0] in the query
    assert float(maxsim(qp, qm, dp, dm)[0]) == pytest.approx(0.6)
    dm[0] = False  # nothing left to match
    assert float(maxsim(qp, qm, dp, dm)[0]) == 0.0


def test_padding_in_a_batch_does_not_change_a_pair() -> None:
    q, short, long = _unit([1, 0]), _unit([0.6, 0.8]), _unit([0, 1], [0, 1], [0, 1], [0.8, 0.6])
    alone = _score(q, short)
    qp, qm = pad_tokens([q, q])
    dp, dm = pad_tokens([short, long])
    together = maxsim(qp, qm, dp, dm)
    assert float(together[0]) == pytest.approx(alone) and float(together[1]) == pytest.approx(0.8)


def test_content_mask_drops_cls_sep_and_padding(tiny_bert: Path) -> None:
    from judgecache.distill.build import load_tokenizer

    pe = PairEncoder(load_tokenizer(tiny_bert), max_length=32, max_length_protected=16, protected=0)
    rows = pe.singles(["apple river", "tiger"], is_protected=False)
    batch = pe.pad(rows)
    keep = content_mask(batch.input_ids, batch.attention_mask, pe.special_ids)
    assert keep.tolist() == [[False, True, True, False], [False, True, False, False]]


@pytest.fixture(scope="module")
def fresh_student(tiny_bert: Path) -> tuple[StudentModel, PairEncoder]:
    model, tokenizer = build_student(tiny_bert, "bi", 4, LoraConfig(r=4, alpha=8), maxsim=True)
    model.eval()
    pe = PairEncoder(tokenizer, max_length=32, max_length_protected=16, protected=0)
    return model, pe


def test_encoder_maxsim_is_one_for_a_text_against_itself_and_respects_padding(
    fresh_student: tuple[StudentModel, PairEncoder],
) -> None:
    model, pe = fresh_student
    pairs = [
        ("what about apple", "what about apple"),
        ("what about apple", "river engine violin planet bread tiger winter copper"),
        ("what about apple", "the river"),
    ]
    encoded = encode_pairs(pe, "bi", pairs)
    with torch.no_grad():
        cos, extra = head_inputs(model, pe, encoded, CPU)
        _, alone = head_inputs(model, pe, encoded[2:], CPU)
        cached = EmbeddingCache()
        _, first = head_inputs(model, pe, encoded, CPU, cache=cached)
        _, again = head_inputs(model, pe, encoded, CPU, cache=cached)
    assert extra is not None and extra.shape == (3, 1)
    assert float(cos[0]) == pytest.approx(1.0, abs=1e-5)  # the pooled cosine rides along
    assert float(extra[0, 0]) == pytest.approx(1.0, abs=1e-5)
    assert float(extra[1, 0]) < 0.999 and float(extra[2, 0]) < 0.999
    # The short doc scores the same alone as padded beside a long one: padding is masked out.
    assert alone is not None and float(alone[0, 0]) == pytest.approx(float(extra[2, 0]), abs=1e-5)
    # The cache keeps the documents' token vectors: cached scores equal fresh ones.
    assert first is not None and again is not None
    assert torch.allclose(first, extra, atol=1e-6) and torch.allclose(again, extra, atol=1e-6)
    assert all(v.shape[0] > 1 for v in cached._data.values())


def test_maxsim_is_off_by_default_and_bi_only() -> None:
    assert DistillConfig().train.maxsim is False
    with pytest.raises(ConfigError, match=r"train\.maxsim needs architecture 'bi'"):
        DistillConfig.from_dict({"architecture": "cross", "train": {"maxsim": True}})
    with pytest.raises(ConfigError, match="maxsim"):
        DistillConfig.from_dict({"train": {"maxsim": "perhaps"}})


def test_a_student_saved_before_maxsim_existed_still_loads(tiny_bert: Path, tmp_path: Path) -> None:
    model, tokenizer = build_student(tiny_bert, "bi", 4, LoraConfig(r=4, alpha=8))
    model.eval()
    pe = PairEncoder(tokenizer, max_length=32, max_length_protected=16, protected=0)
    spec = graded_spec(tiny_bert, "old", 32, 16)
    save_student(tmp_path, model, tokenizer, spec, Calibrator("platt"), {"chosen": None})
    raw = json.loads((tmp_path / "student.json").read_text())
    del raw["maxsim"]  # what a student written before this option looks like
    (tmp_path / "student.json").write_text(json.dumps(raw))
    pairs = [("what about apple", "apple bread"), ("what about tiger", "winter copper")]
    loaded = load_predictor(tmp_path)
    assert loaded.spec.maxsim is False and loaded.model.head.n_extra == 0
    direct = Predictor(model, pe, spec, Calibrator("platt")).predict(pairs)
    assert np.allclose(loaded.predict(pairs).prob, direct.prob, atol=1e-5)
    # Claiming maxsim for a head fitted without it is refused by name, not a shape error.
    raw["maxsim"] = True
    (tmp_path / "student.json").write_text(json.dumps(raw))
    with pytest.raises(DistillationError, match=r"reads 0 extra features.*\['maxsim'\]"):
        load_predictor(tmp_path)


@dataclass
class MaxSimRun:
    result: DistillResult
    pairs: list[tuple[str, str]]


@pytest.fixture(scope="module")
def maxsim_student(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> MaxSimRun:
    out = tmp_path_factory.mktemp("maxsim-student")
    labels = labels_from_rows(make_rows(240, n_groups=10, seed=5), source="synthetic")
    cfg = tiny_config(tiny_bert, out, by="group", epochs=1).with_overrides(
        ["train.maxsim=true", "train.lexical=true"]
    )
    return MaxSimRun(run_distill(cfg, labels=labels), [(p.first, p.second) for p in labels.pairs])


def test_maxsim_student_fits_the_feature_and_saves_it(maxsim_student: MaxSimRun) -> None:
    m = maxsim_student.result.metrics
    out = maxsim_student.result.output
    assert m["train"]["maxsim"] is True and m["train"]["steps"] > 0
    init = m["train"]["student_head_init"]
    assert set(init) >= {"w_maxsim", "w_bm25"} and init["w_maxsim"] != 0.0
    spec = json.loads((out / "student.json").read_text())
    assert spec["maxsim"] is True
    assert spec["lexical"] == ["idf_coverage", "term_coverage", "bm25", "log_doc_len"]
    suffixes = {p.suffix for p in out.iterdir() if p.is_file()}
    assert suffixes <= {".json", ".jsonl", ".safetensors", ".md"}  # never a pickle


def test_maxsim_student_reloads_serves_and_quantizes_identically(
    maxsim_student: MaxSimRun, tmp_path: Path
) -> None:
    from judgecache.judges.rubric import get_rubric
    from judgecache.judges.spec import teacher_from_spec

    out = maxsim_student.result.output
    pairs = maxsim_student.pairs[:40]
    a = load_predictor(out)
    assert a.model.maxsim and a.model.head.n_extra == 5
    pa, pb = a.predict(pairs), load_predictor(out).predict(pairs)
    assert np.array_equal(pa.labels, pb.labels) and np.allclose(pa.prob, pb.prob, atol=1e-6)
    # Second call: documents come from the cache (pooled + token vectors), same answer.
    assert np.allclose(a.predict(pairs).logits, pa.logits, atol=1e-5)
    teacher = teacher_from_spec(f"student:{out}")
    assert isinstance(teacher, StudentTeacher)
    answers = teacher.judge_batch(
        get_rubric("relevance"), [{"query": q, "doc": d} for q, d in pairs]
    )
    assert [getattr(x, "label", None) for x in answers] == pa.labels.tolist()
    int8 = load_predictor(out, int8=True).predict(pairs)
    assert np.abs(pa.prob - int8.prob).max() < 0.1
    merged = export_merged(out, tmp_path / "merged")
    assert np.allclose(load_predictor(merged).predict(pairs).prob, pa.prob, atol=1e-5)
    # A spec that drops the feature the head was fitted with is refused, not misread.
    broken = tmp_path / "no-maxsim"
    shutil.copytree(out, broken)
    spec = json.loads((broken / "student.json").read_text())
    spec["maxsim"] = False
    (broken / "student.json").write_text(json.dumps(spec))
    with pytest.raises(DistillationError, match="reads 5 extra features"):
        load_predictor(broken)
