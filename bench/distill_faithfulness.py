"""Benchmark: a faithfulness student on SummEdits, trained on some domains, tested on the others.

Labels are SummEdits' human consistency labels (standing in for a frontier judge's). Training,
validation and calibration use the training domains only (split by source document); the test is
every pair of the held-out domains. Reports balanced accuracy (GPT-4 reaches about 82% on
SummEdits), kappa and AUC, beside the zero-shot embedding cosine.

    python bench/distill_faithfulness.py --train-domains news,podcast,samsum --test-domains scitldr,qmsumm
    python bench/distill_faithfulness.py --test-domains ""   # in-domain diagnostic (held-out sources)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, data_dir


def rows_for(domains: list[str]) -> list[dict[str, Any]]:
    from judgecache.io.summedits import iter_summedits

    rows = []
    for domain in domains:
        path = data_dir() / "summedits" / f"summedits_{domain}.json"
        if not path.is_file():
            raise SystemExit(f"benchmark needs {path} (set JUDGECACHE_DATA)")
        for r in iter_summedits(path):
            rows.append(
                {
                    "task": "faithfulness",
                    "judge": {"provider": "human", "model": "summedits", "version": ""},
                    "inputs": {"context": r.doc, "answer": r.summary},
                    "label": r.label,
                    "meta": {"id": r.id, "domain": r.domain},
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-domains", default="news,podcast,samsum")
    ap.add_argument("--test-domains", default="scitldr,qmsumm")
    ap.add_argument("--output", default=str(REPO / "runs" / "bench-distill-faithfulness"))
    ap.add_argument("--set", action="append", default=[], help="config override key=value")
    args = ap.parse_args()
    import torch

    from judgecache.distill.config import DistillConfig
    from judgecache.distill.data import check_splits, labels_from_rows, split_labels
    from judgecache.distill.model import resolve_base_model
    from judgecache.distill.pipeline import Prepared, run_distill

    torch.set_num_threads(2)
    overrides = [f"output={args.output}", "train.progress=false", *args.set]
    cfg = DistillConfig.from_yaml(
        REPO / "configs" / "distill" / "faithfulness.yaml"
    ).with_overrides(overrides)
    train_rows = rows_for(args.train_domains.split(","))
    # No test domains: an in-domain diagnostic (held-out source documents of the same domains).
    test_rows = rows_for(args.test_domains.split(",")) if args.test_domains else []
    source = f"SummEdits train {args.train_domains} / test {args.test_domains or 'in-domain'}"
    labels = labels_from_rows(train_rows + test_rows, task="faithfulness", source=source)
    in_domain = labels_from_rows(train_rows, task="faithfulness", source=source)
    fractions = {"val": cfg.split.val, "calib": cfg.split.calib}
    if not test_rows:
        fractions["test"] = cfg.split.test
    splits = split_labels(in_domain, by="group", fractions=fractions, seed=cfg.split.seed)
    if test_rows:
        splits["test"] = labels_from_rows(test_rows, task="faithfulness", source=source)
    check_splits(splits, binary=True, min_examples=cfg.split.min_examples)
    prep = Prepared(labels, splits, resolve_base_model(cfg.base_model), binary=True)
    t0 = time.perf_counter()
    result = run_distill(cfg, prepared=prep)
    wall = time.perf_counter() - t0
    ev = result.metrics["eval"]["test"]
    keys = ("balanced_accuracy", "binary_kappa", "auc", "binary_accuracy")
    report = {
        "config_overrides": overrides,
        "train_domains": args.train_domains,
        "test_domains": args.test_domains,
        "splits": result.metrics["split"],
        "wall_seconds_total": wall,
        "train_seconds": result.train.seconds,
        "n_test": ev["n"],
        "student": {k: ev["student"][k] for k in keys},
        "zero_shot": {k: ev["zero_shot"][k] for k in keys},
    }
    out = Path(args.output) / "bench_faithfulness.json"
    out.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    print(json.dumps(report, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
