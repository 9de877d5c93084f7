"""Late interaction (MaxSim): how well each query token is matched by some document token.

``maxsim(q, d) = mean over content query tokens of max over content document tokens of cos``,
on the encoder's L2-normalised token vectors. [CLS]/[SEP]/padding (any special token, and
anything outside the attention mask) is ignored on both sides: the special tokens of two texts
resemble each other whatever the texts say, and would pull every score up alike.

Example:
    >>> import torch
    >>> q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> d = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [0.6, 0.8]]])
    >>> float(maxsim(q, torch.tensor([[True, True]]), d, torch.tensor([[True, True, False]])))
    1.0
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch

# Below any cosine: a masked document token never wins the max.
_FLOOR = -4.0


def content_mask(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, special_ids: Collection[int]
) -> torch.Tensor:
    """Boolean ``[n, L]``: attended tokens that are not special ([CLS], [SEP], [PAD], ...).

    >>> import torch
    >>> content_mask(torch.tensor([[2, 7, 3, 0]]), torch.tensor([[1, 1, 1, 0]]), {0, 2, 3})
    tensor([[False,  True, False, False]])
    """
    keep = attention_mask.bool()
    if special_ids:
        special = torch.tensor(sorted(special_ids), dtype=input_ids.dtype, device=input_ids.device)
        keep = keep & ~torch.isin(input_ids, special)
    return keep


def pad_tokens(rows: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``[T_i, h]`` token matrices into ``[n, max T, h]`` plus a boolean mask.

    >>> import torch
    >>> x, m = pad_tokens([torch.ones(1, 2), torch.ones(3, 2)])
    >>> tuple(x.shape), m.tolist()
    ((2, 3, 2), [[True, False, False], [True, True, True]])
    """
    width = max((r.shape[0] for r in rows), default=0)
    hidden = rows[0].shape[1] if rows else 0
    ref = rows[0] if rows else torch.empty(0)
    out = ref.new_zeros((len(rows), max(width, 1), hidden))
    mask = torch.zeros((len(rows), max(width, 1)), dtype=torch.bool, device=ref.device)
    for i, r in enumerate(rows):
        out[i, : r.shape[0]] = r
        mask[i, : r.shape[0]] = True
    return out, mask


def maxsim(
    q: torch.Tensor, q_mask: torch.Tensor, d: torch.Tensor, d_mask: torch.Tensor
) -> torch.Tensor:
    """Per pair, the mean over masked-in query tokens of the best cosine to a document token.

    ``q`` ``[n, Lq, h]`` and ``d`` ``[n, Ld, h]`` must already be L2-normalised. A pair with no
    content token on either side scores 0 (nothing matched, nothing to match). Differentiable.
    """
    sim = torch.bmm(q, d.transpose(1, 2))
    sim = sim.masked_fill(~d_mask.unsqueeze(1), _FLOOR)
    best = sim.max(dim=-1).values
    valid = q_mask & d_mask.any(dim=-1, keepdim=True)
    best = torch.where(valid, best, torch.zeros_like(best))
    return best.sum(-1) / valid.sum(-1).clamp(min=1).to(best.dtype)


def maxsim_pairs(
    queries: Sequence[torch.Tensor],
    docs: Sequence[torch.Tensor],
    pairs: Sequence[tuple[int, int]],
    *,
    block: int = 256,
) -> torch.Tensor:
    """:func:`maxsim` of ``(query index, doc index)`` pairs from unpadded ``[T_i, h]`` matrices.

    Nothing is padded: per query, one matmul against its documents' tokens laid end to end and a
    segment max, ``block`` documents at a time (bounds the copy). Same scores as :func:`maxsim`
    (0 for a pair with no content token on either side); inference only (no autograd needed).

    >>> import torch
    >>> q, d = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.6, 0.8], [0.8, 0.6]])
    >>> maxsim_pairs([q], [d, d[:0]], [(0, 0), (0, 1)]).tolist()
    [0.800000011920929, 0.0]
    """
    ref = queries[0] if queries else torch.empty(0)
    out = ref.new_zeros(len(pairs))
    by_query: dict[int, list[int]] = {}
    for p, (qi, _) in enumerate(pairs):
        by_query.setdefault(qi, []).append(p)
    for qi, at in by_query.items():
        q = queries[qi]
        if q.shape[0] == 0:
            continue  # no content token in the query: nothing to match, scores 0
        for s in range(0, len(at), block):
            part = at[s : s + block]
            rows = [docs[pairs[p][1]] for p in part]
            lengths = torch.tensor([r.shape[0] for r in rows], device=q.device)
            sim = torch.cat(rows) @ q.T  # [doc tokens, query tokens]
            # An empty segment's max is -inf: such a pair scores 0, as in maxsim.
            best = torch.segment_reduce(sim, "max", lengths=lengths, axis=0)
            score = torch.where(lengths > 0, best.mean(-1), torch.zeros_like(best[:, 0]))
            out[part] = score.to(out.dtype)
    return out
