"""Measure judges against reference labels (the teacher's, and human qrels when given).

Example:
    >>> import numpy as np
    >>> from judgecache.distill.data import labels_from_rows
    >>> rows = [{"task": "faithfulness", "judge": {"provider": "h", "model": "m"},
    ...          "inputs": {"context": f"c{i}", "answer": f"a{i}"}, "label": i % 2} for i in range(8)]
    >>> part = labels_from_rows(rows)
    >>> r = compare(part, binary=True, judged={"me": Judged(np.array([0, 1] * 4), None)}, n_boot=0)
    >>> r["me"]["binary_kappa"]["value"]
    1.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from judgecache.distill.data import LabelSet, binary_label
from judgecache.distill.metrics import agreement_report
from judgecache.errors import InputError


class HasLabels(Protocol):
    labels: NDArray[np.int64]

    @property
    def prob(self) -> NDArray[np.float64] | None: ...


@dataclass
class Judged:
    """A judge's labels on a split, with its positive-class probability when it has one."""

    labels: NDArray[np.int64]
    prob: NDArray[np.float64] | None
    # Which path gave each verdict (a student with a query memory says so in its meta).
    paths: list[str] | None = None


def read_qrels(path: str | Path) -> dict[tuple[str, str], int]:
    """TREC qrels (``qid 0 docid grade``) as ``{(qid, docid): grade}``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "q.txt"; _ = p.write_text("1 0 d7 2\\n")
    >>> read_qrels(p)
    {('1', 'd7'): 2}
    """
    from judgecache.io.trec import read_qrels as iter_qrels

    if not Path(path).is_file():
        raise InputError(f"qrels file not found: {path}", field="human_qrels")
    return {(q.qid, q.docid): q.grade for q in iter_qrels(path)}


def human_labels_for(part: LabelSet, humans: Mapping[tuple[str, str], int]) -> list[int | None]:
    """The human grade of each pair (joined on ``meta.qid``/``meta.docid``), ``None`` if unjudged."""
    out: list[int | None] = []
    for p in part.pairs:
        key = (p.meta.get("qid", ""), p.meta.get("docid", ""))
        out.append(humans.get(key))
    return out


def compare(
    part: LabelSet,
    *,
    binary: bool,
    judged: Mapping[str, HasLabels],
    human: Sequence[int | None] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Agreement of each judged set with the teacher, and (given human labels) with the humans.

    With human labels, the teacher's own agreement with the humans is reported beside the others on
    exactly the same pairs.
    """
    rubric = part.rubric
    if binary:
        ref = np.asarray([binary_label(rubric, p.label) for p in part.pairs], dtype=np.int64)
        labels, positive = [0, 1], 1
    else:
        ref = np.asarray([p.label for p in part.pairs], dtype=np.int64)
        labels, positive = [int(v) for v in rubric.labels], int(rubric.positive_from)
    out: dict[str, Any] = {"n": int(ref.size)}
    for name, j in judged.items():
        out[name] = agreement_report(
            ref,
            j.labels,
            labels=labels,
            positive_from=positive,
            prob=j.prob,
            n_boot=n_boot,
            seed=seed,
        )
    if human is not None:
        keep = np.asarray([h is not None for h in human])
        if keep.any():
            h = np.asarray([x for x in human if x is not None], dtype=np.int64)
            bad = sorted(set(h.tolist()) - set(rubric.labels))
            if bad:
                raise InputError(
                    f"human grades {bad} are outside the rubric labels {list(rubric.labels)}",
                    field="human_qrels",
                )
            if binary:
                h = np.asarray([binary_label(rubric, int(x)) for x in h], dtype=np.int64)
            vs: dict[str, Any] = {"n": int(keep.sum())}
            vs["teacher"] = agreement_report(
                h, ref[keep], labels=labels, positive_from=positive, n_boot=n_boot, seed=seed
            )
            for name, j in judged.items():
                prob = None if j.prob is None else j.prob[keep]
                vs[name] = agreement_report(
                    h,
                    j.labels[keep],
                    labels=labels,
                    positive_from=positive,
                    prob=prob,
                    n_boot=n_boot,
                    seed=seed,
                )
            out["vs_human"] = vs
    return out


class ScoresMany(Protocol):
    """What :func:`evaluate_judge` needs of a judge (``judgecache.Judge`` has it)."""

    def score_many(self, pairs: Sequence[tuple[str, str]]) -> Sequence[Any]: ...


def judge_with(
    judge: ScoresMany,
    part: LabelSet,
    *,
    progress: Callable[[int], object] | None = None,
    chunk: int = 256,
) -> Judged:
    """Judge a label set's pairs (through the judge's cache); failures raise.

    The pairs go in chunks of ``chunk`` so that ``progress(n)`` can report each chunk done. The
    probability is the envelope's own score (students and embedding judges give one); a
    teacher that gives only labels has none, so AUC and ECE are left out for it.
    """
    pairs = [(p.first, p.second) for p in part.pairs]
    verdicts: list[Any] = []
    for start in range(0, len(pairs), chunk):
        verdicts.extend(judge.score_many(pairs[start : start + chunk]))
        if progress is not None:
            progress(len(pairs[start : start + chunk]))
    labels = np.asarray([int(v.label) for v in verdicts], dtype=np.int64)
    scores = [v.envelope.score for v in verdicts]
    paths = [v.envelope.meta.get("path", "") for v in verdicts]
    prob = np.asarray(scores, dtype=np.float64) if scores and None not in scores else None
    return Judged(labels, prob, paths if any(paths) else None)


def evaluate_judge(
    judge: ScoresMany,
    part: LabelSet,
    *,
    human: Mapping[tuple[str, str], int] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    name: str = "judge",
    progress: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """``judgecache evaluate``: a judge against a labels file (and human qrels when given)."""
    judged = judge_with(judge, part, progress=progress)
    binary = not part.rubric.graded
    result = compare(
        part,
        binary=binary,
        judged={name: judged},
        human=human_labels_for(part, human) if human else None,
        n_boot=n_boot,
        seed=seed,
    )
    result["reference"] = str(part.judge)
    if judged.paths is not None:
        from judgecache.distill.memory_report import compare_by_path

        result["by_path"] = compare_by_path(
            part, judged, judged.paths, binary=binary, n_boot=n_boot, seed=seed, name=name
        )
    return result
