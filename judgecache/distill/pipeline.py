"""``judgecache distill`` end to end: validate, split, train, calibrate, threshold, evaluate, save.

Everything that can be wrong with the inputs (labels, splits, base model path) is checked by
:func:`prepare` before a model is loaded. The base's zero-shot score (its own embedding cosine,
mapped through a head fitted on the training labels and calibrated like the student) is evaluated
on the same held-out pairs and reported beside the student, always.

Example (the real thing needs labels and a base model; see ``configs/distill/``)::

    cfg = DistillConfig.from_yaml("configs/distill/relevance.yaml")
    result = run_distill(cfg.with_overrides(["labels=labels.jsonl", "output=runs/rel"]))
    result.metrics["eval"]["test"]["student"]["weighted_kappa"]
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from judgecache.distill.build import build_student
from judgecache.distill.calibrate import fit_calibrator
from judgecache.distill.card import render_card
from judgecache.distill.config import DistillConfig
from judgecache.distill.data import (
    LabelSet,
    binary_label,
    check_splits,
    load_labels,
    protected_field,
    split_labels,
)
from judgecache.distill.evaluate import compare, human_labels_for, read_qrels
from judgecache.distill.grade_cuts import fit_grade_cuts
from judgecache.distill.lexical import LexicalScorer
from judgecache.distill.metrics import cohen_kappa, with_ci
from judgecache.distill.model import PairEncoder, StudentModel, resolve_base_model
from judgecache.distill.scoring import (
    encode_pairs,
    extra_features,
    head_inputs,
    pair_features,
    positive_index,
    predict_logits,
)
from judgecache.distill.student import Predictor, StudentSpec, save_student
from judgecache.distill.threshold import choose_threshold, lower_bound
from judgecache.distill.train import (
    TrainResult,
    fit_head,
    init_head,
    resolve_device,
    seed_everything,
    target_labels,
    targets_for,
    train_student,
)
from judgecache.errors import DistillationError, InsufficientDataError
from judgecache.store.url import redact_url

EVAL_SPLITS = ("test", "test_seen")


@dataclass
class Prepared:
    """Validated inputs: the labels, their splits and the resolved base model directory."""

    labels: LabelSet
    splits: dict[str, LabelSet]
    base: Path
    binary: bool


@dataclass
class DistillResult:
    """Where the student went and what it measured."""

    output: Path
    spec: StudentSpec
    metrics: dict[str, Any]
    train: TrainResult


def prepare(cfg: DistillConfig, labels: LabelSet | None = None) -> Prepared:
    """All input checks, before any model is loaded (missing base, bad labels, thin splits)."""
    base = resolve_base_model(cfg.base_model)
    if labels is None:
        if not cfg.labels:
            raise DistillationError("no labels: set labels (an export JSONL or a cache URL)")
        labels = load_labels(cfg.labels, task=cfg.task, judge=cfg.judge)
    if labels.rubric.task != cfg.task:
        raise DistillationError(
            f"labels are for task {labels.rubric.task!r} but the config says task {cfg.task!r}"
        )
    binary = cfg.target == "binary" or not labels.rubric.graded
    fractions = {"val": cfg.split.val, "calib": cfg.split.calib, "test": cfg.split.test}
    splits = split_labels(
        labels,
        by=cfg.split.by,
        fractions=fractions,
        seed=cfg.split.seed,
        group_field=cfg.split.group_field,
        test_seen=cfg.split.test_seen,
    )
    check_splits(splits, binary=binary, min_examples=cfg.split.min_examples)
    _check_target_supportable(cfg, splits["calib"])
    return Prepared(labels, splits, base, binary)


def _check_target_supportable(cfg: DistillConfig, calib: LabelSet) -> None:
    """Refuse before training when even a perfect student could not prove the target."""
    t = cfg.threshold
    target = t.target_precision if t.target_precision is not None else t.target_recall
    if target is None:
        return
    positives = sum(binary_label(calib.rubric, p.label) for p in calib.pairs)
    best = lower_bound(positives, positives, t.confidence)
    if best < target:
        metric = "precision" if t.target_precision is not None else "recall"
        raise InsufficientDataError(
            f"the calib split has {positives} positive labels: even a perfect student's {metric} "
            f"lower bound at {t.confidence:.0%} confidence would be {best:.3f} < target {target}; "
            "add labels, raise split.calib or lower the target"
        )


def _subsample(part: LabelSet, n: int, seed: int) -> LabelSet:
    if n <= 0 or len(part) <= n:
        return part
    rng = random.Random(seed)
    return part.subset(rng.sample(list(part.pairs), n))


def _pairs(part: LabelSet) -> list[tuple[str, str]]:
    return [(p.first, p.second) for p in part.pairs]


def _target_values(part: LabelSet, binary: bool) -> list[int]:
    if binary:
        return [binary_label(part.rubric, p.label) for p in part.pairs]
    return [p.label for p in part.pairs]


def run_distill(
    cfg: DistillConfig,
    *,
    labels: LabelSet | None = None,
    prepared: Prepared | None = None,
    resume: bool = False,
    stop_after_steps: int | None = None,
) -> DistillResult:
    """Train, calibrate, threshold, evaluate and save a student into ``cfg.output``."""
    t0 = time.perf_counter()
    prep = prepared or prepare(cfg, labels)
    if not cfg.output:
        raise DistillationError("no output directory: set output")
    out = Path(cfg.output)
    rubric, binary = prep.labels.rubric, prep.binary
    values = target_labels(rubric, binary)
    positive = 1 if binary else int(rubric.positive_from)
    pos_col = positive_index(values, positive) - 1
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    seed_everything(cfg.train.seed)
    device = resolve_device(cfg.train.device)

    train_part = _subsample(prep.splits["train"], cfg.train.max_train_examples, cfg.train.seed)
    val_part = _subsample(prep.splits["val"], cfg.split.max_val_examples, cfg.train.seed + 1)
    split_sizes = {k: len(v) for k, v in prep.splits.items()}
    if cfg.split.max_eval_examples > 0:
        for offset, name in enumerate(("calib", *EVAL_SPLITS), start=3):
            if name in prep.splits:
                prep.splits[name] = _subsample(
                    prep.splits[name], cfg.split.max_eval_examples, cfg.train.seed + offset
                )
    lexical = None
    if cfg.train.lexical:
        # idf from every training document (not only the sampled pairs): a word count, cheap.
        doc_side = 1 if protected_field(rubric) == 0 else 0
        lexical = LexicalScorer.fit(
            (p.first, p.second)[doc_side] for p in prep.splits["train"].pairs
        )
    model, tokenizer = build_student(
        prep.base, cfg.architecture, len(values), cfg.lora, lexical=lexical, maxsim=cfg.train.maxsim
    )
    # On the device before the first forward pass: head fitting and the zero-shot baseline run
    # the encoder too, not only the training loop.
    model.to(device)
    pe = PairEncoder(
        tokenizer,
        max_length=cfg.train.max_length,
        max_length_protected=cfg.train.max_length_protected,
        protected=protected_field(rubric),
    )
    enc = {
        name: encode_pairs(pe, cfg.architecture, _pairs(part), lexical)
        for name, part in {**prep.splits, "train": train_part, "val": val_part}.items()
    }
    train_targets = targets_for(train_part.pairs, rubric, binary)
    init_idx = random.Random(cfg.train.seed + 2).sample(
        range(len(train_part)), min(len(train_part), cfg.train.init_examples)
    )

    # The zero-shot baseline: the base's own cosine (adapters are still zero here), head fitted
    # on training labels. For the bi-encoder without lexical features this *is* the student at
    # step 0; with them, step 0 is the same cosine plus the fitted lexical features.
    zero_shot = StudentModel(model.encoder, "bi", len(values), 1).to(device)
    eval_names = ["calib", *[n for n in EVAL_SPLITS if n in prep.splits]]
    if cfg.architecture == "bi":
        zs_enc = enc
        zs_train = [enc["train"][i] for i in init_idx]
    else:
        zs_enc = {n: encode_pairs(pe, "bi", _pairs(prep.splits[n])) for n in eval_names}
        zs_train = encode_pairs(pe, "bi", [_pairs(train_part)[i] for i in init_idx])
    init_targets = train_targets[init_idx]
    if cfg.architecture == "bi":
        # One pass of the base over the init pairs serves both heads.
        zero_shot.eval()
        with torch.no_grad():
            if model.maxsim:
                # The student's step-0 encoder is the base (LoRA B = 0): the same pass gives the
                # zero-shot cosine and the MaxSim feature.
                model.eval()
                zs_feats, st_extra = head_inputs(model, pe, zs_train, device)
                zs_feats = zs_feats.float().cpu()
                st_extra = None if st_extra is None else st_extra.float().cpu()
            else:
                zs_feats = pair_features(zero_shot, pe, zs_train, device).float().cpu()
                st_extra = extra_features(model, zs_train)
        init_info = fit_head(zero_shot, zs_feats, None, init_targets)
        student_init = fit_head(model, zs_feats, st_extra, init_targets)
    else:
        init_info = init_head(zero_shot, pe, zs_train, init_targets, device)
        student_init = init_head(
            model, pe, [enc["train"][i] for i in init_idx], init_targets, device
        )
    zs_logits = {
        n: predict_logits(zero_shot, pe, zs_enc[n], device, batch_size=cfg.train.batch_size * 2)
        for n in eval_names
    }

    result = train_student(
        model,
        pe,
        enc["train"],
        train_targets,
        enc["val"],
        _target_values(val_part, binary),
        values,
        cfg.train,
        checkpoint_dir=out / "checkpoint",
        resume=resume,
        stop_after_steps=stop_after_steps,
    )
    st_logits = {
        n: predict_logits(model, pe, enc[n], device, batch_size=cfg.train.batch_size * 2)
        for n in eval_names
    }

    calib_truth = _soft_truth(prep.splits["calib"], binary)
    method, iso_min = cfg.calibration.method, cfg.calibration.isotonic_min
    calibrator = fit_calibrator(
        st_logits["calib"][:, pos_col].numpy(), calib_truth, method=method, isotonic_min=iso_min
    )
    zs_calibrator = fit_calibrator(
        zs_logits["calib"][:, pos_col].numpy(), calib_truth, method=method, isotonic_min=iso_min
    )
    refusal: InsufficientDataError | None = None
    try:
        thresholds = _thresholds(
            cfg, calibrator.apply(st_logits["calib"][:, pos_col].numpy()), calib_truth
        )
    except InsufficientDataError as exc:
        # Keep the trained student (saved without a chosen threshold), then refuse loudly.
        refusal = exc
        thresholds = {"default": 0.5, "chosen": None, "on": "calib", "refused": str(exc)}

    values_of = {n: np.asarray(_target_values(prep.splits[n], binary)) for n in eval_names}
    st_cuts: list[float] | None = None
    zs_cuts: list[float] | None = None
    if cfg.calibration.grade_cuts and not binary:
        calib_values = values_of["calib"].tolist()
        st_cuts = fit_grade_cuts(st_logits["calib"].numpy(), calib_values, values)
        zs_cuts = fit_grade_cuts(zs_logits["calib"].numpy(), calib_values, values)
        thresholds["grade_cuts"] = st_cuts

    spec = StudentSpec(
        name=cfg.name or f"{rubric.name}-{cfg.architecture}-from-{prep.labels.judge.model}",
        architecture=cfg.architecture,
        rubric=rubric.name,
        target="binary" if binary else "graded",
        labels=values,
        positive_from=positive,
        protected=pe.protected,
        max_length=cfg.train.max_length,
        max_length_protected=cfg.train.max_length_protected,
        base_model=cfg.base_model if cfg.base_model != "default" else "default",
        teacher=prep.labels.judge.as_dict(),
        lexical=list(lexical.names) if lexical else [],
        maxsim=cfg.train.maxsim,
    )
    humans = {}
    for path in cfg.eval.human_qrels:
        humans.update(read_qrels(path))
    evaluation: dict[str, Any] = {}
    threshold_value = thresholds["chosen"]["threshold"] if thresholds.get("chosen") else None
    for name in [n for n in EVAL_SPLITS if n in prep.splits]:
        part = prep.splits[name]
        student = Predictor(model, pe, spec, calibrator, threshold_value, grade_cuts=st_cuts)
        zs = Predictor(zero_shot, pe, spec, zs_calibrator, None)
        judged = {
            "student": student.from_logits(st_logits[name].numpy()),
            "zero_shot": zs.from_logits(zs_logits[name].numpy()),
        }
        if zs_cuts is not None:
            # The same decision rule on the base's cosine: what the cuts alone are worth.
            zs_tuned = Predictor(zero_shot, pe, spec, zs_calibrator, None, grade_cuts=zs_cuts)
            judged["zero_shot_cuts"] = zs_tuned.from_logits(zs_logits[name].numpy())
        evaluation[name] = compare(
            part,
            binary=binary,
            judged=judged,
            human=human_labels_for(part, humans) if humans else None,
            n_boot=cfg.eval.bootstrap,
            seed=cfg.split.seed,
        )
        evaluation[name]["paired_delta"] = {
            other: paired_delta(
                np.asarray(_target_values(part, binary)),
                judged["student"].labels,
                judged[other].labels,
                values,
                positive,
                n_boot=cfg.eval.bootstrap,
                seed=cfg.split.seed,
            )
            for other in judged
            if other != "student"
        }
    metrics: dict[str, Any] = {
        "teacher": str(prep.labels.judge),
        "labels_source": prep.labels.source,
        "n_labels": len(prep.labels),
        "split": {
            "by": cfg.split.by,
            "seed": cfg.split.seed,
            "sizes": split_sizes,
            "evaluated": {k: len(v) for k, v in prep.splits.items() if k != "train"},
            "train_used": len(train_part),
            "val_used": len(val_part),
        },
        "train": {
            "steps": result.steps,
            "seconds": round(result.seconds, 1),
            "best_val_agreement": result.best_metric,
            "best_step": result.best_step,
            "stopped_early": result.stopped_early,
            "history": result.history,
            "final_loss_mean20": float(np.mean(result.losses[-20:])) if result.losses else None,
            "head_init": init_info,
            "student_head_init": student_init,
            "lexical": list(lexical.names) if lexical else [],
            "maxsim": cfg.train.maxsim,
            "device": str(device),
            "threads": torch.get_num_threads(),
        },
        "calibration": {
            "student": calibrator.to_dict() | {"xs": [], "ys": []},
            "method": calibrator.method,
        },
        "thresholds": thresholds,
        "eval": evaluation,
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    spec = save_student(out, model, tokenizer, spec, calibrator, thresholds)
    (out / "metrics.json").write_text(
        json.dumps(metrics, indent=2, sort_keys=True, allow_nan=True) + "\n", encoding="utf-8"
    )
    (out / "distill_config.json").write_text(
        json.dumps(cfg.to_dict() | {"labels": redact_url(cfg.labels)}, indent=2, sort_keys=True)
        + "\n",
        encoding="utf-8",
    )
    (out / "README.md").write_text(render_card(spec, cfg, metrics), encoding="utf-8")
    if refusal is not None:
        raise InsufficientDataError(
            f"{refusal} (the student is saved in {out} without a chosen threshold)"
        ) from refusal
    return DistillResult(out, spec, metrics, result)


def paired_delta(
    truth: np.ndarray[Any, Any],
    student: np.ndarray[Any, Any],
    other: np.ndarray[Any, Any],
    labels: Sequence[int],
    positive: int,
    *,
    n_boot: int,
    seed: int,
) -> dict[str, dict[str, float]]:
    """Student minus another judge, resampling the *same* pairs for both (a paired bootstrap).

    Overlapping marginal intervals do not mean "no difference"; the paired interval of the
    difference is the noise to beat.

    >>> t = np.array([0, 1, 2, 3] * 10); d = paired_delta(t, t, t * 0, [0, 1, 2, 3], 2, n_boot=20, seed=0)
    >>> d["binary_kappa"]["value"], d["binary_kappa"]["lo"] > 0
    (1.0, True)
    """
    labs = list(labels)

    def binary(y: np.ndarray[Any, Any], a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
        yb = (y >= positive).astype(int)
        ka = cohen_kappa(yb, (a >= positive).astype(int), labels=[0, 1])
        return ka - cohen_kappa(yb, (b >= positive).astype(int), labels=[0, 1])

    stats = {"binary_kappa": binary}
    if len(labs) > 2:

        def weighted(
            y: np.ndarray[Any, Any], a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]
        ) -> float:
            w = "quadratic"
            return cohen_kappa(y, a, labels=labs, weights=w) - cohen_kappa(
                y, b, labels=labs, weights=w
            )

        stats["weighted_kappa"] = weighted
    return {k: with_ci(f, truth, student, other, n=n_boot, seed=seed) for k, f in stats.items()}


def _soft_truth(part: LabelSet, binary: bool) -> np.ndarray[Any, np.dtype[np.float64]]:
    rubric = part.rubric
    return np.asarray(
        [
            p.score if (binary and p.score is not None) else float(binary_label(rubric, p.label))
            for p in part.pairs
        ],
        dtype=np.float64,
    )


def _thresholds(
    cfg: DistillConfig, prob: Sequence[float] | np.ndarray[Any, Any], truth: np.ndarray[Any, Any]
) -> dict[str, Any]:
    t = cfg.threshold
    out: dict[str, Any] = {"default": 0.5, "chosen": None, "on": "calib"}
    if t.target_precision is None and t.target_recall is None:
        return out
    chosen = choose_threshold(
        np.asarray(prob),
        (np.asarray(truth) >= 0.5).astype(int),
        target_precision=t.target_precision,
        target_recall=t.target_recall,
        confidence=t.confidence,
    )
    out["chosen"] = chosen.to_dict()
    return out
