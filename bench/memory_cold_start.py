"""Benchmark: a fresh process with a query memory -- what the stores on disk save.

A dashboard refresh over a fixed eval set is a fresh ``judgecache score`` process: its student
with a memory needs, for every query it is asked about, the base's embedding and the student's
logit of each labelled document of that query. This runs the same scoring through the installed
console script in three states of ``$JUDGECACHE_DIR``, taking turns round after round:

* ``cold``: an empty directory (a first run);
* ``embeddings kept``: the base's embeddings on disk, the student's logits not (judgecache before
  the logits were kept);
* ``both kept``: embeddings and the student's logits of the labelled documents on disk.

The memory: GPT-4o's labels of a seeded half of each query's DL19 + DL20 pairs (the student's own
teacher, as exported by ``bench/distill_relevance.py``); scored: the other half of ``--queries``
seeded queries. Every state must give the same labels (checked).

    python bench/distill_relevance.py --no-speed --output runs/rel-point     # a student, once
    flock /tmp/jc-heavy.lock python bench/memory_cold_start.py --student runs/rel-point
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, require_data
from cascade_batch_cli import console
from distill_relevance import load_trec_rows

STATES = ("cold", "embeddings kept", "both kept")


def split_rows(queries: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(memory rows: half of every query's labels, pairs to score: the other half of ``queries``
    seeded queries)."""
    by_query: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in load_trec_rows("gpt-4o-umbrela"):
        by_query[row["meta"]["qid"]].append(row)
    rng = random.Random(seed)
    asked = set(rng.sample(sorted(by_query), queries))
    memory, score = [], []
    for qid, rows in sorted(by_query.items()):
        rng.shuffle(rows)
        half = len(rows) // 2
        memory += rows[:half]
        if qid in asked:
            score += [{**r["inputs"], "id": f"{qid}/{r['meta']['docid']}"} for r in rows[half:]]
    return memory, score


def score_once(student: Path, memory: Path, pairs: Path, home: Path, out: Path) -> float:
    """One fresh ``judgecache score`` with the memory; its wall seconds."""
    spec = f"student:{student}?runtime=torch&memory={memory}"
    cmd = [console(), "score", str(pairs), "--judge", spec, "--cache", "memory://", "-o", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*cmd, "--no-progress"],
        capture_output=True,
        text=True,
        env={**os.environ, "JUDGECACHE_DIR": str(home)},
    )
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"judgecache score failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return took


def labels_of(path: Path) -> list[Any]:
    return [json.loads(line)["label"] for line in path.open(encoding="utf-8")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", type=Path, default=REPO / "runs" / "memory_cold_start.json")
    args = ap.parse_args()
    require_data()
    work = Path(tempfile.mkdtemp(prefix="jc-cold-"))
    memory_rows, pairs = split_rows(args.queries, args.seed)
    memory, to_score = work / "memory.jsonl", work / "pairs.jsonl"
    memory.write_text("".join(json.dumps(r) + "\n" for r in memory_rows), encoding="utf-8")
    to_score.write_text("".join(json.dumps(r) + "\n" for r in pairs), encoding="utf-8")
    print(
        f"memory: {len(memory_rows)} labels; scoring {len(pairs)} pairs of {args.queries} queries"
    )

    warm = work / "warm"
    score_once(args.student, memory, to_score, warm, work / "warmup.jsonl")  # fills both stores
    reference = labels_of(work / "warmup.jsonl")
    times: dict[str, list[float]] = {s: [] for s in STATES}
    for r in range(args.rounds):
        for state in STATES[r % 3 :] + STATES[: r % 3]:  # rotate the order each round
            home = work / f"home-{r}-{state.replace(' ', '-')}"
            if state != "cold":
                shutil.copytree(warm, home)
            if state == "embeddings kept":
                shutil.rmtree(home / "student-logits")
            out = work / "out.jsonl"
            times[state].append(score_once(args.student, memory, to_score, home, out))
            if labels_of(out) != reference:
                sys.exit(f"state {state!r} gave other labels than the warm-up run")
            shutil.rmtree(home)
            print(f"round {r + 1} {state}: {times[state][-1]:.1f} s", flush=True)
    med = {s: statistics.median(v) for s, v in times.items()}
    for s in STATES:
        print(f"{s:>16}: median {med[s]:.1f} s  ({', '.join(f'{t:.1f}' for t in times[s])})")
    print(
        f"cold / both kept x{med['cold'] / med['both kept']:.2f}; "
        f"embeddings kept / both kept x{med['embeddings kept'] / med['both kept']:.2f}"
    )
    result = {"pairs": len(pairs), "memory": len(memory_rows), "times": times, "median": med}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
