"""Unit-length, mean-pooled embeddings of single texts with an untrained local encoder.

The query memory compares a new document with the labelled documents of its query by the cosine of
these vectors (the packaged MiniLM by default: a bi-encoder trained for exactly this similarity).

Example (loads the packaged MiniLM; about a second)::

    emb = TextEmbedder.load("default")
    v = emb(["a wifi router forwards packets", "routers forward packets"])
    float(v[0] @ v[1])   # cosine, about 0.8
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from judgecache.distill.model import mean_pool, resolve_base_model
from judgecache.distill.train import resolve_device

MAX_TOKENS = 256


class TextEmbedder:
    """Callable: texts -> ``(n, dim)`` float32 unit vectors (length-sorted batches, no grad)."""

    def __init__(
        self,
        encoder: torch.nn.Module,
        tokenizer: Any,
        *,
        max_tokens: int = MAX_TOKENS,
        batch_size: int = 64,
        device: str = "cpu",
    ) -> None:
        self.encoder = encoder.eval()
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.encoder.to(self.device)

    @classmethod
    def load(cls, base: str | Path = "default", **kwargs: Any) -> TextEmbedder:
        """The base model at ``base`` (``default`` = the packaged all-MiniLM-L6-v2)."""
        from judgecache.distill.build import load_encoder, load_tokenizer

        root = resolve_base_model(str(base))
        return cls(load_encoder(root), load_tokenizer(root), **kwargs)

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float32]:
        config: Any = self.encoder.config
        dim = int(getattr(config, "hidden_size", 0) or config.dim)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        # Sorting by length keeps the padding (wasted compute) of each batch small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.no_grad():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.encoder(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).last_hidden_state
                pooled = mean_pool(hidden, batch["attention_mask"])
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                out[idx] = pooled.cpu().numpy()
        return out
