"""One audited cascade batch with real judges: the student answers, the teacher labels what it must.

:func:`~judgecache.cascade.audit.run_batch` is pure maths on probabilities. This module runs it
with a student :class:`~judgecache.judges.judge.Judge` (``student:PATH``, usually with a query
memory) and a cached teacher Judge, which is what ``judgecache cascade batch`` does each week:

1. the student scores every pair; pairs its memory answered (or its one-class recalibrated
   fallback) are *fitted* (:func:`judgecache.distill.memory.fitted_on_query`);
2. ``run_batch`` picks the escalations and the audit; the teacher labels exactly those pairs,
   through its cache -- so the labels land where the memory reads them (the student learns at once)
   and where ``judgecache cascade refresh`` finds them, and a rerun after a crash pays for nothing
   already labelled;
3. each pair's answer is the teacher's label where it was asked, else the student's, with its
   ``route`` (``kept``, ``escalated``, ``audited``) and the student's ``path``.

Example (a callable student and teacher; a real one is ``Judge("student:runs/rel?memory=...")``):
    >>> from judgecache import Judge
    >>> from judgecache.cascade.audit import AuditPolicy
    >>> student = Judge(lambda q, d: {"label": 3, "score": 0.99} if q in d
    ...                 else {"label": 0, "score": 0.4}, name="s", version="1", cache="memory://")
    >>> teacher = Judge(lambda q, d: 3 if q in d else 0, name="t", version="1", cache="memory://")
    >>> pairs = [("tea", "tea leaves"), ("tea", "coffee"), ("tea", "tea pot")]
    >>> policy = AuditPolicy(target=0.9, min_audit=1, confidence=0.5)
    >>> done = run_audited_batch(pairs, student, teacher, policy)
    >>> [a.route for a in done.answers], [a.label for a in done.answers]
    (['kept', 'escalated', 'audited'], [3, 0, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from judgecache.cascade.audit import AuditPolicy, BatchResult, Overconfidence, run_batch
from judgecache.distill.memory import fitted_on_query
from judgecache.envelope import Label
from judgecache.errors import ConfigError, JudgecacheError
from judgecache.judges.judge import Judge, Progress
from judgecache.judges.verdict import Verdict

Pair = tuple[str, str]

ROUTE_KEPT, ROUTE_ESCALATED, ROUTE_AUDITED = "kept", "escalated", "audited"


class TeacherFailedError(JudgecacheError):
    """The teacher could not label every pair the batch needs (labels it gave are cached)."""


@dataclass(frozen=True)
class PairAnswer:
    """One pair's answer: the teacher's label where asked, else the student's."""

    label: Label
    route: str
    path: str
    student_label: Label
    student_probability: float
    teacher_label: Label | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "route": self.route,
            "path": self.path,
            "student_label": self.student_label,
            "student_probability": round(self.student_probability, 6),
            "teacher_label": self.teacher_label,
        }


@dataclass(frozen=True)
class AuditedBatch:
    """A finished batch: each pair's answer, and what :func:`run_batch` decided and estimated."""

    answers: list[PairAnswer]
    result: BatchResult
    teacher_cache_hits: int

    def summary(self) -> dict[str, Any]:
        """Counts, calls avoided, the audit's estimate (audited path) and the fitted pairs."""
        r, est = self.result, self.result.estimate
        lo, hi = est.interval
        routes = [a.route for a in self.answers]
        return {
            "pairs": len(self.answers),
            "teacher_calls": r.teacher_calls,
            "teacher_cache_hits": self.teacher_cache_hits,
            "avoided": round(r.avoided, 4),
            "escalated": routes.count(ROUTE_ESCALATED),
            "audited": routes.count(ROUTE_AUDITED),
            "topped_up": r.topped_up,
            "fitted": int(r.fitted.sum()),
            "ratio_before": round(r.ratio_before, 4),
            "ratio_after": round(r.ratio_after, 4),
            "estimate": _number(est.agreement),
            "estimate_low": _number(lo),
            "estimate_high": _number(hi),
            "audit_kept": est.audit_kept,
            "audit_disagreements": est.audit_disagreements,
            "fitted_expected": _number(r.fitted_expected),
        }


def _number(x: float) -> float | None:
    """Rounded for JSON; ``None`` for nan (no pairs on that path: nothing to estimate)."""
    return None if np.isnan(x) else round(float(x), 4)


def run_audited_batch(
    pairs: Sequence[Pair],
    student: Judge,
    teacher: Judge,
    policy: AuditPolicy,
    history: Sequence[Overconfidence] = (),
    batch: int = 0,
    *,
    progress: Progress | None = None,
) -> AuditedBatch:
    """Score ``pairs`` with the student, label what :func:`run_batch` picks, answer every pair.

    Raises :class:`TeacherFailedError` (after the labels that did come back are cached) when the
    teacher fails on a pair the batch needs, and :class:`ConfigError` when the two judges are of
    different tasks or the student gives no probabilities.
    """
    rubric = teacher.rubric
    if student.rubric.task != rubric.task:
        raise ConfigError(
            f"the student judges {student.rubric.task!r} and the teacher {rubric.task!r}: "
            "a cascade needs one task"
        )
    verdicts = student.score_many(pairs, progress=progress)
    served = np.asarray([_probability(v, i) for i, v in enumerate(verdicts)], dtype=np.float64)
    # The rule answers a kept pair ``p >= 0.5``; a graded student's label (cut for kappa) can say
    # the other class. Such a pair is a coin flip by the student's own account: escalate it first.
    says_positive = np.asarray([rubric.is_positive(v.label) for v in verdicts], dtype=bool)
    probs = np.where(says_positive == (served >= 0.5), served, 0.5)
    fitted = np.asarray([fitted_on_query(v.envelope.meta) for v in verdicts], dtype=bool)
    asked: dict[int, Verdict] = {}

    def ask_teacher(idx: npt.NDArray[np.intp]) -> list[bool]:
        got = teacher.score_many_settled([pairs[int(i)] for i in idx], progress=progress)
        failed = [(int(i), g) for i, g in zip(idx, got, strict=True) if not isinstance(g, Verdict)]
        if failed:
            i, err = failed[0]
            raise TeacherFailedError(
                f"the teacher failed on {len(failed)} of the {len(idx)} pairs this batch asked "
                f"it (first: pair {i + 1}: {type(err).__name__}: {err}); the labels it gave are "
                "cached: rerun to pay only for the rest"
            )
        verdicts = [g for g in got if isinstance(g, Verdict)]  # all of them: none failed
        asked.update(zip(idx.tolist(), verdicts, strict=True))
        return [bool(rubric.is_positive(v.label)) for v in verdicts]

    result = run_batch(probs, ask_teacher, policy, history, batch, fitted=fitted)
    audited = set(result.audited.tolist())
    answers = []
    for i, v in enumerate(verdicts):
        t = asked.get(i)
        route = ROUTE_AUDITED if i in audited else ROUTE_ESCALATED if t is not None else ROUTE_KEPT
        answers.append(
            PairAnswer(
                label=v.label if t is None else t.label,
                route=route,
                path=str(v.envelope.meta.get("path", "student")),
                student_label=v.label,
                student_probability=float(served[i]),
                teacher_label=None if t is None else t.label,
            )
        )
    hits = sum(1 for t in asked.values() if t.cached)
    return AuditedBatch(answers, result, hits)


def _probability(v: Verdict, i: int) -> float:
    if v.score is None or not 0.0 <= v.score <= 1.0:
        raise ConfigError(
            f"the student gave pair {i + 1} no probability in [0, 1] (score {v.score!r}): "
            "only a calibrated student can sit in an audited cascade"
        )
    return float(v.score)
