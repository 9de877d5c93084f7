"""Head-fit-only comparison: pooled cosine (+ lexical) with and without MaxSim, unseen TREC DL queries.

python bench/distill_maxsim.py 1600 500 600   # train pairs, calib pairs, test pairs
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill_relevance import load_trec_rows  # GPT-4o UMBRELA qrels of DL19 + DL20 as export rows

from judgecache.distill.build import build_student
from judgecache.distill.config import DistillConfig
from judgecache.distill.data import labels_from_rows, protected_field
from judgecache.distill.grade_cuts import apply_grade_cuts, fit_grade_cuts
from judgecache.distill.lexical import LexicalScorer
from judgecache.distill.metrics import agreement_report
from judgecache.distill.model import PairEncoder, StudentModel
from judgecache.distill.pipeline import paired_delta, prepare
from judgecache.distill.scoring import encode_pairs, head_inputs
from judgecache.distill.train import fit_head, targets_for

N_TRAIN, N_CALIB, N_TEST = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(2)
cfg = DistillConfig.from_yaml("configs/distill/relevance.yaml").with_overrides(
    ["output=/tmp/unused", "split.group_field=meta.qid"]
)
labels = labels_from_rows(load_trec_rows("gpt-4o-umbrela"), task="relevance", source="gpt-4o")
prep = prepare(cfg, labels)  # the committed group split (by query, seed 13)
rubric = prep.labels.rubric
parts = {n: list(prep.splits[n].pairs) for n in ("train", "calib", "test")}
take = {"train": N_TRAIN, "calib": N_CALIB, "test": N_TEST}
parts = {n: random.Random(13).sample(list(p), min(len(p), take[n])) for n, p in parts.items()}
doc = 1 if protected_field(rubric) == 0 else 0
lexical = LexicalScorer.fit((p.first, p.second)[doc] for p in prep.splits["train"].pairs)
full, tok = build_student(prep.base, "bi", 4, cfg.lora, lexical=lexical, maxsim=True)
full.eval()
pe = PairEncoder(
    tok,
    max_length=cfg.train.max_length,
    max_length_protected=cfg.train.max_length_protected,
    protected=protected_field(rubric),
)
t0 = time.perf_counter()
feats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
with torch.no_grad():  # one pass of the base encoder (LoRA B = 0): cosine, MaxSim, lexical
    for n, ps in parts.items():
        enc = encode_pairs(pe, "bi", [(p.first, p.second) for p in ps], lexical)
        cos, extra = head_inputs(full, pe, enc, torch.device("cpu"))
        assert extra is not None  # lexical and MaxSim are on
        feats[n] = (cos.float(), extra.float())
enc_s = time.perf_counter() - t0
variants = {
    "cosine": [],
    "cosine+maxsim": [0],
    "cosine+lexical": [1, 2, 3, 4],
    "cosine+lexical+maxsim": [0, 1, 2, 3, 4],
}
y = {n: np.array([p.label for p in ps]) for n, ps in parts.items()}
targets = targets_for(parts["train"], rubric, False)
report: dict[str, Any]
preds: dict[str, Any]
report, preds = {"encode_seconds": round(enc_s, 1), "n": {n: len(p) for n, p in parts.items()}}, {}
for name, cols in variants.items():
    head = StudentModel(
        full.encoder, "bi", 4, 1, lexical=lexical if 1 in cols else None, maxsim=0 in cols
    )

    def sel(n: str, cols: list[int] = cols) -> torch.Tensor | None:
        return feats[n][1][:, cols] if cols else None

    info = fit_head(head, feats["train"][0], sel("train"), targets)
    with torch.no_grad():
        z = {n: head.head(feats[n][0], sel(n)).numpy() for n in ("calib", "test")}
    cuts = fit_grade_cuts(z["calib"], y["calib"].tolist(), [0, 1, 2, 3])
    preds[name] = apply_grade_cuts(z["test"], cuts, [0, 1, 2, 3])
    ag = agreement_report(
        y["test"],
        preds[name],
        labels=[0, 1, 2, 3],
        positive_from=2,
        prob=1 / (1 + np.exp(-z["test"][:, 1])),
        n_boot=1000,
        seed=13,
    )
    report[name] = {
        k: {kk: round(v, 3) for kk, v in ag[k].items()} if isinstance(ag[k], dict) else ag[k]
        for k in ("auc", "binary_kappa", "weighted_kappa")
    }
    report[name]["head"] = {k: round(v, 3) for k, v in info.items()}
from judgecache.stats import roc_auc  # noqa: E402

yb = (y["test"] >= 2).astype(int)
report["raw_auc"] = {
    "cosine": round(roc_auc(yb, feats["test"][0].numpy()), 3),
    "maxsim": round(roc_auc(yb, feats["test"][1][:, 0].numpy()), 3),
}
for a, b in (("cosine+maxsim", "cosine"), ("cosine+lexical+maxsim", "cosine+lexical")):
    d = paired_delta(y["test"], preds[a], preds[b], [0, 1, 2, 3], 2, n_boot=1000, seed=13)
    report[f"delta {a} - {b}"] = {k: {kk: round(v, 3) for kk, v in x.items()} for k, x in d.items()}
print(json.dumps(report, indent=1))
