"""Embed every DL19 + DL20 passage and query once with the packaged MiniLM (bench/query_memory.py's cache).

    flock /tmp/jc-heavy.lock python bench/query_memory_embed.py   # ~4 min on 2 shared cores

Writes runs/query_memory/embeddings.npz (gitignored): ids (``q:QID`` / ``d:DOCID``) and unit vectors.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, require_data, trec_files

CACHE = REPO / "runs" / "query_memory" / "embeddings.npz"


def texts() -> dict[str, str]:
    """``q:QID`` / ``d:DOCID`` -> text, over both years."""
    from judgecache.io.trec import read_collection, read_topics

    out: dict[str, str] = {}
    for year in ("19", "20"):
        _, topics, collection = trec_files(year)
        out.update({f"q:{k}": v for k, v in read_topics(topics).items()})
        out.update({f"d:{k}": v for k, v in read_collection(collection).items()})
    return out


def load_or_embed() -> dict[str, np.ndarray]:
    """The cached vectors, computing (and saving) the missing ones."""
    import torch

    from judgecache.distill.text_embed import TextEmbedder

    have: dict[str, np.ndarray] = {}
    if CACHE.is_file():
        z = np.load(CACHE)
        have = dict(zip(z["ids"].tolist(), z["vecs"], strict=True))
    todo = {k: v for k, v in texts().items() if k not in have}
    if todo:
        torch.set_num_threads(2)
        emb = TextEmbedder.load("default")
        keys = list(todo)
        t0 = time.perf_counter()
        vecs = emb([todo[k] for k in keys])
        took = time.perf_counter() - t0
        print(f"embedded {len(keys)} texts in {took:.0f} s ({len(keys) / took:.0f} texts/s)")
        have.update(zip(keys, vecs, strict=True))
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        ids = list(have)
        np.savez(CACHE, ids=np.asarray(ids), vecs=np.stack([have[i] for i in ids]))
    return have


if __name__ == "__main__":
    require_data()
    print(len(load_or_embed()), "vectors in", CACHE)
