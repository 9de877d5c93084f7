"""Distillation settings: plain dataclasses loaded from YAML with ``safe_load``.

Unknown keys are an error that lists the valid ones; ``section.key=value`` overrides (values parsed
as YAML) let the CLI change any field without editing the file.

Example:
    >>> cfg = DistillConfig.from_dict({"labels": "l.jsonl", "output": "out", "train": {"epochs": 2}})
    >>> cfg = cfg.with_overrides(["train.lr=0.001", "lora.r=4"])
    >>> cfg.train.epochs, cfg.train.lr, cfg.lora.r, cfg.lora.alpha
    (2, 0.001, 4, 32)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from judgecache.errors import ConfigError

ARCHITECTURES = ("bi", "cross")
TARGETS = ("graded", "binary")
SPLIT_BY = ("group", "pair")
CALIBRATION_METHODS = ("auto", "platt", "temperature", "isotonic", "none")
GATE_BASELINES = ("zero_shot", "zero_shot_cuts")


@dataclass
class SplitConfig:
    """How labels are divided. ``by: group`` keeps every pair of one query (or source) together.

    ``group_field`` is ``auto`` (relevance: the query text; faithfulness: the context text), an
    input field name, or ``meta.<name>`` (e.g. ``meta.qid``). ``test_seen`` carves held-out pairs
    out of the training groups, to measure agreement on unseen documents of seen queries.
    ``max_val_examples`` / ``max_eval_examples`` (0: all) subsample the validation split and the
    calib/test splits, seeded, to bound evaluation time on a CPU.
    """

    by: str = "group"
    group_field: str = "auto"
    val: float = 0.1
    calib: float = 0.15
    test: float = 0.15
    test_seen: float = 0.0
    seed: int = 13
    min_examples: int = 50
    max_val_examples: int = 1000
    max_eval_examples: int = 0


@dataclass
class LoraConfig:
    """LoRA adapter shape. ``target_modules: null`` picks the defaults of the base architecture.

    ``layers`` (layer indices, null: all) limits the adapters to some layers: with only the top
    layers adapted, back-propagation stops there and a training step costs much less.
    """

    r: int = 16
    alpha: int = 32
    dropout: float = 0.1
    target_modules: list[str] | None = None
    layers: list[int] | None = None


@dataclass
class TrainConfig:
    """Optimisation. ``max_length_first``/``_second`` cap each side; only the doc/context is cut.

    ``lexical: true`` gives the head lexical features of the pair beside the model's score
    (query-term coverage, BM25 with idf from the training documents, document length; see
    :mod:`judgecache.distill.lexical`), fitted with the head before any LoRA step.
    ``maxsim: true`` (bi only) also gives it the late-interaction score of the encoder's token
    vectors (:mod:`judgecache.distill.maxsim`), fitted the same way and adapted by LoRA.
    ``pairwise: W`` (W > 0) trains on batches of one query's pairs and adds W times a RankNet loss
    (a better-labelled document of the query should score higher) to the pointwise loss.
    """

    epochs: int = 1
    batch_size: int = 32
    lr: float = 3e-4
    head_lr: float = 1e-2
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    max_length: int = 256
    max_length_protected: int = 64
    seed: int = 13
    threads: int = 0
    device: str = "auto"
    eval_every: int = 0
    patience: int = 3
    max_train_examples: int = 0
    checkpoint_every: int = 0
    init_examples: int = 2000
    progress: bool = True
    lexical: bool = False
    maxsim: bool = False
    pairwise: float = 0.0


@dataclass
class EvidenceConfig:
    """Faithfulness only: cut each source to the sentences a claim rests on (SummaC-style).

    ``max_words`` (0: off) bounds the evidence kept from the context; ``split_claims`` scores each
    sentence of the answer apart and keeps the weakest (see :mod:`judgecache.distill.evidence`).
    """

    max_words: int = 0
    split_claims: bool = False


@dataclass
class CalibrationConfig:
    """``auto``: Platt below ``isotonic_min`` held-out labels, isotonic at or above it.

    ``grade_cuts: true`` (graded targets) decides grades by cutting the expected grade at points
    fitted on the calib split for weighted kappa (see :mod:`judgecache.distill.grade_cuts`)
    instead of taking the median grade; the zero-shot baseline is then also reported with it.
    """

    method: str = "auto"
    isotonic_min: int = 1000
    grade_cuts: bool = False


@dataclass
class ThresholdConfig:
    """A precision or recall target met by a one-sided lower confidence bound (or neither)."""

    target_precision: float | None = None
    target_recall: float | None = None
    confidence: float = 0.95


@dataclass
class EvalConfig:
    """Bootstrap resamples for intervals; optional TREC human qrels joined on ``meta.qid/docid``.

    ``fail_if_worse_than`` (``zero_shot`` or ``zero_shot_cuts``; null: no gate) makes the run fail
    after saving when the student is degenerate (one answer for every pair) or scores below that
    baseline on the held-out test split, so a scheduled retrain cannot ship it.
    """

    bootstrap: int = 1000
    human_qrels: list[str] = field(default_factory=list)
    fail_if_worse_than: str | None = None


@dataclass
class DistillConfig:
    """Everything one ``judgecache distill`` run needs.

    ``train_extra`` (a labels file or cache URL of the same teacher) adds labels to the training
    split only: never split, validated on or evaluated on -- e.g. another collection's queries.
    """

    labels: str = ""
    train_extra: str = ""
    output: str = ""
    judge: str | None = None
    task: str = "relevance"
    target: str = "graded"
    base_model: str = "default"
    architecture: str = "bi"
    name: str | None = None
    split: SplitConfig = field(default_factory=SplitConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check allowed values; raise :class:`ConfigError` naming the field."""
        _choice("architecture", self.architecture, ARCHITECTURES)
        _choice("target", self.target, TARGETS)
        _choice("split.by", self.split.by, SPLIT_BY)
        _choice("calibration.method", self.calibration.method, CALIBRATION_METHODS)
        if self.eval.fail_if_worse_than is not None:
            _choice("eval.fail_if_worse_than", self.eval.fail_if_worse_than, GATE_BASELINES)
        fracs = {k: getattr(self.split, k) for k in ("val", "calib", "test", "test_seen")}
        for k, v in fracs.items():
            if not 0.0 <= v < 1.0:
                raise ConfigError(f"split.{k} must be in [0, 1), got {v}")
        if fracs["val"] + fracs["calib"] + fracs["test"] >= 0.9:
            raise ConfigError("split.val + split.calib + split.test must leave >= 10% to train")
        for k in ("target_precision", "target_recall"):
            v = getattr(self.threshold, k)
            if v is not None and not 0.0 < v < 1.0:
                raise ConfigError(f"threshold.{k} must be in (0, 1), got {v}")
        if self.threshold.target_precision is not None and self.threshold.target_recall is not None:
            raise ConfigError("set threshold.target_precision or threshold.target_recall, not both")
        if not 0.5 <= self.threshold.confidence < 1.0:
            raise ConfigError(
                f"threshold.confidence must be in [0.5, 1), got {self.threshold.confidence}"
            )
        positive = {
            "lora.r": self.lora.r,
            "lora.alpha": self.lora.alpha,
            "train.epochs": self.train.epochs,
            "train.batch_size": self.train.batch_size,
            "train.max_length": self.train.max_length,
            "train.max_length_protected": self.train.max_length_protected,
        }
        for k, v in positive.items():
            if v <= 0:
                raise ConfigError(f"{k} must be positive, got {v}")
        if self.train.lr <= 0 or self.train.head_lr <= 0:
            raise ConfigError("train.lr and train.head_lr must be positive")
        if not self.train.pairwise >= 0:
            raise ConfigError(f"train.pairwise must be >= 0, got {self.train.pairwise}")
        if self.evidence.max_words < 0:
            raise ConfigError(f"evidence.max_words must be >= 0, got {self.evidence.max_words}")
        if (self.evidence.max_words or self.evidence.split_claims) and self.task != "faithfulness":
            raise ConfigError(
                f"evidence.* applies to task 'faithfulness' (a context and its answer), "
                f"not {self.task!r}"
            )
        if self.evidence.split_claims and not self.evidence.max_words:
            raise ConfigError("evidence.split_claims needs evidence.max_words > 0")
        if self.train.maxsim and self.architecture != "bi":
            raise ConfigError(
                f"train.maxsim needs architecture 'bi' (token vectors of each side), "
                f"not {self.architecture!r}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> DistillConfig:
        """Build from a mapping; unknown keys raise :class:`ConfigError` listing the valid ones."""
        built: DistillConfig = _build(cls, data, source, "")
        return built

    @classmethod
    def from_yaml(cls, path: str | Path) -> DistillConfig:
        """Load a YAML file (``safe_load``); relative ``labels``/``output`` stay as written."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read distill config: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a distill config must be a YAML mapping")
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON/YAML-able dict."""
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: Iterable[str]) -> DistillConfig:
        """Apply ``a.b=value`` strings (``--set``; values parsed as YAML: ``2``, ``null``, ``[q, v]``)."""
        values: dict[str, Any] = {}
        for item in overrides:
            dotted, sep, raw = item.partition("=")
            if not sep or not dotted:
                raise ConfigError(f"override {item!r} must look like section.key=value")
            try:
                values[dotted] = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise ConfigError(f"override {item!r}: value is not valid YAML: {exc}") from exc
        return self.with_values(values)

    def with_values(self, values: Mapping[str, Any]) -> DistillConfig:
        """Set ``{"a.b": value}`` fields to these values as they are (no string round trip).

        >>> DistillConfig().with_values({"output": "2024", "train.epochs": 3}).output
        '2024'
        """
        data = self.to_dict()
        for dotted, value in values.items():
            node = data
            parts = dotted.split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"override {dotted!r}: {part!r} is not a config section")
                node = node[part]
            node[parts[-1]] = value
        return DistillConfig.from_dict(data, source="overrides")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {list(allowed)}, got {value!r}")


def _build(cls: type[Any], data: Mapping[str, Any], source: str, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping")
    hints = get_type_hints(cls)
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        where = prefix.rstrip(".") or "top level"
        raise ConfigError(f"{source}: unknown keys {unknown} at {where}; valid keys: {valid}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value or {}, source, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, hint, f"{prefix}{name}", source)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def _coerce(value: Any, hint: Any, name: str, source: str) -> Any:
    text = str(hint)
    if value is None:
        if "None" in text:
            return None
        raise ConfigError(f"{source}: {name} must not be null")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {name} must be true or false, got {value!r}")
        return value
    if hint is int or text == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {name} must be an integer, got {value!r}")
        return value
    if hint is float or "float" in text:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {name} must be a number, got {value!r}")
        return float(value)
    if "list[int]" in text:
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{source}: {name} must be a list of integers, got {value!r}")
        return list(value)
    if "list" in text:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: {name} must be a list of strings, got {value!r}")
        return list(value)
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {name} must be a string, got {value!r}")
    return value
