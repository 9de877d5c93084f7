"""The audited batch cascade: seeded bounded audits, the over-confidence correction, estimates."""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt
import pytest

from judgecache.cascade.audit import (
    AuditPolicy,
    BoolArray,
    FloatArray,
    Overconfidence,
    audit_sample,
    escalate_until,
    run_batch,
)
from judgecache.errors import ConfigError, InputError
from judgecache.stats import clopper_pearson_upper, wilson_interval


class CountingTeacher:
    """Replays fixed labels and records every pair it was asked about (no pair twice)."""

    def __init__(self, truth: npt.NDArray[np.bool_]) -> None:
        self.truth = truth
        self.asked: list[int] = []

    def __call__(self, idx: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        self.asked += idx.tolist()
        return self.truth[idx]


def overconfident(n: int = 1000) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """A student that says 0.95 / 0.05 where the teacher disagrees on exactly 1 pair in 5."""
    p = np.where(np.arange(n) % 2 == 0, 0.95, 0.05)
    truth = p >= 0.5
    truth[::5] = ~truth[::5]
    return p, truth


def test_escalate_until_hand_computed_and_skips_labelled_pairs() -> None:
    p = [0.5, 0.9, 0.6, 0.99]  # expected misses 0.5, 0.1, 0.4, 0.01: 1.01 in all
    # Target 0.9 over 4 pairs allows 0.4 expected misses: escalating 0.5 and 0.4 leaves 0.11.
    assert escalate_until(p, 0.9).tolist() == [True, False, True, False]
    # Already labelled pairs agree: with the 0.5 pair labelled, escalating 0.4 leaves 0.11.
    assert escalate_until(p, 0.9, labelled=[1, 0, 0, 0]).tolist() == [False, False, True, False]
    assert not escalate_until(p, 0.5).any()  # 1.01 <= 2.0 expected misses allowed
    assert escalate_until(p, 0.99, ratio=10.0).all()
    with pytest.raises(ConfigError, match="target must be an agreement in"):
        escalate_until(p, 1.0)
    with pytest.raises(ConfigError, match="ratio must be a finite number >= 0"):
        escalate_until(p, 0.9, ratio=-1.0)


def test_audit_sample_is_seeded_bounded_and_from_kept_pairs_only() -> None:
    kept = np.arange(1000) % 4 != 0  # 750 kept pairs
    policy = AuditPolicy(rate=0.1, min_audit=20, max_audit=60, seed=7)
    first = audit_sample(kept, policy, batch=3)
    assert first.tolist() == audit_sample(kept, policy, batch=3).tolist()  # seeded
    assert first.tolist() != audit_sample(kept, policy, batch=4).tolist()  # a new draw per batch
    assert len(first) == 60 and len(set(first.tolist())) == 60  # 10% of 750 capped at 60
    assert kept[first].all()
    assert len(audit_sample(kept, AuditPolicy(rate=0.01, min_audit=20))) == 20  # 7.5 -> 20
    assert len(audit_sample([True] * 5, AuditPolicy(min_audit=20))) == 5  # never more than kept
    assert len(audit_sample(kept, AuditPolicy(rate=0.0, min_audit=0))) == 0


def test_run_batch_audits_disjoint_from_escalations_and_counts_every_call() -> None:
    p, truth = overconfident()
    p[:40] = 0.5  # forty coin flips the label-free rule escalates first
    teacher = CountingTeacher(truth)
    res = run_batch(p, teacher, AuditPolicy(target=0.97, rate=0.05, top_up=False, seed=1))
    audited = set(res.audited.tolist())
    escalated = set(np.flatnonzero(res.escalated).tolist())
    assert audited and escalated and not audited & escalated
    assert len(teacher.asked) == len(set(teacher.asked)) == res.teacher_calls
    assert set(teacher.asked) == audited | escalated == set(res.labels)
    assert res.avoided == pytest.approx(1 - (len(audited) + len(escalated)) / len(p))
    decided = res.decisions(p)
    assert all(decided[i] == truth[i] for i in res.labels)  # the teacher's word stands


def test_correction_escalates_more_for_an_overconfident_student() -> None:
    p, truth = overconfident()
    # Label-free, 0.95 / 0.05 promises 0.95 agreement: nothing is escalated for target 0.95.
    assert not escalate_until(p, 0.95).any()
    policy = AuditPolicy(target=0.95, rate=0.1, max_audit=100, seed=3)
    res = run_batch(p, CountingTeacher(truth), policy)
    # The audit sees ~20% disagreement where 5% was expected: ratio ~4, so the batch tops up.
    assert res.ratio_before == 1.0 and res.tally.ratio > 2.0
    assert res.topped_up > 0 and res.escalated.sum() == res.topped_up
    assert res.estimate.expected > 0.95  # the label-free view still looks fine...
    assert res.estimate.kept_agreement < 0.9  # ...the audit says the kept pairs do not
    # The next batch starts from the pooled ratio and escalates at once; no top-up needed.
    nxt = run_batch(p, CountingTeacher(truth), policy, [res.tally], batch=1)
    assert nxt.ratio_before == pytest.approx(res.ratio_after)
    assert nxt.escalated.sum() - nxt.topped_up > 0


def test_correction_relaxes_for_an_underconfident_student() -> None:
    p = np.where(np.arange(1000) % 2 == 0, 0.8, 0.2)
    truth = p >= 0.5  # always right, though it only claims 0.8
    policy = AuditPolicy(target=0.85, rate=0.1, seed=3, confidence=0.5)  # the point ratio
    res = run_batch(p, CountingTeacher(truth), policy)
    label_free = escalate_until(p, 0.85).sum()
    assert res.tally.observed == 0 and res.ratio_after == 0.0 and res.topped_up == 0
    assert res.escalated.sum() == label_free  # this batch used the prior ratio (1)
    nxt = run_batch(p, CountingTeacher(truth), policy, [res.tally], batch=1)
    assert nxt.escalated.sum() < label_free
    # An upper bound keeps some caution when the audit saw nothing wrong.
    cautious = AuditPolicy(target=0.85, rate=0.1, seed=3, confidence=0.9)
    assert 0.0 < Overconfidence.pooled([res.tally]).factor(cautious.confidence) < 1.0


def test_overconfidence_factor_hand_computed() -> None:
    o = Overconfidence(audited=40, observed=3, expected=1.5)
    assert o.ratio == 2.0 and o.factor(0.5) == 2.0
    assert o.factor(0.9) == pytest.approx(clopper_pearson_upper(3, 40, 0.9) * 40 / 1.5)
    assert Overconfidence().factor(0.9) == 1.0  # no audit: no correction
    pooled = Overconfidence.pooled([o, Overconfidence(10, 1, 0.5)])
    assert (pooled.audited, pooled.observed, pooled.expected) == (50, 4, 2.0)
    tally = Overconfidence.of([0.9, 0.2, 0.6], [1, 0, 1], [0, 0, 1])
    assert (tally.audited, tally.observed) == (3, 1)
    assert tally.expected == pytest.approx(0.1 + 0.2 + 0.4)


def test_estimate_counts_labelled_pairs_and_bounds_the_kept_rate() -> None:
    p, truth = overconfident(200)
    policy = AuditPolicy(target=0.9, rate=0.25, top_up=False, seed=0)
    res = run_batch(p, CountingTeacher(truth), policy)
    est = res.estimate
    assert est.labelled == res.teacher_calls and est.labelled + est.kept == 200
    assert est.audit_kept == len(res.audited)  # nothing escalated: every audit pair is kept
    agree = est.audit_kept - est.audit_disagreements
    assert (est.kept_low, est.kept_high) == pytest.approx(wilson_interval(agree, est.audit_kept))
    assert est.agreement == pytest.approx((est.labelled + est.kept * agree / est.audit_kept) / 200)
    lo, hi = est.interval
    assert lo < est.agreement < hi
    # The truth of this batch: the audit estimate's interval covers it here.
    assert lo <= (res.decisions(p) == truth).mean() <= hi


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"target": 1.0}, "audit target must be an agreement in (0, 1), got 1.0"),
        ({"rate": 1.5}, "audit rate must be a share in [0, 1], got 1.5"),
        ({"min_audit": -1}, "audit min_audit must be an integer >= 0, got -1"),
        ({"max_audit": 2.5}, "audit max_audit must be an integer >= 0, got 2.5"),
        ({"confidence": 0.3}, "audit confidence must be in [0.5, 1)"),
        ({"window": 0}, "audit window must be an integer >= 1, got 0"),
        ({"min_audit": 50, "max_audit": 10}, "min_audit (50) must be <= max_audit (10)"),
        ({"fitted_target": 0.0}, "audit fitted_target must be None or an agreement in (0, 1)"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        AuditPolicy(**settings)  # type: ignore[arg-type]


def test_bad_teacher_answers_and_probabilities_are_refused() -> None:
    p, truth = overconfident(100)
    with pytest.raises(InputError, match="field 'teacher labels': has 1 entries"):
        run_batch(p, lambda idx: truth[:1], AuditPolicy(rate=0.1))
    with pytest.raises(InputError, match=r"field 'probs'.*position 1 is 1\.5"):
        run_batch([0.2, 1.5], lambda idx: truth[idx], AuditPolicy())
    with pytest.raises(InputError, match="field 'fitted': has 2 entries"):
        run_batch(p, lambda idx: truth[idx], AuditPolicy(), fitted=[True, False])


def calibrated(n: int, rng: np.random.Generator) -> tuple[FloatArray, BoolArray]:
    """A student fitted on the query's own labels: it says 0.98 / 0.02 and misses 1 pair in 50."""
    p = np.where(np.arange(n) % 2 == 0, 0.98, 0.02)
    truth = p >= 0.5
    truth[rng.permutation(n)[: n // 50]] ^= True
    return p, truth


def test_fitted_pairs_keep_the_label_free_stop_and_are_never_audited() -> None:
    rng = np.random.default_rng(0)
    p_new, t_new = overconfident(600)  # extrapolating: says 0.95, right 80% of the time
    p_fit, t_fit = calibrated(1400, rng)
    order = rng.permutation(2000)  # the two paths interleaved in one batch
    p, truth = np.concatenate([p_new, p_fit])[order], np.concatenate([t_new, t_fit])[order]
    fitted = order >= 600
    policy = AuditPolicy(target=0.95, rate=0.1, max_audit=100, seed=2, fitted_target=0.97)
    teacher = CountingTeacher(truth)
    res = run_batch(p, teacher, policy, batch=5, fitted=fitted)
    assert not fitted[res.audited].any() and len(res.audited) > 0
    assert sorted(teacher.asked) == sorted(res.labels) and res.fitted.tolist() == fitted.tolist()
    # The path outside `fitted` is exactly run_batch on those pairs alone, indices mapped back.
    rest = np.flatnonzero(~fitted)
    alone = run_batch(p[rest], CountingTeacher(truth[rest]), policy, batch=5)
    assert res.audited.tolist() == rest[alone.audited].tolist()
    assert res.escalated[rest].tolist() == alone.escalated.tolist()
    assert res.tally == alone.tally and res.estimate == alone.estimate
    # The fitted pairs: the label-free rule at fitted_target, and its expected agreement.
    on_fit = np.flatnonzero(fitted)
    assert res.escalated[on_fit].tolist() == escalate_until(p[on_fit], 0.97).tolist()
    kept_fit = on_fit[~res.escalated[on_fit]]
    expected = 1 - np.minimum(p[kept_fit], 1 - p[kept_fit]).sum() / len(on_fit)
    assert res.fitted_expected == pytest.approx(expected)
    # Auditing every pair instead pools the two paths' evidence: the extrapolating pairs'
    # over-confidence is charged to the fitted ones too, which costs teacher calls.
    pooled = run_batch(p, CountingTeacher(truth), policy, batch=5)
    assert res.teacher_calls < pooled.teacher_calls
    assert (res.decisions(p) == truth).mean() >= 0.95


def test_a_batch_with_every_pair_fitted_audits_nothing_and_keeps_the_history() -> None:
    p, truth = overconfident(400)
    policy = AuditPolicy(target=0.95, rate=0.1, seed=1)
    first = run_batch(p, CountingTeacher(truth), policy)
    all_fitted = run_batch(
        p, CountingTeacher(truth), policy, [first.tally], batch=1, fitted=np.ones(400, bool)
    )
    assert len(all_fitted.audited) == 0 and all_fitted.tally == Overconfidence()
    assert math.isnan(all_fitted.estimate.agreement) and all_fitted.estimate.n == 0
    assert all_fitted.escalated.tolist() == escalate_until(p, 0.95).tolist()
    # An empty tally holds no evidence: the next batch still corrects with the first audit.
    history = [first.tally, all_fitted.tally]
    nxt = run_batch(p, CountingTeacher(truth), policy, history, batch=2)
    assert nxt.ratio_before == pytest.approx(first.ratio_after) and nxt.ratio_before > 1.0
