"""The training loop: seeded, length-bucketed, early-stopped on validation agreement, resumable.

Loss: one binary cross-entropy per cumulative threshold ``P(label >= k)`` -- an ordinal loss for
grades, plain BCE (with soft targets where the teacher gave probabilities) for binary labels.
With ``train.pairwise`` each batch holds one query's pairs and a RankNet term is added: within
the query, a better-labelled document should score higher (:func:`ranknet_loss`).
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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from numpy.typing import NDArray
from safetensors.torch import load_file, save_file

from judgecache.distill import distributed
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


def query_batches(groups: Sequence[object], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of one group (query) each: shuffle within each group, cut, shuffle the batches.

    >>> groups = ["a", "a", "b", "a", "b"]
    >>> b = query_batches(groups, 2, random.Random(0))
    >>> sorted(len(x) for x in b), all(len({groups[i] for i in x}) == 1 for x in b)
    ([1, 2, 2], True)
    """
    by_group: dict[object, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    batches: list[list[int]] = []
    for idx in by_group.values():
        rng.shuffle(idx)
        batches.extend(idx[j : j + batch_size] for j in range(0, len(idx), batch_size))
    rng.shuffle(batches)
    return batches


def batch_plan(
    cfg: TrainConfig, costs: Sequence[int], groups: Sequence[object] | None
) -> Callable[[int, random.Random], list[list[int]]]:
    """How an epoch is cut into batches: by query with ``cfg.pairwise``, else length-bucketed."""
    if cfg.pairwise > 0 and groups is not None:
        return partial(query_batches, groups)
    return partial(bucketed_batches, costs)


def epoch_steps(cfg: TrainConfig, n: int, groups: Sequence[object] | None) -> int:
    """Batches in an epoch of ``n`` pairs as :func:`batch_plan` cuts them (counted, not cut).

    >>> epoch_steps(TrainConfig(batch_size=2, pairwise=1.0), 5, ["a", "a", "b", "a", "b"])
    3
    >>> epoch_steps(TrainConfig(batch_size=2), 5, None)
    3
    """
    if cfg.pairwise > 0 and groups is not None:
        return sum(math.ceil(c / cfg.batch_size) for c in Counter(groups).values())
    return math.ceil(n / cfg.batch_size)


def ranknet_loss(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean ``log(1 + exp(-(s_i - s_j)))`` over the pairs where ``i`` is labelled above ``j``.

    ``targets`` are the cumulative targets (a pair's grade is their sum); no ordered pair: 0.

    >>> t = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    >>> round(float(ranknet_loss(torch.tensor([2.0, 0.0]), t)), 4)   # log(1 + e^-2)
    0.1269
    >>> float(ranknet_loss(torch.tensor([2.0, 0.0]), torch.zeros(2, 2)))
    0.0
    """
    grade = targets.sum(dim=1)
    above = grade[:, None] > grade[None, :]
    if not bool(above.any()):
        return scores.sum() * 0.0
    diff = scores[:, None] - scores[None, :]
    return torch.nn.functional.softplus(-diff[above]).mean()


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


@dataclass
class _Loop:
    """The loop's progress: what a checkpoint stores and a resumed run restores."""

    step: int = 0
    best: float = -math.inf
    best_step: int = 0
    bad_evals: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    resumed_from: int = 0

    def counters(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "best": self.best,
            "best_step": self.best_step,
            "bad_evals": self.bad_evals,
            "history": self.history,
            "losses": self.losses,
        }

    def result(self, seconds: float, stopped: bool) -> TrainResult:
        return TrainResult(
            self.step, seconds, self.best, self.best_step, stopped, self.losses, self.history,
            self.resumed_from,
        )  # fmt: skip


class _HeadForward(torch.nn.Module):
    """Encoder + head as one ``forward`` so DistributedDataParallel can sync its gradients."""

    def __init__(self, model: StudentModel, pe: PairEncoder, device: torch.device) -> None:
        super().__init__()
        self.model = model
        self._pe, self._device = pe, device

    def forward(self, items: list[EncodedPair]) -> torch.Tensor:
        feats, extra = head_inputs(self.model, self._pe, items, self._device, batch_size=len(items))
        out: torch.Tensor = self.model.head(feats, extra)
        return out


def _optimizer(model: StudentModel, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with the head (and projection) at ``head_lr`` and no weight decay."""
    params = _trainable(model)
    head_names = [n for n in params if n.startswith(("head.", "proj."))]
    return torch.optim.AdamW(
        [
            {"params": [p for n, p in params.items() if n not in head_names], "lr": cfg.lr},
            {"params": [params[n] for n in head_names], "lr": cfg.head_lr, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
    )


def _resume(
    checkpoint_dir: Path,
    model: StudentModel,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LambdaLR,
) -> _Loop:
    """Restore weights, optimizer, RNG and counters; fast-forward the LR schedule."""
    state = load_checkpoint(checkpoint_dir, model, optimizer)
    loop = _Loop(
        step=int(state["step"]),
        best=float(state["best"]),
        best_step=int(state["best_step"]),
        bad_evals=int(state["bad_evals"]),
        history=state["history"],
        losses=state["losses"],
        resumed_from=int(state["step"]),
    )
    with warnings.catch_warnings():
        # Fast-forwarding the schedule before any optimizer step is intended here.
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(loop.step):
            schedule.step()
    best_file = checkpoint_dir / "best.safetensors"
    if best_file.is_file():
        loop.best_state = load_file(str(best_file))
    return loop


def _batch_loss(
    forward: torch.nn.Module,
    train: Sequence[EncodedPair],
    targets: torch.Tensor,
    batch: list[int],
    device: torch.device,
    pairwise: float = 0.0,
) -> torch.Tensor:
    """This rank's share of the mean BCE of ``batch``, scaled so the ranks' mean is the whole.

    One process: the plain mean. Under DDP each rank sums over its share and divides by the
    batch's element count times the world size, because DDP averages gradients over ranks.
    ``pairwise`` adds that weight times :func:`ranknet_loss` over the rank's share (the score is
    the first cumulative logit: every cut shares it, so differences are the score's).
    """
    rank, size = (dist.get_rank(), dist.get_world_size()) if distributed.active() else (0, 1)
    mine = distributed.share(batch, rank, size)
    # A rank with no item of a short last batch still joins the gradient exchange, with weight 0.
    weight = 1.0 if mine else 0.0
    mine = mine or batch[:1]
    logits = forward([train[i] for i in mine])
    mine_targets = targets[mine].to(device)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, mine_targets, reduction="sum"
    )
    loss = loss * (weight * size / (len(batch) * targets.shape[1]))
    if pairwise > 0:
        loss = loss + weight * pairwise * ranknet_loss(logits[:, 0], mine_targets)
    return loss


def _evaluate(
    model: StudentModel,
    pe: PairEncoder,
    val: Sequence[EncodedPair],
    val_labels: Sequence[int],
    labels: Sequence[int],
    device: torch.device,
    batch_size: int,
) -> float:
    if not val:
        return -math.inf
    logits = predict_logits(model, pe, val, device, batch_size=batch_size * 2)
    return validation_metric(val_labels, logits, labels)


def _snapshot(model: StudentModel) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in _trainable(model).items()}


def _record_eval(loop: _Loop, metric: float, model: StudentModel) -> None:
    """Log a validation result; keep the weights when it is the best so far."""
    loop.history.append({"step": loop.step, "val_agreement": metric})
    if metric > loop.best:
        loop.best, loop.best_step, loop.bad_evals = metric, loop.step, 0
        loop.best_state = _snapshot(model)
    else:
        loop.bad_evals += 1


def _save(
    checkpoint_dir: Path | None, model: StudentModel, optimizer: torch.optim.Optimizer, loop: _Loop
) -> None:
    """Write the checkpoint (rank 0 only: every rank holds the same weights)."""
    if checkpoint_dir is None or not distributed.is_writer():
        return
    save_checkpoint(checkpoint_dir, model, optimizer, loop.counters())
    if loop.best_state:
        save_file(loop.best_state, str(checkpoint_dir / "best.safetensors"))


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
    groups: Sequence[object] | None = None,
) -> TrainResult:
    """Train LoRA + head; keep the weights of the best validation agreement.

    ``groups`` (one per training pair: its query) are needed by ``cfg.pairwise``.
    ``stop_after_steps`` ends the run early after writing a checkpoint (to test resuming).
    Under ``torchrun`` the ranks train one model data-parallel (see
    :mod:`judgecache.distill.distributed`); ranks > 0 exit when training ends.
    """
    if cfg.pairwise > 0 and (groups is None or len(groups) != len(train)):
        raise DistillationError("train.pairwise needs the query of every training pair")
    device = distributed.setup(resolve_device(cfg.device))
    model.to(device)
    optimizer = _optimizer(model, cfg)
    batches_of = batch_plan(cfg, [e.cost for e in train], groups)
    steps_per_epoch = epoch_steps(cfg, len(train), groups)
    total = steps_per_epoch * cfg.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_lambda(total, int(cfg.warmup_ratio * total))
    )
    loop = _Loop()
    if resume and checkpoint_dir is not None and (checkpoint_dir / "state.json").is_file():
        loop = _resume(checkpoint_dir, model, optimizer, schedule)
    evaluate = partial(_evaluate, model, pe, val, val_labels, labels, device, cfg.batch_size)
    if loop.step == 0 and val:
        loop.best, loop.best_step, loop.best_state = evaluate(), 0, _snapshot(model)
        loop.history.append({"step": 0, "val_agreement": loop.best})
    start = time.perf_counter()
    forward = distributed.wrap(_HeadForward(model, pe, device), device)
    stopped = _run_epochs(
        loop, forward, model, optimizer, schedule, train, train_targets, cfg, evaluate,
        batches_of, device=device, total=total, steps_per_epoch=steps_per_epoch,
        checkpoint_dir=checkpoint_dir, stop_after_steps=stop_after_steps, has_val=bool(val),
    )  # fmt: skip
    if stopped is None:  # stopped on request, to test resuming: keep the last weights
        distributed.finish_worker()
        return loop.result(time.perf_counter() - start, False)
    if loop.best_state:
        with torch.no_grad():
            for n, p in _trainable(model).items():
                p.copy_(loop.best_state[n].to(p.device))
    distributed.finish_worker()
    return loop.result(time.perf_counter() - start, stopped)


def _run_epochs(
    loop: _Loop,
    forward: torch.nn.Module,
    model: StudentModel,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LambdaLR,
    train: Sequence[EncodedPair],
    targets: torch.Tensor,
    cfg: TrainConfig,
    evaluate: Callable[[], float],
    batches_of: Callable[[int, random.Random], list[list[int]]],
    *,
    device: torch.device,
    total: int,
    steps_per_epoch: int,
    checkpoint_dir: Path | None,
    stop_after_steps: int | None,
    has_val: bool,
) -> bool | None:
    """Step through the epochs; True when stopped early, None when ``stop_after_steps`` hit."""
    from tqdm import tqdm

    eval_every = cfg.eval_every or steps_per_epoch
    params = list(_trainable(model).values())
    show = cfg.progress and distributed.is_writer()
    bar = tqdm(total=total, initial=loop.step, disable=not show, desc="distill", unit="step")
    try:
        for epoch in range(loop.step // steps_per_epoch, cfg.epochs):
            rng = random.Random(cfg.seed * 1009 + epoch)
            for b_index, batch in enumerate(batches_of(cfg.batch_size, rng)):
                if epoch * steps_per_epoch + b_index < loop.step:
                    continue  # already done before the resume point
                forward.train()
                loss = _batch_loss(forward, train, targets, batch, device, cfg.pairwise)
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                loop.step += 1
                # Each rank's loss is its scaled share; their mean is the whole batch's loss.
                loop.losses.append(distributed.mean_over_ranks(loss.detach()))
                bar.update(1)
                evaluated = loop.step % eval_every == 0 or loop.step == total
                if evaluated:
                    _record_eval(loop, evaluate(), model)
                bar.set_postfix(loss=f"{np.mean(loop.losses[-20:]):.4f}", val=f"{loop.best:.3f}")
                every = cfg.checkpoint_every and loop.step % cfg.checkpoint_every == 0
                if every or evaluated or loop.step == stop_after_steps:
                    _save(checkpoint_dir, model, optimizer, loop)
                if loop.step == stop_after_steps:
                    return None
                if has_val and loop.bad_evals >= cfg.patience:
                    return True
    finally:
        bar.close()
    return False
