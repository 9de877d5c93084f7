"""The student network: a LoRA-adapted encoder plus a tiny ordinal head.

Two architectures, chosen by measurement (see docs/benchmarks.md, distillation section):

* ``bi`` -- a bi-encoder. Each text is mean-pooled on its own; the score is the cosine of the two
  embeddings. The head maps it to cumulative logits ``z_k = a * cos - c_k`` (``P(label >= k)``),
  initialised from a fit on the base's zero-shot cosine, so step 0 *is* the zero-shot baseline and
  training starts from what the base already knows. Document embeddings are reusable.
* ``cross`` -- a cross-encoder: the pair is read jointly, mean-pooled, and projected to one score
  ``s``; ``z_k = s - c_k`` with ``c_k`` initialised from the label prior.

Only the document/context side is ever truncated; the query/answer is kept whole (an over-long one
is an :class:`~judgecache.errors.InputError`, never silently cut).

Example:
    >>> import torch
    >>> head = OrdinalHead(n_labels=4)
    >>> head(torch.tensor([0.5])).shape
    torch.Size([1, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from judgecache.distill.lexical import LexicalScorer
from judgecache.errors import DistillationError, InputError

DEFAULT_TARGETS: dict[str, list[str]] = {
    "bert": ["query", "value"],
    "roberta": ["query", "value"],
    "xlm-roberta": ["query", "value"],
    "electra": ["query", "value"],
    "camembert": ["query", "value"],
    "distilbert": ["q_lin", "v_lin"],
    "deberta": ["in_proj"],
    "deberta-v2": ["query_proj", "value_proj"],
    "mpnet": ["q", "v"],
    "albert": ["query", "value"],
}
"""LoRA target modules per ``config.model_type`` (query and value projections)."""


def resolve_base_model(base: str) -> Path:
    """The local directory of ``base_model:``: a packaged base by short name (``minilm`` =
    ``default``, ``mpnet``), a local model directory, or a Hub id (see :mod:`.bases`).

    >>> resolve_base_model("default").name
    'model'
    """
    from judgecache.distill.bases import resolve_base

    return resolve_base(base)


def default_target_modules(model_type: str, module_names: Sequence[str]) -> list[str]:
    """The LoRA targets for an architecture; unknown ones must be configured explicitly.

    >>> default_target_modules("bert", [])
    ['query', 'value']
    """
    if model_type in DEFAULT_TARGETS:
        return list(DEFAULT_TARGETS[model_type])
    linear = sorted({n.rsplit(".", 1)[-1] for n in module_names})
    raise DistillationError(
        f"no default LoRA targets for model type {model_type!r}; set lora.target_modules to some "
        f"of its linear layers: {linear[:20]}"
    )


class OrdinalHead(nn.Module):
    """Cumulative logits ``z_k = scale * x + w . f - cut_k`` with ordered cuts.

    ``f`` holds ``n_extra`` extra features of the pair (the lexical ones, see
    :mod:`judgecache.distill.lexical`); with ``n_extra = 0`` the head reads the score alone.
    """

    def __init__(self, n_labels: int, n_extra: int = 0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.first_cut = nn.Parameter(torch.tensor(0.0))
        # Gaps are softplus-ed so the cuts stay ordered (P(y>=k) decreasing in k).
        self.gaps = nn.Parameter(torch.zeros(max(n_labels - 2, 0)))
        self.n_extra = n_extra
        # Zero weights: a fresh head reads the score alone until it is fitted.
        self.extra_weight = nn.Parameter(torch.zeros(n_extra)) if n_extra else None

    def cuts(self) -> torch.Tensor:
        gaps = nn.functional.softplus(self.gaps)
        return torch.cat([self.first_cut.view(1), self.first_cut + torch.cumsum(gaps, 0)])

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        z = self.scale * x
        if self.extra_weight is not None:
            if extra is None or extra.shape[-1] != self.n_extra:
                got = None if extra is None else tuple(extra.shape)
                raise DistillationError(
                    f"the head needs {self.n_extra} extra features per pair, got {got}"
                )
            z = z + extra.to(z.dtype) @ self.extra_weight
        return z.unsqueeze(-1) - self.cuts()

    @torch.no_grad()
    def set_cuts(
        self, cuts: Sequence[float], scale: float, extra_weight: Sequence[float] | None = None
    ) -> None:
        """Set ordered cut-points (strictly increasing), the scale and the extra weights."""
        c = torch.tensor(list(cuts), dtype=torch.float32)
        self.scale.fill_(scale)
        if self.extra_weight is not None and extra_weight is not None:
            self.extra_weight.copy_(torch.tensor(list(extra_weight), dtype=torch.float32))
        self.first_cut.fill_(float(c[0]))
        if len(c) > 1:
            diffs = torch.clamp(c[1:] - c[:-1], min=1e-4)
            self.gaps.copy_(torch.log(torch.expm1(diffs)))


@dataclass
class Batch:
    """Token ids ready for the encoder (padded to the longest row of the batch)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor | None

    def to(self, device: torch.device) -> Batch:
        tt = None if self.token_type_ids is None else self.token_type_ids.to(device)
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), tt)


@dataclass
class PackedBatch:
    """Rows laid end to end with no padding, for the inference-only packed encoder path.

    ``runs`` are ``(first token, rows, length)`` for each stretch of consecutive rows of equal
    length: attention runs on an ``[rows, length]`` view of a run, every other op of the encoder
    on the flat ``[tokens, hidden]`` tensor, so no FLOP is spent on padding.

    >>> PackedBatch.of([[5, 6], [7, 8], [9]]).runs
    [(0, 2, 2), (4, 1, 1)]
    """

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    lengths: list[int]
    runs: list[tuple[int, int, int]]

    @classmethod
    def of(cls, rows: Sequence[Sequence[int]]) -> PackedBatch:
        """Pack rows (sort them by length first: every change of length starts a new run)."""
        lengths = [len(r) for r in rows]
        runs: list[tuple[int, int, int]] = []
        start = 0
        for length in lengths:
            if runs and runs[-1][2] == length:
                first, n, _ = runs[-1]
                runs[-1] = (first, n + 1, length)
            else:
                runs.append((start, 1, length))
            start += length
        ids = torch.tensor([t for r in rows for t in r], dtype=torch.long)
        positions = torch.cat([torch.arange(n) for n in lengths]) if rows else ids
        return cls(ids, positions, lengths, runs)

    def to(self, device: torch.device) -> PackedBatch:
        return PackedBatch(
            self.input_ids.to(device), self.position_ids.to(device), self.lengths, self.runs
        )


def packable(encoder: nn.Module) -> bool:
    """Whether :func:`packed_token_states` computes this encoder: a plain BERT in eval mode.

    Anything else (a peft wrapper, another architecture, training mode) takes the padded path.
    """
    try:
        from transformers import BertModel
    except ImportError:  # pragma: no cover - transformers comes with the distill extra
        return False
    config = getattr(encoder, "config", None)
    return (
        isinstance(encoder, BertModel)
        and not encoder.training
        and not getattr(config, "is_decoder", False)
        and not getattr(config, "add_cross_attention", False)
        and getattr(config, "position_embedding_type", "absolute") == "absolute"
    )


def packed_token_states(encoder: nn.Module, batch: PackedBatch) -> torch.Tensor:
    """A BERT's last hidden states ``[tokens, hidden]`` for a packed batch (inference only).

    The same function as ``encoder(**padded).last_hidden_state`` on each row's real tokens (the
    encoder's own modules run: fp32 or int8 alike); check :func:`packable` first.
    """
    emb: Any = encoder.embeddings
    # BERT adds token type 0's embedding to every token of a single text.
    words: torch.Tensor = emb.word_embeddings(batch.input_ids) + emb.token_type_embeddings.weight[0]
    hidden: torch.Tensor = emb.LayerNorm(words + emb.position_embeddings(batch.position_ids))
    for layer in encoder.encoder.layer:  # type: ignore[union-attr]
        hidden = _packed_layer(layer, hidden, batch.runs)
    return hidden


def _packed_layer(
    layer: Any, hidden: torch.Tensor, runs: list[tuple[int, int, int]]
) -> torch.Tensor:
    """One BERT layer on packed tokens: linear layers on all tokens, attention run by run."""
    sa = layer.attention.self
    heads, size = int(sa.num_attention_heads), int(sa.attention_head_size)
    q, k, v = sa.query(hidden), sa.key(hidden), sa.value(hidden)
    context = torch.empty_like(q)
    for start, n, length in runs:
        span = slice(start, start + n * length)
        shape = (n, length, heads, size)
        # No mask: every token of a run is a real token of its own row.
        out = nn.functional.scaled_dot_product_attention(
            q[span].view(shape).transpose(1, 2),
            k[span].view(shape).transpose(1, 2),
            v[span].view(shape).transpose(1, 2),
            scale=size**-0.5,
        )
        context[span] = out.transpose(1, 2).reshape(n * length, heads * size)
    attention = layer.attention.output.LayerNorm(layer.attention.output.dense(context) + hidden)
    mid = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(attention))
    out_ln: torch.Tensor = layer.output.LayerNorm(layer.output.dense(mid) + attention)
    return out_ln


class PairEncoder:
    """Turns texts into id lists with the truncation policy, and pads them into batches."""

    def __init__(
        self, tokenizer: Any, *, max_length: int, max_length_protected: int, protected: int
    ):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_length_protected = max_length_protected
        self.protected = protected
        self.pad_id = int(tokenizer.pad_token_id or 0)
        # [CLS]/[SEP]/[PAD]...: left out of late interaction (they match across any two texts).
        self.special_ids = frozenset(int(i) for i in getattr(tokenizer, "all_special_ids", []))
        model_max = int(getattr(tokenizer, "model_max_length", 512) or 512)
        self.hard_limit = min(model_max, 512) if model_max < 100_000 else 512

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Token counts without special tokens (nothing truncated)."""
        out = self.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in out]

    def _refuse_long(self, texts: Sequence[str], limit: int, why: str) -> None:
        for text, n in zip(texts, self.lengths(texts), strict=True):
            if n > limit:
                raise InputError(
                    f"is {n} tokens, more than {limit} ({why}); the query/answer is never truncated: "
                    f"{text[:60]!r}",
                    field="query/answer",
                )

    def singles(self, texts: Sequence[str], *, is_protected: bool) -> list[list[int]]:
        """Bi-encoder rows for one side: cut the document side, refuse an over-long query side."""
        if not texts:
            return []
        if is_protected:
            self._refuse_long(texts, self.hard_limit - 2, "the model's position limit")
            enc = self.tokenizer(list(texts), truncation=False)
        else:
            enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return [list(x) for x in enc["input_ids"]]

    def joints(
        self, firsts: Sequence[str], seconds: Sequence[str]
    ) -> tuple[list[list[int]], list[list[int]]]:
        """Cross-encoder rows: the protected side first and whole, the other side cut to fit."""
        if not firsts:
            return [], []
        keep, other = (firsts, seconds) if self.protected == 0 else (seconds, firsts)
        # Leave at least 8 tokens of document, or the pair says nothing.
        self._refuse_long(
            keep,
            self.max_length - 3 - 8,
            f"max_length {self.max_length} minus room for the document",
        )
        enc = self.tokenizer(
            list(keep), list(other), truncation="only_second", max_length=self.max_length
        )
        types = enc.get("token_type_ids") or [[0] * len(x) for x in enc["input_ids"]]
        return [list(x) for x in enc["input_ids"]], [list(x) for x in types]

    def pad(self, rows: Sequence[list[int]], types: Sequence[list[int]] | None = None) -> Batch:
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        tt = torch.zeros((len(rows), width), dtype=torch.long) if types is not None else None
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
            if tt is not None and types is not None:
                tt[i, : len(r)] = torch.tensor(types[i], dtype=torch.long)
        return Batch(ids, mask, tt)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors under the attention mask (sentence-transformers pooling)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class StudentModel(nn.Module):
    """Encoder (with LoRA adapters) + projection (cross only) + ordinal head.

    ``maxsim`` (bi only) gives the head the late-interaction score of the pair's token vectors
    (:mod:`judgecache.distill.maxsim`) as its first extra feature, before the lexical ones.
    """

    def __init__(
        self,
        encoder: nn.Module,
        architecture: str,
        n_labels: int,
        hidden: int,
        *,
        lexical: LexicalScorer | None = None,
        maxsim: bool = False,
    ) -> None:
        super().__init__()
        if architecture not in ("bi", "cross"):
            raise DistillationError(f"architecture must be 'bi' or 'cross', got {architecture!r}")
        if maxsim and architecture != "bi":
            raise DistillationError(
                "maxsim needs the bi architecture (each side's own token vectors), "
                f"not {architecture!r}"
            )
        self.maxsim = maxsim
        self.encoder = encoder
        # Segment ids only where the encoder has a segment embedding to read them (BERT, ELECTRA):
        # RoBERTa's single row would index out of range on the second segment, DistilBERT has none.
        config = getattr(encoder, "config", None)
        self.uses_token_types = int(getattr(config, "type_vocab_size", 0) or 0) > 1
        self.architecture = architecture
        # Plain data, not a module: the idf table travels as lexical.json, not in the weights.
        self.lexical = lexical
        self.n_lexical = len(lexical.names) if lexical else 0
        self.head = OrdinalHead(n_labels, int(maxsim) + self.n_lexical)
        # The cross-encoder's fresh projection: zero-initialised so step 0 predicts the prior.
        self.proj = nn.Linear(hidden, 1) if architecture == "cross" else None
        if self.proj is not None:
            nn.init.zeros_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)

    @property
    def extra_names(self) -> list[str]:
        """Names of the head's extra features, in the order it reads them."""
        return (["maxsim"] if self.maxsim else []) + (
            list(self.lexical.names) if self.lexical else []
        )

    def embed(self, batch: Batch) -> torch.Tensor:
        return mean_pool(self.token_states(batch), batch.attention_mask)

    def token_states(self, batch: Batch) -> torch.Tensor:
        """The encoder's last hidden states ``[n, L, hidden]`` (not pooled, not normalised)."""
        kwargs: dict[str, torch.Tensor] = {
            "input_ids": batch.input_ids,
            "attention_mask": batch.attention_mask,
        }
        if batch.token_type_ids is not None and self.uses_token_types:
            kwargs["token_type_ids"] = batch.token_type_ids
        hidden: torch.Tensor = self.encoder(**kwargs).last_hidden_state
        return hidden

    def raw_score(self, batch: Batch) -> torch.Tensor:
        """Cross-encoder score ``s`` for joint rows."""
        if self.proj is None:
            raise DistillationError("raw_score is for the cross architecture")
        out: torch.Tensor = self.proj(self.embed(batch)).squeeze(-1)
        return out

    def head_state(self) -> dict[str, torch.Tensor]:
        """The freshly initialised parts (head and projection), saved beside the adapter."""
        state = {f"head.{k}": v for k, v in self.head.state_dict().items()}
        if self.proj is not None:
            state.update({f"proj.{k}": v for k, v in self.proj.state_dict().items()})
        return state

    def load_head_state(self, state: dict[str, torch.Tensor]) -> None:
        self.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        if self.proj is not None:
            self.proj.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("proj.")})


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity."""
    out: torch.Tensor = nn.functional.cosine_similarity(a, b, dim=-1)
    return out
