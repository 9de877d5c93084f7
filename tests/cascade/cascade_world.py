"""Small real judges for the cascade tests: a student whose probabilities the test controls, and
a teacher that counts its calls. Both are ordinary Teacher subclasses (no mocks)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from judgecache.envelope import Usage
from judgecache.errors import UnknownPairError
from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.keys import JudgeIdentity


class ControlledStudent(Teacher):
    """Answers each doc with the probability the test gave it (decision: p >= 0.5 -> grade 2).

    ``scramble`` > 0 makes it overconfident: that share of pairs (chosen by hash) gets a
    probability drawn from the same overall distribution but unrelated to the truth, so its
    confidence histogram (and escalation rate) stays the same while its kept answers go wrong.
    """

    def __init__(
        self, probs: Mapping[str, float], *, version: str = "1", scramble: float = 0.0
    ) -> None:
        self.probs = dict(probs)
        self.scramble = scramble
        self.identity = JudgeIdentity("test-student", "controlled", version)
        self.batches: list[int] = []
        self._sorted = np.sort(np.asarray(list(self.probs.values()), dtype=np.float64))

    @property
    def batched(self) -> bool:
        return True

    def probability(self, doc: str) -> float:
        p = self.probs[doc]
        if self.scramble > 0:
            u = _unit(doc, "pick")
            if u < self.scramble:
                q = _unit(doc, "value")
                p = float(self._sorted[min(len(self._sorted) - 1, int(q * len(self._sorted)))])
        return p

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        out = self.judge_batch(rubric, [inputs])[0]
        if isinstance(out, BaseException):
            raise out
        return out

    def judge_batch(
        self, rubric: Rubric, batch: Sequence[Mapping[str, str]]
    ) -> list[TeacherAnswer | BaseException]:
        self.batches.append(len(batch))
        out: list[TeacherAnswer | BaseException] = []
        for inputs in batch:
            doc = inputs[rubric.fields[1]]
            if doc not in self.probs:
                out.append(UnknownPairError(f"no probability for {doc!r}"))
                continue
            p = self.probability(doc)
            label = rubric.positive_from if p >= 0.5 else rubric.labels[0]
            out.append(TeacherAnswer(label=label, raw_output=json.dumps({"p": p}), score=p))
        return out


class LabelTeacher(Teacher):
    """A teacher with known grades per doc that counts every call it answers."""

    def __init__(self, grades: Mapping[str, int], *, name: str = "grades") -> None:
        self.grades = dict(grades)
        self.identity = JudgeIdentity("test-teacher", name, "1")
        self.calls = 0
        self._lock = threading.Lock()

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        with self._lock:
            self.calls += 1
        doc = inputs[rubric.fields[1]]
        if doc not in self.grades:
            raise UnknownPairError(f"no grade for {doc!r}")
        grade = self.grades[doc]
        return TeacherAnswer(
            label=grade,
            raw_output=f"##final score: {grade}",
            usage=Usage(input_tokens=100, output_tokens=5),
            cost_usd=0.001,
            model_answered="grades-v1",
        )


def _unit(text: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}|{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def world(n: int, seed: int = 0) -> tuple[dict[str, float], dict[str, int]]:
    """``n`` docs with calibrated student probabilities and teacher grades drawn from them."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.6, 0.6, size=n)
    positive = rng.uniform(size=n) < p
    probs = {f"doc {i}": float(p[i]) for i in range(n)}
    grades = {f"doc {i}": (3 if positive[i] else 0) for i in range(n)}
    return probs, grades


def write_replay(path: Path, grades: Mapping[str, int], query: str = "q") -> Path:
    """A replay JSONL file of the teacher's grades (for replay-teacher and spec tests)."""
    rows = [json.dumps({"query": query, "doc": doc, "label": g}) for doc, g in grades.items()]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
