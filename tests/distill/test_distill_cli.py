"""``judgecache distill`` and ``judgecache evaluate`` end to end on a tiny local BERT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from distill_rows import make_rows, write_jsonl

from judgecache.cli.distill_cmd import distill
from judgecache.cli.evaluate_cmd import evaluate

pytestmark = pytest.mark.distill
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "distill" / "relevance.yaml"


def test_distill_then_evaluate(tmp_path: Path, tiny_bert: Path) -> None:
    labels = write_jsonl(tmp_path / "labels.jsonl", make_rows(300))
    out = tmp_path / "student"
    args = [
        "--config", str(CONFIG), "--labels", str(labels), "--output", str(out),
        "--base-model", str(tiny_bert), "--epochs", "2", "--no-progress",
        "--set", "lora.layers=null", "--set", "split.min_examples=50", "--set", "train.batch_size=32",
        "--set", "eval.bootstrap=20", "--set", "train.max_length=32",
    ]  # fmt: skip
    result = CliRunner().invoke(distill, args)
    assert result.exit_code == 0, result.output
    assert "zero_shot" in result.output and (out / "README.md").is_file()
    cfg = json.loads((out / "distill_config.json").read_text())
    assert cfg["train"]["epochs"] == 2 and cfg["base_model"] == str(tiny_bert)

    qrels = tmp_path / "human.txt"
    qrels.write_text(
        "".join(f"{r['meta']['qid']} 0 {r['meta']['docid']} {r['label']}\n" for r in make_rows(300))
    )
    report = tmp_path / "eval.json"
    args = ["--judge", f"student:{out}", "--labels", str(labels), "--human-qrels", str(qrels),
            "--bootstrap", "20", "--output", str(report)]  # fmt: skip
    result = CliRunner().invoke(evaluate, args)
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["n"] == 300 and data["reference"] == "replay:synthetic"
    assert 0.0 < data["judged"]["weighted_kappa"]["value"] <= 1.0
    # The humans here copy the teacher, so the teacher agrees with them perfectly.
    assert data["vs_human"]["teacher"]["weighted_kappa"]["value"] == pytest.approx(1.0)
    assert "teacher vs humans" in result.output


def test_distill_bad_label_fails_before_training(tmp_path: Path, tiny_bert: Path) -> None:
    rows = make_rows(100)
    rows[41]["label"] = "great"
    labels = write_jsonl(tmp_path / "labels.jsonl", rows)
    result = CliRunner().invoke(
        distill,
        ["--labels", str(labels), "--output", str(tmp_path / "o"), "--base-model", str(tiny_bert)],
    )
    assert result.exit_code != 0
    assert "line 42" in str(result.exception) and "allowed labels" in str(result.exception)
    assert not (tmp_path / "o").exists()
