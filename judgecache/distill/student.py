"""The distilled student as a judge: same Teacher API, batched, with an int8 CPU path.

An artifact directory holds ``adapter/`` (peft LoRA weights), ``head.safetensors`` (the freshly
trained head and projection), ``tokenizer/``, ``student.json``, ``calibration.json``,
``thresholds.json`` and, when the head reads lexical features, ``lexical.json`` (their idf table)
-- JSON and safetensors only, never pickle. ``student.json``'s ``maxsim`` (absent = false in
students saved before it existed) says whether the head also reads the MaxSim feature. ``export_merged`` writes a
stand-alone copy with LoRA merged into the encoder weights (no peft or base model needed to load).

Example (with an artifact directory made by ``judgecache distill``)::

    from judgecache import Judge
    judge = Judge("student:runs/relevance", cache="memory://")   # or load_student_teacher(path)
    judge.score("what is a wifi router", "A router forwards packets ...").label
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.torch import load_file, save_file
from torch import nn

from judgecache.distill.calibrate import Calibrator
from judgecache.distill.evidence import EvidenceSettings, evidence_view, weakest_claim
from judgecache.distill.grade_cuts import apply_grade_cuts
from judgecache.distill.lexical import LexicalScorer
from judgecache.distill.memory import (
    FALLBACK_PATH,
    MEMORY_PATH,
    ONE_CLASS_CALIBRATION,
    QueryMemory,
)
from judgecache.distill.model import PairEncoder, StudentModel, resolve_base_model
from judgecache.distill.scoring import (
    PACK_TOKENS,
    EmbeddingCache,
    EncodedPair,
    encode_pairs,
    positive_index,
    predict_logits,
)
from judgecache.distill.train import labels_from_logits, resolve_device
from judgecache.envelope import Label
from judgecache.errors import ConfigError, DistillationError, InputError
from judgecache.judges.rubric import Rubric, get_rubric
from judgecache.judges.teacher import BatchTeacher, TeacherAnswer, valid_pairs
from judgecache.keys import JudgeIdentity

FORMAT = 1


@dataclass
class StudentSpec:
    """What ``student.json`` records: enough to rebuild and to describe the student."""

    name: str
    architecture: str
    rubric: str
    target: str
    labels: list[int]
    positive_from: int
    protected: int
    max_length: int
    max_length_protected: int
    base_model: str
    teacher: dict[str, str]
    version: str = ""
    merged: bool = False
    lexical: list[str] = field(default_factory=list)
    maxsim: bool = False
    evidence_max_words: int = 0
    split_claims: bool = False
    format: int = FORMAT

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> StudentSpec:
        if d.get("format") != FORMAT:
            raise DistillationError(f"{where}: unsupported student format {d.get('format')!r}")
        try:
            return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
        except TypeError as exc:
            raise DistillationError(f"{where}: incomplete student.json: {exc}") from exc


@dataclass
class Predictions:
    """Per pair: the label, the calibrated positive probability and the raw cumulative logits."""

    labels: NDArray[np.int64]
    prob: NDArray[np.float64]
    logits: NDArray[np.float64]


class Predictor:
    """Scores pairs with a student model: tokenize, length-sort, batch, head, calibrate, decide.

    ``packed`` (default) encodes a plain BERT without padding, ``max_tokens`` tokens a batch;
    ``packed=False`` is the padded path, ``batch_size`` rows a batch (same scores, slower).
    ``runtime`` records what runs the encoder: ``torch``, or ``onnx`` (ONNX Runtime, padded
    batches; see :mod:`judgecache.distill.onnx_serving`).
    """

    def __init__(
        self,
        model: StudentModel,
        encoder: PairEncoder,
        spec: StudentSpec,
        calibrator: Calibrator | None = None,
        threshold: float | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        cache_size: int = 20_000,
        grade_cuts: Sequence[float] | None = None,
        packed: bool = True,
        max_tokens: int = PACK_TOKENS,
        runtime: str = "torch",
    ) -> None:
        self.model = model
        self.runtime = runtime
        self.packed = packed
        self.max_tokens = max_tokens
        self.grade_cuts = list(grade_cuts) if grade_cuts else None
        self.pe = encoder
        self.spec = spec
        self.calibrator = calibrator
        self.threshold = threshold
        self.device = resolve_device(device)
        self.batch_size = batch_size
        # Document embeddings are reusable across queries only while the weights do not change.
        self.cache = (
            EmbeddingCache(cache_size) if cache_size and model.architecture == "bi" else None
        )
        self.pos = (
            positive_index(spec.labels, 1 if spec.target == "binary" else spec.positive_from) - 1
        )

    @property
    def evidence(self) -> EvidenceSettings:
        """How this student cuts (context, answer) pairs before reading them (faithfulness)."""
        return EvidenceSettings(self.spec.evidence_max_words, self.spec.split_claims)

    def claim_view(
        self, pairs: Sequence[tuple[str, str]]
    ) -> tuple[list[tuple[str, str]], list[int] | None]:
        """The pairs the encoder reads, and (claims split) which input pair each came from."""
        return evidence_view(pairs, self.evidence, claims=True)

    def encode(self, pairs: Sequence[tuple[str, str]]) -> list[EncodedPair]:
        """Tokenize with the truncation policy (raises InputError for an over-long query/answer)."""
        return encode_pairs(self.pe, self.model.architecture, pairs, self.model.lexical)

    def predict(self, pairs: Sequence[tuple[str, str]]) -> Predictions:
        """Labels, calibrated positive probabilities and cumulative logits, in input order."""
        view, owners = self.claim_view(pairs)
        return self.predict_encoded(self.encode(view), owners=owners, n_pairs=len(pairs))

    def predict_encoded(
        self,
        encoded: Sequence[EncodedPair],
        *,
        owners: Sequence[int] | None = None,
        n_pairs: int | None = None,
    ) -> Predictions:
        """Predictions for encoded pairs; with ``owners`` (claims), one per input pair."""
        if not encoded:
            empty = np.zeros(0)
            return Predictions(
                empty.astype(np.int64), empty, np.zeros((0, len(self.spec.labels) - 1))
            )
        logits = predict_logits(
            self.model,
            self.pe,
            encoded,
            self.device,
            batch_size=self.batch_size,
            cache=self.cache,
            packed=self.packed,
            max_tokens=self.max_tokens,
        )
        z = logits.numpy().astype(np.float64)
        if owners is not None:
            z = weakest_claim(z, owners, len(encoded) if n_pairs is None else n_pairs)
        return self.from_logits(z)

    def from_logits(self, logits: NDArray[Any]) -> Predictions:
        """Calibrate and decide from cumulative logits already computed."""
        z = np.asarray(logits, dtype=np.float64)
        pos_logit = z[:, self.pos]
        prob = self.calibrator.apply(pos_logit) if self.calibrator else 1 / (1 + np.exp(-pos_logit))
        if self.grade_cuts is not None and self.spec.target == "graded":
            labels = apply_grade_cuts(z, self.grade_cuts, self.spec.labels)
        else:
            labels = labels_from_logits(z, self.spec.labels)
        if self.threshold is not None and self.spec.target == "binary":
            labels = (prob >= self.threshold).astype(np.int64)
        return Predictions(labels, np.asarray(prob, dtype=np.float64), z)


def files_digest(paths: Sequence[Path]) -> str:
    """A short sha256 over files' bytes: the student's version (part of its cache identity)."""
    h = hashlib.sha256()
    for p in paths:
        if p.is_file():
            h.update(p.name.encode())
            with p.open("rb") as f:  # a base's weights can be hundreds of MB: stream them
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def save_student(
    out: Path,
    model: StudentModel,
    tokenizer: Any,
    spec: StudentSpec,
    calibrator: Calibrator,
    thresholds: Mapping[str, Any],
) -> StudentSpec:
    """Write adapter, head, tokenizer, calibration, thresholds and student.json; set the version."""
    out.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(str(out / "adapter"), safe_serialization=True)  # type: ignore[operator]
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in model.head_state().items()},
        str(out / "head.safetensors"),
    )
    tokenizer.save_pretrained(str(out / "tokenizer"))
    _write_json(out / "calibration.json", calibrator.to_dict())
    _write_json(out / "thresholds.json", dict(thresholds))
    if model.lexical is not None:
        model.lexical.save(out / "lexical.json")
        spec.lexical = list(model.lexical.names)
    spec.version = files_digest(
        [
            out / "adapter" / "adapter_model.safetensors",
            out / "head.safetensors",
            out / "calibration.json",
            out / "thresholds.json",
            out / "lexical.json",
        ]
    )
    _write_json(out / "student.json", spec.to_dict())
    return spec


def _write_json(path: Path, data: Any) -> None:
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DistillationError(f"cannot read {path}: {exc}") from exc


def load_predictor(
    path: str | Path,
    *,
    int8: bool = False,
    device: str = "cpu",
    batch_size: int = 64,
    runtime: str = "auto",
) -> Predictor:
    """Rebuild a student from its directory; LoRA is merged for inference, optionally int8.

    ``runtime``: ``onnx`` (ONNX Runtime, CPU only; the encoder is exported once and cached in
    the student directory), ``torch``, or ``auto`` (see :func:`~judgecache.distill.onnx_serving.serving_runtime`).
    """
    from judgecache.distill.build import load_tokenizer
    from judgecache.distill.onnx_serving import serving_encoder

    root = Path(path).expanduser()
    if not (root / "student.json").is_file():
        raise DistillationError(f"{root} is not a student directory (no student.json)")
    spec = StudentSpec.from_dict(_read_json(root / "student.json"), str(root / "student.json"))
    tokenizer = load_tokenizer(root / "tokenizer")
    target = resolve_device(device)
    if int8 and target.type != "cpu":
        raise ConfigError("the int8 path is CPU-only (dynamic quantization); use device=cpu")
    encoder, runtime = serving_encoder(
        root,
        spec.version,
        spec.base_model,
        lambda: merged_encoder(root, spec),
        int8=int8,
        runtime=runtime,
        device=target,
    )
    hidden = int(getattr(encoder.config, "hidden_size", 0) or getattr(encoder.config, "dim", 0))
    lexical = LexicalScorer.load(root / "lexical.json") if spec.lexical else None
    if lexical is not None and list(lexical.names) != list(spec.lexical):
        raise DistillationError(
            f"{root}: student.json names lexical features {spec.lexical}, lexical.json "
            f"computes {list(lexical.names)}"
        )
    model = StudentModel(
        encoder, spec.architecture, len(spec.labels), hidden, lexical=lexical, maxsim=spec.maxsim
    )
    _load_head(root, model)
    model.to(target)  # the Predictor feeds its batches to this device
    if int8 and runtime == "torch":
        _quantize_int8(model)
    calibrator = Calibrator.from_dict(_read_json(root / "calibration.json"))
    thresholds = _read_json(root / "thresholds.json")
    chosen = thresholds.get("chosen")
    pe = PairEncoder(
        tokenizer,
        max_length=spec.max_length,
        max_length_protected=spec.max_length_protected,
        protected=spec.protected,
    )
    threshold = float(chosen["threshold"]) if isinstance(chosen, Mapping) else None
    cuts = thresholds.get("grade_cuts")
    return Predictor(
        model,
        pe,
        spec,
        calibrator,
        threshold,
        device=device,
        batch_size=batch_size,
        grade_cuts=[float(c) for c in cuts] if cuts else None,
        runtime=runtime,
    )


def _load_head(root: Path, model: StudentModel) -> None:
    """Load ``head.safetensors`` after checking it reads the features the spec describes."""
    head = load_file(str(root / "head.safetensors"))
    saved = head.get("head.extra_weight")
    n_saved = 0 if saved is None else int(saved.numel())
    if n_saved != model.head.n_extra:
        raise DistillationError(
            f"{root}: head.safetensors reads {n_saved} extra features, student.json describes "
            f"{model.head.n_extra} ({model.extra_names}); check its 'maxsim' and 'lexical'"
        )
    model.load_head_state(head)
    model.eval()


def _quantize_int8(model: StudentModel) -> None:
    """torch's CPU int8 path: dynamic quantization of every Linear, in place."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # torch marks eager dynamic quantization deprecated (in favour of torchao, which is
        # not a dependency); it still works and is the CPU int8 path here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        # In place: swapping each Linear for its int8 version frees that fp32 weight, where
        # a copy would hold both models at once (the merged fp32 one is not needed again).
        quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)  # type: ignore[no-untyped-call]


def merged_encoder(root: Path, spec: StudentSpec) -> nn.Module:
    """The student's torch encoder with LoRA merged into its weights."""
    from judgecache.distill.build import load_encoder, quiet_peft

    if spec.merged:
        return load_encoder(root / "merged")
    from peft import PeftModel

    base = load_encoder(resolve_base_model(spec.base_model))
    with quiet_peft():
        merged: nn.Module = PeftModel.from_pretrained(
            base, str(root / "adapter")
        ).merge_and_unload()
    return merged


def export_merged(path: str | Path, out: str | Path) -> Path:
    """Write a stand-alone student with LoRA merged into the encoder (loads without peft/base)."""
    predictor = load_predictor(path, runtime="torch")
    root, dest = Path(path), Path(out)
    dest.mkdir(parents=True, exist_ok=True)
    predictor.model.encoder.save_pretrained(str(dest / "merged"), safe_serialization=True)  # type: ignore[operator]
    for name in (
        "head.safetensors",
        "calibration.json",
        "thresholds.json",
        "lexical.json",
        "metrics.json",
        "README.md",
    ):
        if (root / name).is_file():
            shutil.copy2(root / name, dest / name)
    shutil.copytree(root / "tokenizer", dest / "tokenizer", dirs_exist_ok=True)
    spec = predictor.spec
    spec.merged = True
    _write_json(dest / "student.json", spec.to_dict())
    return dest


class StudentTeacher(BatchTeacher):
    """A distilled student behind the Teacher API (so it can sit behind the cache or a cascade).

    Identity: ``student:<name>@<version>`` where the version hashes the adapter, head, calibration
    and thresholds (``+int8`` for the quantized path, whose scores differ slightly;
    ``+int8-onnx`` for ONNX Runtime's int8, which differs again; ONNX fp32 equals torch fp32).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        int8: bool = False,
        device: str = "cpu",
        batch_size: int = 64,
        memory: str | Path | None = None,
        runtime: str = "auto",
    ):
        self.path = Path(path)
        self.predictor = load_predictor(
            path, int8=int8, device=device, batch_size=batch_size, runtime=runtime
        )
        spec = self.predictor.spec
        self.rubric = get_rubric(spec.rubric)
        # A memory changes the answers (and keeps changing them as it grows): its own identity.
        quantized = "+int8" + ("-onnx" if self.predictor.runtime == "onnx" else "")
        suffix = (quantized if int8 else "") + ("+memory" if memory else "")
        self.identity = JudgeIdentity("student", spec.name, spec.version + suffix)
        self.taught_by = JudgeIdentity(
            spec.teacher.get("provider", ""),
            spec.teacher.get("model", ""),
            spec.teacher.get("version", "") or "",
        )
        """The teacher whose labels the student learned (and its memory reads)."""
        self.memory = self._open_memory(memory, device) if memory else None

    def _open_memory(self, memory: str | Path, device: str) -> QueryMemory:
        from judgecache.distill.memory import open_source
        from judgecache.distill.stored_embeddings import StoredEmbeddings, base_digest
        from judgecache.distill.text_embed import TextEmbedder
        from judgecache.store.naming import default_cache_dir

        spec = self.predictor.spec
        source = open_source(memory, self.taught_by, self.rubric)
        # Neighbours are compared with the untrained base: a bi-encoder trained for similarity.
        # Its vectors are kept on disk: a fresh process's memory would embed every label again.
        base = resolve_base_model(spec.base_model)
        digest = base_digest(base)
        root = default_cache_dir()
        embed = StoredEmbeddings(
            TextEmbedder.load(base, device=device), digest, root / "embeddings"
        )
        # So are the student's logits of the labelled documents (the memory's base scores): each
        # fresh process -- every dashboard refresh -- would score them all again. They change with
        # the student (its version and int8 suffix) and its base, so both key them.
        self._stored_logits = StoredEmbeddings(
            self._pair_logits, f"{self.identity.version}:{digest}", root / "student-logits"
        )
        return QueryMemory(source, embed, self._base_logits, self.rubric)

    def _base_logits(self, query: str, docs: Sequence[str]) -> NDArray[np.float64]:
        """The student's positive-class logit of each (query, doc): the memory's base score,
        read from the logits kept on disk where this student scored the pair before."""
        stored = self._stored_logits([json.dumps([query, d]) for d in docs])
        return np.asarray(stored[:, 0], dtype=np.float64)

    def _pair_logits(self, pairs: Sequence[str]) -> NDArray[np.float32]:
        """``(n, 1)`` positive-class logits of JSON ``[query, doc]`` pairs (the stored unit)."""
        decoded = [tuple(json.loads(p)) for p in pairs]
        logits = self.predictor.predict([(q, d) for q, d in decoded]).logits
        return np.asarray(logits[:, [self.predictor.pos]], dtype=np.float32)

    def prompt_material(self, rubric: Rubric) -> dict[str, Any]:
        # The student reads no prompt: only the task shape matters to its answer.
        return {
            "rubric": rubric.name,
            "task": rubric.task,
            "fields": list(rubric.fields),
            "labels": list(rubric.labels),
        }

    def _check(self, rubric: Rubric) -> None:
        if tuple(rubric.fields) != tuple(self.rubric.fields) or rubric.task != self.rubric.task:
            raise ConfigError(
                f"student {self.identity} was trained for task {self.rubric.task!r} "
                f"(fields {list(self.rubric.fields)}), not {rubric.task!r}"
            )

    def _label(self, value: int) -> Label:
        spec = self.predictor.spec
        if spec.target == "binary" and self.rubric.graded:
            # A binary student on a graded rubric answers with the rubric's lowest/positive labels.
            return self.rubric.positive_from if value else self.rubric.labels[0]
        return int(value)

    def judge_batch(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[TeacherAnswer | BaseException]:
        self._check(rubric)
        out, good, pairs = valid_pairs(rubric, batch)
        view, owners = self.predictor.claim_view(pairs)
        try:
            encoded = self.predictor.encode(view)
        except InputError:
            # Some query/answer is too long to keep whole: find which, judge the rest.
            encoded = []
            kept: list[int] = []
            kept_owners: list[int] = []
            for i, pair in zip(good, pairs, strict=True):
                sub, _ = self.predictor.claim_view([pair])
                try:
                    encoded.extend(self.predictor.encode(sub))
                    kept_owners.extend([len(kept)] * len(sub))
                    kept.append(i)
                except InputError as exc:
                    out[i] = exc
            good = kept
            owners = kept_owners if owners is not None else None
        preds = self.predictor.predict_encoded(encoded, owners=owners, n_pairs=len(good))
        for j, i in enumerate(good):
            probs = (1 / (1 + np.exp(-preds.logits[j]))).round(6).tolist()
            raw = json.dumps({"p_at_least": probs, "p_positive": round(float(preds.prob[j]), 6)})
            out[i] = TeacherAnswer(
                label=self._label(int(preds.labels[j])),
                raw_output=raw,
                score=float(preds.prob[j]),
                model_answered=str(self.identity),
            )
        if self.memory is not None:
            self._with_memory(self.memory, batch, good, preds, out)
        return out

    def _with_memory(
        self,
        memory: QueryMemory,
        batch: Sequence[Mapping[str, str]],
        good: Sequence[int],
        preds: Predictions,
        out: list[TeacherAnswer | BaseException],
    ) -> None:
        """Answer from the memory where it can; elsewhere keep the student's answer, and say so."""
        first, second = self.rubric.fields[0], self.rubric.fields[1]
        by_query: dict[str, list[int]] = {}
        for j, i in enumerate(good):
            by_query.setdefault(batch[i][first], []).append(j)
        for query, rows in by_query.items():
            docs = [batch[good[j]][second] for j in rows]
            base = preds.logits[rows, self.predictor.pos]
            ans = memory.predict(query, docs, base=base)
            for r, j in enumerate(rows):
                i = good[j]
                student = out[i]
                assert isinstance(student, TeacherAnswer)
                if not ans.used[r] and not ans.recalibrated[r]:
                    why = f"fallback to the student: {ans.why[r]}"
                    out[i] = replace(student, reason=why, meta={"path": FALLBACK_PATH, "why": why})
                    continue
                if not ans.used[r]:
                    # One class / one label in memory: the student's label, its probability
                    # recalibrated for such queries (the memory's one-class map).
                    why = f"fallback to the student: {ans.why[r]}"
                    prob = float(ans.prob[r])
                    student_p = round(float(preds.prob[j]), 6)
                    out[i] = replace(
                        student,
                        raw_output=json.dumps(
                            {
                                "path": FALLBACK_PATH,
                                "p_positive": round(prob, 6),
                                "student_p_positive": student_p,
                            }
                        ),
                        score=prob,
                        reason=why,
                        meta={
                            "path": FALLBACK_PATH,
                            "calibration": ONE_CLASS_CALIBRATION,
                            "why": why,
                        },
                    )
                    continue
                prob = float(ans.prob[r])
                why = f"memory: {ans.why[r]}"
                raw = json.dumps(
                    {
                        "path": MEMORY_PATH,
                        "p_at_least": ans.p_at_least[r].round(6).tolist(),
                        "p_positive": round(prob, 6),
                        "student_p_positive": round(float(preds.prob[j]), 6),
                    }
                )
                out[i] = replace(
                    student,
                    label=int(ans.labels[r]),
                    raw_output=raw,
                    score=prob,
                    reason=why,
                    meta={"path": MEMORY_PATH, "why": why},
                )


def load_student_teacher(
    path: str | Path,
    *,
    int8: bool = False,
    device: str = "cpu",
    batch_size: int = 64,
    memory: str | Path | None = None,
    runtime: str | None = None,
) -> StudentTeacher:
    """The ``student:PATH`` spec: a distilled student directory as a Teacher.

    Spec flags after ``?``: ``int8``, ``runtime=onnx|torch`` and ``memory=URL_OR_FILE`` (last:
    the URL may hold ``?`` or ``&``), e.g. ``student:runs/rel?int8&runtime=torch&memory=...``.
    Options: ``int8`` (CPU only), ``runtime`` (``auto``: ONNX Runtime on the CPU when installed),
    ``device`` (``cpu``, ``cuda``, ``auto``), ``batch_size``, ``memory`` (a cache URL or labels
    file of the student's own teacher: see :mod:`judgecache.distill.memory`), e.g.
    ``Judge("student:runs/relevance", options={"device": "cuda"})``.
    """
    text, flags = split_student_spec(str(path))
    if "runtime" in flags and runtime is not None and runtime != flags["runtime"]:
        raise ConfigError(f"student:{path}: give the runtime in the spec or as runtime=, not both")
    if "memory" in flags:
        if memory is not None:
            raise ConfigError(
                f"student:{path}: give the memory in the spec or as memory=, not both"
            )
        memory = flags["memory"]
    return StudentTeacher(
        text,
        int8=int8 or "int8" in flags,
        device=device,
        batch_size=batch_size,
        memory=memory,
        runtime=flags.get("runtime") or runtime or "auto",
    )


def split_student_spec(text: str) -> tuple[str, dict[str, str]]:
    """``PATH?int8&memory=URL`` -> ``(PATH, {"int8": "", "memory": URL})``.

    >>> split_student_spec("runs/rel?int8&memory=redis://h:6379/0?x=1")
    ('runs/rel', {'memory': 'redis://h:6379/0?x=1', 'int8': ''})
    >>> split_student_spec("runs/rel?runtime=torch")
    ('runs/rel', {'runtime': 'torch'})
    >>> split_student_spec("runs/rel?fast")
    Traceback (most recent call last):
    ...
    judgecache.errors.ConfigError: student:runs/rel?fast: unknown flag 'fast'; valid: int8, runtime=onnx|torch, memory=URL_OR_FILE
    """
    path, sep, rest = text.partition("?")
    flags: dict[str, str] = {}
    if not sep:
        return path, flags
    head, found, memory = rest.partition("memory=")
    if found:
        if not memory:
            raise ConfigError(f"student:{text}: memory= needs a cache URL or labels file")
        flags["memory"] = memory
    for flag in (f for f in head.split("&") if f):
        name, _, value = flag.partition("=")
        if flag == "int8" or (name == "runtime" and value in ("onnx", "torch")):
            flags[name] = value
            continue
        raise ConfigError(
            f"student:{text}: unknown flag {flag!r}; valid: int8, runtime=onnx|torch, "
            "memory=URL_OR_FILE"
        )
    return path, flags
