"""A small synthetic production world for the drift tests: real log, real Judge, real teacher.

Each pair's passage ends with ``grade=G``; the teacher (a real callable teacher behind a real
Judge and cache) reads that grade, so its labels are known without a network. The logged student
probability ``p`` is drawn first and the grade is positive with probability ``p`` (a calibrated
student), unless a scenario bends it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from judgecache import Judge
from judgecache.drift.config import DriftConfig
from judgecache.drift.entry import LogEntry
from judgecache.drift.log import ProductionLog

STUDENT = {"provider": "student", "model": "minilm-rel", "version": "1"}
WEEK1 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # Monday of ISO week 2025-W02


def grade_teacher(query: str, doc: str) -> int:
    """The teacher: the grade written at the end of the passage."""
    if "unreachable" in doc:
        raise ConnectionError("connection refused")
    if "boom" in doc:
        raise RuntimeError("teacher exploded on this pair")
    return int(doc.rsplit("grade=", 1)[1])


def make_judge(
    cache: str = "memory://",
    teacher: Callable[[str, str], int] = grade_teacher,
    version: str = "1",
    production_log: ProductionLog | None = None,
) -> Judge:
    """A real Judge (cache, retries off) around a callable teacher named ``grader``."""
    return Judge(
        teacher,
        name="grader",
        version=version,
        task="relevance",
        cache=cache,
        max_retries=0,
        production_log=production_log,
    )


@dataclass
class World:
    """Generates a week of traffic: ``n`` pairs with logged student scores."""

    seed: int = 0
    overconfident: float = 1.0  # > 1 pushes logged probabilities towards 0/1
    prevalence_shift: float = 0.0  # added to p before drawing the teacher's grade
    score_shift: float = 0.0  # added to the logged score (distribution shift)
    tags: list[str] = field(default_factory=lambda: ["web", "mobile"])
    doc_suffix: str = ""
    boom_every: int = 0  # every k-th passage makes the teacher fail (k = 0: never)

    def entries(self, week: int, n: int) -> list[LogEntry]:
        rng = np.random.default_rng(self.seed * 1000 + week)
        out = []
        start = WEEK1 + timedelta(days=7 * week)
        for i in range(n):
            p = float(rng.beta(0.6, 0.6))
            truth = float(np.clip(p + self.prevalence_shift, 0, 1))
            positive = rng.random() < truth
            grade = int(rng.choice([2, 3])) if positive else int(rng.choice([0, 1]))
            logged = p
            if self.overconfident != 1.0:
                z = np.log(max(p, 1e-6) / max(1 - p, 1e-6)) * self.overconfident
                logged = float(1 / (1 + np.exp(-z)))
            logged = float(np.clip(logged + self.score_shift, 0.0, 1.0))
            query = f"query {week}-{i}"
            boom = " boom" if self.boom_every and i % self.boom_every == 0 else ""
            doc = f"passage {week}-{i}{self.doc_suffix}{boom} grade={grade}"
            item_id = "jc1:" + hashlib.sha256(f"{query}|{doc}".encode()).hexdigest()
            out.append(
                LogEntry(
                    item_id=item_id,
                    inputs={"query": query, "doc": doc},
                    score=logged * 4 - 2,
                    probability=round(logged, 6),
                    decision=int(logged >= 0.5),
                    threshold=0.5,
                    judge=STUDENT,
                    task="relevance",
                    rubric="relevance",
                    timestamp=(start + timedelta(minutes=i)).isoformat(),
                    tags={"surface": self.tags[i % len(self.tags)]},
                )
            )
        return out


def config(tmp: str, **over: object) -> DriftConfig:
    base: dict[str, object] = {
        "teacher": "unused: the tests pass a Judge",
        "task": "relevance",
        "reference": f"{tmp}/ref/reference.json",
        "report_dir": f"{tmp}/reports",
        "period": "2025-W02",
        "budget": 400,
        "sample_size": 300,
        "anchor_count": 100,
        "threshold": 0.5,
        "bootstrap": 200,
        "gates": {"threshold_metric": "precision", "threshold_target": 0.7},
    }
    gates: dict[str, object] = {"threshold_metric": "precision", "threshold_target": 0.7}
    extra = over.pop("gates", {})
    assert isinstance(extra, dict)
    gates.update(extra)
    base.update(over)
    base["gates"] = gates
    return DriftConfig.from_dict(base)


def week_label(week: int) -> str:
    y, w, _ = (WEEK1 + timedelta(days=7 * week)).isocalendar()
    return f"{y}-W{w:02d}"


def fill(log: ProductionLog, world: World, week: int, n: int = 2000) -> list[LogEntry]:
    entries = world.entries(week, n)
    log.record_many(entries)
    return entries
