"""Embed every DL19 + DL20 passage and query once with a packaged base (bench/query_memory.py's cache).

    flock /tmp/jc-heavy.lock python bench/query_memory_embed.py                # MiniLM, ~7-11 min
    flock /tmp/jc-heavy.lock python bench/query_memory_embed.py --base mpnet   # ~46 min on 2 cores

Writes runs/query_memory/embeddings.npz (MiniLM) or embeddings-BASE.npz (gitignored): ids
(``q:QID`` / ``d:DOCID``) and unit vectors. Saved every ``CHUNK`` texts, so a killed run resumes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, require_data, trec_files

CHUNK = 2000


def cache_path(base: str = "default") -> Path:
    """Where ``base``'s vectors are kept (MiniLM keeps its original file name)."""
    name = "embeddings.npz" if base in ("default", "minilm") else f"embeddings-{base}.npz"
    return REPO / "runs" / "query_memory" / name


def texts() -> dict[str, str]:
    """``q:QID`` / ``d:DOCID`` -> text, over both years."""
    from judgecache.io.trec import read_collection, read_topics

    out: dict[str, str] = {}
    for year in ("19", "20"):
        _, topics, collection = trec_files(year)
        out.update({f"q:{k}": v for k, v in read_topics(topics).items()})
        out.update({f"d:{k}": v for k, v in read_collection(collection).items()})
    return out


def read_cache(base: str = "default") -> dict[str, np.ndarray]:
    """The vectors of ``base`` saved so far (nothing computed)."""
    z = np.load(cache_path(base))
    return dict(zip(z["ids"].tolist(), z["vecs"], strict=True))


def load_or_embed(base: str = "default") -> dict[str, np.ndarray]:
    """``base``'s cached vectors, computing (and saving, chunk by chunk) the missing ones."""
    import torch

    from judgecache.distill.text_embed import TextEmbedder

    cache = cache_path(base)
    have = read_cache(base) if cache.is_file() else {}
    todo = {k: v for k, v in texts().items() if k not in have}
    if todo:
        torch.set_num_threads(2)
        emb = TextEmbedder.load(base)
        keys = list(todo)
        t0 = time.perf_counter()
        for start in range(0, len(keys), CHUNK):
            part = keys[start : start + CHUNK]
            have.update(zip(part, emb([todo[k] for k in part]), strict=True))
            cache.parent.mkdir(parents=True, exist_ok=True)
            ids = list(have)
            np.savez(cache, ids=np.asarray(ids), vecs=np.stack([have[i] for i in ids]))
            done = start + len(part)
            took = time.perf_counter() - t0
            print(f"{base}: {done}/{len(keys)} texts in {took:.0f} s ({done / took:.1f} texts/s)")
    return have


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="default", help="a packaged base: default (MiniLM), mpnet")
    args = ap.parse_args()
    require_data()
    print(len(load_or_embed(args.base)), "vectors in", cache_path(args.base))
