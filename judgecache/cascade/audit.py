"""Audit a cascade's kept pairs so that its escalations hold a *real* agreement target.

A batch cascade escalates the pairs its student is least sure of until its *expected* agreement
(label-free: a kept pair is expected to disagree with the teacher ``min(p, 1 - p)`` of the time)
reaches a target. That holds only while the probabilities are calibrated on today's traffic; a
student on new queries is usually over-confident, and no label-free rule can see it (Threshold by
Feel). Escalated labels cannot show it either: they are the pairs the student doubted.

So each batch also sends a small seeded random *audit* sample of its kept pairs to the teacher.
Its disagreements against the ones the probabilities expected give the over-confidence ratio
``r = observed / expected`` (:class:`Overconfidence`), and every kept pair's expected
disagreement is multiplied by it: the same least-confident-first order, stopped later when
``r > 1``. :func:`run_batch` does one batch:

1. escalate with the ratio of earlier audits (1 before any);
2. audit a seeded sample of the kept pairs (disjoint from the escalations), in the same call;
3. pool this audit with the earlier ones; if the ratio rose, *top up*: escalate more of the
   least confident unlabelled pairs until the corrected expected agreement reaches the target;
4. estimate the batch's real agreement from the audit pairs in the final kept region (a uniform
   sample of it), with a Wilson interval (:class:`AuditEstimate`).

Audit only where the cascade extrapolates: pass ``fitted`` (a mask) for the pairs whose
probabilities were fitted on the teacher's own labels of the same query (the query memory, or its
recalibrated one-class fallback: ``Verdict.meta["path"]`` of ``student:PATH?memory=``). Those pairs
keep the label-free stop at ``policy.fitted_target``; steps 1-4 run on the other pairs only, whose
audits alone make the history. On DL20 weeks this is what made calls avoided rise week over week
as the memory grew, where auditing every pair spent the audit on pairs that needed none
(docs/benchmarks.md, "A cascade that teaches its student").

By default the correction uses the ratio's one-sided 80% upper bound, not its point value: an audit
of 20-30 pairs cannot tell ``r = 0.7`` from ``r = 2``, and then escalates as if it were 2 (the
operating point measured on TREC DL20 weeks: docs/benchmarks.md). Audited pairs count as teacher
calls; their labels are teacher labels like any escalation's (feed the memory and the refresh with
them). The ratio pools only the last ``window`` audits: a refreshed student or a grown memory is a
different cascade. Between runs keep the tallies: :class:`Overconfidence` is plain data
(``dataclasses.asdict`` and back).

Example (a student that says 0.9 where the truth is 0.7):
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.choice([0.1, 0.9], size=2000)
    >>> truth = rng.uniform(size=2000) < np.where(p > 0.5, 0.7, 0.3)
    >>> policy = AuditPolicy(target=0.8, rate=0.1, max_audit=200)
    >>> week = run_batch(p, lambda idx: truth[idx], policy)
    >>> round(week.tally.ratio, 1), week.estimate.agreement >= 0.75, week.topped_up > 0
    (2.6, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from judgecache.cascade.scan import binary_array, probability_array
from judgecache.errors import ConfigError
from judgecache.stats import clopper_pearson_upper, wilson_interval

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
Teacher = Callable[[IntArray], npt.ArrayLike]


def expected_misses(probs: npt.ArrayLike) -> FloatArray:
    """Each pair's label-free chance of disagreeing with the teacher: ``min(p, 1 - p)``.

    >>> expected_misses([0.1, 0.5, 0.8]).round(2).tolist()
    [0.1, 0.5, 0.2]
    """
    p = probability_array(probs)
    return np.minimum(p, 1.0 - p)


def escalate_until(
    probs: npt.ArrayLike,
    target: float,
    *,
    ratio: float = 1.0,
    labelled: npt.ArrayLike | None = None,
) -> BoolArray:
    """The fewest least-confident unlabelled pairs to escalate for ``target`` expected agreement.

    A kept pair is expected to disagree ``min(ratio * min(p, 1 - p), 1)``; ``labelled`` pairs
    (already escalated or audited) agree by construction and are never chosen again.

    >>> p = [0.5, 0.9, 0.6, 0.99]
    >>> escalate_until(p, 0.9).tolist(), escalate_until(p, 0.9, ratio=5.0).tolist()
    ([True, False, True, False], [True, True, True, False])
    """
    if not 0.0 < target < 1.0:
        raise ConfigError(f"target must be an agreement in (0, 1), got {target!r}")
    if not math.isfinite(ratio) or ratio < 0.0:
        raise ConfigError(f"ratio must be a finite number >= 0, got {ratio!r}")
    miss = np.minimum(ratio * expected_misses(probs), 1.0)
    done = (
        np.zeros(len(miss), bool)
        if labelled is None
        else binary_array(labelled, "labelled", len(miss))
    )
    miss[done] = 0.0
    order = np.argsort(-miss, kind="stable")  # least confident first, ties in input order
    left = miss.sum() - np.concatenate([[0.0], np.cumsum(miss[order])])
    k = int(np.argmax(left <= (1.0 - target) * len(miss) + 1e-12))
    out = np.zeros(len(miss), bool)
    out[order[:k]] = True
    return out & ~done


@dataclass(frozen=True)
class AuditPolicy:
    """How a batch cascade escalates and audits (see the module docstring).

    ``target``: expected agreement over all pairs, after the correction; ``rate``: the share of
    kept pairs audited, within ``[min_audit, max_audit]`` pairs; ``confidence``: the ratio used is
    its one-sided upper bound at this level (0.5: the point estimate); ``window``: how many of the
    latest audits are pooled; ``top_up``: whether a batch whose own audit raised the ratio escalates
    more at once (else the correction waits for the next batch); ``fitted_target``: the label-free
    expected agreement for the ``fitted`` pairs of :func:`run_batch` (None: ``target``; 0.965 is
    the operating point measured on DL20 weeks).
    """

    target: float = 0.95
    rate: float = 0.05
    min_audit: int = 20
    max_audit: int = 200
    confidence: float = 0.8
    window: int = 2
    top_up: bool = True
    seed: int = 0
    fitted_target: float | None = None

    def __post_init__(self) -> None:
        checks = [
            ("target", 0.0 < self.target < 1.0, "an agreement in (0, 1)"),
            ("rate", 0.0 <= self.rate <= 1.0, "a share in [0, 1]"),
            ("min_audit", _count(self.min_audit), "an integer >= 0"),
            ("max_audit", _count(self.max_audit), "an integer >= 0"),
            ("confidence", 0.5 <= self.confidence < 1.0, "in [0.5, 1) (0.5: the point estimate)"),
            ("window", _count(self.window) and self.window >= 1, "an integer >= 1"),
            ("fitted_target", self.fitted_target is None or 0.0 < self.fitted_target < 1.0,
             "None or an agreement in (0, 1)"),
        ]  # fmt: skip
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"audit {name} must be {allowed}, got {getattr(self, name)!r}")
        if self.min_audit > self.max_audit:
            raise ConfigError(
                f"audit min_audit ({self.min_audit}) must be <= max_audit ({self.max_audit})"
            )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def audit_sample(kept: npt.ArrayLike, policy: AuditPolicy, batch: int = 0) -> IntArray:
    """A seeded uniform sample of the kept pairs' indices, ``rate`` of them within the bounds.

    The same policy seed and ``batch`` number always draw the same pairs.

    >>> audit_sample([True] * 100 + [False] * 50, AuditPolicy(rate=0.1, min_audit=5)).size
    10
    """
    mask = binary_array(kept, "kept", len(np.asarray(kept).ravel()))
    pool = np.flatnonzero(mask)
    size = min(
        len(pool), max(policy.min_audit, min(policy.max_audit, math.ceil(policy.rate * len(pool))))
    )
    rng = np.random.default_rng([policy.seed, batch])
    return np.sort(rng.choice(pool, size, replace=False)).astype(np.intp)


@dataclass(frozen=True)
class Overconfidence:
    """Disagreements observed on audited kept pairs against those their probabilities expected.

    >>> o = Overconfidence(audited=50, observed=4, expected=2.0)
    >>> o.ratio, round(o.factor(0.8), 2), Overconfidence.pooled([o, o]).observed
    (2.0, 3.27, 8)
    """

    audited: int = 0
    observed: int = 0
    expected: float = 0.0

    @property
    def ratio(self) -> float:
        """``observed / expected`` (1 with nothing expected: no evidence against calibration)."""
        return self.observed / self.expected if self.expected > 0 else 1.0

    def factor(self, confidence: float = 0.5) -> float:
        """The ratio to correct with: the point ratio at 0.5, else its one-sided upper bound.

        The bound treats ``expected`` as known and bounds the disagreement rate (Clopper-Pearson).
        """
        if self.audited == 0 or self.expected <= 0:
            return 1.0
        if confidence <= 0.5:
            return self.ratio
        upper = clopper_pearson_upper(self.observed, self.audited, confidence=confidence)
        return upper * self.audited / self.expected

    @classmethod
    def of(
        cls, probs: npt.ArrayLike, decided: npt.ArrayLike, teacher: npt.ArrayLike
    ) -> Overconfidence:
        """The tally of audited pairs: their probabilities, the cascade's and the teacher's labels."""
        if np.size(probs) == 0:
            return cls()  # no audit (rate 0): no evidence either way
        p = probability_array(probs, "audit probs")
        d = binary_array(decided, "decided", len(p))
        t = binary_array(teacher, "teacher", len(p))
        return cls(len(p), int(np.sum(d != t)), float(expected_misses(p).sum()))

    @classmethod
    def latest(cls, tallies: Sequence[Overconfidence], window: int) -> Overconfidence:
        """The pooled tally of the last ``window`` batches that audited anything.

        A batch with nothing to audit (every pair fitted, or ``rate`` 0) holds no evidence, so it
        does not push an earlier audit out of the window.

        >>> o, none = Overconfidence(10, 1, 0.5), Overconfidence()
        >>> Overconfidence.latest([o, none, none], window=1) == o
        True
        """
        return cls.pooled([t for t in tallies if t.audited][-window:])

    @classmethod
    def pooled(cls, tallies: Sequence[Overconfidence]) -> Overconfidence:
        return cls(
            sum(t.audited for t in tallies),
            sum(t.observed for t in tallies),
            sum(t.expected for t in tallies),
        )


@dataclass(frozen=True)
class AuditEstimate:
    """A batch's agreement with the teacher, estimated from its audit (95% Wilson intervals).

    Escalated and audited pairs agree by construction; the ``kept`` unlabelled pairs agree at the
    rate seen on the ``audit_kept`` audited pairs of the final kept region.
    """

    n: int
    labelled: int
    kept: int
    audit_kept: int
    audit_disagreements: int
    kept_agreement: float
    kept_low: float
    kept_high: float
    expected: float  # label-free expected agreement of the final batch, uncorrected

    @property
    def agreement(self) -> float:
        return self.overall(self.kept_agreement)

    @property
    def interval(self) -> tuple[float, float]:
        return (self.overall(self.kept_low), self.overall(self.kept_high))

    def overall(self, kept_rate: float) -> float:
        if self.n == 0:
            return math.nan  # no pairs on the audited path (every pair was fitted)
        return (self.labelled + self.kept * kept_rate) / self.n

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.interval
        return asdict(self) | {"agreement": self.agreement, "low": lo, "high": hi}


@dataclass(frozen=True)
class BatchResult:
    """What :func:`run_batch` did: which pairs went to the teacher, why, and its estimate.

    Indices and masks cover the whole batch. ``tally`` and ``estimate`` cover the audited path:
    every pair, or those outside ``fitted``; the fitted pairs have only their label-free
    ``fitted_expected`` agreement (nan when none).
    """

    escalated: BoolArray
    audited: IntArray
    labels: dict[int, bool]
    ratio_before: float
    ratio_after: float
    topped_up: int
    tally: Overconfidence
    estimate: AuditEstimate
    fitted: BoolArray
    fitted_expected: float

    @property
    def teacher_calls(self) -> int:
        return len(self.labels)

    @property
    def avoided(self) -> float:
        """The share of the batch answered without a teacher call (audits count as calls)."""
        return 1.0 - self.teacher_calls / len(self.escalated)

    def decisions(self, probs: npt.ArrayLike) -> BoolArray:
        """The cascade's answers: the teacher's label where it was asked, else ``p >= 0.5``."""
        out = probability_array(probs) >= 0.5
        for i, label in self.labels.items():
            out[i] = label
        return out


def run_batch(
    probs: npt.ArrayLike,
    ask_teacher: Teacher,
    policy: AuditPolicy,
    history: Sequence[Overconfidence] = (),
    batch: int = 0,
    *,
    fitted: npt.ArrayLike | None = None,
) -> BatchResult:
    """Escalate, audit, top up and estimate one batch (module docstring, steps 1-4).

    ``ask_teacher(indices)`` returns the teacher's binary labels of those pairs (called once, or
    twice when topping up, plus once for the ``fitted`` pairs' escalations); ``history`` holds
    earlier batches' :attr:`BatchResult.tally`. ``fitted`` pairs keep the label-free stop at
    ``policy.fitted_target`` and are never audited (module docstring).

    >>> week = run_batch([0.5, 0.99, 0.6, 0.97], lambda idx: [True] * len(idx),
    ...                  AuditPolicy(target=0.9, min_audit=1), fitted=[False, False, True, True])
    >>> sorted(week.labels), week.audited.tolist(), week.fitted_expected
    ([0, 1, 2], [1], 0.985)
    """
    p = probability_array(probs)
    fit = np.zeros(len(p), bool) if fitted is None else binary_array(fitted, "fitted", len(p))
    rest = np.flatnonzero(~fit)
    path = _audited(p[rest], lambda idx: ask_teacher(rest[idx]), policy, history, batch)
    labels = {int(rest[i]): v for i, v in path.labels.items()}
    escalated = np.zeros(len(p), bool)
    escalated[rest] = path.escalated
    fitted_expected = math.nan
    if fit.any():
        on_fit = np.flatnonzero(fit)
        target = policy.target if policy.fitted_target is None else policy.fitted_target
        more = on_fit[escalate_until(p[on_fit], target)]
        labels = _ask(ask_teacher, more, labels)
        escalated[more] = True
        kept = fit & ~escalated
        fitted_expected = 1.0 - float(expected_misses(p[kept]).sum()) / len(on_fit)
    return BatchResult(
        escalated=escalated,
        audited=rest[path.audited],
        labels=labels,
        ratio_before=path.ratio_before,
        ratio_after=path.ratio_after,
        topped_up=path.topped_up,
        tally=path.tally,
        estimate=path.estimate,
        fitted=fit,
        fitted_expected=fitted_expected,
    )


class _PathResult(NamedTuple):
    """Steps 1-4 on the audited path, indexed within that path."""

    escalated: BoolArray
    audited: IntArray
    labels: dict[int, bool]
    ratio_before: float
    ratio_after: float
    topped_up: int
    tally: Overconfidence
    estimate: AuditEstimate


def _audited(
    p: FloatArray,
    ask_teacher: Teacher,
    policy: AuditPolicy,
    history: Sequence[Overconfidence],
    batch: int,
) -> _PathResult:
    """Steps 1-4 on pairs that are all on the audited path."""
    decided = p >= 0.5
    before = Overconfidence.latest(history, policy.window).factor(policy.confidence)
    if len(p) == 0:  # every pair of the batch was fitted: nothing to escalate or audit here
        est = AuditEstimate(0, 0, 0, 0, 0, math.nan, 0.0, 1.0, math.nan)
        nothing = np.zeros(0, np.intp)
        return _PathResult(
            nothing.astype(bool), nothing, {}, before, before, 0, Overconfidence(), est
        )
    escalated = escalate_until(p, policy.target, ratio=before)
    audited = audit_sample(~escalated, policy, batch)
    labels = _ask(ask_teacher, np.union1d(np.flatnonzero(escalated), audited), {})
    tally = Overconfidence.of(p[audited], decided[audited], [labels[int(i)] for i in audited])
    after = Overconfidence.latest([*history, tally], policy.window).factor(policy.confidence)
    topped = 0
    if policy.top_up and after > before:
        more = escalate_until(p, policy.target, ratio=after, labelled=_mask(len(p), labels))
        labels = _ask(ask_teacher, np.flatnonzero(more), labels)
        escalated, topped = escalated | more, int(more.sum())
    est = _estimate(p, decided, audited, labels)
    return _PathResult(escalated, audited, labels, before, after, topped, tally, est)


def _ask(teacher: Teacher, idx: IntArray, known: dict[int, bool]) -> dict[int, bool]:
    """``known`` plus the teacher's labels of ``idx`` (no call when there is nothing to ask)."""
    if idx.size == 0:
        return dict(known)
    got = binary_array(teacher(idx.astype(np.intp)), "teacher labels", idx.size)
    return {**known, **{int(i): bool(v) for i, v in zip(idx, got, strict=True)}}


def _mask(n: int, labels: dict[int, bool]) -> BoolArray:
    out = np.zeros(n, bool)
    out[list(labels)] = True
    return out


def _estimate(
    p: FloatArray, decided: BoolArray, audited: IntArray, labels: dict[int, bool]
) -> AuditEstimate:
    """The batch's agreement from the audit pairs that sit in the final kept region."""
    miss = expected_misses(p)
    kept = ~_mask(len(p), labels)
    # The kept region is every pair surer than the least sure pair left unlabelled; audit pairs in
    # it are a uniform sample of it (they were drawn from the first kept set, a superset).
    edge = miss[kept].max() if kept.any() else -1.0
    inside = audited[miss[audited] <= edge]
    agree = int(sum(labels[int(i)] == decided[i] for i in inside))
    if not kept.any():
        rate, lo, hi = 1.0, 1.0, 1.0  # nothing kept: every answer is the teacher's
    elif len(inside) == 0:
        rate, lo, hi = math.nan, 0.0, 1.0  # kept pairs, no audit among them: no evidence
    else:
        rate = agree / len(inside)
        lo, hi = wilson_interval(agree, len(inside))
    n = len(p)
    return AuditEstimate(
        n=n,
        labelled=n - int(kept.sum()),
        kept=int(kept.sum()),
        audit_kept=len(inside),
        audit_disagreements=len(inside) - agree,
        kept_agreement=rate,
        kept_low=lo,
        kept_high=hi,
        expected=1.0 - float(miss[kept].sum()) / n if n else math.nan,
    )
