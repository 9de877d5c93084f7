"""Shared bits of the benchmarks: where the data is, real (query, passage) pairs, timing, memory."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """``$JUDGECACHE_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("JUDGECACHE_DATA", REPO.parent / "shared" / "data"))


def trec_files(year: str) -> tuple[Path, Path, Path]:
    """(qrels of GPT-4o UMBRELA, topics, collection) of TREC DL ``year`` ("19" or "20")."""
    d = data_dir() / "trec-dl"
    return (
        d / f"qrels.gpt-4o-umbrela.dl{year}.txt",
        d / f"topics.dl{year}.tsv",
        d / f"collection.dl{year}.tsv",
    )


def require_data() -> None:
    qrels, _, _ = trec_files("19")
    if not qrels.exists():
        raise SystemExit(
            f"benchmark needs the TREC DL data at {qrels.parent} (set JUDGECACHE_DATA)"
        )


def real_pairs(limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` distinct real (query, passage) pairs from TREC DL19 + DL20."""
    from judgecache.io.trec import iter_trec_pairs

    seen: dict[tuple[str, str], None] = {}
    for year in ("19", "20"):
        for _qid, _docid, query, doc, _grade in iter_trec_pairs(*trec_files(year)):
            seen.setdefault((query, doc), None)
            if len(seen) >= limit:
                return list(seen)
    return list(seen)


def load_grades(year: str) -> dict[tuple[str, str], int]:
    """GPT-4o UMBRELA grades of DL``year`` keyed by (query, passage) text: the first grade per pair."""
    from judgecache.io.trec import iter_trec_pairs

    out: dict[tuple[str, str], int] = {}
    for p in iter_trec_pairs(*trec_files(year)):
        out.setdefault((p.query, p.doc), int(p.grade))
    return out


def sample_pairs(pairs: list[tuple[str, str]], n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` pairs drawn without replacement, seeded, in their original order."""
    import numpy as np

    rng = np.random.default_rng(seed)
    idx = rng.choice(len(pairs), size=min(n, len(pairs)), replace=False)
    return [pairs[i] for i in sorted(idx)]


def cascade_pool(seed: int, n: int) -> list[tuple[str, str]]:
    """The DL19 pairs the cascade benchmark fits and calibrates on (a student must not train on them)."""
    return sample_pairs(sorted(load_grades("19")), n, seed)


def median_time(fn: Callable[[], object], repeats: int = 5) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs (the machine is shared and noisy)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def memory_mb() -> dict[str, float]:
    """This process's current and peak resident memory in MiB (VmRSS, VmHWM from /proc).

    VmHWM, unlike ``ru_maxrss``, is not inherited across exec, so a child measures itself.
    """
    fields = {"VmRSS": 0.0, "VmHWM": 0.0}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in fields:
            fields[key] = int(rest.split()[0]) / 1024
    return {"rss_mb": fields["VmRSS"], "peak_rss_mb": fields["VmHWM"]}
