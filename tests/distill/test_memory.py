"""Query memory: seen queries answered from their labels, clean fallbacks, one identity, bounded.

Real parts: the tiny local BERT as embedder and student, real diskcache stores, real label files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from distill_rows import make_rows, write_jsonl

from judgecache.distill.memory import (
    MemoryIdentityError,
    MemoryRow,
    QueryMemory,
    RowsSource,
    file_source,
    fitted_on_query,
    open_source,
    pair_key,
)
from judgecache.distill.memory_features import (
    FEATURES,
    leave_one_out,
    neighbour_features,
    probe,
)
from judgecache.distill.text_embed import TextEmbedder
from judgecache.errors import ConfigError
from judgecache.judges.rubric import get_rubric
from judgecache.judges.teacher import TeacherAnswer
from judgecache.keys import JudgeIdentity
from judgecache.stats import cohen_kappa

pytestmark = pytest.mark.distill

RUBRIC = get_rubric("relevance")
TEACHER = JudgeIdentity("replay", "synthetic", "")


@pytest.fixture(scope="module")
def embed(tiny_bert: Path) -> TextEmbedder:
    return TextEmbedder.load(tiny_bert)


def cosine_base(embed: TextEmbedder) -> Any:
    def base(query: str, docs: Sequence[str]) -> Any:
        return embed(docs) @ embed([query])[0]

    return base


def rows_of(raw: list[dict[str, Any]]) -> list[MemoryRow]:
    return [
        MemoryRow(
            pair_key(r["inputs"]["query"], r["inputs"]["doc"]),
            r["inputs"]["query"],
            r["inputs"]["doc"],
            r["label"],
        )
        for r in raw
    ]


def memory_of(rows: list[MemoryRow], embed: TextEmbedder, **kw: Any) -> QueryMemory:
    return QueryMemory(RowsSource(TEACHER, rows), embed, cosine_base(embed), RUBRIC, **kw)


def test_features_match_a_hand_computed_case() -> None:
    sims = np.array([[0.9, 0.2, 0.1, 0.3]])
    f = neighbour_features(
        sims,
        np.array([3, 0, 2, 1]),
        np.array([2.0, -1.0, 1.0, 0.0]),
        np.array([0.5]),
        labels=[0, 1, 2, 3],
        positive_from=2,
    )[0]
    got = dict(zip(FEATURES, f.round(4).tolist(), strict=True))
    assert got["near_pos"] == 0.9 and got["near_neg"] == 0.3
    assert got["rate"] == 0.5  # (2 + 1) / (4 + 2)
    # base 0.5: above the negatives' -1.0 and 0.0 (2 of 2), below both positives (2.0, 1.0).
    assert got["neg_below"] == 1.0 and got["pos_above"] == 1.0
    assert got["base_mid"] == round(0.5 - (1.5 + -0.5) / 2, 4)
    assert got["vote"] > 0.99  # the 0.9 neighbour outweighs the rest at temperature 0.05


def test_probe_leave_one_out_equals_refitting_without_each_document() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(12, 6))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    grades = rng.integers(0, 4, 12)
    loo = probe(v @ v.T, grades, labels=[0, 1, 2, 3])
    for i in range(12):
        rest = np.delete(np.arange(12), i)
        refit = probe(
            (v @ v.T)[np.ix_(rest, rest)],
            grades[rest],
            labels=[0, 1, 2, 3],
            targets=(v @ v.T)[[i]][:, rest],
        )
        assert np.allclose(loo[i], refit[0])
    # A copy of a labelled document reads mostly as that document's label (one column per cut).
    fitted = probe(v @ v.T, grades, labels=[0, 1, 2, 3], targets=v @ v.T)
    assert loo.shape == fitted.shape == (12, 3)
    pos = fitted[:, 1][grades >= 2]
    assert pos.min() > fitted[:, 1][grades < 2].max()


def test_leave_one_out_skips_the_last_of_a_class() -> None:
    sims = np.eye(3)
    feats, grades = leave_one_out(
        sims, np.array([3, 0, 0]), np.zeros(3), labels=[0, 1, 2, 3], positive_from=2
    )
    # Without the only positive, its query has one class: only the two negatives are rows.
    assert grades.tolist() == [0, 0] and feats.shape == (2, len(FEATURES) + 3)  # + 3 probes


def test_seen_queries_take_the_memory_path_and_agree(embed: TextEmbedder) -> None:
    raw = make_rows(400, n_groups=10, seed=3)
    memory_rows, held = raw[:200], raw[200:]
    memory = memory_of(rows_of(memory_rows), embed)
    truth, got = [], []
    for topic_query in sorted({r["inputs"]["query"] for r in held}):
        docs = [r for r in held if r["inputs"]["query"] == topic_query]
        ans = memory.predict(topic_query, [r["inputs"]["doc"] for r in docs])
        assert ans.used.all(), ans.why
        assert "labels of this query in memory" in ans.why[0]
        assert ((ans.prob > 0) & (ans.prob < 1)).all()
        assert set(ans.labels.tolist()) <= {0, 1, 2, 3}
        truth += [r["label"] for r in docs]
        got += ans.labels.tolist()
    # Deterministic (seeded weights, data and fit); the synthetic grade is the topic word count.
    assert cohen_kappa(truth, got, labels=[0, 1, 2, 3], weighting="quadratic") > 0.5


def test_unseen_one_label_and_one_class_queries_fall_back_and_say_why(
    embed: TextEmbedder,
) -> None:
    rows = rows_of(make_rows(200, n_groups=8))
    rows.append(MemoryRow("k-one", "what about river river", "river text", 3))
    rows += [MemoryRow(f"k-neg{i}", "what about copper copper", f"some {i}", 0) for i in range(3)]
    memory = memory_of(rows, embed)
    cases = {
        "what about planet planet": "query not in memory",
        "what about river river": "query has one label in memory; probability recalibrated for "
        "all-positive memories",
        "what about copper copper": "query has one class in memory (3 labels, all negative); "
        "probability recalibrated for all-negative memories",
    }
    for query, why in cases.items():
        ans = memory.predict(query, ["a doc about planet", "bread"])
        assert not ans.used.any() and (ans.labels == -1).all()
        assert ans.why[0] == ans.why[1] and ans.why[0].startswith(why), ans.why[0]
        # One label / one class: the fallback's probability comes recalibrated; unseen: none.
        assert ans.recalibrated.all() == (why != "query not in memory")
        assert np.isnan(ans.prob).all() == (why == "query not in memory")


def test_too_few_labels_to_fit_falls_back_with_the_reason(embed: TextEmbedder) -> None:
    rows = [
        MemoryRow("a", "what about tiger", "tiger tiger", 3),
        MemoryRow("b", "what about tiger", "bread", 0),
    ]
    ans = memory_of(rows, embed).predict("what about tiger", ["tiger"])
    # Leave-one-out on two labels leaves each with one class: nothing to fit the combiner on.
    assert not ans.used[0] and ans.why[0].startswith("the memory cannot fit its combiner yet")


def test_a_memory_of_another_judge_is_refused(tmp_path: Path) -> None:
    other = {"provider": "openai", "model": "gpt-4o-mini", "version": ""}
    path = write_jsonl(tmp_path / "other.jsonl", make_rows(40, judge=other))
    with pytest.raises(
        MemoryIdentityError, match=r"come from openai:gpt-4o-mini.*replay:synthetic"
    ):
        file_source(path, TEACHER, RUBRIC)
    from judgecache import Judge

    url = f"diskcache://{tmp_path / 'cache'}"
    judge = Judge(lambda q, d: 1, name="gpt-4o-mini", version="", cache=url)
    judge.put("what about tiger", "tiger", 3)
    with pytest.raises(MemoryIdentityError, match=r"no labels of replay:synthetic.*callable"):
        open_source(url, TEACHER, RUBRIC)
    with pytest.raises(ConfigError, match="fresh, empty cache"):
        open_source("memory://", TEACHER, RUBRIC)


def replay_judge(url: str) -> Any:
    """A Judge whose identity is the synthetic teacher's (its labels are what the memory reads)."""
    from judgecache import Judge
    from judgecache.judges.teachers.replay import ReplayTeacher

    return Judge(ReplayTeacher([], name="synthetic", fields=("query", "doc")), cache=url)


def test_new_cache_labels_are_used_at_once_without_refitting(
    embed: TextEmbedder, tmp_path: Path
) -> None:
    url = f"diskcache://{tmp_path / 'cache'}"
    teacher = replay_judge(url)
    raw = make_rows(200, n_groups=8)
    teacher.put_many((r["inputs"]["query"], r["inputs"]["doc"], r["label"], None) for r in raw)
    memory = QueryMemory(open_source(url, TEACHER, RUBRIC), embed, cosine_base(embed), RUBRIC)
    query = "what about winter winter"
    assert memory.predict(query, ["winter"]).why == ["query not in memory"]
    assert memory.predict("what about apple", ["apple"]).used.all()  # fits the combiner
    fitted = memory.combiner
    assert fitted is not None
    # An escalation (or import) lands in the cache: the very next call uses it.
    teacher.put(query, "winter winter winter", 3)
    teacher.put(query, "bread with some words", 0)
    teacher.put(query, "winter the winter", 2)
    ans = memory.predict(query, ["winter winter", "bread"])
    assert ans.used.all() and ans.why[0] == "3 labels of this query in memory (2 positive)"
    assert memory.combiner is fitted  # 3 new labels on 200: no refit, no retraining
    # A re-label replaces the old one (the newest answer counts).
    teacher.put(query, "winter the winter", 0)
    assert (
        memory.predict(query, ["winter"]).why[0] == "3 labels of this query in memory (1 positive)"
    )


def test_per_query_index_is_an_lru_of_bounded_size(embed: TextEmbedder) -> None:
    rows = rows_of(make_rows(240, n_groups=10))
    memory = memory_of(rows, embed, max_queries=3, max_docs=5)
    queries = sorted({r.query for r in rows})
    memory.fit()
    assert len(memory.indexes) == 3  # fitting visited all ten queries; three indexes remain
    for q in queries[:4]:
        memory.predict(q, ["apple"])
    assert list(memory.indexes) == queries[1:4]
    assert all(len(ix.keys) == 5 for ix in memory.indexes.values())
    newest = [r.key for r in rows if r.query == queries[3]][-5:]
    assert memory.indexes[queries[3]].keys == newest


def test_student_spec_with_memory_says_which_path_gave_each_verdict(
    student_dir: Path, tmp_path: Path
) -> None:
    from judgecache import Judge

    labels = write_jsonl(tmp_path / "labels.jsonl", make_rows(200, n_groups=8))
    judge = Judge(f"student:{student_dir}?memory={labels}", cache="memory://")
    plain = Judge(f"student:{student_dir}", cache="memory://")
    assert str(judge.teacher.identity) == str(plain.teacher.identity) + "+memory"
    seen, unseen = ("what about apple", "apple apple text"), ("what about copper", "copper")
    v_seen, v_unseen = judge.score_many([seen, unseen])
    assert v_seen.envelope.meta["path"] == "memory"
    assert v_seen.reason is not None and v_seen.reason.startswith("memory: ")
    assert v_unseen.envelope.meta["path"] == "fallback"
    assert not fitted_on_query(v_unseen.envelope.meta) and fitted_on_query(v_seen.envelope.meta)
    assert v_unseen.reason == "fallback to the student: query not in memory"
    # The fallback for an unseen query is today's student, unchanged.
    assert v_unseen.label == plain.score(*unseen).label
    assert v_unseen.score == plain.score(*unseen).score


def test_student_fallback_for_a_one_class_query_scores_with_the_recalibrated_probability(
    student_dir: Path, tmp_path: Path
) -> None:
    import json

    from judgecache import Judge

    rows = make_rows(200, n_groups=8)
    rows += [
        {
            **rows[0],
            "key": f"neg{i}",
            "inputs": {"query": "what about copper", "doc": f"x {i}"},
            "label": 0,
        }
        for i in range(4)
    ]
    labels = write_jsonl(tmp_path / "labels.jsonl", rows)
    judge = Judge(f"student:{student_dir}?memory={labels}", cache="memory://")
    plain = Judge(f"student:{student_dir}", cache="memory://")
    pair = ("what about copper", "copper copper text")
    got, student = judge.score(*pair), plain.score(*pair)
    memory = judge.teacher.memory  # type: ignore[attr-defined]
    assert got.envelope.meta["path"] == "fallback"
    assert got.envelope.meta["calibration"] == "one-class" and fitted_on_query(got.envelope.meta)
    assert got.reason is not None and got.reason.startswith(
        "fallback to the student: query has one class in memory (4 labels, all negative); "
        "probability recalibrated for all-negative memories"
    )
    # The label is the student's; the score is the memory's one-class map of the student's logit.
    assert got.label == student.label
    logit = memory.base(*pair[:1], [pair[1]])
    expected = memory.fallback.prob(logit, positive=False)[0]
    assert got.score == pytest.approx(expected, abs=1e-9) and got.score != student.score
    raw = json.loads(got.envelope.raw_output)
    assert raw["path"] == "fallback" and raw["student_p_positive"] == round(student.score, 6)


def test_student_memory_option_and_spec_errors(student_dir: Path, tmp_path: Path) -> None:
    from judgecache import Judge

    other = {"provider": "openai", "model": "gpt-4o", "version": ""}
    bad = write_jsonl(tmp_path / "other.jsonl", make_rows(40, judge=other))
    with pytest.raises(MemoryIdentityError, match="openai:gpt-4o"):
        Judge(f"student:{student_dir}", cache="memory://", options={"memory": str(bad)})
    with pytest.raises(ConfigError, match="unknown flag 'fast'"):
        Judge(f"student:{student_dir}?fast", cache="memory://")
    with pytest.raises(ConfigError, match="not both"):
        Judge(
            f"student:{student_dir}?memory={bad}", cache="memory://", options={"memory": str(bad)}
        )


def test_evaluate_cli_reports_each_path_apart(student_dir: Path, tmp_path: Path) -> None:
    import json
    import shutil
    import subprocess

    exe = shutil.which("judgecache")
    assert exe is not None, "the judgecache console script is not installed in this venv"
    memory = write_jsonl(tmp_path / "memory.jsonl", make_rows(160, n_groups=8))
    # Held-out documents of the 8 seen topics plus two topics the memory has never seen.
    test = write_jsonl(tmp_path / "test.jsonl", make_rows(60, n_groups=10, seed=9))
    out = tmp_path / "metrics.json"
    proc = subprocess.run(
        [
            exe,
            "evaluate",
            "--judge",
            f"student:{student_dir}?memory={memory}",
            "--labels",
            str(test),
            "--bootstrap",
            "20",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    by_path = json.loads(out.read_text())["by_path"]
    assert by_path["memory"]["n"] == 48 and by_path["fallback"]["n"] == 12
    assert "binary_kappa" in by_path["memory"]["judged"]


def test_cascade_escalations_teach_the_memory_at_once(student_dir: Path, tmp_path: Path) -> None:
    """Escalated pairs are judged by the teacher into the cache the memory reads: no retraining."""
    from judgecache import Judge
    from judgecache.cascade.band import Band
    from judgecache.distill.student import StudentTeacher
    from judgecache.judges.cascade import CascadeTeacher
    from judgecache.judges.teachers.replay import ReplayRecord, ReplayTeacher

    url = f"diskcache://{tmp_path / 'cache'}"
    raw = make_rows(240, n_groups=10)
    history, traffic = raw[:160], [r for r in raw[160:] if r["inputs"]["query"].endswith("garden")]
    replay_judge(url).put_many(
        (r["inputs"]["query"], r["inputs"]["doc"], r["label"], None)
        for r in history
        if not r["inputs"]["query"].endswith("garden")  # the cache knows nothing of this query
    )
    records = [ReplayRecord(dict(r["inputs"]), r["label"]) for r in raw]
    teacher = Judge(ReplayTeacher(records, name="synthetic", fields=("query", "doc")), cache=url)
    student = StudentTeacher(student_dir, memory=url)
    probe = [{"query": "what about garden", "doc": "garden garden text"}]
    before = student.judge_batch(RUBRIC, probe)[0]
    assert isinstance(before, TeacherAnswer) and before.meta["path"] == "fallback"
    cascade = Judge(CascadeTeacher(student, teacher, Band(0.0, 1.0)), cache="memory://")
    cascade.score_many([(r["inputs"]["query"], r["inputs"]["doc"]) for r in traffic])
    after = student.judge_batch(RUBRIC, probe)[0]
    assert isinstance(after, TeacherAnswer) and after.meta["path"] == "memory"
    assert after.reason is not None and f"{len(traffic)} labels of this query" in after.reason
