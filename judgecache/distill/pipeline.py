"""``judgecache distill`` end to end: validate, split, train, calibrate, threshold, evaluate, save.

Everything that can be wrong with the inputs (labels, splits, base model path) is checked by
:func:`prepare` before a model is loaded. The base's zero-shot score (its own embedding cosine,
mapped through a head fitted on the training labels and calibrated like the student) is evaluated
on the same held-out pairs and reported beside the student, always.

The stages, in order (each a function a reader can follow, each announced on stderr by
:class:`~judgecache.distill.stages.StageLog`): :func:`prepare`, :func:`build`,
:func:`zero_shot_baseline`, :func:`fit`, :func:`calibrate`, :func:`evaluate_splits`,
:func:`save`; then the gate (:func:`check_gate`).

Example (the real thing needs labels and a base model; see ``configs/distill/``)::

    cfg = DistillConfig.from_yaml("configs/distill/relevance.yaml")
    result = run_distill(cfg.with_values({"labels": "labels.jsonl", "output": "runs/rel"}))
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
    with_training_extra,
)
from judgecache.distill.evaluate import compare, human_labels_for, read_qrels
from judgecache.distill.evidence import EvidenceSettings, evidence_view, weakest_claim
from judgecache.distill.grade_cuts import fit_grade_cuts
from judgecache.distill.lexical import LexicalScorer
from judgecache.distill.model import PairEncoder, StudentModel, resolve_base_model
from judgecache.distill.refresh_record import record_distill_run
from judgecache.distill.scoring import (
    EncodedPair,
    encode_pairs,
    extra_features,
    head_inputs,
    pair_features,
    positive_index,
    predict_logits,
)
from judgecache.distill.stages import StageLog
from judgecache.distill.student import Predictions, Predictor, StudentSpec, save_student
from judgecache.distill.threshold import choose_threshold, lower_bound
from judgecache.distill.train import (
    TrainResult,
    epoch_steps,
    fit_head,
    init_head,
    resolve_device,
    seed_everything,
    target_labels,
    targets_for,
    train_student,
)
from judgecache.errors import DistillationError, InsufficientDataError
from judgecache.io.jsonl import write_jsonl
from judgecache.stats import cohen_kappa, paired_difference
from judgecache.store.url import redact_url

PREDICTIONS_FILE = "eval_predictions.jsonl"
"""Per held-out pair: the teacher's label and each judge's label and probability."""

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
    if cfg.train_extra:
        extra = load_labels(cfg.train_extra, task=cfg.task, judge=cfg.judge)
        splits["train"] = with_training_extra(
            splits, extra, by=cfg.split.by, group_field=cfg.split.group_field
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


@dataclass
class Setup:
    """The built student and its inputs: the encoded splits, subsampled train/val, label values."""

    model: StudentModel
    tokenizer: Any
    pe: PairEncoder
    enc: dict[str, list[EncodedPair]]
    train_part: LabelSet
    val_part: LabelSet
    lexical: LexicalScorer | None
    values: list[int]
    positive: int
    pos_col: int
    device: torch.device
    split_sizes: dict[str, int]
    eval_names: list[str]
    binary: bool
    planned_steps: int  # what the schedule plans; early stopping may end training before
    # The pairs each split's encodings were made of (evidence cut), and for claim-split splits
    # which labelled pair each row belongs to (its logits are the weakest claim's).
    views: dict[str, list[tuple[str, str]]]
    owners: dict[str, list[int] | None]


@dataclass
class ZeroShot:
    """The base's own cosine as a judge: its model, held-out logits and head-fit notes."""

    model: StudentModel
    logits: dict[str, torch.Tensor]
    init_info: dict[str, Any]
    student_init: dict[str, Any]


@dataclass
class Calibrated:
    """Calibrators, thresholds (or the refusal to choose one) and grade cut-points."""

    calibrator: Any
    zs_calibrator: Any
    thresholds: dict[str, Any]
    refusal: InsufficientDataError | None
    st_cuts: list[float] | None
    zs_cuts: list[float] | None


STAGES = 7


def run_distill(
    cfg: DistillConfig,
    *,
    labels: LabelSet | None = None,
    prepared: Prepared | None = None,
    resume: bool = False,
    stop_after_steps: int | None = None,
    log: StageLog | None = None,
) -> DistillResult:
    """Prepare, fit, calibrate, evaluate and save a student into ``cfg.output``.

    Each stage prints a named line on stderr (``cfg.train.progress``; see :class:`StageLog`).
    A degenerate student (one answer for every pair) is a warning in the output and the card;
    ``cfg.eval.fail_if_worse_than`` turns it, or a student worse than that baseline, into a
    :class:`DistillationError` after saving.
    """
    t0 = time.perf_counter()
    log = log or StageLog("distill", stages=STAGES, enabled=cfg.train.progress)
    with log.stage("prepare", "reading labels, checking them, splitting"):
        prep = prepared or prepare(cfg, labels)
        log.done(f"{len(prep.labels):,} labels; " + _sizes(prep.splits))
    if not cfg.output:
        raise DistillationError("no output directory: set output")
    out = Path(cfg.output)
    with log.stage("build", f"loading the base model and encoding pairs ({prep.base})"):
        setup = build(cfg, prep)
    with log.stage("zero-shot", "fitting the head on the base's cosine; scoring held-out pairs"):
        zs = zero_shot_baseline(cfg, prep, setup)
    with log.stage("fit", f"training for up to {setup.planned_steps} steps"):
        result = fit(cfg, setup, out, resume=resume, stop_after_steps=stop_after_steps)
        log.done(_training_note(cfg, setup, result))
    with log.stage("calibrate", "scoring held-out pairs with the student; calibrating"):
        st_logits = _logits(cfg, setup, setup.model, setup.enc)
        cal = calibrate(cfg, prep, setup, st_logits, zs.logits)
    spec = student_spec(cfg, prep, setup)
    with log.stage("evaluate", "agreement with the teacher on held-out pairs"):
        evaluation, warns, predictions = evaluate_splits(cfg, prep, setup, spec, zs, cal, st_logits)
    for text in warns:
        log.warn(text)
    metrics = _metrics(cfg, prep, setup, zs, cal, result, evaluation)
    metrics["warnings"] = list(warns)
    metrics["wall_seconds"] = round(time.perf_counter() - t0, 1)
    with log.stage("save", f"writing the student, metrics and model card to {out}"):
        spec = save(cfg, out, setup, spec, cal, metrics)
        write_jsonl(out / PREDICTIONS_FILE, predictions)
        record_distill_run(out, prep.labels, prep.splits["train"])  # for `cascade refresh`
    if cal.refusal is not None:
        raise InsufficientDataError(
            f"{cal.refusal} (the student is saved in {out} without a chosen threshold)"
        ) from cal.refusal
    gate_failure = check_gate(cfg.eval.fail_if_worse_than, metrics)
    if gate_failure:
        raise DistillationError(f"{gate_failure} (the student is saved in {out}; do not ship it)")
    return DistillResult(out, spec, metrics, result)


def _sizes(splits: dict[str, LabelSet]) -> str:
    return ", ".join(f"{k} {len(v):,}" for k, v in splits.items())


def _training_note(cfg: DistillConfig, setup: Setup, result: TrainResult) -> str:
    best = f"best validation agreement {result.best_metric:.3f} at step {result.best_step}"
    if result.stopped_early:
        return (
            f"early stop at step {result.steps}/{setup.planned_steps}: no validation agreement "
            f"gain for {cfg.train.patience} evaluations ({best}; those weights are kept)"
        )
    return f"{result.steps} steps; {best}"


def training_groups(part: LabelSet) -> list[str]:
    """Each training pair's group for pairwise batches: its first field (query or context)."""
    return [p.first for p in part.pairs]


def build(cfg: DistillConfig, prep: Prepared) -> Setup:
    """Subsample, build the student on the base (on its device) and encode every split."""
    rubric, binary = prep.labels.rubric, prep.binary
    values = target_labels(rubric, binary)
    positive = 1 if binary else int(rubric.positive_from)
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
    evidence = EvidenceSettings(cfg.evidence.max_words, cfg.evidence.split_claims)
    parts = {**prep.splits, "train": train_part, "val": val_part}
    # Training and validation read one (evidence, answer) row per pair; the held-out splits are
    # scored as serving scores them (claims split when configured).
    views = {
        name: evidence_view(_pairs(part), evidence, claims=name not in ("train", "val"))
        for name, part in parts.items()
    }
    enc = {name: encode_pairs(pe, cfg.architecture, v[0], lexical) for name, v in views.items()}
    setup = Setup(
        model, tokenizer, pe, enc, train_part, val_part, lexical, values, positive,
        positive_index(values, positive) - 1, device, split_sizes,
        ["calib", *[n for n in EVAL_SPLITS if n in prep.splits]], binary,
        epoch_steps(cfg.train, len(train_part), training_groups(train_part)) * cfg.train.epochs,
        {n: v[0] for n, v in views.items()}, {n: v[1] for n, v in views.items()},
    )  # fmt: skip
    return setup


def zero_shot_baseline(cfg: DistillConfig, prep: Prepared, setup: Setup) -> ZeroShot:
    """Fit both heads on the init pairs, then score the held-out splits with the base's cosine.

    The zero-shot baseline is the base's own cosine (adapters are still zero here), head fitted
    on training labels. For the bi-encoder without lexical features this *is* the student at
    step 0; with them, step 0 is the same cosine plus the fitted lexical features.
    """
    model, pe, enc, device = setup.model, setup.pe, setup.enc, setup.device
    train_targets = targets_for(setup.train_part.pairs, prep.labels.rubric, prep.binary)
    init_idx = random.Random(cfg.train.seed + 2).sample(
        range(len(setup.train_part)), min(len(setup.train_part), cfg.train.init_examples)
    )
    zero_shot = StudentModel(model.encoder, "bi", len(setup.values), 1).to(device)
    if cfg.architecture == "bi":
        zs_enc = enc
        zs_train = [enc["train"][i] for i in init_idx]
    else:
        zs_enc = {n: encode_pairs(pe, "bi", setup.views[n]) for n in setup.eval_names}
        zs_train = encode_pairs(pe, "bi", [setup.views["train"][i] for i in init_idx])
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
    return ZeroShot(zero_shot, _logits(cfg, setup, zero_shot, zs_enc), init_info, student_init)


def _logits(
    cfg: DistillConfig, setup: Setup, model: StudentModel, enc: dict[str, list[EncodedPair]]
) -> dict[str, torch.Tensor]:
    batch = cfg.train.batch_size * 2
    out: dict[str, torch.Tensor] = {}
    for n in setup.eval_names:
        z = predict_logits(model, setup.pe, enc[n], setup.device, batch_size=batch)
        owners = setup.owners[n]
        if owners is not None:
            # Every pair has at least one claim and owners ascend: the last owner counts pairs.
            n_pairs = owners[-1] + 1 if owners else 0
            z = torch.from_numpy(weakest_claim(z.numpy(), owners, n_pairs).astype(np.float32))
        out[n] = z
    return out


def fit(
    cfg: DistillConfig,
    setup: Setup,
    out: Path,
    *,
    resume: bool,
    stop_after_steps: int | None,
) -> TrainResult:
    """LoRA + head training with validation-based early stopping (see :func:`train_student`)."""
    binary = setup.binary
    return train_student(
        setup.model,
        setup.pe,
        setup.enc["train"],
        targets_for(setup.train_part.pairs, setup.train_part.rubric, binary),
        setup.enc["val"],
        _target_values(setup.val_part, binary),
        setup.values,
        cfg.train,
        checkpoint_dir=out / "checkpoint",
        resume=resume,
        stop_after_steps=stop_after_steps,
        groups=training_groups(setup.train_part),
    )


def calibrate(
    cfg: DistillConfig,
    prep: Prepared,
    setup: Setup,
    st_logits: dict[str, torch.Tensor],
    zs_logits: dict[str, torch.Tensor],
) -> Calibrated:
    """Calibrators for student and baseline on the calib split; threshold; grade cut-points."""
    col = setup.pos_col
    calib_truth = _soft_truth(prep.splits["calib"], prep.binary)
    method, iso_min = cfg.calibration.method, cfg.calibration.isotonic_min
    calibrator = fit_calibrator(
        st_logits["calib"][:, col].numpy(), calib_truth, method=method, isotonic_min=iso_min
    )
    zs_calibrator = fit_calibrator(
        zs_logits["calib"][:, col].numpy(), calib_truth, method=method, isotonic_min=iso_min
    )
    refusal: InsufficientDataError | None = None
    try:
        thresholds = choose_thresholds(
            cfg, calibrator.apply(st_logits["calib"][:, col].numpy()), calib_truth
        )
    except InsufficientDataError as exc:
        # Keep the trained student (saved without a chosen threshold), then refuse loudly.
        refusal = exc
        thresholds = {"default": 0.5, "chosen": None, "on": "calib", "refused": str(exc)}
    st_cuts: list[float] | None = None
    zs_cuts: list[float] | None = None
    if cfg.calibration.grade_cuts and not prep.binary:
        calib_values = _target_values(prep.splits["calib"], prep.binary)
        st_cuts = fit_grade_cuts(st_logits["calib"].numpy(), calib_values, setup.values)
        zs_cuts = fit_grade_cuts(zs_logits["calib"].numpy(), calib_values, setup.values)
        thresholds["grade_cuts"] = st_cuts
    return Calibrated(calibrator, zs_calibrator, thresholds, refusal, st_cuts, zs_cuts)


def student_spec(cfg: DistillConfig, prep: Prepared, setup: Setup) -> StudentSpec:
    """What a loader needs to rebuild the student (written as ``student.json``)."""
    rubric = prep.labels.rubric
    return StudentSpec(
        name=cfg.name or f"{rubric.name}-{cfg.architecture}-from-{prep.labels.judge.model}",
        architecture=cfg.architecture,
        rubric=rubric.name,
        target="binary" if prep.binary else "graded",
        labels=setup.values,
        positive_from=setup.positive,
        protected=setup.pe.protected,
        max_length=cfg.train.max_length,
        max_length_protected=cfg.train.max_length_protected,
        base_model=cfg.base_model if cfg.base_model != "default" else "default",
        teacher=prep.labels.judge.as_dict(),
        lexical=list(setup.lexical.names) if setup.lexical else [],
        maxsim=cfg.train.maxsim,
        evidence_max_words=cfg.evidence.max_words,
        split_claims=cfg.evidence.split_claims,
    )


def evaluate_splits(
    cfg: DistillConfig,
    prep: Prepared,
    setup: Setup,
    spec: StudentSpec,
    zs: ZeroShot,
    cal: Calibrated,
    st_logits: dict[str, torch.Tensor],
) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    """Student and baselines against the teacher per held-out split, degeneracy warnings, and
    one row per held-out pair (:func:`prediction_rows`)."""
    humans: dict[tuple[str, str], int] = {}
    for path in cfg.eval.human_qrels:
        humans.update(read_qrels(path))
    chosen = cal.thresholds.get("chosen")
    threshold_value = chosen["threshold"] if chosen else None
    evaluation: dict[str, Any] = {}
    warns: list[str] = []
    rows: list[dict[str, Any]] = []
    binary, pe = prep.binary, setup.pe
    for name in [n for n in EVAL_SPLITS if n in prep.splits]:
        part = prep.splits[name]
        student = Predictor(
            setup.model, pe, spec, cal.calibrator, threshold_value, grade_cuts=cal.st_cuts
        )
        zs_judge = Predictor(zs.model, pe, spec, cal.zs_calibrator, None)
        judged = {
            "student": student.from_logits(st_logits[name].numpy()),
            "zero_shot": zs_judge.from_logits(zs.logits[name].numpy()),
        }
        if cal.zs_cuts is not None:
            # The same decision rule on the base's cosine: what the cuts alone are worth.
            zs_tuned = Predictor(
                zs.model, pe, spec, cal.zs_calibrator, None, grade_cuts=cal.zs_cuts
            )
            judged["zero_shot_cuts"] = zs_tuned.from_logits(zs.logits[name].numpy())
        truth = np.asarray(_target_values(part, binary))
        rows.extend(prediction_rows(name, part, truth, judged))
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
                truth,
                judged["student"].labels,
                judged[other].labels,
                setup.values,
                setup.positive,
                n_boot=cfg.eval.bootstrap,
                seed=cfg.split.seed,
            )
            for other in judged
            if other != "student"
        }
        warning = degenerate_warning(name, judged["student"].labels, setup.positive)
        if warning:
            warns.append(warning)
    return evaluation, warns, rows


def prediction_rows(
    split: str, part: LabelSet, truth: np.ndarray[Any, Any], judged: dict[str, Predictions]
) -> list[dict[str, Any]]:
    """One JSON row per held-out pair: its texts, meta, the teacher's label and each judge's label
    and calibrated probability -- what a paired comparison of two students joins on."""
    return [
        {
            "split": split,
            "first": p.first,
            "second": p.second,
            "meta": dict(p.meta),
            "teacher": int(truth[i]),
            **{
                j: {"label": int(pred.labels[i]), "prob": round(float(pred.prob[i]), 6)}
                for j, pred in judged.items()
            },
        }
        for i, p in enumerate(part.pairs)
    ]


def degenerate_warning(split: str, labels: np.ndarray[Any, Any], positive: int) -> str | None:
    """A warning when the student gives one answer (or one binary side) for every pair.

    >>> degenerate_warning("test", np.array([0, 0, 0]), 1)
    'degenerate student: it answers 0 for all 3 test pairs (binary kappa 0, balanced accuracy 0.5 by construction)'
    >>> degenerate_warning("test", np.array([2, 3, 3]), 2)  # doctest: +ELLIPSIS
    'degenerate student: it answers positive (>= 2) for all 3 test pairs...'
    >>> degenerate_warning("test", np.array([0, 1]), 1) is None
    True
    """
    if labels.size == 0:
        return None
    what = None
    values = np.unique(labels)
    if values.size == 1:
        what = str(values[0])
    else:
        sides = np.unique(labels >= positive)
        if sides.size == 1:
            what = f"{'positive' if sides[0] else 'negative'} (>= {positive})"
            what = what if sides[0] else f"negative (< {positive})"
    if what is None:
        return None
    return (
        f"degenerate student: it answers {what} for all {labels.size} {split} pairs "
        "(binary kappa 0, balanced accuracy 0.5 by construction)"
    )


def check_gate(baseline: str | None, metrics: dict[str, Any]) -> str | None:
    """Why the student fails ``eval.fail_if_worse_than`` (None: it passes or no gate is set).

    It fails when degenerate, or when its headline metric on the held-out ``test`` split
    (weighted kappa for grades, binary kappa for binary targets) is below the baseline's.
    """
    if baseline is None:
        return None
    if metrics.get("warnings"):
        return f"gate fail_if_worse_than={baseline}: {metrics['warnings'][0]}"
    evaluation: dict[str, Any] = metrics["eval"]
    split: dict[str, Any] = evaluation.get("test") or next(iter(evaluation.values()), {})
    key = "weighted_kappa" if "weighted_kappa" in split.get("student", {}) else "binary_kappa"
    if baseline not in split:
        return None
    mine, theirs = split["student"][key]["value"], split[baseline][key]["value"]
    if not mine >= theirs:
        return (
            f"gate fail_if_worse_than={baseline}: student {key} {mine:.3f} < {baseline} "
            f"{theirs:.3f} on the held-out test split"
        )
    return None


def _metrics(
    cfg: DistillConfig,
    prep: Prepared,
    setup: Setup,
    zs: ZeroShot,
    cal: Calibrated,
    result: TrainResult,
    evaluation: dict[str, Any],
) -> dict[str, Any]:
    return {
        "teacher": str(prep.labels.judge),
        "labels_source": prep.labels.source,
        "n_labels": len(prep.labels),
        "split": {
            "by": cfg.split.by,
            "seed": cfg.split.seed,
            "sizes": setup.split_sizes,
            "evaluated": {k: len(v) for k, v in prep.splits.items() if k != "train"},
            "train_used": len(setup.train_part),
            "val_used": len(setup.val_part),
        },
        "train": {
            "steps": result.steps,
            "planned_steps": setup.planned_steps,
            "seconds": round(result.seconds, 1),
            "best_val_agreement": result.best_metric,
            "best_step": result.best_step,
            "stopped_early": result.stopped_early,
            "summary": _training_note(cfg, setup, result),
            "history": result.history,
            "final_loss_mean20": float(np.mean(result.losses[-20:])) if result.losses else None,
            "head_init": zs.init_info,
            "student_head_init": zs.student_init,
            "lexical": list(setup.lexical.names) if setup.lexical else [],
            "maxsim": cfg.train.maxsim,
            "device": str(setup.device),
            "threads": torch.get_num_threads(),
        },
        "calibration": {
            "student": cal.calibrator.to_dict() | {"xs": [], "ys": []},
            "method": cal.calibrator.method,
        },
        "thresholds": cal.thresholds,
        "eval": evaluation,
    }


def save(
    cfg: DistillConfig,
    out: Path,
    setup: Setup,
    spec: StudentSpec,
    cal: Calibrated,
    metrics: dict[str, Any],
) -> StudentSpec:
    """The adapter and head, metrics.json, the config used, and the model card (README.md)."""
    spec = save_student(out, setup.model, setup.tokenizer, spec, cal.calibrator, cal.thresholds)
    (out / "metrics.json").write_text(
        json.dumps(metrics, indent=2, sort_keys=True, allow_nan=True) + "\n", encoding="utf-8"
    )
    (out / "distill_config.json").write_text(
        json.dumps(cfg.to_dict() | {"labels": redact_url(cfg.labels)}, indent=2, sort_keys=True)
        + "\n",
        encoding="utf-8",
    )
    (out / "README.md").write_text(render_card(spec, cfg, metrics), encoding="utf-8")
    return spec


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

    def binary(y: np.ndarray[Any, Any], a: np.ndarray[Any, Any]) -> float:
        return cohen_kappa((y >= positive).astype(int), (a >= positive).astype(int), labels=[0, 1])

    def weighted(y: np.ndarray[Any, Any], a: np.ndarray[Any, Any]) -> float:
        return cohen_kappa(y, a, labels=labs, weighting="quadratic")

    stats = {"binary_kappa": binary, **({"weighted_kappa": weighted} if len(labs) > 2 else {})}
    return {
        k: paired_difference(f, truth, student, other, n=n_boot, seed=seed)
        for k, f in stats.items()
    }


def _soft_truth(part: LabelSet, binary: bool) -> np.ndarray[Any, np.dtype[np.float64]]:
    rubric = part.rubric
    return np.asarray(
        [
            p.score if (binary and p.score is not None) else float(binary_label(rubric, p.label))
            for p in part.pairs
        ],
        dtype=np.float64,
    )


def choose_thresholds(
    cfg: DistillConfig, prob: Sequence[float] | np.ndarray[Any, Any], truth: np.ndarray[Any, Any]
) -> dict[str, Any]:
    """``thresholds.json``: 0.5 by default, or the cut meeting the config's precision/recall target."""
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
