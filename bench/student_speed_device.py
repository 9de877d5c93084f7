"""Benchmark: the student's padded and packed paths on an accelerator, side by side.

Loads a student on ``--device`` (fp32), scores the same real TREC DL pairs with the padded and the
packed path in alternating rounds (passage LRU off), and prints pairs/s per round and how far the
two paths' probabilities and labels differ. The CPU benchmark with int8 and memory is
``bench/student_speed.py``.

    python bench/student_speed_device.py runs/gpu/rel_bi --device cuda
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import real_pairs, require_data

from judgecache.distill.student import Predictions, load_predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("student", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=5000, help="distinct DL pairs (default 5000)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    require_data()
    pairs = real_pairs(args.n)
    predictor = load_predictor(args.student, device=args.device)
    predictor.cache = None  # encode every passage in every round
    on_cuda = predictor.device.type == "cuda"

    def sync() -> None:  # CUDA runs asynchronously: wait for it before reading the clock
        if on_cuda:
            torch.cuda.synchronize()

    rates: dict[str, list[float]] = {"padded": [], "packed": []}
    last: dict[str, Predictions] = {}
    for _ in range(args.rounds):
        for name in rates:
            predictor.packed = name == "packed"
            predictor.predict(pairs[:64])  # warm-up
            sync()
            t0 = time.perf_counter()
            last[name] = predictor.predict(pairs)
            sync()
            rates[name].append(round(len(pairs) / (time.perf_counter() - t0), 1))
    report = {
        "device": str(predictor.device),
        "name": torch.cuda.get_device_name() if predictor.device.type == "cuda" else "cpu",
        "pairs": len(pairs),
        "pairs_per_s": rates,
        "max_abs_prob_diff": float(np.abs(last["padded"].prob - last["packed"].prob).max()),
        "labels_equal": float((last["padded"].labels == last["packed"].labels).mean()),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
