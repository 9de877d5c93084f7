"""A student whose head reads lexical features, with kappa-fitted grade cuts, end to end."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from distill_rows import make_rows, tiny_config

from judgecache.distill.data import labels_from_rows
from judgecache.distill.grade_cuts import apply_grade_cuts, fit_grade_cuts
from judgecache.distill.pipeline import DistillResult, run_distill
from judgecache.distill.student import StudentTeacher, export_merged, load_predictor
from judgecache.distill.train import labels_from_logits
from judgecache.errors import DistillationError, InputError
from judgecache.stats import cohen_kappa

pytestmark = pytest.mark.distill


@dataclass
class Lexical:
    result: DistillResult
    pairs: list[tuple[str, str]]


@pytest.fixture(scope="module")
def lexical_student(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Lexical:
    out = tmp_path_factory.mktemp("lexical-student")
    labels = labels_from_rows(make_rows(360, n_groups=10, seed=3), source="synthetic")
    cfg = tiny_config(tiny_bert, out, by="group", epochs=1).with_overrides(
        ["train.lexical=true", "calibration.grade_cuts=true", "split.test=0.3"]
    )
    return Lexical(run_distill(cfg, labels=labels), [(p.first, p.second) for p in labels.pairs])


def test_lexical_head_beats_the_zero_shot_cosine_on_unseen_queries(
    lexical_student: Lexical,
) -> None:
    m = lexical_student.result.metrics
    test = m["eval"]["test"]
    # The synthetic grade counts the query's topic word in the doc: BM25 sees it, the untrained
    # tiny encoder's cosine barely does. Held-out *queries* (split by group).
    assert (
        test["student"]["weighted_kappa"]["value"]
        > test["zero_shot"]["weighted_kappa"]["value"] + 0.2
    )
    delta = test["paired_delta"]["zero_shot"]["weighted_kappa"]
    assert delta["lo"] > 0 and delta["value"] > 0.2
    assert set(test["paired_delta"]) == {"zero_shot", "zero_shot_cuts"}
    assert m["train"]["lexical"] == ["idf_coverage", "term_coverage", "bm25", "log_doc_len"]
    assert m["train"]["student_head_init"]["w_bm25"] != 0.0
    card = (lexical_student.result.output / "README.md").read_text()
    assert "| zero_shot_cuts |" in card and "student minus zero_shot_cuts" in card


def test_artifact_carries_the_lexical_table_and_cuts_and_reloads_identically(
    lexical_student: Lexical,
) -> None:
    out = lexical_student.result.output
    spec = json.loads((out / "student.json").read_text())
    assert spec["lexical"] == ["idf_coverage", "term_coverage", "bm25", "log_doc_len"]
    table = json.loads((out / "lexical.json").read_text())
    assert table["idf"]["apple"] > 0 and table["format"] == 1
    cuts = json.loads((out / "thresholds.json").read_text())["grade_cuts"]
    assert len(cuts) == 3 and cuts == sorted(cuts)
    predictor = load_predictor(out)
    assert predictor.grade_cuts == pytest.approx(cuts)
    pairs = lexical_student.pairs[:60]
    a, b = predictor.predict(pairs), load_predictor(out).predict(pairs)
    assert np.array_equal(a.labels, b.labels) and np.allclose(a.prob, b.prob, atol=1e-6)
    assert np.array_equal(a.labels, apply_grade_cuts(a.logits, cuts, [0, 1, 2, 3]))
    # The lexical weights change the scores: without the features the head would differ.
    int8 = load_predictor(out, int8=True).predict(pairs)
    assert np.abs(a.prob - int8.prob).max() < 0.1 and np.mean(a.labels == int8.labels) >= 0.8


def test_student_spec_and_merged_export_keep_the_lexical_features(
    lexical_student: Lexical, tmp_path: Path
) -> None:
    from judgecache.judges.rubric import get_rubric
    from judgecache.judges.spec import teacher_from_spec

    out = lexical_student.result.output
    pairs = lexical_student.pairs[:20]
    direct = load_predictor(out).predict(pairs)
    teacher = teacher_from_spec(f"student:{out}")
    assert isinstance(teacher, StudentTeacher)
    answers = teacher.judge_batch(
        get_rubric("relevance"), [{"query": q, "doc": d} for q, d in pairs]
    )
    assert [getattr(a, "label", None) for a in answers] == direct.labels.tolist()
    dest = export_merged(out, tmp_path / "merged")
    assert (dest / "lexical.json").is_file()
    assert np.allclose(load_predictor(dest).predict(pairs).prob, direct.prob, atol=1e-5)


def test_a_missing_lexical_table_is_a_clear_error(lexical_student: Lexical, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(lexical_student.result.output, broken)
    (broken / "lexical.json").unlink()
    with pytest.raises(DistillationError, match=r"cannot read .*lexical\.json"):
        load_predictor(broken)


def test_fitted_grade_cuts_beat_the_median_grade_on_skewed_labels() -> None:
    rng = np.random.default_rng(0)
    truth = rng.choice(4, size=600, p=[0.55, 0.28, 0.1, 0.07])
    # A head whose cumulative logits are too pessimistic: the median grade is almost always 0.
    score = truth + rng.normal(0, 0.8, size=truth.size)
    logits = np.stack([score - 2.5, score - 3.5, score - 4.5], axis=1)
    labels = [0, 1, 2, 3]
    median = labels_from_logits(logits, labels)
    cuts = fit_grade_cuts(logits, truth.tolist(), labels)
    tuned = apply_grade_cuts(logits, cuts, labels)
    k_median = cohen_kappa(truth, median, labels=labels, weighting="quadratic")
    k_tuned = cohen_kappa(truth, tuned, labels=labels, weighting="quadratic")
    assert k_tuned > k_median + 0.1
    with pytest.raises(InputError, match="2 grade cut-points for 4 labels"):
        apply_grade_cuts(logits, cuts[:2], labels)
    with pytest.raises(InputError, match="do not match"):
        fit_grade_cuts(logits[:, :2], truth.tolist(), labels)
