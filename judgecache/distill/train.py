"""The training loop: seeded, length-bucketed, early-stopped on validation agreement, resumable.

Loss: one binary cross-entropy per cumulative threshold ``P(label >= k)`` -- an ordinal loss for
grades, plain BCE (with soft targets where the teacher gave probabilities) for binary labels.
Checkpoints hold the trainable weights, the optimizer state and the RNG state as safetensors plus
a JSON file (never pickle), so a resumed run continues exactly where it stopped.

Example:
    >>> import numpy as np
    >>> labels_from_logits(np.array([[2.0, 1.0, -1.0], [-1.0, -2.0, -3.0]]), [0, 1, 2, 3]).tolist()
    [2, 0]
"""

from __future__ import annotations

import json
import math
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.torch import load_file, save_file

from judgecache.distill.config import TrainConfig
from judgecache.distill.data import LabeledPair, binary_label
from judgecache.distill.model import PairEncoder, StudentModel
from judgecache.distill.scoring import (
    EncodedPair,
    extra_features,
    head_inputs,
    predict_logits,
)
from judgecache.errors import DistillationError
from judgecache.judges.rubric import Rubric
from judgecache.stats import cohen_kappa, roc_auc


def target_labels(rubric: Rubric, binary: bool) -> list[int]:
    """The label values the student predicts: ``[0, 1]`` (binary view) or the rubric's grades."""
    return [0, 1] if binary else [int(v) for v in rubric.labels]


def targets_for(pairs: Sequence[LabeledPair], rubric: Rubric, binary: bool) -> torch.Tensor:
    """Cumulative targets ``[n, K-1]``: ``1[label >= k]`` (soft: the teacher's probability)."""
    labels = target_labels(rubric, binary)
    out = torch.zeros((len(pairs), len(labels) - 1))
    for i, p in enumerate(pairs):
        if binary:
            out[i, 0] = p.score if p.score is not None else binary_label(rubric, p.label)
        else:
            idx = labels.index(p.label)
            out[i, :idx] = 1.0
    return out


def labels_from_logits(
    logits: NDArray[np.floating[Any]] | torch.Tensor, labels: Sequence[int]
) -> NDArray[np.int64]:
    """Predicted label: the highest grade k with ``P(label >= k) >= 0.5`` (the median grade)."""
    z = logits.numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits)
    steps = (z >= 0).sum(axis=1)
    return np.asarray(np.asarray(labels)[steps], dtype=np.int64)


def agreement_metric(truth: Sequence[int], pred: Sequence[int], labels: Sequence[int]) -> float:
    """Graded validation agreement: quadratic-weighted kappa (Cohen's kappa for two labels)."""
    weighting: Literal["quadratic"] | None = "quadratic" if len(labels) > 2 else None
    k = cohen_kappa(truth, pred, labels=list(labels), weighting=weighting)
    return -1.0 if math.isnan(k) else k


def validation_metric(
    truth: Sequence[int], logits: NDArray[np.floating[Any]] | torch.Tensor, labels: Sequence[int]
) -> float:
    """Early-stopping metric: weighted kappa for grades; AUC for binary targets.

    Binary kappa at p >= 0.5 is flat while an imbalanced student still predicts the majority class
    for everything, so it cannot see a student that ranks better; AUC does.

    >>> validation_metric([0, 1, 1], np.array([[-1.0], [0.2], [-0.5]]), [0, 1])
    1.0
    """
    z = logits.numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits)
    if len(labels) == 2:
        auc = roc_auc(np.asarray(truth) == labels[1], z[:, 0])
        return -1.0 if math.isnan(auc) else auc
    return agreement_metric(truth, labels_from_logits(z, labels).tolist(), labels)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise DistillationError(f"train.device {name!r} is not a torch device") from exc


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


@torch.no_grad()
def init_head(
    model: StudentModel,
    pe: PairEncoder,
    encoded: Sequence[EncodedPair],
    targets: torch.Tensor,
    device: torch.device,
    *,
    batch_size: int = 64,
) -> dict[str, float]:
    """Start the head where the base already is.

    bi: fit ``scale``, the lexical weights (when the student has them) and the cuts to the
    zero-shot cosines by logistic (ordinal) regression, so step 0 is the calibrated zero-shot
    baseline (plus lexical features). cross: a zero score (the projection starts at zero), cuts at
    the label prior -- or fitted with the lexical features -- so step 0 predicts what the base
    rates and the lexical features alone predict.
    """
    prior = targets.mean(0).clamp(1e-3, 1 - 1e-3)
    cuts0 = (-torch.log(prior / (1 - prior))).tolist()
    extra = extra_features(model, encoded)
    if model.architecture == "cross" and extra is None:
        model.head.set_cuts(sorted(cuts0), 1.0)
        return {"scale": 1.0}
    model.eval()
    if model.architecture == "cross":
        feats = torch.zeros(len(encoded))
    else:
        feats, extra = head_inputs(model, pe, encoded, device, batch_size=batch_size)
        feats = feats.float().cpu()
        extra = None if extra is None else extra.float().cpu()
    return fit_head(model, feats, extra, targets, fit_scale=model.architecture == "bi")


def fit_head(
    model: StudentModel,
    feats: torch.Tensor,
    extra: torch.Tensor | None,
    targets: torch.Tensor,
    *,
    fit_scale: bool = True,
    l2: float = 1e-3,
) -> dict[str, float]:
    """Ordinal logistic regression of the targets on the score (and extra features), by LBFGS.

    A small L2 penalty on the extra weights keeps the fit finite when a feature separates the
    training pairs perfectly.
    """
    prior = targets.mean(0).clamp(1e-3, 1 - 1e-3)
    cuts0 = (-torch.log(prior / (1 - prior))).tolist()
    start_scale = 10.0 if fit_scale else 1.0
    scale = torch.tensor(start_scale, requires_grad=fit_scale)
    n_extra = 0 if extra is None else extra.shape[1]
    weight = torch.zeros(n_extra, requires_grad=True)
    cuts = torch.tensor(
        sorted(c + start_scale * float(feats.mean()) for c in cuts0), requires_grad=True
    )
    params = [p for p in (scale, weight, cuts) if p.requires_grad]
    opt = torch.optim.LBFGS(params, lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        lin = scale * feats
        if extra is not None:
            lin = lin + extra @ weight
        z = lin.unsqueeze(-1) - cuts
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, targets)
        loss = loss + l2 * (weight**2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    with torch.enable_grad():
        loss = opt.step(closure)  # type: ignore[no-untyped-call]
    ordered = sorted(cuts.detach().tolist())
    weights = weight.detach().tolist()
    model.head.set_cuts(ordered, float(scale.detach()), weights if n_extra else None)
    info = {"scale": float(scale.detach()), "init_loss": float(loss.detach())}
    if n_extra:
        info.update({f"w_{n}": w for n, w in zip(model.extra_names, weights, strict=True)})
    return info


def bucketed_batches(costs: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort within windows of 50 batches by length, cut, shuffle the batch order.

    >>> b = bucketed_batches([5, 1, 9, 3], 2, random.Random(0))
    >>> len(b), sorted(i for x in b for i in x)
    (2, [0, 1, 2, 3])
    """
    idx = list(range(len(costs)))
    rng.shuffle(idx)
    window = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(idx), window):
        chunk = sorted(idx[start : start + window], key=lambda i: costs[i])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


@dataclass
class TrainResult:
    """What the loop did: steps, time, the loss curve and the validation history."""

    steps: int
    seconds: float
    best_metric: float
    best_step: int
    stopped_early: bool
    losses: list[float] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from: int = 0


def _trainable(model: StudentModel) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    path: Path,
    model: StudentModel,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
) -> None:
    """Trainable weights + AdamW moments + torch RNG in safetensors; counters in JSON."""
    path.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    names = {id(p): n for n, p in _trainable(model).items()}
    for n, p in _trainable(model).items():
        tensors[f"param/{n}"] = p.detach().cpu().contiguous()
    for group in optimizer.param_groups:
        for p in group["params"]:
            for k, v in optimizer.state.get(p, {}).items():
                if isinstance(v, torch.Tensor):
                    tensors[f"optim/{names[id(p)]}/{k}"] = (
                        v.detach().cpu().contiguous().reshape(v.shape)
                    )
    tensors["rng/torch"] = torch.get_rng_state()
    tmp = path / "state.safetensors.tmp"
    save_file(tensors, str(tmp))
    tmp.replace(path / "state.safetensors")
    (path / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")


def load_checkpoint(
    path: Path, model: StudentModel, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; return its JSON counters."""
    tensors = load_file(str(path / "state.safetensors"))
    params = _trainable(model)
    with torch.no_grad():
        for n, p in params.items():
            key = f"param/{n}"
            if key not in tensors:
                raise DistillationError(
                    f"checkpoint {path} lacks {n}; was it made by another config?"
                )
            p.copy_(tensors[key])
    by_name = {n: p for n, p in params.items()}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, rest = key.split("/", 1)
            name, slot = rest.rsplit("/", 1)
            optimizer.state[by_name[name]][slot] = value
    torch.set_rng_state(tensors["rng/torch"])
    state: dict[str, Any] = json.loads((path / "state.json").read_text(encoding="utf-8"))
    return state


def _lr_lambda(total: int, warmup: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(warmup, 1)
        return max(0.0, (total - step) / max(total - warmup, 1))

    return f


def train_student(
    model: StudentModel,
    pe: PairEncoder,
    train: Sequence[EncodedPair],
    train_targets: torch.Tensor,
    val: Sequence[EncodedPair],
    val_labels: Sequence[int],
    labels: Sequence[int],
    cfg: TrainConfig,
    *,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    stop_after_steps: int | None = None,
) -> TrainResult:
    """Train LoRA + head; keep the weights of the best validation agreement.

    ``stop_after_steps`` ends the run early after writing a checkpoint (to test resuming).
    """
    device = resolve_device(cfg.device)
    model.to(device)
    params = _trainable(model)
    head_names = [n for n in params if n.startswith(("head.", "proj."))]
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for n, p in params.items() if n not in head_names], "lr": cfg.lr},
            {"params": [params[n] for n in head_names], "lr": cfg.head_lr, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
    )
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warmup = int(cfg.warmup_ratio * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(total, warmup))
    eval_every = cfg.eval_every or steps_per_epoch
    costs = [e.cost for e in train]

    step, best, best_step, bad_evals = 0, -math.inf, 0, 0
    history: list[dict[str, float]] = []
    losses: list[float] = []
    best_state: dict[str, torch.Tensor] = {}
    resumed_from = 0
    if resume and checkpoint_dir is not None and (checkpoint_dir / "state.json").is_file():
        state = load_checkpoint(checkpoint_dir, model, optimizer)
        step, best, best_step = int(state["step"]), float(state["best"]), int(state["best_step"])
        bad_evals, history, losses = int(state["bad_evals"]), state["history"], state["losses"]
        resumed_from = step
        with warnings.catch_warnings():
            # Fast-forwarding the schedule before any optimizer step is intended here.
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(step):
                schedule.step()
        best_file = checkpoint_dir / "best.safetensors"
        if best_file.is_file():
            best_state = load_file(str(best_file))

    def evaluate() -> float:
        if not val:
            return -math.inf
        logits = predict_logits(model, pe, val, device, batch_size=cfg.batch_size * 2)
        return validation_metric(val_labels, logits, labels)

    def snapshot() -> dict[str, torch.Tensor]:
        return {n: p.detach().cpu().clone() for n, p in _trainable(model).items()}

    if step == 0 and val:
        best, best_step = evaluate(), 0
        best_state = snapshot()
        history.append({"step": 0, "val_agreement": best})

    start = time.perf_counter()
    stopped = False
    from tqdm import tqdm

    bar = tqdm(total=total, initial=step, disable=not cfg.progress, desc="distill", unit="step")
    try:
        for epoch in range(step // steps_per_epoch, cfg.epochs):
            batches = bucketed_batches(
                costs, cfg.batch_size, random.Random(cfg.seed * 1009 + epoch)
            )
            for b_index, batch in enumerate(batches):
                if epoch * steps_per_epoch + b_index < step:
                    continue  # already done before the resume point
                model.train()
                items = [train[i] for i in batch]
                feats, extra = head_inputs(model, pe, items, device, batch_size=len(items))
                logits = model.head(feats, extra)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, train_targets[batch].to(device)
                )
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
                optimizer.step()
                schedule.step()
                step += 1
                losses.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", val=f"{best:.3f}")
                evaluated = step % eval_every == 0 or step == total
                if evaluated:
                    metric = evaluate()
                    history.append({"step": step, "val_agreement": metric})
                    if metric > best:
                        best, best_step, bad_evals = metric, step, 0
                        best_state = snapshot()
                    else:
                        bad_evals += 1
                    bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", val=f"{metric:.3f}")
                checkpoint_now = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
                due = checkpoint_now or evaluated or step == stop_after_steps
                if checkpoint_dir is not None and due:
                    state = {
                        "step": step,
                        "best": best,
                        "best_step": best_step,
                        "bad_evals": bad_evals,
                        "history": history,
                        "losses": losses,
                    }
                    save_checkpoint(checkpoint_dir, model, optimizer, state)
                    if best_state:
                        save_file(best_state, str(checkpoint_dir / "best.safetensors"))
                if step == stop_after_steps:
                    return TrainResult(
                        step,
                        time.perf_counter() - start,
                        best,
                        best_step,
                        False,
                        losses,
                        history,
                        resumed_from,
                    )
                if val and bad_evals >= cfg.patience:
                    stopped = True
                    break
            if stopped:
                break
    finally:
        bar.close()
    if best_state:
        with torch.no_grad():
            for n, p in _trainable(model).items():
                p.copy_(best_state[n].to(p.device))
    return TrainResult(
        step, time.perf_counter() - start, best, best_step, stopped, losses, history, resumed_from
    )
