"""``judgecache distill`` under torchrun: 2 CPU processes (gloo) train the same student as one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from judgecache.distill.student import load_predictor

pytestmark = [pytest.mark.distill, pytest.mark.slow]
HERE = Path(__file__).resolve().parent


def _run(cmd: list[str], out: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads((out / "train.json").read_text())
    return result


def test_two_gloo_ranks_match_one_process(tiny_bert: Path, tmp_path: Path) -> None:
    single, multi = tmp_path / "single", tmp_path / "ddp"
    script = str(HERE / "ddp_run.py")
    one = _run([sys.executable, script, str(tiny_bert), str(single)], single)
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
    ]
    two = _run([*torchrun, script, str(tiny_bert), str(multi)], multi)

    assert sorted(p.name for p in tmp_path.glob("*.finished-by-*")) == [
        "ddp.finished-by-0",
        "single.finished-by-alone",
    ]
    assert (tmp_path / "ddp.finished-by-0").read_text() == "2"
    # Same artifacts, written once (rank 1 left after training; nothing else wrote there).
    files = sorted(p.relative_to(single).as_posix() for p in single.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(multi).as_posix() for p in multi.rglob("*") if p.is_file())
    # The same optimisation: the loss curve, the chosen step, the weights and the predictions.
    assert len(two["losses"]) == len(one["losses"])  # type: ignore[arg-type]
    assert np.allclose(two["losses"], one["losses"], rtol=1e-3, atol=1e-4)  # type: ignore[arg-type]
    assert two["best_step"] == one["best_step"]
    a, b = load_file(str(single / "head.safetensors")), load_file(str(multi / "head.safetensors"))
    assert a.keys() == b.keys()
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-3) for k in a)
    pairs = [("what about apple", "apple apple bread the"), ("what about river", "tiger of text")]
    p1, p2 = load_predictor(single).predict(pairs), load_predictor(multi).predict(pairs)
    assert np.allclose(p1.prob, p2.prob, atol=1e-3)
    assert np.array_equal(p1.labels, p2.labels)
