"""The README's first command, reduced in size: the whole loop runs and its outputs are real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from judgecache.quickstart.compare import compare_judges
from judgecache.quickstart.corpus import (
    GRADE_LEAD,
    GRADE_NEIGHBOUR,
    GRADE_OTHER,
    GRADE_OWN,
    library_pairs,
    reference_pairs,
    reference_sections,
    structure_labels,
)
from judgecache.quickstart.explain import describe_comparison, describe_fitted_base, explain_drift
from judgecache.quickstart.run import default_dir, teacher_spec


def test_corpus_is_real_deterministic_and_shifted() -> None:
    ref = reference_pairs(limit=60)
    assert ref == reference_pairs(limit=60)  # seeded: the same pairs every run
    assert len(ref) == 60 and len({q for q, _ in ref}) >= 10
    assert all(len(d.split()) >= 20 for _, d in ref)
    lib = library_pairs(limit=60)
    assert not {d for _, d in ref} & {d for _, d in lib}  # the shifted traffic is other text


def test_structure_labels_follow_the_sections_and_cover_every_pair() -> None:
    labels = structure_labels()
    sections = reference_sections()
    by_pair = {(q, d): g for q, d, g in labels}
    for query, doc, grade in labels[:300]:
        own = sections.get(query)
        if grade == GRADE_LEAD:
            assert own is not None and doc == own[0]
        elif grade == GRADE_OWN:
            assert own is not None and doc == own[1]
        else:
            assert grade in (GRADE_NEIGHBOUR, GRADE_OTHER) and (own is None or doc not in own[:2])
    # The replay teacher must know every pair the quickstart will ask about.
    assert all(p in by_pair for p in reference_pairs()) and all(
        p in by_pair for p in library_pairs()
    )
    assert {g for _, _, g in labels} == {0, 1, 2, 3}


def test_docs_teacher_is_a_replay_file_and_other_specs_pass_through(tmp_path: Path) -> None:
    spec = teacher_spec("docs", tmp_path)
    path = Path(spec.removeprefix("replay:"))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert spec.startswith("replay:") and len(rows) == len(structure_labels())
    assert set(rows[0]) == {"query", "doc", "label"}
    assert teacher_spec("openai:gpt-4o-mini", tmp_path) == "openai:gpt-4o-mini"


def test_default_dir_is_outside_the_working_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/tmp/xdg-cache")
    assert default_dir() == Path("/tmp/xdg-cache/judgecache-quickstart")


def _m(value: float, lo: float, hi: float) -> dict[str, float]:
    return {"value": value, "lo": lo, "hi": hi}


def test_comparison_lines_name_the_gain_and_its_noise() -> None:
    truth = [0, 1, 2, 3] * 25
    noisy = [min(3, t + (i % 3 == 0)) for i, t in enumerate(truth)]
    comparison = compare_judges(truth, {"student": truth, "base": noisy, "same": truth}, n_boot=200)
    assert comparison["n"] == 100 and comparison["agreement"]["student"]["value"] == 1.0
    lines = describe_comparison(comparison, {"student": "student", "base": "base"})
    assert lines[0].startswith("student  1.000 [1.000, 1.000]")
    assert "student - base: +" in lines[3] and "a real gain" in lines[3]
    assert lines[4] == (
        "student - same: +0.000 [+0.000, +0.000], no change (training found no step better "
        "than the base on validation)"
    )
    delta = {"weighted_kappa": _m(0.05, -0.02, 0.12)}
    fitted = describe_fitted_base({"test": {"paired_delta": {"zero_shot_cuts": delta}}})
    assert fitted == [
        "training run, queries never seen in training: student - base with cut-points fitted to "
        "the teacher +0.050 [-0.020, +0.120], within the noise (the paired interval straddles 0)"
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("fail", "FAIL is the catch"), ("pass", "PASS: on the planted shift"), ("warn", "WARN")],
)
def test_drift_explanation_says_why(status: str, expected: str) -> None:
    ref = SimpleNamespace(agreement=0.9, n_labelled=120)
    report = {"sections": {"agreement": {"agreement": {"estimate": 1.0, "low": 0.97, "high": 1.0}}}}
    verdict = SimpleNamespace(status=status, reasons=["agreement 0.700 below the reference"])
    lines = explain_drift(ref, report, verdict)
    assert lines[0].startswith("the student agreed with the teacher on 0.900 of 120")
    assert "1.000 [0.970, 1.000]" in lines[0]
    assert expected in lines[1] and lines[-1] == "- agreement 0.700 below the reference"


@pytest.mark.slow
@pytest.mark.distill
def test_quickstart_small_runs_the_whole_loop(tmp_path: Path) -> None:
    out = tmp_path / "qs"
    proc = subprocess.run(
        [sys.executable, "-m", "judgecache.cli.main", "quickstart", "--small", "--dir", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONWARNINGS": "default"},  # library warnings must still stay out
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
    assert "weighted_kappa" in test_metrics["paired_delta"]["zero_shot"]
    held_out = summary["serving"]["held_out_comparison"]
    assert held_out["n"] > 0 and set(held_out["agreement"]) == {"student", "base"}
    student = Path(summary["distill"]["output"])
    for name in ("metrics.json", "README.md", "student.json", "calibration.json"):
        assert (student / name).is_file(), name
    drift = summary["drift"]
    assert drift["status"] in {"pass", "warn", "fail", "inconclusive"}
    assert drift["teacher_calls"] > 0 and drift["explanation"]
    html = Path(drift["report_html"]).read_text()
    assert "<html" in html.lower() and Path(drift["report_md"]).read_text().strip()
    assert Path(drift["report_json"]).is_file()
    # What the user reads: the comparison with the base, the verdict explained, where files are.
    for text in ("base model as a judge, as shipped", "student (distilled) - base",
                 "drift verdict on the shifted traffic",
                 "Files written:", f"Remove it all with: rm -rf {out}"):  # fmt: skip
        assert text in proc.stdout, text
    assert "Warning" not in proc.stderr and "Loading weights" not in proc.stderr
