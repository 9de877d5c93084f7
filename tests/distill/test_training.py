"""Training on a tiny local BERT: it learns, is reproducible, resumes, saves, reloads and serves."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from distill_rows import make_rows, tiny_config
from safetensors.torch import load_file

from judgecache.distill.config import DistillConfig
from judgecache.distill.data import labels_from_rows
from judgecache.distill.pipeline import PREDICTIONS_FILE, DistillResult, run_distill
from judgecache.distill.student import StudentTeacher, export_merged, load_predictor
from judgecache.judges.rubric import get_rubric
from judgecache.stats import cohen_kappa

pytestmark = pytest.mark.distill


@dataclass
class Trained:
    result: DistillResult
    pairs: list[tuple[str, str]]


@pytest.fixture(scope="module")
def trained(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    out = tmp_path_factory.mktemp("student")
    labels = labels_from_rows(make_rows(400, n_groups=10), source="synthetic")
    result = run_distill(tiny_config(tiny_bert, out), labels=labels)
    return Trained(result, [(p.first, p.second) for p in labels.pairs[:50]])


def test_training_lowers_loss_and_beats_zero_shot(trained: Trained) -> None:
    r = trained.result
    losses = r.train.losses
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])
    test = r.metrics["eval"]["test"]  # held-out pairs
    assert (
        test["student"]["weighted_kappa"]["value"]
        > test["zero_shot"]["weighted_kappa"]["value"] + 0.05
    )
    assert (
        r.metrics["train"]["best_val_agreement"] > r.metrics["train"]["history"][0]["val_agreement"]
    )


def test_eval_predictions_hold_every_held_out_pair_and_reproduce_the_metrics(
    trained: Trained,
) -> None:
    rows = [json.loads(line) for line in (trained.result.output / PREDICTIONS_FILE).open()]
    metrics = trained.result.metrics["eval"]
    assert {r["split"] for r in rows} == set(metrics)
    for split, m in metrics.items():
        mine = [r for r in rows if r["split"] == split]
        assert len(mine) == m["n"]
        for judge in ("student", "zero_shot"):
            k = cohen_kappa(
                [r["teacher"] for r in mine],
                [r[judge]["label"] for r in mine],
                labels=[0, 1, 2, 3],
                weighting="quadratic",
            )
            assert k == pytest.approx(m[judge]["weighted_kappa"]["value"], abs=1e-3)
        assert all(0.0 <= r["student"]["prob"] <= 1.0 and "qid" in r["meta"] for r in mine)


def test_artifacts_are_json_and_safetensors_and_reload_identically(trained: Trained) -> None:
    out = trained.result.output
    for name in (
        "student.json",
        "calibration.json",
        "thresholds.json",
        "metrics.json",
        "README.md",
        "head.safetensors",
    ):
        assert (out / name).is_file(), name
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (
        not list(out.rglob("*.bin"))
        and not list(out.rglob("*.pkl"))
        and not list(out.rglob("*.pt"))
    )
    card = (out / "README.md").read_text()
    assert "replay:synthetic" in card and "zero_shot" in card and "Intended use" in card
    assert set(load_file(str(out / "head.safetensors"))) >= {
        "head.scale",
        "head.first_cut",
        "head.gaps",
    }
    a = load_predictor(out).predict(trained.pairs)
    b = load_predictor(out).predict(trained.pairs)
    assert np.array_equal(a.labels, b.labels) and np.allclose(a.prob, b.prob, atol=1e-6)
    # The reloaded (merged) student scores the test split exactly as the trained one was evaluated.
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval"]["test"]["n"] == trained.result.metrics["eval"]["test"]["n"]


def test_int8_path_gives_close_scores(trained: Trained) -> None:
    fp32 = load_predictor(trained.result.output).predict(trained.pairs)
    int8 = load_predictor(trained.result.output, int8=True).predict(trained.pairs)
    assert np.abs(fp32.prob - int8.prob).max() < 0.1
    assert np.mean(fp32.labels == int8.labels) >= 0.8


def test_merged_export_loads_without_peft_and_matches(trained: Trained, tmp_path: Path) -> None:
    dest = export_merged(trained.result.output, tmp_path / "merged")
    assert not (dest / "adapter").exists() and (dest / "merged" / "config.json").is_file()
    a = load_predictor(trained.result.output).predict(trained.pairs)
    b = load_predictor(dest).predict(trained.pairs)
    assert np.allclose(a.prob, b.prob, atol=1e-5)


def test_student_is_a_teacher_behind_the_cache(trained: Trained) -> None:
    from judgecache import Judge

    teacher = StudentTeacher(trained.result.output)
    assert teacher.identity.provider == "student" and teacher.identity.version
    judge = Judge(teacher, task="relevance", cache="memory://")
    first = judge.score_many(trained.pairs[:20])
    again = judge.score_many(trained.pairs[:20])
    direct = load_predictor(trained.result.output).predict(trained.pairs[:20])
    assert [v.label for v in first] == direct.labels.tolist()
    assert not any(v.cached for v in first) and all(v.cached for v in again)
    assert [v.score for v in again] == pytest.approx(direct.prob.tolist(), abs=1e-6)
    assert all(0.0 <= (v.score or 0) <= 1.0 for v in first)


def test_student_spec_and_wrong_task(trained: Trained) -> None:
    from judgecache.errors import ConfigError
    from judgecache.judges.spec import teacher_from_spec

    teacher = teacher_from_spec(f"student:{trained.result.output}")
    assert isinstance(teacher, StudentTeacher)
    with pytest.raises(ConfigError, match="trained for task 'relevance'"):
        teacher.judge_batch(get_rubric("faithfulness"), [{"context": "a", "answer": "b"}])
    [bad, good] = teacher.judge_batch(
        get_rubric("relevance"), [{"query": " ", "doc": "x"}, {"query": "apple", "doc": "apple"}]
    )
    assert isinstance(bad, Exception) and not isinstance(good, Exception)


def test_seeded_runs_are_reproducible_and_resume_is_exact(tiny_bert: Path, tmp_path: Path) -> None:
    labels = labels_from_rows(make_rows(200, n_groups=8))

    def cfg(out: Path) -> DistillConfig:
        return tiny_config(tiny_bert, out, by="group", epochs=2, eval_every=5)

    full = run_distill(cfg(tmp_path / "a"), labels=labels)
    again = run_distill(cfg(tmp_path / "b"), labels=labels)
    assert full.train.losses == again.train.losses
    # Stop after 7 steps (a crash), then resume: the rest of the run is identical to the full one.
    run_distill(cfg(tmp_path / "c"), labels=labels, stop_after_steps=7)
    assert (tmp_path / "c" / "checkpoint" / "state.safetensors").is_file()
    resumed = run_distill(cfg(tmp_path / "c"), labels=labels, resume=True)
    assert resumed.train.resumed_from == 7
    assert resumed.train.losses == pytest.approx(full.train.losses, abs=1e-5)
    a = load_predictor(tmp_path / "a").predict([("what about apple", "apple apple bread")])
    c = load_predictor(tmp_path / "c").predict([("what about apple", "apple apple bread")])
    assert np.allclose(a.prob, c.prob, atol=1e-5)


def test_target_threshold_is_stored_with_its_bound(tiny_bert: Path, tmp_path: Path) -> None:
    labels = labels_from_rows(make_rows(300, task="faithfulness", n_groups=10))
    cfg = tiny_config(tiny_bert, tmp_path / "f").with_overrides(
        [
            "task=faithfulness",
            "target=binary",
            "split.by=pair",
            "split.test_seen=0",
            "threshold.target_recall=0.5",
        ]
    )
    result = run_distill(cfg, labels=labels)
    chosen = json.loads((tmp_path / "f" / "thresholds.json").read_text())["chosen"]
    assert chosen["metric"] == "recall" and chosen["lower_bound"] >= 0.5
    assert load_predictor(tmp_path / "f").threshold == pytest.approx(chosen["threshold"])
    assert result.spec.target == "binary"


def test_torch_threads_setting_is_applied(trained: Trained) -> None:
    assert trained.result.metrics["train"]["threads"] == 1
    torch.set_num_threads(2)
