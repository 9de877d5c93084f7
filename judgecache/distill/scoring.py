"""Forward passes shared by training, evaluation and serving: pairs in, cumulative logits out.

Cost control lives here: each unique text is encoded once per call, rows are sorted by length so a
batch pads to nearly nothing, and the bi-encoder's document embeddings can be kept in a bounded
cache across calls (a document judged against many queries is encoded once).

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
from judgecache.distill.model import PairEncoder, StudentModel, cosine
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
    """The ``[n, n_extra]`` lexical features the head reads, or None when it reads none."""
    n = model.head.n_extra
    if not n:
        return None
    bad = next((i for i, e in enumerate(encoded) if len(e.extra) != n), None)
    if bad is not None:
        raise DistillationError(
            f"pair {bad} carries {len(encoded[bad].extra)} lexical features, the head needs {n}: "
            "encode pairs with the student's lexical scorer (encode_pairs(..., lexical=...))"
        )
    return torch.tensor([e.extra for e in encoded], dtype=torch.float32).reshape(len(encoded), n)


def _embed_unique(
    model: StudentModel,
    pe: PairEncoder,
    rows: Sequence[tuple[int, ...]],
    device: torch.device,
    batch_size: int,
) -> torch.Tensor:
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out: list[torch.Tensor] = [torch.empty(0)] * len(rows)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        emb = model.embed(pe.pad([list(rows[i]) for i in idx]).to(device))
        for j, i in enumerate(idx):
            out[i] = emb[j]
    return torch.stack(out)


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
    uniq1 = list(dict.fromkeys(e.first for e in encoded))
    uniq2 = list(dict.fromkeys(e.second for e in encoded))
    emb1 = _embed_unique(model, pe, uniq1, device, batch_size)
    if cache is None:
        emb2 = _embed_unique(model, pe, uniq2, device, batch_size)
    else:
        missing = [r for r in uniq2 if r not in cache]
        if missing:
            fresh = _embed_unique(model, pe, missing, device, batch_size)
            for r, v in zip(missing, fresh, strict=True):
                cache.put(r, v)
        emb2 = torch.stack([cache.get(r) for r in uniq2])
    pos1 = {r: i for i, r in enumerate(uniq1)}
    pos2 = {r: i for i, r in enumerate(uniq2)}
    a = emb1[[pos1[e.first] for e in encoded]]
    b = emb2[[pos2[e.second] for e in encoded]]
    return cosine(a, b)


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
    scores: list[torch.Tensor] = []
    for start in range(0, len(rows), batch_size):
        batch = pe.pad(rows[start : start + batch_size], types[start : start + batch_size])
        scores.append(model.raw_score(batch.to(device)))
    return torch.cat(scores)


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
) -> torch.Tensor:
    """Cumulative logits ``[n, n_labels-1]`` in input order, in length-sorted chunks (no grad)."""
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: encoded[i].cost)
    out = torch.empty((len(encoded), model.head.cuts().numel()))
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        feats = pair_features(
            model, pe, [encoded[i] for i in idx], device, batch_size=batch_size, cache=cache
        )
        extra = extra_features(model, [encoded[i] for i in idx])
        out[idx] = (
            model.head(feats, None if extra is None else extra.to(feats.device)).float().cpu()
        )
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
