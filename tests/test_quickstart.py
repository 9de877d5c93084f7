"""The README's first command, reduced in size: the whole loop runs and its outputs are real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from judgecache.quickstart.corpus import library_pairs, reference_pairs


def test_corpus_is_real_deterministic_and_shifted() -> None:
    ref = reference_pairs(limit=60)
    assert ref == reference_pairs(limit=60)  # seeded: the same pairs every run
    assert len(ref) == 60 and len({q for q, _ in ref}) >= 10
    assert all(len(d.split()) >= 20 for _, d in ref)
    lib = library_pairs(limit=60)
    assert not {d for _, d in ref} & {d for _, d in lib}  # the shifted traffic is other text


@pytest.mark.slow
@pytest.mark.distill
def test_quickstart_small_runs_the_whole_loop(tmp_path: Path) -> None:
    out = tmp_path / "qs"
    proc = subprocess.run(
        [sys.executable, "-m", "judgecache.cli.main", "quickstart", "--small", "--dir", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "quickstart.json").read_text())
    first, second = summary["eval"]["first_pass"], summary["eval"]["second_pass"]
    assert first["teacher_calls"] > 0
    assert second["teacher_calls"] == 0 and second["hits"] == first["teacher_calls"]
    assert second["saved_usd"] > 0
    test_metrics = summary["distill"]["metrics"]["test"]
    for who in ("student", "zero_shot"):
        assert test_metrics[who]["n"] > 0
        assert 0.0 <= test_metrics[who]["auc"]["value"] <= 1.0
    student = Path(summary["distill"]["output"])
    for name in ("metrics.json", "README.md", "student.json", "calibration.json"):
        assert (student / name).is_file(), name
    drift = summary["drift"]
    assert drift["status"] in {"pass", "warn", "fail", "inconclusive"}
    assert drift["teacher_calls"] > 0
    html = Path(drift["report_html"]).read_text()
    assert "<html" in html.lower() and Path(drift["report_md"]).read_text().strip()
    assert Path(drift["report_json"]).is_file()
    assert "Files written:" in proc.stdout
