"""A real local model as a judge: embedding cosine mapped onto the rubric's labels.

It is the zero-shot baseline every student is compared with, and an offline "teacher" for demos.

Mapping (cosine of the mean-pooled, untrained embeddings of the two texts):

* relevance, grades 0-3: ``grade = number of cut-points <= cos`` with cut-points
  ``RELEVANCE_CUTS = (0.30, 0.47, 0.60)``; score = ``sigmoid(12 * (cos - 0.47))``, a rough probability
  of grade >= 2. The cut-points were set so all-MiniLM-L6-v2's grade distribution roughly matches
  GPT-4o's on TREC DL19 (measured in bench/distill_relevance.py); other bases need their own cuts.
* faithfulness, 0/1: ``1`` when ``cos >= FAITHFULNESS_CUT = 0.65``; score = ``sigmoid(12 * (cos - 0.65))``.
  Embedding similarity is a weak faithfulness signal (an answer can be on topic and still wrong).

Fitted cuts (the fair "zero-shot + fitted cuts" baseline, rerunnable on any data):
:func:`fit_embedding_baseline` fits the cut-points on a labels file (quadratic-weighted kappa for
grades, kappa for binary) and a Platt map from cosine to the probability of a positive label;
:func:`save_baseline` writes them to a directory (``embedding.json`` + a card), which the spec
``embedding:DIR`` loads like a student. Its identity (``embedding:<base>+cuts@<digest>``) includes
the cuts, so a refit never reuses another fit's cached answers.

Example (loads the packaged MiniLM; about a second)::

    t = load_embedding_teacher(None)
    t.judge(get_rubric("relevance"), {"query": "capital of France", "doc": "Paris is ..."}).label
    baseline = fit_embedding_baseline(load_labels("dl19.jsonl"))   # judgecache baseline ...
    save_baseline(baseline, "runs/emb-cuts")                       # then embedding:runs/emb-cuts
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
FITTED_FILE = "embedding.json"

if TYPE_CHECKING:
    from judgecache.distill.data import LabelSet


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


@dataclass
class FittedCuts:
    """Cut-points and a cosine->probability map fitted on labels (``embedding.json``)."""

    base_model: str
    rubric: str
    labels: list[int]
    cuts: list[float]
    calibrator: dict[str, Any]
    fitted_on: dict[str, Any] = field(default_factory=dict)
    format: int = 1

    def digest(self) -> str:
        """16 hex of the fitted numbers: part of the judge's identity."""
        material = json.dumps([self.cuts, self.calibrator, self.labels], sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> FittedCuts:
        try:
            fitted = cls(**dict(d))
        except TypeError as exc:
            raise ConfigError(f"{where}: not a fitted embedding baseline: {exc}") from exc
        if fitted.format != 1 or len(fitted.cuts) != len(fitted.labels) - 1:
            raise ConfigError(f"{where}: unsupported format or cuts that do not fit the labels")
        return fitted


class EmbeddingTeacher(BatchTeacher):
    """Judges a pair by the cosine of its two mean-pooled embeddings (no training at all).

    With ``fitted`` cuts (see :func:`fit_embedding_baseline`) the grades and probability come
    from them instead of the fixed :data:`RELEVANCE_CUTS`.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        fitted: FittedCuts | None = None,
    ):
        from judgecache.distill.build import load_encoder, load_tokenizer

        root = resolve_base_model("default" if path in (None, "", "default") else str(path))
        name = DEFAULT_NAME if path in (None, "", "default") else root.name
        version = weights_digest(root)
        self.fitted = fitted
        if fitted is not None:
            name, version = f"{name}+cuts", f"{version[:8]}{fitted.digest()[:8]}"
        self.identity = JudgeIdentity("embedding", name, version)
        self.tokenizer = load_tokenizer(root)
        encoder = load_encoder(root)
        encoder.eval()
        self.model = StudentModel(encoder, "bi", 2, 1)
        self.device = resolve_device(device)
        self.model.to(self.device)
        self.batch_size = batch_size

    def prompt_material(self, rubric: Rubric) -> dict[str, Any]:
        # No prompt is read; the label mapping is what shapes the answer.
        material: dict[str, Any] = {
            "task": rubric.task,
            "fields": list(rubric.fields),
            "labels": list(rubric.labels),
            "cuts": list(self._cuts(rubric)),
        }
        if self.fitted is not None:
            material["calibrator"] = self.fitted.calibrator
        return material

    def _cuts(self, rubric: Rubric) -> tuple[float, ...]:
        if self.fitted is None:
            return cuts_for(rubric)
        if list(rubric.labels) != list(self.fitted.labels):
            raise ConfigError(
                f"{self.identity} was fitted for labels {self.fitted.labels} "
                f"(rubric {self.fitted.rubric!r}), not {list(rubric.labels)}"
            )
        return tuple(self.fitted.cuts)

    def _probability(self, cos: float, pivot: float) -> float:
        if self.fitted is not None:
            from judgecache.distill.calibrate import Calibrator

            return float(Calibrator.from_dict(self.fitted.calibrator).apply([cos])[0])
        return float(1 / (1 + np.exp(-SHARPNESS * (cos - pivot))))

    def cosines(
        self,
        rubric: Rubric,
        pairs: Sequence[tuple[str, str]],
        progress: Callable[[int], object] | None = None,
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
                if progress is not None:
                    progress(len(idx))
        return out

    def judge_batch(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[TeacherAnswer | BaseException]:
        cuts = self._cuts(rubric)
        pivot = cuts[len(cuts) // 2] if len(cuts) > 1 else cuts[0]
        out, good, pairs = valid_pairs(rubric, batch)
        cos = self.cosines(rubric, pairs) if pairs else np.zeros(0)
        for i, c in zip(good, cos, strict=True):
            grade = sum(1 for cut in cuts if c >= cut)
            prob = self._probability(float(c), pivot)
            out[i] = TeacherAnswer(
                label=rubric.labels[grade],
                raw_output=json.dumps({"cosine": round(float(c), 6)}),
                score=prob,
                model_answered=str(self.identity),
            )
        return out


def load_embedding_teacher(path: str | Path | None = None) -> EmbeddingTeacher:
    """The ``embedding:PATH`` / ``embedding:default`` spec: a local encoder judging by cosine.

    A directory written by :func:`save_baseline` (it holds ``embedding.json``) loads its base
    model with the fitted cuts.
    """
    if path not in (None, "", "default") and (Path(str(path)) / FITTED_FILE).is_file():
        where = Path(str(path)) / FITTED_FILE
        try:
            data = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{where}: cannot read the fitted baseline: {exc}") from exc
        fitted = FittedCuts.from_dict(data, str(where))
        return EmbeddingTeacher(fitted.base_model, fitted=fitted)
    return EmbeddingTeacher(None if path in (None, "", "default") else path)


def fit_embedding_baseline(
    part: LabelSet,
    base_model: str = "default",
    *,
    progress: Callable[[int], object] | None = None,
) -> tuple[FittedCuts, np.ndarray[Any, Any]]:
    """Fit cut-points (and a Platt probability) on the cosine of a label set's pairs.

    Returns the fit and the cosines (to measure the fit without a second pass).
    """
    from judgecache.distill.calibrate import fit_calibrator
    from judgecache.distill.data import binary_label
    from judgecache.distill.grade_cuts import fit_score_cuts

    rubric = part.rubric
    teacher = EmbeddingTeacher(base_model)
    cos = teacher.cosines(rubric, [(p.first, p.second) for p in part.pairs], progress=progress)
    labels = [int(v) for v in rubric.labels]
    truth = np.asarray([p.label for p in part.pairs])
    # Start from the cosine quantiles that reproduce the teacher's label shares.
    shares = np.cumsum([np.mean(truth == v) for v in labels])[:-1]
    cuts = fit_score_cuts(cos, truth, labels, np.quantile(cos, np.clip(shares, 0.0, 1.0)))
    positive = np.asarray([binary_label(rubric, int(y)) for y in truth], dtype=np.float64)
    calibrator = fit_calibrator(cos, positive, method="platt")
    fitted = FittedCuts(
        base_model=base_model if base_model == "default" else str(Path(base_model).resolve()),
        rubric=rubric.name,
        labels=labels,
        cuts=cuts,
        calibrator=calibrator.to_dict(),
        fitted_on={"labels": part.source, "teacher": str(part.judge), "n": len(part)},
    )
    return fitted, cos


def save_baseline(fitted: FittedCuts, path: str | Path, card: str = "") -> Path:
    """Write ``embedding.json`` (and a README card) into ``path``; load with ``embedding:PATH``."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dataclasses.asdict(fitted), indent=2, sort_keys=True) + "\n"
    (root / FITTED_FILE).write_text(text, encoding="utf-8")
    if card:
        (root / "README.md").write_text(card, encoding="utf-8")
    return root
