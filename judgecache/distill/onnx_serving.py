"""CPU serving of a student's encoder with ONNX Runtime (fp32 or dynamic int8).

The merged encoder (LoRA folded into the weights) is exported to ONNX once, fused with ONNX
Runtime's transformer optimizer where the architecture allows, optionally quantized to int8
(``onnxruntime.quantization.quantize_dynamic``), checked against torch on a probe batch, and
cached: in ``onnx/`` beside the student (or ``$JUDGECACHE_DIR/onnx`` when the student directory
is read-only), keyed by the student's version digest, its base and the recipe. Later loads read
the cached file and never load the torch encoder weights at all.

Only the encoder moves: :class:`OnnxEncoder` answers the call the student's encoder answers
(``encoder(input_ids=..., attention_mask=...).last_hidden_state``), so pooling, MaxSim, the
cross-encoder projection and the head run in torch as before, for both architectures. Needs the
``serve`` extra (``onnxruntime``, ``onnx``).

Example (with a student directory)::

    from judgecache.distill.student import load_predictor
    predictor = load_predictor("runs/relevance", int8=True, runtime="onnx")
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from judgecache.distill.bases import built_in_place
from judgecache.errors import ConfigError, DistillationError, MissingDependencyError

RECIPE = 1
"""Bump when the export recipe changes: cached files of an older recipe are rebuilt."""

OPSET = 17
PROBE_TOLERANCE = 1e-3
"""Largest |hidden state| difference allowed between the fp32 ONNX graph and torch at export."""

RUNTIMES = ("onnx", "torch")

CPU_DEFAULT = "onnx"
"""What ``runtime="auto"`` serves with on the CPU when onnxruntime is installed: the faster one
measured side by side (bench/student_speed.py, docs/benchmarks.md "ONNX Runtime serving")."""


@dataclass
class EncoderOutput:
    """What the student reads from an encoder call."""

    last_hidden_state: torch.Tensor


def require_onnxruntime() -> Any:
    """The onnxruntime module, or a MissingDependencyError naming the ``serve`` extra."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise MissingDependencyError("onnxruntime", "serve") from exc
    return onnxruntime


def serving_runtime(runtime: str, device: torch.device) -> str:
    """``onnx`` or ``torch`` for a load: ``auto`` is :data:`CPU_DEFAULT` on the CPU when
    onnxruntime is installed, torch otherwise (ONNX Runtime serves on the CPU only here).

    >>> serving_runtime("torch", torch.device("cpu"))
    'torch'
    >>> serving_runtime("auto", torch.device("meta"))
    'torch'
    """
    if runtime not in ("auto", *RUNTIMES):
        raise ConfigError(f"runtime must be one of auto, onnx, torch; got {runtime!r}")
    if runtime == "onnx":
        if device.type != "cpu":
            raise ConfigError(
                f"runtime 'onnx' serves on the CPU only; use device=cpu or runtime=torch "
                f"(device {device.type!r} asked for)"
            )
        require_onnxruntime()
        return "onnx"
    if runtime == "torch" or device.type != "cpu":
        return "torch"
    return CPU_DEFAULT if importlib.util.find_spec("onnxruntime") else "torch"


class OnnxEncoder(nn.Module):
    """An ONNX Runtime session behind the encoder's call signature (CPU, inference only).

    ``config`` is the encoder's Hugging Face config (the student reads its sizes from it).
    """

    def __init__(self, path: Path, config: Any, *, threads: int | None = None) -> None:
        super().__init__()
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        # The same thread budget torch would use: serving compares like with like.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        self.config = config
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> EncoderOutput:
        given = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": torch.zeros_like(input_ids)
            if token_type_ids is None
            else token_type_ids,
        }
        feed = {n: given[n].cpu().numpy() for n in self.input_names}
        (hidden,) = self.session.run(["last_hidden_state"], feed)
        return EncoderOutput(torch.from_numpy(hidden))


def cache_key(version: str, base: str, int8: bool) -> str:
    """The cached file's key: the student's files digest, its base, int8 or not, the recipe.

    >>> cache_key("0123abcd", "default", True) == cache_key("0123abcd", "default", False)
    False
    """
    text = json.dumps([version, base, int8, RECIPE, OPSET])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_encoder_dir(root: Path, key: str) -> Path:
    """``ROOT/onnx/KEY`` when the student directory is writable, else the per-user cache."""
    beside = root / "onnx"
    if os.access(root, os.W_OK) or (beside.is_dir() and os.access(beside, os.W_OK)):
        return beside / key
    from judgecache.store.naming import default_cache_dir

    return default_cache_dir() / "onnx" / key


def serving_encoder(
    root: Path,
    version: str,
    base: str,
    torch_encoder: Callable[[], nn.Module],
    *,
    int8: bool,
    runtime: str,
    device: torch.device,
) -> tuple[nn.Module, str]:
    """The encoder to serve with and the runtime it runs on (see :func:`serving_runtime`).

    With ``auto``, an encoder that does not export (an architecture the exporter or the probe
    check refuses) is served by torch, with a warning; an explicit ``onnx`` raises instead.
    """
    chosen = serving_runtime(runtime, device)
    if chosen == "torch":
        return torch_encoder(), "torch"
    try:
        return load_onnx_encoder(root, version, base, torch_encoder, int8=int8), "onnx"
    except (DistillationError, RuntimeError, torch.onnx.errors.OnnxExporterError) as exc:
        if runtime != "auto":
            raise
        warnings.warn(f"ONNX export failed, serving with torch: {exc}", stacklevel=3)
        return torch_encoder(), "torch"


def load_onnx_encoder(
    root: Path,
    version: str,
    base: str,
    torch_encoder: Callable[[], nn.Module],
    *,
    int8: bool,
) -> OnnxEncoder:
    """The student's encoder as an ONNX Runtime session, built on the first call and cached.

    ``torch_encoder`` loads the merged torch encoder; it is only called when nothing is cached.
    """
    require_onnxruntime()
    from transformers import AutoConfig

    where = cached_encoder_dir(root, cache_key(version, base, int8))
    if not (where / "encoder.onnx").is_file():
        export_encoder(torch_encoder(), where, int8=int8)
    config = AutoConfig.from_pretrained(str(where), local_files_only=True)
    return OnnxEncoder(where / "encoder.onnx", config)


def probe_batch(config: Any) -> dict[str, torch.Tensor]:
    """A small padded batch (two rows, one shorter) to export with and check the graph on."""
    vocab = int(getattr(config, "vocab_size", 100))
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, max(vocab, 6), (2, 12), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    batch = {"input_ids": ids, "attention_mask": mask}
    if int(getattr(config, "type_vocab_size", 0) or 0) > 1:
        types = torch.zeros_like(ids)
        types[:, 6:] = 1
        batch["token_type_ids"] = types
    return batch


class _Wrapped(nn.Module):
    """The encoder with positional inputs and one tensor out (what the exporter traces)."""

    def __init__(self, encoder: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.encoder = encoder
        self.names = names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.encoder(**dict(zip(self.names, inputs, strict=True)))[0]
        return out


def export_encoder(encoder: nn.Module, dest: Path, *, int8: bool) -> Path:
    """Export, fuse, check and (``int8``) quantize ``encoder`` into ``dest/encoder.onnx``.

    Written in a temporary folder and renamed into place: a reader never sees half a file, and
    two processes building at once both end with a complete copy.
    """
    require_onnxruntime()
    model: Any = encoder  # a transformers model: its config and attention switch are untyped
    config = model.config
    model.eval()
    # The eager attention exports as plain MatMul/Softmax, which ONNX Runtime's optimizer fuses
    # into one Attention op (the SDPA form is not recognised).
    if hasattr(model, "set_attn_implementation"):
        with contextlib.suppress(ValueError, ImportError):  # no eager form: keep its own
            model.set_attn_implementation("eager")
    probe = probe_batch(config)
    names = list(probe)
    with torch.no_grad():
        expected = encoder(**probe)[0]
    with built_in_place(dest, "encoder.onnx") as work:
        raw = work / "raw.onnx"
        dynamic = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
        with warnings.catch_warnings():
            # dynamo=False: the TorchScript exporter, deprecated in torch 2.9+ but working and
            # needing no onnxscript; the dynamo exporter needs onnxscript, not a dependency here.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Wrapped(encoder, names),
                tuple(probe[n] for n in names),
                str(raw),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,
            )
        fp32 = _fuse(raw, work / "fused.onnx", config)
        _check(fp32, probe, expected)
        final = fp32
        if int8:
            final = work / "int8.onnx"
            _quantize(fp32, final)
        final.rename(work / "encoder.onnx")
        for step in (raw, work / "fused.onnx"):
            step.unlink(missing_ok=True)
        config.to_json_file(str(work / "config.json"))
    return dest / "encoder.onnx"


def _fuse(src: Path, dst: Path, config: Any) -> Path:
    """ONNX Runtime's BERT fusions (attention, skip-layer-norm, bias-GELU) for BERT encoders."""
    if str(getattr(config, "model_type", "")) != "bert":
        return src  # other architectures: the session's own graph optimizations only
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(
        str(src),
        model_type="bert",
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        opt_level=1,
    )
    model.save_model_to_file(str(dst))
    return dst


def _check(path: Path, probe: dict[str, torch.Tensor], expected: torch.Tensor) -> None:
    """Refuse a graph whose fp32 hidden states differ from torch's on the probe batch."""
    ort = require_onnxruntime()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: probe[i.name].numpy() for i in session.get_inputs()}
    (got,) = session.run(["last_hidden_state"], feed)
    real = probe["attention_mask"].bool()
    diff = float((torch.from_numpy(got) - expected)[real].abs().max())
    if diff > PROBE_TOLERANCE:
        raise DistillationError(
            f"the ONNX export of this encoder differs from torch by {diff:.2g} (> "
            f"{PROBE_TOLERANCE}) on a probe batch; serve it with runtime='torch'"
        )


def _quantize(src: Path, dst: Path) -> None:
    """Dynamic int8: weights quantized once, activations per batch (no calibration data)."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs a "consider pre-processing" hint on every call; it is about static
    # quantization of vision models, not this.
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            # Fused ops (Attention, BiasGelu) carry no inferred output type: say it is float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        logger.setLevel(level)
