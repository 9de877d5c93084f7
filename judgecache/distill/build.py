"""Load a local base encoder and wrap it with LoRA adapters (peft) into a :class:`StudentModel`.

Example:
    >>> from judgecache.distill.build import lora_targets_for
    >>> lora_targets_for("bert", None, [])
    ['query', 'value']
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch import nn

from judgecache.distill.config import LoraConfig
from judgecache.distill.lexical import LexicalScorer
from judgecache.distill.model import StudentModel, default_target_modules
from judgecache.errors import DistillationError


def lora_targets_for(
    model_type: str, configured: Sequence[str] | None, module_names: Sequence[str]
) -> list[str]:
    """The configured targets, else the architecture's defaults."""
    if configured:
        return list(configured)
    return default_target_modules(model_type, module_names)


def load_tokenizer(path: Path) -> Any:
    """The base's fast tokenizer (local files only: never a download)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True, use_fast=True)
    except (OSError, ValueError) as exc:
        raise DistillationError(f"cannot load a tokenizer from {path}: {exc}") from exc


def load_encoder(path: Path) -> nn.Module:
    """The bare base encoder (no task head), from local files only."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    # Sentence-transformers checkpoints carry a pooler we deliberately drop (mean pooling is
    # used): silence transformers' "UNEXPECTED pooler" load report, restore the level after.
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    # A "Loading weights" bar for a local 90 MB file is noise between our own progress lines.
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model: nn.Module = AutoModel.from_pretrained(
            str(path), local_files_only=True, add_pooling_layer=False
        )
    except TypeError:
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise DistillationError(f"cannot load a base encoder from {path}: {exc}") from exc
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    return model


@contextmanager
def quiet_peft() -> Iterator[None]:
    """Silence peft's use of transformers' deprecated ``is_gradient_checkpointing`` alias.

    It is a FutureWarning per student built or loaded that says nothing about the user's run
    (activation checkpointing is never used here); every other warning still shows.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning
        )
        yield


def build_student(
    base: Path,
    architecture: str,
    n_labels: int,
    lora: LoraConfig,
    *,
    lexical: LexicalScorer | None = None,
    maxsim: bool = False,
) -> tuple[StudentModel, Any]:
    """A fresh student: base encoder + LoRA (B = 0, so it starts as the base) + head."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    tokenizer = load_tokenizer(base)
    encoder = load_encoder(base)
    config = getattr(encoder, "config", None)
    model_type = str(getattr(config, "model_type", ""))
    names = [n for n, m in encoder.named_modules() if isinstance(m, nn.Linear)]
    targets = lora_targets_for(model_type, lora.target_modules, names)
    present = {n.rsplit(".", 1)[-1] for n in names}
    absent = [t for t in targets if t not in present]
    if absent:
        raise DistillationError(
            f"lora.target_modules {absent} are not linear layers of {base.name}; "
            f"choose from {sorted(present)[:20]}"
        )
    peft_cfg = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        bias="none",
        layers_to_transform=list(lora.layers) if lora.layers else None,
    )
    with warnings.catch_warnings():
        # peft reads transformers' deprecated `is_gradient_checkpointing` alias: a FutureWarning
        # per student that says nothing about the user's run (we never checkpoint activations).
        warnings.filterwarnings(
            "ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning
        )
        wrapped = get_peft_model(encoder, peft_cfg)
    hidden = int(getattr(config, "hidden_size", 0) or getattr(config, "dim", 0))
    student = StudentModel(wrapped, architecture, n_labels, hidden, lexical=lexical, maxsim=maxsim)
    return student, tokenizer
