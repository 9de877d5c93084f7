"""Diagnostic: can the default base see SummEdits' edits at all, before any training?

Per domain, the AUC of three label-free scores against the human consistency labels:

* ``novel_words`` -- minus the share of summary words absent from the source;
* ``sentence_alignment`` -- the weakest summary sentence's best cosine to any source sentence,
  with the packaged all-MiniLM-L6-v2 (a SummaC-style zero-shot alignment on embeddings);
* ``alignment_within_source`` -- the same, minus its mean over the summaries of the same source
  (SummEdits edits each seed summary several ways: this compares a summary with its siblings).

AUC near 0.5 says the base's embeddings do not separate consistent from edited summaries; the
distilled faithfulness student starts from these embeddings.

    python bench/faithfulness_probe.py                      # all five domains (~2 min on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import data_dir

from judgecache.distill.build import load_encoder, load_tokenizer
from judgecache.distill.model import mean_pool, resolve_base_model
from judgecache.io.summedits import SummEditsRecord, iter_summedits
from judgecache.stats import roc_auc

DOMAINS = ["news", "podcast", "samsum", "scitldr", "qmsumm"]
WORD = re.compile(r"\w+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    """Sentences of at least three words (the whole text when there is none)."""
    return [s for s in SENTENCE_END.split(text) if len(s.split()) >= 3] or [text]


class Embedder:
    """Mean-pooled, normalised sentence embeddings from the default base, 64 texts a batch."""

    def __init__(self) -> None:
        path = resolve_base_model("default")
        self.tokenizer = load_tokenizer(path)
        self.model = load_encoder(path).eval()

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), 64):
            batch = self.tokenizer(
                texts[i : i + 64],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            hidden = self.model(**batch).last_hidden_state
            pooled = mean_pool(hidden, batch["attention_mask"])
            out.append(torch.nn.functional.normalize(pooled, dim=-1))
        return torch.cat(out)


def novel_words(r: SummEditsRecord) -> float:
    source = set(WORD.findall(r.doc.lower()))
    words = WORD.findall(r.summary.lower())
    return -sum(w not in source for w in words) / max(1, len(words))


def probe(records: list[SummEditsRecord], embed: Embedder) -> dict[str, float]:
    sources = list(dict.fromkeys(r.doc for r in records))
    source_vecs = {d: embed(sentences(d)) for d in sources}
    align = np.array(
        [
            float((embed(sentences(r.summary)) @ source_vecs[r.doc].T).max(1).values.min())
            for r in records
        ]
    )
    by_source: dict[str, list[float]] = defaultdict(list)
    for r, a in zip(records, align, strict=True):
        by_source[r.doc].append(float(a))
    centred = align - np.array([np.mean(by_source[r.doc]) for r in records])
    y = np.array([r.label for r in records])
    return {
        "n": len(records),
        "consistent_share": round(float(y.mean()), 3),
        "novel_words": round(roc_auc(y, np.array([novel_words(r) for r in records])), 3),
        "sentence_alignment": round(roc_auc(y, align), 3),
        "alignment_within_source": round(roc_auc(y, centred), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="*", default=DOMAINS)
    args = parser.parse_args()
    folder = data_dir() / "summedits"
    if not folder.is_dir():
        raise SystemExit(f"this probe needs the SummEdits data at {folder} (set JUDGECACHE_DATA)")
    torch.set_num_threads(2)
    embed = Embedder()
    report = {
        d: probe(list(iter_summedits(folder / f"summedits_{d}.json")), embed) for d in args.domains
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
