"""Data-parallel training under ``torchrun``: one process per GPU (or CPU slot), one writer.

``torchrun --nproc-per-node N -m judgecache.cli.main distill ...`` starts N copies of the same
command with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set. Each copy prepares the same data (seeded,
so identical), the student is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`,
and each rank takes every N-th pair of every batch. The loss is scaled so DDP's gradient mean
equals the single-process full-batch gradient: the run follows the single-process run up to
floating-point summation order. Rank 0 alone writes checkpoints; ranks > 0 leave once training
is over, so calibration, evaluation and every artifact come from rank 0 only.
Backends: NCCL on CUDA (each rank on ``cuda:LOCAL_RANK``), gloo on CPU.

Example:
    >>> ranks(env={})
    (0, 1)
    >>> share([10, 11, 12, 13, 14], rank=1, size=2)
    [11, 13]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist


def ranks(env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(rank, world size)`` from torchrun's environment; ``(0, 1)`` outside it."""
    env = os.environ if env is None else env
    return int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1"))


def active() -> bool:
    """True inside an initialized process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group (if launched by it); return this rank's device."""
    _, size = ranks()
    if size <= 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def is_writer() -> bool:
    """Whether this process writes checkpoints and artifacts (rank 0, or no process group)."""
    return not active() or dist.get_rank() == 0


def share(batch: Sequence[int], rank: int, size: int) -> list[int]:
    """This rank's part of a batch: every ``size``-th item from ``rank``."""
    return list(batch[rank::size])


def mean_over_ranks(value: torch.Tensor) -> float:
    """The mean of a scalar over the ranks (the value itself outside a process group)."""
    if not active():
        return float(value)
    total = value.detach().clone()
    dist.all_reduce(total)
    return float(total) / dist.get_world_size()


def wrap(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` in DDP when a process group is active (gradients averaged over ranks)."""
    if not active():
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids: Any = [device.index] if device.type == "cuda" else None
    # Some trainable weights (lexical feature weights, a pooler) may get no gradient in a step.
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def finish_worker() -> None:
    """End a rank > 0 after training (rank 0 goes on alone to calibrate and save)."""
    if not active():
        return
    rank = dist.get_rank()
    dist.barrier()
    dist.destroy_process_group()
    if rank != 0:
        raise SystemExit(0)
