"""Diagnostic: how far does an NLI-trained classifier get on SummEdits, zero-shot?

The distilled faithfulness student starts from a retrieval bi-encoder and stays at chance on the
held-out SummEdits domains (docs/benchmarks.md, section 2a). This probe asks whether the missing
piece is the base: it scores each summary with an entailment classifier exported to ONNX -- the
same SummaC-style view the student reads (each claim with its evidence sentences from
``judgecache.distill.evidence``, the weakest claim decides) -- with no training at all.

The score of a summary is minus the highest contradiction probability over its claims. A cut and a
Platt map are fitted on the training domains (news, podcast, samsum) and applied to the held-out
domains, as the student's calibration is (the best of 49 quantile cuts on the held-out data itself
is printed too, for reference: it is chosen on the data it is scored on, so it is not a result).

Any ONNX sequence-pair classifier with a Hugging Face tokenizer folder works: point ``--onnx`` and
``--tokenizer`` at it and say which output is "contradiction" (``--contradiction-index``). None
ships with judgecache: no package on the index holds one under a licence the project can use.

    python bench/faithfulness_nli_probe.py --onnx MODEL.onnx --tokenizer TOKENIZER_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import data_dir

from judgecache.distill.evidence import select_evidence, split_claims
from judgecache.io.summedits import SummEditsRecord, iter_summedits
from judgecache.stats import balanced_accuracy, expected_calibration_error, roc_auc

TRAIN = ["news", "podcast", "samsum"]
HELD_OUT = ["scitldr", "qmsumm"]


class Contradiction:
    """P(contradiction) of (premise, hypothesis) pairs from an ONNX classifier."""

    def __init__(self, onnx: Path, tokenizer: Path, index: int, max_length: int) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))
        self.names = {i.name for i in self.session.get_inputs()}
        self.index, self.max_length = index, max_length

    def __call__(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        out: list[np.ndarray] = []
        for i in range(0, len(premises), 32):
            enc = self.tokenizer(
                list(premises[i : i + 32]),
                list(hypotheses[i : i + 32]),
                padding="max_length",  # exported graphs often fix the sequence length
                max_length=self.max_length,
                truncation="only_first",
                return_tensors="np",
            )
            feed = {k: v.astype(np.int64) for k, v in enc.items() if k in self.names}
            logits = self.session.run(None, feed)[0]
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            out.append((e / e.sum(axis=1, keepdims=True))[:, self.index])
        return np.concatenate(out)


def summary_scores(
    records: list[SummEditsRecord], contradiction: Contradiction, max_words: int
) -> np.ndarray:
    """Minus the highest contradiction probability over each summary's claims."""
    premises, claims, owners = [], [], []
    for i, r in enumerate(records):
        for claim in split_claims(r.summary) or [r.summary]:
            premises.append(select_evidence(r.doc, claim, max_words=max_words))
            claims.append(claim)
            owners.append(i)
    worst = np.zeros(len(records))
    for owner, p in zip(owners, contradiction(premises, claims), strict=True):
        worst[owner] = max(worst[owner], p)
    return -worst


def best_cut(y: np.ndarray, s: np.ndarray) -> float:
    """The cut (among 49 quantiles of ``s``) with the highest balanced accuracy."""
    cuts = np.quantile(s, np.linspace(0.02, 0.98, 49))
    return float(max(cuts, key=lambda c: balanced_accuracy(y, (s >= c).astype(int))))


def platt(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression().fit(s.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--onnx", type=Path, required=True)
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--contradiction-index", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=160)
    ap.add_argument("--max-words", type=int, default=110, help="evidence words per claim")
    args = ap.parse_args()
    contradiction = Contradiction(
        args.onnx, args.tokenizer, args.contradiction_index, args.max_length
    )
    t0 = time.perf_counter()
    scored: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for domain in TRAIN + HELD_OUT:
        records = list(iter_summedits(data_dir() / "summedits" / f"summedits_{domain}.json"))
        y = np.array([r.label for r in records])
        scored[domain] = (y, summary_scores(records, contradiction, args.max_words))
        print(f"{domain}: {len(records)} summaries scored ({time.perf_counter() - t0:.0f} s)")
    y_train = np.concatenate([scored[d][0] for d in TRAIN])
    s_train = np.concatenate([scored[d][1] for d in TRAIN])
    cut, (a, b) = best_cut(y_train, s_train), platt(y_train, s_train)
    report: dict[str, dict[str, float]] = {}
    for name, domains in [*((d, [d]) for d in HELD_OUT), ("all held-out", HELD_OUT)]:
        y = np.concatenate([scored[d][0] for d in domains])
        s = np.concatenate([scored[d][1] for d in domains])
        prob = 1 / (1 + np.exp(-(a * s + b)))
        report[name] = {
            "n": len(y),
            "auc": roc_auc(y, s),
            "ba_train_cut": balanced_accuracy(y, (s >= cut).astype(int)),
            "ba_platt_0.5": balanced_accuracy(y, (prob >= 0.5).astype(int)),
            "ece_platt": expected_calibration_error(prob, y),
            "ba_own_best_cut": balanced_accuracy(y, (s >= best_cut(y, s)).astype(int)),
        }
    report["training domains"] = {"n": len(y_train), "auc": roc_auc(y_train, s_train)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
