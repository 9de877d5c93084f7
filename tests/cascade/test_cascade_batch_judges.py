"""run_audited_batch with real Judge objects (callable teachers, in-memory caches)."""

from __future__ import annotations

from typing import Any

import pytest

from judgecache import Judge
from judgecache.cascade.audit import AuditPolicy
from judgecache.distill.cascade_batch import TeacherFailedError, run_audited_batch
from judgecache.errors import ConfigError

PAIRS = [(f"q{i % 5}", f"doc {i}") for i in range(40)]


def confident_student(q: str, d: str) -> dict[str, Any]:
    """Sure of every pair: grade 3 at 0.99 for even documents, grade 0 at 0.01 for odd ones."""
    even = int(d.split()[1]) % 2 == 0
    return {"label": 3 if even else 0, "score": 0.99 if even else 0.01}


def teacher_of(q: str, d: str) -> int:
    return 3 if int(d.split()[1]) % 2 == 0 else 0


def judges(student_fn: Any, teacher_fn: Any = teacher_of) -> tuple[Judge, Judge]:
    student = Judge(student_fn, name="student", version="1", cache="memory://")
    teacher = Judge(teacher_fn, name="teacher", version="1", cache="memory://")
    return student, teacher


def test_a_label_that_contradicts_its_probability_is_escalated_first() -> None:
    def student_fn(q: str, d: str) -> dict[str, Any]:
        if d == "doc 7":
            return {"label": 3, "score": 0.2}  # says relevant, 20% sure it is
        return confident_student(q, d)

    student, teacher = judges(student_fn)
    # 39 sure pairs expect 0.39 misses; target 0.99 allows 0.4: only the coin flip must go.
    policy = AuditPolicy(target=0.99, rate=0.0, min_audit=0)
    done = run_audited_batch(PAIRS, student, teacher, policy)
    routes = {d: a.route for (_, d), a in zip(PAIRS, done.answers, strict=True)}
    assert routes["doc 7"] == "escalated"
    assert [d for d, r in routes.items() if r != "kept"] == ["doc 7"]  # the rest are sure
    seven = done.answers[7]
    assert seven.student_probability == 0.2 and seven.student_label == 3
    assert seven.label == seven.teacher_label == 0  # the teacher's answer is served


def test_kept_pairs_serve_the_student_and_the_summary_counts_every_call() -> None:
    student, teacher = judges(confident_student)
    # The point ratio: an 80% bound on 5 audited pairs that expect 0.05 misses would top up.
    policy = AuditPolicy(rate=0.1, min_audit=5, seed=3, confidence=0.5)
    done = run_audited_batch(PAIRS, student, teacher, policy)
    s = done.summary()
    asked = [a for a in done.answers if a.teacher_label is not None]
    assert s["audited"] == 5 and s["teacher_calls"] == len(asked) == 5
    assert s["avoided"] == pytest.approx(35 / 40) and s["fitted"] == 0
    assert s["fitted_expected"] is None  # no fitted pairs: nothing to expect
    assert all(
        a.label == a.student_label and a.route == "kept" for a in done.answers if a not in asked
    )
    assert s["estimate"] == 1.0 and s["audit_disagreements"] == 0


def test_a_teacher_failure_names_the_pair_and_keeps_what_was_labelled() -> None:
    def flaky(q: str, d: str) -> int:
        if d == "doc 3":
            raise ValueError("upstream said no")
        return teacher_of(q, d)

    student, teacher = judges(lambda q, d: {"label": 0, "score": 0.5}, flaky)
    with pytest.raises(TeacherFailedError, match=r"failed on 1 of the 40 pairs.*pair 4"):
        run_audited_batch(PAIRS, student, teacher, AuditPolicy(target=0.9))
    assert teacher.score(*PAIRS[0]).cached  # what it did label is in the cache


def test_students_without_probabilities_and_mixed_tasks_are_refused() -> None:
    student, teacher = judges(lambda q, d: 2)  # a grade only: its score is the grade
    with pytest.raises(ConfigError, match=r"pair 1 no probability in \[0, 1\] \(score 2.0\)"):
        run_audited_batch(PAIRS, student, teacher, AuditPolicy())
    faithful = Judge(teacher_of, name="t", version="1", cache="memory://", task="faithfulness")
    with pytest.raises(ConfigError, match="'relevance' and the teacher 'faithfulness'"):
        run_audited_batch(PAIRS, judges(confident_student)[0], faithful, AuditPolicy())
