"""docs/cookbook.md's walk from labels to a deployed cascade, run as written on the shared TREC data.

Each command below appears verbatim in the cookbook; the test runs them in a fresh directory
(bounded: 1,500 DL19 labels, 300 DL20 pairs, 10 training steps) and checks the counts they print.
Set ``JC_WALK_TRANSCRIPT=FILE`` to keep what they printed (how the cookbook's output was made).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.data, pytest.mark.distill]
ROOT = Path(__file__).resolve().parents[2]
COOKBOOK = ROOT / "docs" / "cookbook.md"

WALK = [
    "head -n 1500 $D/qrels.gpt-4o-umbrela.dl19.txt > dl19.qrels",
    "head -n 300 $D/qrels.gpt-4o-umbrela.dl20.txt > dl20.qrels",
    "judgecache import --judge openai:gpt-4o --qrels dl19.qrels "
    "--topics $D/topics.dl19.tsv --collection $D/collection.dl19.tsv",
    "judgecache import --judge human:trec-dl --qrels $D/qrels.human.dl19.txt "
    "--topics $D/topics.dl19.tsv --collection $D/collection.dl19.tsv",
    "judgecache export --judge openai:gpt-4o -o dl19.jsonl",
    "judgecache import --judge openai:gpt-4o --cache diskcache://dl20-labels --qrels dl20.qrels "
    "--topics $D/topics.dl20.tsv --collection $D/collection.dl20.tsv",
    "judgecache export --judge openai:gpt-4o --cache diskcache://dl20-labels -o dl20.jsonl",
    "judgecache distill --config configs/distill/relevance.yaml --labels dl19.jsonl "
    "--output runs/rel --set split.min_examples=50 --set train.max_train_examples=160 "
    "--set train.init_examples=160 --set split.max_val_examples=64 "
    "--set split.max_eval_examples=100 --set train.eval_every=5 --set eval.bootstrap=200",
    "judgecache baseline --labels dl19.jsonl --output runs/emb-cuts",
    "judgecache evaluate --judge student:runs/rel --labels dl20.jsonl "
    "--human-qrels $D/qrels.human.dl20.txt --bootstrap 200",
    "judgecache evaluate --judge embedding:runs/emb-cuts --labels dl20.jsonl --bootstrap 200",
    "judgecache cascade fit --student runs/rel --labels dl20.jsonl --max-escalation 0.3",
    'judgecache score dl20.jsonl --judge "cascade:student:runs/rel>replay:dl20.jsonl" '
    "--band runs/rel.band-escalation-0.3.json -o judged.jsonl",
    'judgecache score dl20.jsonl --judge "cascade:student:runs/rel>replay:dl20.jsonl" '
    "--band runs/rel.band-escalation-0.3.json -o judged.jsonl",
    "judgecache stats",
]


def _data() -> Path:
    env = os.environ.get("JUDGECACHE_DATA")
    folder = (Path(env) if env else ROOT / ".." / "shared" / "data") / "trec-dl"
    if not (folder / "qrels.gpt-4o-umbrela.dl19.txt").is_file():
        pytest.skip(f"TREC DL data not found in {folder} (set JUDGECACHE_DATA to its parent)")
    return folder.resolve()


def test_every_walk_command_is_in_the_cookbook() -> None:
    text = re.sub(r"\s*\\\n\s*", " ", COOKBOOK.read_text(encoding="utf-8"))
    for command in WALK:
        assert command in text, f"docs/cookbook.md lacks: {command}"


def test_the_cookbook_walk(tmp_path: Path) -> None:
    data = _data()
    (tmp_path / "configs" / "distill").mkdir(parents=True)
    shutil.copy(ROOT / "configs" / "distill" / "relevance.yaml", tmp_path / "configs" / "distill")
    env = {
        **os.environ,
        "D": str(data),
        "JUDGECACHE_CACHE": f"diskcache://{tmp_path / 'jc'}",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    out: list[str] = []
    seen: list[str] = []
    for command in WALK:
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=900, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        out.append(done.stdout)
        # Stage lines, not the bars' carriage-return frames.
        stages = [x for x in done.stderr.splitlines() if "\r" not in x and "/s]" not in x]
        seen.append("".join(x + "\n" for x in stages) + done.stdout)
    transcript = os.environ.get("JC_WALK_TRANSCRIPT")
    if transcript:
        Path(transcript).write_text(
            "".join(f"$ {c}\n{o}\n" for c, o in zip(WALK, seen, strict=True)), encoding="utf-8"
        )
    imp, human, exported = out[2], out[3], out[4]
    assert "read 1,500 rows: 1,500 distinct pairs imported under openai:gpt-4o" in imp
    assert "read 9,260 rows: 9,259 distinct pairs imported under human:trec-dl" in human
    assert "merged 1 rows into pairs with the same text; 0 pairs had conflicting" in human
    assert "exported 1,500 labels of openai:gpt-4o" in exported
    assert "openai:gpt-4o on 300 pairs" in out[9] and "teacher vs humans" in out[9]
    assert "balanced_accuracy" in out[9] and "embedding:" in out[10]
    k = int(re.search(r"escalation rate .*\((\d+)/300\)", out[11]).group(1))  # type: ignore[union-attr]
    assert 0 < k <= 90
    assert (
        f"pairs 300 · hits 0 · student answers {300 - k} · escalations {k} "
        f"(teacher calls {k}, teacher cache hits 0)" in out[12]
    )
    assert "pairs 300 · hits 300 · student answers 0 · escalations 0" in out[13]
    replay_row = next(line for line in out[14].splitlines() if line.startswith("replay:dl20"))
    assert replay_row.split()[2:5] == [str(k), "0", str(k)]  # requests, hits, calls
