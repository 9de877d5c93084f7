"""The ONNX Runtime serving path: same scores as torch (fp32 to 1e-4, int8 within the int8
tolerance), for both architectures, exported once and read from the cache afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from distill_rows import graded_spec, varied_pairs

from judgecache.distill.build import build_student
from judgecache.distill.calibrate import Calibrator
from judgecache.distill.config import LoraConfig
from judgecache.distill.model import PairEncoder
from judgecache.distill.onnx_serving import (
    OnnxEncoder,
    cache_key,
    load_onnx_encoder,
    serving_runtime,
)
from judgecache.distill.scoring import encode_pairs, head_inputs
from judgecache.distill.student import (
    load_predictor,
    load_student_teacher,
    save_student,
    split_student_spec,
)
from judgecache.errors import ConfigError

pytest.importorskip("onnxruntime", reason="the ONNX serving path needs onnxruntime")

pytestmark = pytest.mark.distill

CPU = torch.device("cpu")
FP32_TOLERANCE = 1e-4
"""ONNX fp32 vs torch fp32, on probabilities and cumulative logits."""
INT8_TOLERANCE = 0.1
"""Either int8 path vs torch fp32 on probabilities (the torch int8 tests allow the same)."""


@dataclass
class Student:
    path: Path
    pairs: list[tuple[str, str]]


def _save(tiny_bert: Path, out: Path, architecture: str) -> Student:
    """A saved student with random LoRA, head and projection (every part changes the scores)."""
    pairs = varied_pairs(80)
    model, tokenizer = build_student(tiny_bert, architecture, 4, LoraConfig(r=4, alpha=8))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.encoder.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
        if model.proj is not None:
            model.proj.weight.normal_(0, 2.0)
    model.eval()
    pe = PairEncoder(tokenizer, max_length=24, max_length_protected=16, protected=0)
    with torch.no_grad():
        score, _ = head_inputs(model, pe, encode_pairs(pe, architecture, pairs), CPU)
    # Cuts at the score quartiles: every grade occurs, probabilities spread over (0, 1).
    scale = 2.0 / float(score.std())
    cuts = torch.quantile(score * scale, torch.tensor([0.25, 0.5, 0.75]))
    model.head.set_cuts(cuts.tolist(), scale=scale)
    spec = graded_spec(tiny_bert, f"onnx-{architecture}", 24, 16)
    spec.architecture = architecture
    save_student(out, model, tokenizer, spec, Calibrator("platt"), {"chosen": None})
    return Student(out, pairs)


@pytest.fixture(scope="module", params=["bi", "cross"])
def student(
    request: pytest.FixtureRequest, tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory
) -> Student:
    return _save(tiny_bert, tmp_path_factory.mktemp(f"onnx-{request.param}"), request.param)


def test_onnx_fp32_scores_equal_torch_fp32(student: Student) -> None:
    ref = load_predictor(student.path, runtime="torch").predict(student.pairs)
    onnx = load_predictor(student.path, runtime="onnx")
    assert onnx.runtime == "onnx" and isinstance(onnx.model.encoder, OnnxEncoder)
    got = onnx.predict(student.pairs)
    assert np.abs(got.prob - ref.prob).max() < FP32_TOLERANCE
    assert np.abs(got.logits - ref.logits).max() < FP32_TOLERANCE
    assert np.array_equal(got.labels, ref.labels)
    # Scores spread over pairs and grades: equal outputs are no constant coincidence.
    assert np.ptp(ref.prob) > 0.3 and len(set(ref.labels.tolist())) >= 3


def test_onnx_int8_stays_within_the_int8_tolerance(student: Student) -> None:
    ref = load_predictor(student.path, runtime="torch").predict(student.pairs)
    q = load_predictor(student.path, int8=True, runtime="onnx")
    got = q.predict(student.pairs)
    assert np.abs(got.prob - ref.prob).max() < INT8_TOLERANCE
    assert np.mean(got.labels == ref.labels) >= 0.8
    # It is the quantized graph: smaller than the fp32 one, and not bit-equal to it.
    fp32 = load_predictor(student.path, runtime="onnx")
    assert isinstance(q.model.encoder, OnnxEncoder) and isinstance(fp32.model.encoder, OnnxEncoder)
    assert q.model.encoder.path.stat().st_size < fp32.model.encoder.path.stat().st_size
    assert not np.array_equal(got.logits, fp32.predict(student.pairs).logits)


def test_export_is_cached_beside_the_student_and_reused(tiny_bert: Path, tmp_path: Path) -> None:
    s = _save(tiny_bert, tmp_path / "s", "bi")
    calls: list[int] = []

    def torch_encoder() -> Any:
        calls.append(1)
        return load_predictor(s.path, runtime="torch").model.encoder

    spec_version = load_predictor(s.path, runtime="torch").spec.version
    first = load_onnx_encoder(s.path, spec_version, "b", torch_encoder, int8=True)
    assert calls == [1]
    assert first.path == s.path / "onnx" / cache_key(spec_version, "b", True) / "encoder.onnx"
    again = load_onnx_encoder(s.path, spec_version, "b", torch_encoder, int8=True)
    assert calls == [1] and again.path == first.path  # read back: no second export
    # Another student version (other weights) or fp32 gets its own file.
    load_onnx_encoder(s.path, spec_version, "b", torch_encoder, int8=False)
    load_onnx_encoder(s.path, "other-version", "b", torch_encoder, int8=True)
    assert calls == [1, 1, 1] and len(list((s.path / "onnx").iterdir())) == 3
    assert not [p for p in (s.path / "onnx").iterdir() if p.name.startswith(".")]  # no temp left


def test_runtime_choice_and_its_errors() -> None:
    assert serving_runtime("auto", CPU) == "onnx"  # the measured faster one, when installed
    assert serving_runtime("torch", CPU) == "torch"
    assert serving_runtime("auto", torch.device("meta")) == "torch"
    with pytest.raises(ConfigError, match="CPU only"):
        serving_runtime("onnx", torch.device("meta"))
    with pytest.raises(ConfigError, match="one of auto, onnx, torch; got 'tensorrt'"):
        serving_runtime("tensorrt", CPU)


def test_spec_flag_picks_the_runtime_and_the_identity_says_which_int8(student: Student) -> None:
    assert split_student_spec("p?int8&runtime=onnx") == ("p", {"int8": "", "runtime": "onnx"})
    with pytest.raises(ConfigError, match="unknown flag 'runtime=gpu'"):
        split_student_spec("p?runtime=gpu")
    onnx = load_student_teacher(f"{student.path}?int8&runtime=onnx")
    torch_int8 = load_student_teacher(f"{student.path}?int8", runtime="torch")
    fp32 = load_student_teacher(str(student.path))
    assert onnx.predictor.runtime == "onnx" and torch_int8.predictor.runtime == "torch"
    assert onnx.identity.version.endswith("+int8-onnx")
    assert torch_int8.identity.version.endswith("+int8")
    assert fp32.predictor.runtime == "onnx" and "+" not in fp32.identity.version
    with pytest.raises(ConfigError, match="not both"):
        load_student_teacher(f"{student.path}?runtime=onnx", runtime="torch")
