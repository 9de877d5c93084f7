"""One distill run on the tiny base (alone, or as one rank under torchrun): the DDP test's worker.

Usage: python ddp_run.py TINY_BERT_DIR OUT_DIR  (or: python -m torch.distributed.run ... ddp_run.py)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from distill_rows import make_rows, tiny_config

from judgecache.distill.data import labels_from_rows
from judgecache.distill.pipeline import run_distill

if __name__ == "__main__":
    base, out = Path(sys.argv[1]), Path(sys.argv[2])
    labels = labels_from_rows(make_rows(400, n_groups=10), source="synthetic")
    # An odd batch size: the last batch of each epoch splits unevenly over the two ranks.
    result = run_distill(tiny_config(base, out, batch_size=15, epochs=3), labels=labels)
    (out / "train.json").write_text(
        json.dumps({"losses": result.train.losses, "best_step": result.train.best_step})
    )
    # Only ranks that go on past training get here: under torchrun, rank 0 alone.
    rank = os.environ.get("RANK", "alone")
    (out.parent / f"{out.name}.finished-by-{rank}").write_text(os.environ.get("WORLD_SIZE", "1"))
