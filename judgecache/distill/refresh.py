"""Refresh a student on the labels its cache gained since it was trained (``cascade refresh``).

Every cascade escalation buys a teacher label for a pair the student was unsure of. A refresh
turns those labels into a new student, cheaply and only when it helps:

1. read the labels of the student's own teacher from a cache or labels file; those not in its
   ``trained_on.json`` are *new* (:mod:`judgecache.distill.refresh_record`);
2. split the new labels, seeded and stratified by label, into train / calibration / a held-out
   slice (``holdout``);
3. continue the saved LoRA adapter and head for at most ``max_steps`` steps on the new training
   labels plus ``replay`` times as many of its old training labels (against forgetting);
4. recalibrate (and refit grade cuts / the chosen threshold where the student had them) on the
   new calibration labels plus up to ``max_calib_old`` labels the lineage never trained on;
5. score the held-out slice with the old and the new student: the new one is KEPT (written beside
   the old, in a versioned directory) only when its headline agreement (weighted kappa for grades,
   binary kappa for binary students) minus the old one's, a paired bootstrap over the same pairs,
   is at least ``-tolerance``. Otherwise nothing is written and the old student stays.

Example (a student made by ``judgecache distill``, its cache since gained escalations)::

    result = refresh_student("runs/rel", "diskcache://.jc", RefreshOptions(max_steps=40))
    result.status, result.output   # 'kept', runs/rel-r1
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from judgecache.distill.data import CACHE_SCHEMES, LabeledPair, LabelSet, binary_label, load_labels
from judgecache.distill.refresh_record import TrainedOn, keys_of, pair_key
from judgecache.distill.stages import StageLog
from judgecache.errors import ConfigError, InsufficientDataError
from judgecache.keys import JudgeIdentity
from judgecache.stats import format_ci

KEPT, REJECTED, SKIPPED = "kept", "rejected", "skipped"


@dataclass
class RefreshOptions:
    """How much a refresh may spend and how it decides (see the module docstring)."""

    max_steps: int = 50
    max_examples: int = 800
    holdout: float = 0.3
    calib: float = 0.2
    replay: float = 1.0
    max_calib_old: int = 1000
    tolerance: float = 0.0
    min_new: int = 30
    seed: int = 13
    bootstrap: int = 1000
    progress: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.holdout < 1 or not 0 <= self.calib < 1 or self.holdout + self.calib >= 1:
            raise ConfigError(
                f"holdout ({self.holdout}) and calib ({self.calib}) must be shares in [0, 1) "
                "with holdout > 0 and leave some new labels to train on (holdout + calib < 1)"
            )
        if self.max_steps < 0 or self.max_examples < 1 or self.replay < 0:
            raise ConfigError("max_steps >= 0, max_examples >= 1 and replay >= 0 are required")


@dataclass
class RefreshResult:
    """What a refresh did: kept / rejected / skipped, the counts, and old vs new on the holdout."""

    status: str
    student: str
    reason: str
    output: str | None = None
    teacher: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    metric: str = ""
    old: dict[str, float] = field(default_factory=dict)
    new: dict[str, float] = field(default_factory=dict)
    delta: dict[str, dict[str, float]] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def next_version_dir(student: str | Path) -> Path:
    """``NAME-r<k+1>`` beside the student, ``k`` the highest refresh of NAME there (0: none).

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "rel-r1").mkdir()
    >>> next_version_dir(root / "rel").name, next_version_dir(root / "rel-r1").name
    ('rel-r2', 'rel-r2')
    """
    root = Path(student).expanduser()
    name = re.sub(r"-r\d+$", "", root.name)
    taken = [
        int(m.group(1))
        for p in root.parent.glob(f"{name}-r*")
        if (m := re.fullmatch(re.escape(name) + r"-r(\d+)", p.name))
    ]
    return root.with_name(f"{name}-r{max(taken, default=0) + 1}")


def teacher_of(spec: dict[str, Any]) -> JudgeIdentity:
    """The teacher a ``student.json`` (as a dict) learned from."""
    t = spec.get("teacher") or {}
    return JudgeIdentity(
        str(t.get("provider", "")), str(t.get("model", "")), str(t.get("version") or "")
    )


def read_labels(source: str, teacher: JudgeIdentity, rubric: str) -> LabelSet:
    """The teacher's labels in ``source``; another judge's labels file is refused (ConfigError)."""
    from judgecache.distill.memory import MemoryIdentityError

    if str(source).startswith(CACHE_SCHEMES):
        try:
            return load_labels(source, task=rubric, judge=str(teacher))
        except InsufficientDataError as exc:
            raise MemoryIdentityError(
                f"--labels {source} holds no labels of the student's teacher {teacher} for "
                f"task {rubric!r}"
            ) from exc
    labels = load_labels(source, task=rubric)
    if labels.judge != teacher:
        raise MemoryIdentityError(
            f"--labels {source}: its labels come from {labels.judge}, but the student learned "
            f"from {teacher}; a refresh must use the same teacher's labels"
        )
    return labels


@dataclass
class _Parts:
    """The labels a refresh uses: new ones split three ways, and the old ones it may reuse."""

    train: list[LabeledPair]
    calib: list[LabeledPair]
    holdout: list[LabeledPair]
    replay: list[LabeledPair]
    calib_old: list[LabeledPair]


def split_new(labels: LabelSet, seen: TrainedOn, opts: RefreshOptions) -> _Parts | str:
    """Split the new labels (or say why there are too few); sample old ones to replay."""
    from judgecache.distill.data import split_labels

    new: list[LabeledPair] = []
    old_train: list[LabeledPair] = []
    old_held: list[LabeledPair] = []
    for p in labels.pairs:
        key = pair_key(p.first, p.second)
        (new if seen.is_new(key) else old_train if key in seen.train else old_held).append(p)
    if len(new) < opts.min_new:
        return f"{len(new)} new label(s) since it was trained; a refresh needs {opts.min_new}"
    fractions = {"holdout": opts.holdout, "calib": opts.calib}
    parts = split_labels(labels.subset(new), by="pair", fractions=fractions, seed=opts.seed)
    held = parts["holdout"].pairs
    if len({binary_label(labels.rubric, p.label) for p in held}) < 2:
        return f"the held-out slice of the {len(new)} new labels has one class only"
    rng = random.Random(opts.seed)
    train = list(parts["train"].pairs)[: opts.max_examples]
    n_replay = min(len(old_train), int(opts.replay * len(train)), opts.max_examples - len(train))
    return _Parts(
        train,
        list(parts["calib"].pairs) if "calib" in parts else [],
        list(held),
        rng.sample(old_train, max(n_replay, 0)),
        rng.sample(old_held, min(len(old_held), opts.max_calib_old)),
    )


def load_trainable(root: Path) -> tuple[Any, Any, Any, Any]:
    """A saved student ready to train again: (model, tokenizer, pair encoder, spec)."""
    from peft import PeftModel
    from safetensors.torch import load_file

    from judgecache.distill.build import load_encoder, load_tokenizer, quiet_peft
    from judgecache.distill.lexical import LexicalScorer
    from judgecache.distill.model import PairEncoder, StudentModel, resolve_base_model
    from judgecache.distill.student import StudentSpec

    spec = StudentSpec.from_dict(
        json.loads((root / "student.json").read_text(encoding="utf-8")), str(root)
    )
    if spec.merged or not (root / "adapter").is_dir():
        raise ConfigError(
            f"{root}: a merged student has no adapter to continue; refresh its source"
        )
    base = load_encoder(resolve_base_model(spec.base_model))
    with quiet_peft():
        encoder = PeftModel.from_pretrained(base, str(root / "adapter"), is_trainable=True)
    cfg = getattr(encoder, "config", None)
    hidden = int(getattr(cfg, "hidden_size", 0) or getattr(cfg, "dim", 0))
    lexical = LexicalScorer.load(root / "lexical.json") if spec.lexical else None
    model = StudentModel(
        encoder, spec.architecture, len(spec.labels), hidden, lexical=lexical, maxsim=spec.maxsim
    )
    model.load_head_state(load_file(str(root / "head.safetensors")))
    tokenizer = load_tokenizer(root / "tokenizer")
    pe = PairEncoder(
        tokenizer,
        max_length=spec.max_length,
        max_length_protected=spec.max_length_protected,
        protected=spec.protected,
    )
    return model, tokenizer, pe, spec


def saved_config(root: Path) -> Any:
    """The config the student was distilled with (``distill_config.json``; defaults without it)."""
    from judgecache.distill.config import DistillConfig

    path = root / "distill_config.json"
    saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return DistillConfig.from_dict(saved, source=str(path))


def _train_config(saved: Any, opts: RefreshOptions, n_train: int) -> Any:
    """The student's own training settings, bounded to ``max_steps``."""
    train = saved.train
    per_epoch = max(1, math.ceil(n_train / train.batch_size))
    return replace(
        train,
        epochs=max(1, math.ceil(opts.max_steps / per_epoch)),
        seed=opts.seed,
        eval_every=0,
        patience=10**9,
        progress=False,  # the stage lines say what it does; no validation to show
        checkpoint_every=0,
    )


def _truth(rubric: Any, pairs: list[LabeledPair], binary: bool) -> np.ndarray[Any, Any]:
    return np.asarray([binary_label(rubric, p.label) if binary else p.label for p in pairs])


def keeps(delta: dict[str, float], tolerance: float) -> bool:
    """The rule: keep the new student unless its paired delta's point value is below -tolerance.

    An undefined delta (NaN: e.g. one class only among the held-out labels) never keeps it.

    >>> keeps({"value": -0.01, "lo": -0.1, "hi": 0.08}, 0.0), keeps({"value": -0.01}, 0.02)
    (False, True)
    >>> keeps({"value": float("nan")}, 1.0)
    False
    """
    d = float(delta["value"])
    return math.isfinite(d) and d >= -tolerance


def _judge_metrics(
    truth: Any, pred: Any, prob: Any, positive: int, labels: list[int]
) -> dict[str, float]:
    from judgecache.stats import cohen_kappa, expected_calibration_error, roc_auc

    pos = (np.asarray(truth) >= positive).astype(int)
    out = {
        "binary_kappa": cohen_kappa(pos, (np.asarray(pred) >= positive).astype(int), labels=[0, 1]),
        "auc": roc_auc(pos, prob),
        "ece": expected_calibration_error(prob, pos),
    }
    if len(labels) > 2:
        out["weighted_kappa"] = cohen_kappa(truth, pred, labels=labels, weighting="quadratic")
    return {k: round(float(v), 4) for k, v in out.items()}


def refresh_student(
    student: str | Path,
    labels_source: str,
    opts: RefreshOptions | None = None,
    *,
    output: str | Path | None = None,
    log: StageLog | None = None,
) -> RefreshResult:
    """Continue ``student`` on its cache's new labels; keep it only if not worse (module doc)."""
    opts = opts or RefreshOptions()
    t0 = time.perf_counter()
    root = Path(student).expanduser()
    if not (root / "student.json").is_file():
        raise ConfigError(f"--student {student}: not a student directory (no student.json)")
    out = Path(output).expanduser() if output else next_version_dir(root)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--output {out} exists and is not empty; a refresh never overwrites")
    log = log or StageLog("refresh", stages=6, enabled=opts.progress)
    with log.stage("labels", f"reading the teacher's labels from {labels_source}"):
        spec_data = json.loads((root / "student.json").read_text(encoding="utf-8"))
        teacher = teacher_of(spec_data)
        seen = TrainedOn.load(root)
        if seen.teacher != str(teacher):
            raise ConfigError(f"{root}/trained_on.json names teacher {seen.teacher}, not {teacher}")
        labels = read_labels(labels_source, teacher, spec_data["rubric"])
        parts = split_new(labels, seen, opts)
        counts = {"labels": len(labels), "new": sum(seen.is_new(k) for k in keys_of(labels.pairs))}
        if isinstance(parts, str):
            log.done(parts)
            return RefreshResult(SKIPPED, str(root), parts, None, str(teacher), counts)
        counts |= {
            "train_new": len(parts.train), "replay_old": len(parts.replay),
            "calib_new": len(parts.calib), "calib_old": len(parts.calib_old),
            "holdout": len(parts.holdout),
        }  # fmt: skip
        log.done(", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return _refresh(root, labels, seen, parts, opts, out, log, counts, t0)


@dataclass
class _Trained:
    """The continued student and what it was built from."""

    model: Any
    tokenizer: Any
    pe: Any
    spec: Any
    saved: Any
    device: str
    steps: int


@dataclass
class _Calibrated:
    calibrator: Any
    thresholds: dict[str, Any]
    cuts: list[float] | None
    threshold: float | None


def _refresh(
    root: Path,
    labels: LabelSet,
    seen: TrainedOn,
    parts: _Parts,
    opts: RefreshOptions,
    out: Path,
    log: StageLog,
    counts: dict[str, int],
    t0: float,
) -> RefreshResult:
    rubric = labels.rubric
    st = _continue(root, rubric, parts, opts, log)
    with log.stage("calibrate", "recalibrating on new and never-trained-on labels"):
        cal = _recalibrate(root, rubric, st, parts.calib + parts.calib_old)
        log.done(f"{cal.calibrator.method} on {len(parts.calib) + len(parts.calib_old):,} labels")
    with log.stage("compare", f"old vs new student on {len(parts.holdout):,} held-out new labels"):
        res = _compare(root, rubric, st, cal, parts.holdout, opts)
        res.counts, res.teacher, res.steps = counts, str(labels.judge), st.steps
        log.done(f"{res.metric} {res.new[res.metric]:.3f} vs {res.old[res.metric]:.3f}: "
                 f"delta {format_ci(res.delta[res.metric], signed=True)}")  # fmt: skip
    delta = format_ci(res.delta[res.metric], signed=True)
    if not keeps(res.delta[res.metric], opts.tolerance):
        res.status, res.seconds = REJECTED, _since(t0)
        res.reason = (
            f"the refreshed student is worse on the held-out new labels: {res.metric} delta "
            f"{delta} is below {0.0 - opts.tolerance:g}; {root} stays"
        )
        return res
    with log.stage("save", f"writing the refreshed student to {out}"):
        from judgecache.distill.student import save_student

        new_spec = replace(st.spec, version="", merged=False)
        save_student(out, st.model, st.tokenizer, new_spec, cal.calibrator, cal.thresholds)
        if (root / "distill_config.json").is_file():
            (out / "distill_config.json").write_bytes((root / "distill_config.json").read_bytes())
        TrainedOn(
            seen.teacher,
            seen.train | keys_of(parts.train),
            seen.held_out | keys_of(parts.calib) | keys_of(parts.holdout),
        ).save(out)
        res.status, res.output, res.seconds = KEPT, str(out), _since(t0)
        res.reason = f"{res.metric} delta {delta} is not below {0.0 - opts.tolerance:g}"
        (out / "refresh.json").write_text(
            json.dumps(res.to_dict() | {"parent_version": st.spec.version}, indent=2) + "\n",
            encoding="utf-8",
        )
    return res


def _continue(
    root: Path, rubric: Any, parts: _Parts, opts: RefreshOptions, log: StageLog
) -> _Trained:
    """Load the student and train it ``max_steps`` more on new + replayed labels."""
    import torch

    from judgecache.distill.scoring import encode_pairs
    from judgecache.distill.train import seed_everything, targets_for, train_student

    with log.stage("load", f"loading {root} to train it further"):
        model, tokenizer, pe, spec = load_trainable(root)
        binary = spec.target == "binary"
        pairs = parts.train + parts.replay
        saved = saved_config(root)
        cfg = _train_config(saved, opts, len(pairs))
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        seed_everything(opts.seed)
        enc = encode_pairs(
            pe, spec.architecture, [(p.first, p.second) for p in pairs], model.lexical
        )
    with log.stage("train", f"up to {opts.max_steps} steps on {len(pairs):,} labels"):
        steps = 0
        if opts.max_steps:
            targets = targets_for(pairs, rubric, binary)
            steps = train_student(
                model, pe, enc, targets, [], [], spec.labels, cfg, stop_after_steps=opts.max_steps
            ).steps
        log.done(f"{steps} steps")
    model.eval()
    return _Trained(model, tokenizer, pe, spec, saved, cfg.device, steps)


def _recalibrate(root: Path, rubric: Any, st: _Trained, pairs: list[LabeledPair]) -> _Calibrated:
    """Calibrator, grade cuts and the chosen threshold, refitted on ``pairs``."""
    from judgecache.distill.calibrate import fit_calibrator
    from judgecache.distill.grade_cuts import fit_grade_cuts
    from judgecache.distill.student import Predictor

    raw = Predictor(st.model, st.pe, st.spec, None, None, device=st.device)
    z = raw.predict([(p.first, p.second) for p in pairs]).logits
    soft = np.asarray([binary_label(rubric, p.label) for p in pairs], dtype=np.float64)
    c = st.saved.calibration
    calibrator = fit_calibrator(z[:, raw.pos], soft, method=c.method, isotonic_min=c.isotonic_min)
    old = json.loads((root / "thresholds.json").read_text(encoding="utf-8"))
    thresholds: dict[str, Any] = {"default": 0.5, "chosen": None, "on": "refresh-calib"}
    cuts = None
    if old.get("grade_cuts") and st.spec.target != "binary":
        cuts = fit_grade_cuts(z, [p.label for p in pairs], st.spec.labels)
        thresholds["grade_cuts"] = cuts
    chosen = _rechoose(old, st.saved, calibrator.apply(z[:, raw.pos]), soft)
    thresholds["chosen"] = chosen
    return _Calibrated(calibrator, thresholds, cuts, chosen["threshold"] if chosen else None)


def _compare(
    root: Path,
    rubric: Any,
    st: _Trained,
    cal: _Calibrated,
    holdout: list[LabeledPair],
    opts: RefreshOptions,
) -> RefreshResult:
    """Old and new student on the held-out new labels, and their paired delta."""
    from judgecache.distill.pipeline import paired_delta
    from judgecache.distill.student import Predictor, load_predictor

    spec = st.spec
    binary = spec.target == "binary"
    positive = 1 if binary else int(spec.positive_from)
    held = [(p.first, p.second) for p in holdout]
    truth = _truth(rubric, holdout, binary)
    new = Predictor(
        st.model, st.pe, spec, cal.calibrator, cal.threshold, grade_cuts=cal.cuts, device=st.device
    ).predict(held)
    old = load_predictor(root, device=st.device).predict(held)
    delta = paired_delta(
        truth, new.labels, old.labels, spec.labels, positive, n_boot=opts.bootstrap, seed=opts.seed
    )
    return RefreshResult(
        "",
        str(root),
        "",
        metric="binary_kappa" if binary else "weighted_kappa",
        old=_judge_metrics(truth, old.labels, old.prob, positive, spec.labels),
        new=_judge_metrics(truth, new.labels, new.prob, positive, spec.labels),
        delta=delta,
    )


def _rechoose(old: dict[str, Any], saved: Any, prob: Any, truth: Any) -> dict[str, Any] | None:
    """Choose the threshold again for the old student's precision/recall target, if it had one."""
    from judgecache.distill.pipeline import choose_thresholds  # the distill run's own rule

    if not isinstance(old.get("chosen"), dict):
        return None
    try:
        chosen: dict[str, Any] | None = choose_thresholds(saved, prob, truth)["chosen"]
    except InsufficientDataError:
        return None  # too few calibration labels to certify the target: no threshold, as distill
    return chosen


def _since(t0: float) -> float:
    return round(time.perf_counter() - t0, 1)
