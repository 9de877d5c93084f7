"""``train.pairwise``: batches of one query, a RankNet term within the query, config checks."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from distill_rows import make_rows, tiny_config

from judgecache.distill.config import DistillConfig
from judgecache.distill.data import labels_from_rows
from judgecache.distill.pipeline import build, prepare, run_distill
from judgecache.distill.train import query_batches, ranknet_loss
from judgecache.errors import ConfigError

pytestmark = pytest.mark.distill


def test_query_batches_hold_one_query_each_and_every_pair_once() -> None:
    rng = random.Random(3)
    groups = [rng.choice("abcde") for _ in range(101)]
    batches = query_batches(groups, 8, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(101))
    assert all(len({groups[i] for i in b}) == 1 and 0 < len(b) <= 8 for b in batches)
    sizes = Counter(groups)
    assert len(batches) == sum(math.ceil(n / 8) for n in sizes.values())
    assert batches == query_batches(groups, 8, random.Random(0))  # seeded: resumable


def test_ranknet_loss_is_the_mean_over_ordered_pairs() -> None:
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(7, generator=gen)
    grades = [0, 2, 2, 3, 1, 0, 3]
    targets = torch.tensor([[float(g >= k) for k in (1, 2, 3)] for g in grades])
    terms = [
        math.log1p(math.exp(-(float(scores[i]) - float(scores[j]))))
        for i in range(7)
        for j in range(7)
        if grades[i] > grades[j]
    ]
    assert float(ranknet_loss(scores, targets)) == pytest.approx(np.mean(terms), rel=1e-5)


def test_ranknet_gradient_lifts_the_better_document() -> None:
    scores = torch.zeros(3, requires_grad=True)
    targets = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    ranknet_loss(scores, targets).backward()  # type: ignore[no-untyped-call]
    assert scores.grad is not None
    grad = scores.grad.tolist()
    assert grad[0] < 0 < grad[2]  # descent raises the grade-3 score, lowers the grade-0 one
    assert float(ranknet_loss(torch.zeros(3), torch.ones(3, 3))) == 0.0  # all tied: no term


def test_pairwise_weight_must_not_be_negative(tiny_bert: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train\.pairwise must be >= 0, got -1"):
        tiny_config(tiny_bert, tmp_path, pairwise=-1.0)


def test_pairwise_training_steps_through_query_batches_and_resumes_exactly(
    tiny_bert: Path, tmp_path: Path
) -> None:
    labels = labels_from_rows(make_rows(200, n_groups=8))

    def cfg(out: Path, pairwise: float = 1.0) -> DistillConfig:
        return tiny_config(tiny_bert, out, by="group", epochs=2, eval_every=5, pairwise=pairwise)

    paired = run_distill(cfg(tmp_path / "a"), labels=labels)
    setup = build(cfg(tmp_path / "x"), prepare(cfg(tmp_path / "x"), labels))
    per_query = Counter(p.first for p in setup.train_part.pairs)
    assert paired.train.steps == 2 * sum(math.ceil(n / 16) for n in per_query.values())
    assert setup.planned_steps == paired.train.steps
    assert np.mean(paired.train.losses[-5:]) < np.mean(paired.train.losses[:5])

    pointwise = run_distill(cfg(tmp_path / "p", 0.0), labels=labels)
    assert pointwise.train.losses != paired.train.losses

    run_distill(cfg(tmp_path / "c"), labels=labels, stop_after_steps=7)
    resumed = run_distill(cfg(tmp_path / "c"), labels=labels, resume=True)
    assert resumed.train.resumed_from == 7
    assert resumed.train.losses == pytest.approx(paired.train.losses, abs=1e-5)
