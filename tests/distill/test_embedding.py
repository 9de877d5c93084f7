"""The embedding judge: a real local encoder judging by cosine, with a documented mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from judgecache.distill.embedding import RELEVANCE_CUTS, EmbeddingTeacher, load_embedding_teacher
from judgecache.judges.rubric import get_rubric

pytestmark = pytest.mark.distill


def test_embedding_teacher_maps_cosine_onto_grades(tiny_bert: Path) -> None:
    teacher = load_embedding_teacher(tiny_bert)
    assert teacher.identity.provider == "embedding" and len(teacher.identity.version) == 16
    rubric = get_rubric("relevance")
    pairs = [("what about apple", "apple apple bread"), ("what about apple", "river tiger winter")]
    cos = teacher.cosines(rubric, pairs)
    answers = teacher.judge_batch(rubric, [{"query": q, "doc": d} for q, d in pairs])
    for c, a in zip(cos, answers, strict=True):
        assert not isinstance(a, BaseException)
        assert a.label == sum(c >= cut for cut in RELEVANCE_CUTS)
        assert a.score == pytest.approx(1 / (1 + np.exp(-12 * (c - RELEVANCE_CUTS[1]))))
    assert -1.0 <= cos.min() <= cos.max() <= 1.0


def test_embedding_teacher_through_spec_and_judge(tiny_bert: Path) -> None:
    from judgecache import Judge
    from judgecache.judges.spec import teacher_from_spec

    teacher = teacher_from_spec(f"embedding:{tiny_bert}")
    assert isinstance(teacher, EmbeddingTeacher)
    judge = Judge(teacher, task="faithfulness", cache="memory://")
    v = judge.score("the garden is green", "garden")
    assert v.label in (0, 1) and not v.cached
    assert judge.score("the garden is green", "garden").cached
