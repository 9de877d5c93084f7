"""``judgecache distill`` and ``judgecache evaluate`` end to end on a tiny local BERT."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
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


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``judgecache`` script in a subprocess: exit codes as a shell sees them."""
    exe = shutil.which("judgecache", path=str(Path(sys.executable).parent)) or "judgecache"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=600, check=False)


def _tiny_args(labels: Path, out: Path, tiny_bert: Path) -> list[str]:
    return [
        "--labels", str(labels), "--output", str(out), "--base-model", str(tiny_bert),
        "--set", "lora.layers=null", "--set", "split.min_examples=20", "--set", "eval.bootstrap=10",
        "--set", "train.max_length=32", "--set", "train.eval_every=4", "--set", "train.patience=1",
        "--set", "train.lexical=false", "--set", "train.maxsim=false",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def student_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """One student distilled through the console script, shared by the tests that use it."""
    root = tmp_path_factory.mktemp("student-run")
    labels = write_jsonl(root / "labels.jsonl", make_rows(300))
    done = _console("distill", *_tiny_args(labels, root / "s", tiny_bert), "--epochs", "3")
    assert done.returncode == 0, done.stderr
    return root / "s", labels, done


def test_distill_names_its_stages_and_early_stop(
    student_run: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    student, _, done = student_run
    for stage in ("prepare", "build", "zero-shot", "fit", "calibrate", "evaluate", "save"):
        assert f"] {stage}: " in done.stderr and f"] {stage} done in " in done.stderr
    train = json.loads((student / "metrics.json").read_text())["train"]
    if train["stopped_early"]:
        # Which step stops depends on the run; that it is said, and how, does not.
        said = f"early stop at step {train['steps']}/{train['planned_steps']}: no validation"
        assert said in done.stderr and said in done.stdout
    else:
        assert f"{train['steps']} steps; best validation agreement" in done.stdout
    # Library noise stays out: no weight-loading bars, no FutureWarnings.
    assert "Loading weights" not in done.stderr and "FutureWarning" not in done.stderr


def test_evaluate_shows_progress_and_balanced_accuracy(
    student_run: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    student, labels, _ = student_run
    done = _console("evaluate", "--judge", f"student:{student}", "--labels", str(labels),
                    "--bootstrap", "10", "--cache", "memory://")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "evaluate: 100%" in done.stderr and "300/300" in done.stderr
    assert "balanced_accuracy" in done.stdout
    assert "Loading weights" not in done.stderr


def test_cascade_fit_report_and_score(
    student_run: tuple[Path, Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    student, labels, _ = student_run
    fit = _console("cascade", "fit", "--student", str(student), "--labels", str(labels),
                   "--max-escalation", "0.3", "--cache", "memory://", "--json")  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    result = json.loads(fit.stdout)
    band = Path(result["band_file"])
    assert band == student.with_name("s.band-escalation-0.3.json") and band.is_file()
    assert not (student / "cascade.json").exists()  # beside the student, never inside
    assert result["escalation"]["value"] <= 0.3
    assert result["escalation"]["lo"] <= result["escalation"]["value"] <= result["escalation"]["hi"]
    report = _console("cascade", "report", str(band), "--labels", str(labels), "--cache",
                      "memory://", "--json")  # fmt: skip
    assert report.returncode == 0, report.stderr
    held = json.loads(report.stdout)["held_out"]
    # The same labels it was fitted on: the report reproduces the fit's counts exactly.
    assert held["escalation"]["k"] == result["escalation"]["k"]
    assert held["kept_agreement"]["k"] == result["kept_agreement"]["k"]
    inside = _console("cascade", "fit", "--student", str(student), "--labels", str(labels),
                      "--max-escalation", "0.2", "--output", str(student / "b.json"),
                      "--cache", "memory://")  # fmt: skip
    assert inside.returncode == 3 and "beside the student, not inside" in inside.stderr
    neither = _console("cascade", "fit", "--student", str(student), "--labels", str(labels))
    assert neither.returncode != 0 and "exactly one of" in neither.stderr

    rows = [json.loads(x) for x in labels.read_text().splitlines()]
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [r["inputs"] for r in rows])
    replay = write_jsonl(
        tmp_path / "teacher.jsonl", [{**r["inputs"], "label": r["label"]} for r in rows]
    )
    cache = f"diskcache://{tmp_path / 'c'}"
    cascade = f"cascade:student:{student}>replay:{replay}"
    done = _console("score", str(pairs), "--judge", cascade, "--band", str(band), "--cache",
                    cache, "-o", str(tmp_path / "o.jsonl"), "--json", "--no-progress")  # fmt: skip
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    assert s["escalations"] == result["escalation"]["k"]
    assert s["student_answers"] + s["escalations"] == s["pairs"] == 300
    assert s["teacher_calls"] + s["teacher_cache_hits"] == s["escalations"]
    assert "Loading weights" not in done.stderr


def test_baseline_with_fitted_cuts_is_a_judge(
    student_run: tuple[Path, Path, subprocess.CompletedProcess[str]],
    tmp_path: Path,
    tiny_bert: Path,
) -> None:
    _, labels, _ = student_run
    out = tmp_path / "emb"
    fit = _console("baseline", "--labels", str(labels), "--output", str(out), "--base-model",
                   str(tiny_bert), "--json")  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    fitted = json.loads(fit.stdout)
    assert len(fitted["cuts"]) == 3 and (out / "embedding.json").is_file()
    done = _console("evaluate", "--judge", f"embedding:{out}", "--labels", str(labels),
                    "--bootstrap", "10", "--cache", "memory://", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    judged = json.loads(done.stdout)["judged"]
    # evaluate reproduces the fit's own in-sample agreement: the same cuts, applied as a judge.
    assert judged["weighted_kappa"]["value"] == pytest.approx(fitted["fit"]["weighted_kappa"])
    assert judged["accuracy"]["value"] == pytest.approx(fitted["fit"]["accuracy"])
    plain = _console("evaluate", "--judge", f"embedding:{tiny_bert}", "--labels", str(labels),
                     "--bootstrap", "10", "--cache", "memory://", "--json")  # fmt: skip
    assert json.loads(plain.stdout)["judge"] != json.loads(done.stdout)["judge"]


def test_degenerate_student_warns_and_fails_the_gate(tmp_path: Path, tiny_bert: Path) -> None:
    # Faithfulness labels that are noise with 12% positives: a calibrated student can only say 0.
    rng = random.Random(5)
    rows = make_rows(400, task="faithfulness")
    for r in rows:
        r["label"] = int(rng.random() < 0.12)
    labels = write_jsonl(tmp_path / "labels.jsonl", rows)
    args = [*_tiny_args(labels, tmp_path / "s", tiny_bert), "--set", "task=faithfulness"]
    args += ["--set", "target=binary", "--set", "split.by=pair", "--no-progress"]
    plain = _console("distill", *args)
    assert plain.returncode == 0, plain.stderr
    assert "WARNING: degenerate student: it answers 0 for all" in plain.stdout
    card = (tmp_path / "s" / "README.md").read_text()
    assert "WARNING: do not serve this student" in card and "degenerate student" in card
    gated = _console("distill", *args, "--fail-if-worse-than", "zero-shot")
    assert gated.returncode == 1, gated.stderr
    assert "gate fail_if_worse_than=zero_shot: degenerate student" in gated.stderr
    assert (tmp_path / "s" / "README.md").is_file()  # saved, but the run is not a success
    # The same gate from the config file.
    cfg = tmp_path / "gate.yaml"
    cfg.write_text("task: faithfulness\ntarget: binary\neval:\n  fail_if_worse_than: zero_shot\n")
    from_config = _console("distill", "--config", str(cfg), *args)
    assert from_config.returncode == 1 and "degenerate" in from_config.stderr


def test_overrides_are_values_not_strings(tmp_path: Path) -> None:
    from judgecache.distill.config import DistillConfig

    # "2024" as an output name and "null"-looking labels stay strings; nothing is re-parsed.
    cfg = DistillConfig().with_values({"output": "2024", "labels": "null", "train.epochs": 3})
    assert (cfg.output, cfg.labels, cfg.train.epochs) == ("2024", "null", 3)
