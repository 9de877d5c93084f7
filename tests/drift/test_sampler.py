"""Stratified sampling: deterministic, budgeted, band oversampled, weights that stay unbiased."""

from __future__ import annotations

import numpy as np
import pytest
from drift_world import World

from judgecache.drift.entry import LogEntry
from judgecache.drift.sampler import BAND, allocate, latest_per_item, stratified_sample
from judgecache.errors import ConfigError


def test_allocate_by_hand() -> None:
    # mass 50 + 50 + 3*10 = 130; shares 20*50/130 = 7.69, 7.69, 20*30/130 = 4.62
    # floors 7, 7, 4 (= 18); the two largest remainders (.69, .69) get one more each
    assert allocate([50, 50, 10], [1, 1, 3], 20) == [8, 8, 4]
    # a stratum smaller than its share is capped; the rest is shared again: [2, then 9 and 9]
    assert allocate([2, 100, 100], [10, 1, 1], 20) == [2, 9, 9]
    assert allocate([3, 4], [1, 1], 50) == [3, 4]


def test_sample_is_deterministic_per_period() -> None:
    entries = World().entries(0, 1000)
    a = stratified_sample(entries, 100, period_label="2025-W02", threshold=0.5)
    b = stratified_sample(list(reversed(entries)), 100, period_label="2025-W02", threshold=0.5)
    c = stratified_sample(entries, 100, period_label="2025-W03", threshold=0.5)
    ids = [i.entry.item_id for i in a.items]
    assert ids == [i.entry.item_id for i in b.items]
    assert set(ids) != {i.entry.item_id for i in c.items}
    assert len(ids) == len(set(ids)) == 100


def test_inclusion_probabilities_and_band_oversampling() -> None:
    entries = World().entries(0, 2000)
    s = stratified_sample(entries, 300, period_label="p", threshold=0.5, band=0.1, oversample=3)
    pop = {st.name: st.population for st in s.strata}
    size = {st.name: st.sample_size for st in s.strata}
    assert sum(size.values()) == 300 and sum(pop.values()) == 2000
    for it in s.items:
        assert it.inclusion_prob == pytest.approx(size[it.stratum] / pop[it.stratum])
    # inverse-probability weights add up to the population
    assert sum(it.weight for it in s.items) == pytest.approx(2000)
    band_share_pop = pop[BAND] / 2000
    band_share_sample = size[BAND] / 300
    assert band_share_sample > 2 * band_share_pop  # oversampled about 3x (before capping)
    for it in s.items:
        if it.stratum == BAND:
            assert abs(it.entry.student_score - 0.5) <= 0.1


def test_labelling_priority_spreads_over_strata() -> None:
    entries = World().entries(0, 2000)
    s = stratified_sample(entries, 300, period_label="p", threshold=0.5)
    first = [it.stratum for it in s.items[:60]]  # a budget that runs out at 20%
    size = {st.name: st.sample_size for st in s.strata}
    for name, n_h in size.items():
        assert abs(first.count(name) - 0.2 * n_h) <= 1.5


def test_ipw_estimate_is_unbiased_over_periods() -> None:
    # Skewed scores (mean ~.29): oversampling the band around .5 drags the plain sample mean up.
    rng = np.random.default_rng(0)
    entries = [
        LogEntry(
            item_id=f"i{k}",
            inputs={"query": "q", "doc": str(k)},
            score=float(p),
            probability=float(p),
            judge={"provider": "s", "model": "m"},
            task="relevance",
        )
        for k, p in enumerate(rng.beta(2, 5, size=1000))
    ]
    truth = float(np.mean([e.student_score for e in entries]))
    weighted, plain = [], []
    for k in range(100):
        s = stratified_sample(entries, 150, period_label=f"p{k}", threshold=0.5, oversample=4)
        w = np.array([it.weight for it in s.items])
        x = np.array([it.entry.student_score for it in s.items])
        weighted.append(float(np.sum(w * x) / np.sum(w)))
        plain.append(float(np.mean(x)))
    assert abs(np.mean(weighted) - truth) < 0.005
    assert np.mean(plain) - truth > 0.03  # what the weights correct


def test_whole_population_when_budget_exceeds_it_and_bad_sizes() -> None:
    entries = World().entries(0, 50)
    s = stratified_sample(entries + entries[:5], 500, period_label="p", threshold=0.5)
    assert len(s.items) == 50 and all(it.inclusion_prob == 1.0 for it in s.items)
    assert len(latest_per_item(entries + entries[:5])) == 50
    assert stratified_sample([], 10, period_label="p").items == []
    with pytest.raises(ConfigError, match="sample size"):
        stratified_sample(entries, 0, period_label="p")
