"""Forward passes shared by training, evaluation and serving: pairs in, cumulative logits out.

Cost control lives here: each unique text is encoded once per call, rows are sorted by length so a
batch pads to nearly nothing, and the bi-encoder's document embeddings can be kept in a bounded
cache across calls (a document judged against many queries is encoded once). With MaxSim on, the
cache also keeps each document's content-token vectors (only then: they cost ~L times the memory).

Serving (``packed=True``, no autograd, a plain BERT encoder) goes further: rows are laid end to
end with no padding at all, batched by a token budget, and MaxSim runs one matmul per query
instead of padding every pair (:func:`~judgecache.distill.model.packed_token_states`). It computes
the same numbers as the padded path (the one training differentiates through) to float rounding.

Example:
    >>> from judgecache.distill.scoring import positive_index
    >>> positive_index((0, 1, 2, 3), 2)
    2
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from judgecache.distill.lexical import LexicalScorer
from judgecache.distill.maxsim import content_mask, maxsim, maxsim_pairs, pad_tokens
from judgecache.distill.model import (
    PackedBatch,
    PairEncoder,
    StudentModel,
    cosine,
    mean_pool,
    packable,
    packed_token_states,
)
from judgecache.errors import DistillationError


@dataclass(frozen=True)
class EncodedPair:
    """Token ids of one pair: each side alone (bi) or the joint row (cross); lexical features."""

    first: tuple[int, ...]
    second: tuple[int, ...]
    joint: tuple[int, ...] = ()
    types: tuple[int, ...] = ()
    extra: tuple[float, ...] = ()

    @property
    def cost(self) -> int:
        """Tokens this pair costs to encode (used to bucket by length)."""
        return len(self.joint) if self.joint else len(self.second) + len(self.first) // 8


def positive_index(labels: Sequence[object], positive_from: object) -> int:
    """Which cumulative logit is the binary view: ``P(label >= positive_from)`` is column index-1."""
    return list(labels).index(positive_from)


def encode_pairs(
    pe: PairEncoder,
    architecture: str,
    pairs: Sequence[tuple[str, str]],
    lexical: LexicalScorer | None = None,
) -> list[EncodedPair]:
    """Tokenize pairs with the truncation policy (unique texts tokenized once for the bi-encoder).

    With ``lexical``, each pair also carries its lexical features, computed on the *whole* texts
    (the protected side as the query), so truncating the document for the encoder loses no words.
    """
    extras: list[tuple[float, ...]] = [()] * len(pairs)
    if lexical is not None:
        q, d = (0, 1) if pe.protected == 0 else (1, 0)
        extras = lexical.batch([(p[q], p[d]) for p in pairs])
    if architecture == "cross":
        ids, types = pe.joints([p[0] for p in pairs], [p[1] for p in pairs])
        return [
            EncodedPair((), (), tuple(i), tuple(t), x)
            for i, t, x in zip(ids, types, extras, strict=True)
        ]
    firsts = list(dict.fromkeys(p[0] for p in pairs))
    seconds = list(dict.fromkeys(p[1] for p in pairs))
    ids1 = dict(zip(firsts, pe.singles(firsts, is_protected=pe.protected == 0), strict=True))
    ids2 = dict(zip(seconds, pe.singles(seconds, is_protected=pe.protected == 1), strict=True))
    return [
        EncodedPair(tuple(ids1[a]), tuple(ids2[b]), extra=x)
        for (a, b), x in zip(pairs, extras, strict=True)
    ]


def extra_features(model: StudentModel, encoded: Sequence[EncodedPair]) -> torch.Tensor | None:
    """The ``[n, n_lexical]`` lexical features the head reads, or None when it reads none."""
    n = model.n_lexical
    if not n:
        return None
    bad = next((i for i, e in enumerate(encoded) if len(e.extra) != n), None)
    if bad is not None:
        raise DistillationError(
            f"pair {bad} carries {len(encoded[bad].extra)} lexical features, the head needs {n}: "
            "encode pairs with the student's lexical scorer (encode_pairs(..., lexical=...))"
        )
    return torch.tensor([e.extra for e in encoded], dtype=torch.float32).reshape(len(encoded), n)


PACK_TOKENS = 2048
"""Token budget of one packed batch (measured on 2 CPU cores: see bench/student_speed.py)."""


def use_packed(model: StudentModel, packed: bool) -> bool:
    """Whether a forward pass takes the padding-free path: asked for, no autograd, a plain BERT."""
    return packed and not torch.is_grad_enabled() and packable(model.encoder)


def token_budget_batches(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Indices sorted by length, cut into consecutive batches of at most ``max_tokens`` tokens
    (a longer row goes alone).

    >>> token_budget_batches([3, 1, 2, 4], 5)
    [[1, 2], [0], [3]]
    """
    batches: list[list[int]] = []
    used = 0
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if not batches or used + lengths[i] > max_tokens:
            batches.append([])
            used = 0
        batches[-1].append(i)
        used += lengths[i]
    return batches


def padded_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length, in batches of at most ``batch_size`` rows; without autograd
    (serving) also at most :data:`PACK_TOKENS` padded tokens a batch (a longer row goes alone),
    so a small call's batch never pads short rows to a long one (ONNX Runtime and non-BERT
    encoders, which cannot take the padding-free path, serve this way).

    >>> with torch.no_grad():
    ...     padded_batches([3, 1, 2, 900], 64)
    [[1, 2, 0], [3]]
    >>> padded_batches([3, 1, 2, 900], 64)
    [[1, 2, 0, 3]]
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    if torch.is_grad_enabled():
        return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    for i in order:  # sorted: the row being added is the longest of its batch
        rows = len(batches[-1]) if batches else 0
        if not rows or rows >= batch_size or (rows + 1) * lengths[i] > PACK_TOKENS:
            batches.append([])
        batches[-1].append(i)
    return batches


def _embed_packed(
    model: StudentModel,
    pe: PairEncoder,
    rows: Sequence[tuple[int, ...]],
    device: torch.device,
    max_tokens: int,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """:func:`_embed_unique` without padding: same outputs, each batch one flat token tensor."""
    pooled: list[torch.Tensor] = []
    toks: list[torch.Tensor] = [torch.empty(0)] * len(rows) if model.maxsim else []
    order: list[int] = []
    for idx in token_budget_batches([len(r) for r in rows], max_tokens):
        batch = PackedBatch.of([rows[i] for i in idx]).to(device)
        hidden = packed_token_states(model.encoder, batch)
        lengths = torch.tensor(batch.lengths, device=hidden.device)
        pooled.append(torch.segment_reduce(hidden, "mean", lengths=lengths, axis=0))
        order.extend(idx)
        if model.maxsim:
            keep = content_mask(batch.input_ids, torch.ones_like(batch.input_ids), pe.special_ids)
            counts = [int(k.sum()) for k in torch.split(keep, batch.lengths)]
            unit = torch.nn.functional.normalize(hidden[keep], dim=-1)
            for i, part in zip(idx, torch.split(unit, counts), strict=True):
                toks[i] = part
    emb = torch.cat(pooled)
    out = torch.empty_like(emb)
    out[torch.tensor(order, device=emb.device)] = emb
    return out, toks


def _embed_unique(
    model: StudentModel,
    pe: PairEncoder,
    rows: Sequence[tuple[int, ...]],
    device: torch.device,
    batch_size: int,
    pack_tokens: int | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Pooled embeddings ``[n, h]``; with ``model.maxsim`` also each row's normalised content
    token vectors ``[T_i, h]`` (an empty list otherwise). ``pack_tokens``: the padding-free
    path with that token budget (the caller checked :func:`use_packed`); None: padded."""
    if pack_tokens is not None and rows:
        return _embed_packed(model, pe, rows, device, pack_tokens)
    out: list[torch.Tensor] = [torch.empty(0)] * len(rows)
    toks: list[torch.Tensor] = [torch.empty(0)] * len(rows) if model.maxsim else []
    for idx in padded_batches([len(r) for r in rows], batch_size):
        batch = pe.pad([list(rows[i]) for i in idx]).to(device)
        hidden = model.token_states(batch)
        emb = mean_pool(hidden, batch.attention_mask)
        if model.maxsim:
            keep = content_mask(batch.input_ids, batch.attention_mask, pe.special_ids)
            unit = torch.nn.functional.normalize(hidden, dim=-1)
        for j, i in enumerate(idx):
            out[i] = emb[j]
            if model.maxsim:
                toks[i] = unit[j][keep[j]]
    return torch.stack(out), toks


def _bi_inputs(
    model: StudentModel,
    pe: PairEncoder,
    encoded: Sequence[EncodedPair],
    device: torch.device,
    batch_size: int,
    cache: EmbeddingCache | None,
    pack_tokens: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Cosine per pair and, with ``model.maxsim``, the MaxSim score (protected side = query)."""
    uniq1 = list(dict.fromkeys(e.first for e in encoded))
    uniq2 = list(dict.fromkeys(e.second for e in encoded))
    emb1, tok1 = _embed_unique(model, pe, uniq1, device, batch_size, pack_tokens)
    if cache is None:
        emb2, tok2 = _embed_unique(model, pe, uniq2, device, batch_size, pack_tokens)
    else:
        missing = [r for r in uniq2 if r not in cache]
        if missing:
            fresh, fresh_tok = _embed_unique(model, pe, missing, device, batch_size, pack_tokens)
            for k, (r, v) in enumerate(zip(missing, fresh, strict=True)):
                # Row 0 is the pooled vector, rows 1.. the token vectors (maxsim only).
                cache.put(r, torch.cat([v[None], fresh_tok[k]]) if model.maxsim else v)
        hits = [cache.get(r) for r in uniq2]
        if model.maxsim:
            emb2, tok2 = torch.stack([h[0] for h in hits]), [h[1:] for h in hits]
        else:
            emb2, tok2 = torch.stack(hits), []
    pos1 = {r: i for i, r in enumerate(uniq1)}
    pos2 = {r: i for i, r in enumerate(uniq2)}
    at1 = [pos1[e.first] for e in encoded]
    at2 = [pos2[e.second] for e in encoded]
    cos = cosine(emb1[at1], emb2[at2])
    if not model.maxsim:
        return cos, None
    q_tok, q_at, d_tok, d_at = (
        (tok1, at1, tok2, at2) if pe.protected == 0 else (tok2, at2, tok1, at1)
    )
    if pack_tokens is not None:
        return cos, maxsim_pairs(q_tok, d_tok, list(zip(q_at, d_at, strict=True)))
    scores: list[torch.Tensor] = []
    # Blocks of pairs: a padded [pairs, tokens, hidden] copy of a 2048-pair chunk is too big.
    for start in range(0, len(encoded), 256):
        q, qm = pad_tokens([q_tok[i] for i in q_at[start : start + 256]])
        d, dm = pad_tokens([d_tok[i] for i in d_at[start : start + 256]])
        scores.append(maxsim(q, qm, d, dm))
    return cos, torch.cat(scores)


def bi_cosines(
    model: StudentModel,
    pe: PairEncoder,
    encoded: Sequence[EncodedPair],
    device: torch.device,
    *,
    batch_size: int = 64,
    cache: EmbeddingCache | None = None,
) -> torch.Tensor:
    """Cosine of each pair's two embeddings; each unique side encoded once (differentiable)."""
    return _bi_inputs(model, pe, encoded, device, batch_size, cache)[0]


def pair_features(
    model: StudentModel,
    pe: PairEncoder,
    encoded: Sequence[EncodedPair],
    device: torch.device,
    *,
    batch_size: int = 64,
    cache: EmbeddingCache | None = None,
) -> torch.Tensor:
    """The scalar the head reads: cosine (bi) or the projected joint score (cross)."""
    if model.architecture == "bi":
        return bi_cosines(model, pe, encoded, device, batch_size=batch_size, cache=cache)
    rows = [list(e.joint) for e in encoded]
    types = [list(e.types) for e in encoded]
    if torch.is_grad_enabled():  # training: batches in the given order, as sampled
        scores: list[torch.Tensor] = []
        for start in range(0, len(rows), batch_size):
            batch = pe.pad(rows[start : start + batch_size], types[start : start + batch_size])
            scores.append(model.raw_score(batch.to(device)))
        return torch.cat(scores)
    out = torch.empty(len(rows), device=device)
    for idx in padded_batches([len(r) for r in rows], batch_size):
        batch = pe.pad([rows[i] for i in idx], [types[i] for i in idx])
        out[torch.tensor(idx, device=device)] = model.raw_score(batch.to(device)).to(out.dtype)
    return out


def head_inputs(
    model: StudentModel,
    pe: PairEncoder,
    encoded: Sequence[EncodedPair],
    device: torch.device,
    *,
    batch_size: int = 64,
    cache: EmbeddingCache | None = None,
    packed: bool = False,
    max_tokens: int = PACK_TOKENS,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Everything the head reads: the score and ``[n, n_extra]`` extras (MaxSim, then lexical).

    One encoder pass gives both the cosine and the MaxSim score (differentiable, unless
    ``packed`` takes the padding-free serving path under ``torch.no_grad``).
    """
    mx: torch.Tensor | None = None
    if model.architecture == "bi":
        pack_tokens = max_tokens if use_packed(model, packed) else None
        score, mx = _bi_inputs(model, pe, encoded, device, batch_size, cache, pack_tokens)
    else:
        score = pair_features(model, pe, encoded, device, batch_size=batch_size)
    lex = extra_features(model, encoded)
    parts = [p for p in (None if mx is None else mx.unsqueeze(-1), lex) if p is not None]
    if not parts:
        return score, None
    return score, torch.cat([p.to(score.device, score.dtype) for p in parts], dim=-1)


@torch.no_grad()
def predict_logits(
    model: StudentModel,
    pe: PairEncoder,
    encoded: Sequence[EncodedPair],
    device: torch.device,
    *,
    batch_size: int = 64,
    chunk: int = 2048,
    cache: EmbeddingCache | None = None,
    packed: bool = False,
    max_tokens: int = PACK_TOKENS,
) -> torch.Tensor:
    """Cumulative logits ``[n, n_labels-1]`` in input order, in length-sorted chunks (no grad).

    ``packed`` takes the padding-free path where the encoder allows it (:func:`use_packed`),
    ``max_tokens`` tokens a batch; otherwise ``batch_size`` padded rows a batch.
    """
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: encoded[i].cost)
    out = torch.empty((len(encoded), model.head.cuts().numel()))
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        feats, extra = head_inputs(
            model,
            pe,
            [encoded[i] for i in idx],
            device,
            batch_size=batch_size,
            cache=cache,
            packed=packed,
            max_tokens=max_tokens,
        )
        out[idx] = model.head(feats, extra).float().cpu()
    return out


class EmbeddingCache:
    """A bounded LRU of document embeddings keyed by token ids (reuse across queries).

    >>> import torch
    >>> c = EmbeddingCache(capacity=1)
    >>> c.put((1, 2), torch.ones(2)); c.put((3,), torch.zeros(2))
    >>> (1, 2) in c, (3,) in c
    (False, True)
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._data: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: tuple[int, ...]) -> torch.Tensor:
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: tuple[int, ...], value: torch.Tensor) -> None:
        self._data[key] = value.detach()
        self._data.move_to_end(key)
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)
