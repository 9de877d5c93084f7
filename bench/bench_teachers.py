"""Teachers for the benchmarks, importable by worker processes and by ``python:`` specs."""

from __future__ import annotations

import os
import time
from pathlib import Path


def overlap_grade(query: str, doc: str) -> int:
    """Relevance 0-3 from word overlap: a cheap, deterministic stand-in for an API teacher."""
    return min(3, len(set(query.lower().split()) & set(doc.lower().split())))


def slow_logged_grade(query: str, doc: str) -> int:
    """Like :func:`overlap_grade`, but takes 5 ms (an API round trip, scaled down) and appends one
    line per call to ``$BENCH_CALLS_FILE`` so calls from several processes can be counted."""
    time.sleep(0.005)
    with Path(os.environ["BENCH_CALLS_FILE"]).open("a") as f:
        f.write(f"{os.getpid()}\n")
    return overlap_grade(query, doc)
