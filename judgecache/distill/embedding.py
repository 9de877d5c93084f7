"""A real local model as a judge: embedding cosine mapped onto the rubric's labels.

It is the zero-shot baseline every student is compared with, and an offline "teacher" for demos.

Mapping (cosine of the mean-pooled, untrained embeddings of the two texts):

* relevance, grades 0-3: ``grade = number of cut-points <= cos`` with cut-points
  ``RELEVANCE_CUTS = (0.30, 0.47, 0.60)``; score = ``sigmoid(12 * (cos - 0.47))``, a rough probability
  of grade >= 2. The cut-points were set so all-MiniLM-L6-v2's grade distribution roughly matches
  GPT-4o's on TREC DL19 (measured in bench/distill_relevance.py); other bases need their own cuts.
* faithfulness, 0/1: ``1`` when ``cos >= FAITHFULNESS_CUT = 0.65``; score = ``sigmoid(12 * (cos - 0.65))``.
  Embedding similarity is a weak faithfulness signal (an answer can be on topic and still wrong).

Example (loads the packaged MiniLM; about a second)::

    t = load_embedding_teacher(None)
    t.judge(get_rubric("relevance"), {"query": "capital of France", "doc": "Paris is ..."}).label
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from judgecache.distill.model import PairEncoder, StudentModel, resolve_base_model
from judgecache.distill.scoring import encode_pairs, pair_features
from judgecache.distill.train import resolve_device
from judgecache.errors import ConfigError
from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import BatchTeacher, TeacherAnswer, valid_pairs
from judgecache.keys import JudgeIdentity

RELEVANCE_CUTS = (0.30, 0.47, 0.60)
FAITHFULNESS_CUT = 0.65
SHARPNESS = 12.0
DEFAULT_NAME = "all-MiniLM-L6-v2"


def weights_digest(path: Path) -> str:
    """sha256 (16 hex) of the weights file(s): the identity's version, so new weights get new keys."""
    h = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin"))
    for f in files:
        with f.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def cuts_for(rubric: Rubric) -> tuple[float, ...]:
    """The cosine cut-points for a rubric (one fewer than its labels).

    >>> from judgecache.judges.rubric import get_rubric
    >>> cuts_for(get_rubric("faithfulness"))
    (0.65,)
    """
    if rubric.task == "relevance" and len(rubric.labels) == 4:
        return RELEVANCE_CUTS
    if len(rubric.labels) == 2:
        return (FAITHFULNESS_CUT,) if rubric.task == "faithfulness" else (RELEVANCE_CUTS[1],)
    raise ConfigError(
        f"the embedding judge maps cosine onto 2 labels or the 0-3 relevance scale; rubric "
        f"{rubric.name!r} has {len(rubric.labels)} labels"
    )


class EmbeddingTeacher(BatchTeacher):
    """Judges a pair by the cosine of its two mean-pooled embeddings (no training at all)."""

    def __init__(
        self, path: str | Path | None = None, *, batch_size: int = 64, device: str = "cpu"
    ):
        from judgecache.distill.build import load_encoder, load_tokenizer

        root = resolve_base_model("default" if path in (None, "", "default") else str(path))
        name = DEFAULT_NAME if path in (None, "", "default") else root.name
        self.identity = JudgeIdentity("embedding", name, weights_digest(root))
        self.tokenizer = load_tokenizer(root)
        encoder = load_encoder(root)
        encoder.eval()
        self.model = StudentModel(encoder, "bi", 2, 1)
        self.device = resolve_device(device)
        self.model.to(self.device)
        self.batch_size = batch_size

    def prompt_material(self, rubric: Rubric) -> dict[str, Any]:
        # No prompt is read; the label mapping is what shapes the answer.
        return {
            "task": rubric.task,
            "fields": list(rubric.fields),
            "labels": list(rubric.labels),
            "cuts": list(cuts_for(rubric)),
        }

    def cosines(
        self, rubric: Rubric, pairs: Sequence[tuple[str, str]]
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The raw cosine of each pair (the document/context side cut at 256 tokens)."""
        import torch

        protected = 1 if rubric.fields[0] in ("context", "source", "document", "doc") else 0
        pe = PairEncoder(
            self.tokenizer, max_length=256, max_length_protected=256, protected=protected
        )
        encoded = encode_pairs(pe, "bi", pairs)
        order = sorted(range(len(encoded)), key=lambda i: encoded[i].cost)
        out = np.zeros(len(encoded))
        with torch.no_grad():
            for start in range(0, len(order), 1024):
                idx = order[start : start + 1024]
                feats = pair_features(
                    self.model,
                    pe,
                    [encoded[i] for i in idx],
                    self.device,
                    batch_size=self.batch_size,
                )
                out[idx] = feats.float().cpu().numpy()
        return out

    def judge_batch(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[TeacherAnswer | BaseException]:
        cuts = cuts_for(rubric)
        pivot = cuts[len(cuts) // 2] if len(cuts) > 1 else cuts[0]
        out, good, pairs = valid_pairs(rubric, batch)
        cos = self.cosines(rubric, pairs) if pairs else np.zeros(0)
        for i, c in zip(good, cos, strict=True):
            grade = sum(1 for cut in cuts if c >= cut)
            prob = float(1 / (1 + np.exp(-SHARPNESS * (c - pivot))))
            out[i] = TeacherAnswer(
                label=rubric.labels[grade],
                raw_output=json.dumps({"cosine": round(float(c), 6)}),
                score=prob,
                model_answered=str(self.identity),
            )
        return out


def load_embedding_teacher(path: str | Path | None = None) -> EmbeddingTeacher:
    """The ``embedding:PATH`` / ``embedding:default`` spec: a local encoder judging by cosine."""
    return EmbeddingTeacher(None if path in (None, "", "default") else path)
