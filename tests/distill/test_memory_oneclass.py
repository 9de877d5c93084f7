"""One-class views, model, and the query memory's recalibrated fallback (synthetic embeddings)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from judgecache.distill.memory import MemoryRow, QueryMemory, RowsSource, pair_key
from judgecache.distill.memory_oneclass import (
    ONE_CLASS_FEATURES,
    OneClassModel,
    one_class_features,
    one_class_views,
)
from judgecache.errors import InsufficientDataError
from judgecache.judges.rubric import get_rubric
from judgecache.keys import JudgeIdentity

pytestmark = pytest.mark.distill  # scikit-learn

TEACHER = JudgeIdentity("replay", "synthetic", "")


def test_features_of_an_all_positive_memory() -> None:
    f = one_class_features(
        np.array([[0.2, 0.7, 0.4]]), np.array([1.0, 2.0, 3.0]), np.array([0.5]), positive=True
    )
    got = dict(zip(ONE_CLASS_FEATURES, f[0].tolist(), strict=True))
    # Laplace rate 4/5 -> log-odds log 4; gap to the lowest labelled positive; nearest label.
    assert got == pytest.approx(
        {"base": 0.5, "rate_logit": np.log(4), "gap": -0.5, "near": 0.7, "positive": 1.0}
    )


def test_views_are_one_class_and_predict_the_other_documents() -> None:
    rng = np.random.default_rng(0)
    grades = np.array([0, 0, 0, 0, 0, 0, 3, 2, 0, 1])
    base = np.arange(10.0)
    sims = np.eye(10)
    x, y = one_class_views(
        sims, grades, base, positive_from=2, sizes=[3], rng=rng, draws=50, max_rows=4
    )
    assert x.shape[1] == len(ONE_CLASS_FEATURES) and x.shape[0] == y.size > 0
    # Every view here is all negative (two positives of ten: a 3-subset of them is impossible),
    # of three labels, and each row is a document outside its view (cosine 0 to all of them).
    assert set(x[:, ONE_CLASS_FEATURES.index("positive")].tolist()) == {0.0}
    assert np.allclose(x[:, ONE_CLASS_FEATURES.index("rate_logit")], np.log(1 / 4))
    assert np.allclose(x[:, ONE_CLASS_FEATURES.index("near")], 0.0)
    assert set(y.tolist()) <= {0, 1} and y.sum() > 0


def test_model_orders_by_base_and_refuses_one_class_rows() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=200)
    truth = (base + rng.normal(scale=0.5, size=200) > 0.8).astype(int)
    feats = one_class_features(np.zeros((200, 2)), np.array([0.0, 0.1]), base, positive=False)
    model = OneClassModel.fit(feats, truth)
    p = model.prob(feats)
    assert np.all((p > 0) & (p < 1))
    assert np.all(np.diff(p[np.argsort(base)]) >= -1e-12)
    with pytest.raises(InsufficientDataError, match="both classes"):
        OneClassModel.fit(feats, np.zeros(200, dtype=int))


# --- The fallback's calibration inside QueryMemory (real QueryMemory, synthetic embeddings). ---


def synthetic_memory(
    rates: list[float], *, n_docs: int = 40, in_memory: int = 10, seed: int = 0
) -> tuple[QueryMemory, dict[str, tuple[list[str], np.ndarray, np.ndarray]]]:
    """Queries with these positive rates; the first ``in_memory`` documents of each are labelled.

    Base score: ``1.5 * relevant + noise``, the same map for every query, so a probability
    calibrated over all queries is too optimistic for a query with few positives. Returns the
    memory and, per query, its held-out documents, their base scores and grades.
    """
    rng = np.random.default_rng(seed)
    vec: dict[str, np.ndarray] = {}
    base_of: dict[str, float] = {}
    rows: list[MemoryRow] = []
    held: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
    for q, rate in enumerate(rates):
        query = f"q{q}"
        rel = rng.random(n_docs) < rate
        grades = np.where(rel, rng.integers(2, 4, n_docs), rng.integers(0, 2, n_docs))
        docs = [f"{query} d{j}" for j in range(n_docs)]
        for j, doc in enumerate(docs):
            v = rng.normal(size=8)
            vec[doc] = v / np.linalg.norm(v)
            base_of[doc] = 1.5 * float(rel[j]) + float(rng.normal())
        rows += [
            MemoryRow(pair_key(query, d), query, d, int(g))
            for d, g in zip(docs[:in_memory], grades[:in_memory], strict=True)
        ]
        rest = docs[in_memory:]
        held[query] = (rest, np.asarray([base_of[d] for d in rest]), grades[in_memory:])

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.stack([vec[t] for t in texts]) if texts else np.zeros((0, 8))

    def base(query: str, docs: Sequence[str]) -> np.ndarray:
        return np.asarray([base_of[d] for d in docs])

    memory = QueryMemory(RowsSource(TEACHER, rows), embed, base, get_rubric("relevance"))
    memory.refresh()
    return memory, held


def test_one_class_queries_get_the_recalibrated_probability() -> None:
    memory, held = synthetic_memory([0.03] * 20 + [0.5] * 20)
    negative = [q for q in held if memory.one_class(q) is False]
    assert negative, "the seeded data has all-negative memories"
    docs, base, _ = held[negative[0]]
    ans = memory.predict(negative[0], docs)
    assert ans.recalibrated.all() and not ans.used.any() and (ans.labels == -1).all()
    assert memory.fallback is not None
    assert np.allclose(ans.prob, memory.fallback.prob(base, positive=False))  # type: ignore[arg-type]
    why = ans.why[0]
    assert why.startswith("query has one class in memory (10 labels, all negative); ")
    assert "probability recalibrated for all-negative memories" in why
    # The map is the same whether the caller passes the base scores or the memory computes them.
    assert np.allclose(memory.predict(negative[0], docs, base=base).prob, ans.prob)
    # A seen query with both classes takes the memory path; an unseen one keeps the caller's.
    both = next(q for q in held if memory.status(q) is None)
    assert memory.predict(both, held[both][0]).used.all()
    unseen = memory.predict("never seen", ["q0 d0"])
    assert not unseen.recalibrated.any() and np.isnan(unseen.prob).all()
    assert unseen.why == ["query not in memory"]


def test_recalibrated_fallback_is_better_calibrated_than_one_fitted_on_all_queries() -> None:
    from judgecache.distill.calibrate import fit_calibrator
    from judgecache.stats import expected_calibration_error

    memory, held = synthetic_memory([0.03] * 30 + [0.5] * 30, seed=1)
    memory.fit()
    # Today's fallback: a Platt map of the base score over all the memory's labels (what a
    # student calibrated over all queries gives). Scored on the one-class queries' other documents.
    seen = [memory.index(q) for q in held]
    pooled = fit_calibrator(
        np.concatenate([ix.base for ix in seen]),
        np.concatenate([ix.grades >= 2 for ix in seen]).astype(float),
        method="platt",
    )
    old, new, truth = [], [], []
    for q, (docs, base, grades) in held.items():
        if memory.one_class(q) is False:
            ans = memory.predict(q, docs, base=base)
            assert ans.recalibrated.all()
            old.append(pooled.apply(base))
            new.append(ans.prob)
            truth.append(grades >= 2)
    y = np.concatenate(truth)
    ece_old = expected_calibration_error(np.concatenate(old), y)
    ece_new = expected_calibration_error(np.concatenate(new), y)
    # Pooled: ~26% positives predicted where ~3% are; the one-class map sees that selection.
    assert np.concatenate(old).mean() > 3 * y.mean()
    assert ece_new < ece_old / 2, (ece_old, ece_new)


def test_tiny_memory_keeps_todays_fallback_and_says_why() -> None:
    memory, held = synthetic_memory([0.0, 0.0], n_docs=6, in_memory=3)
    for q, (docs, _, _) in held.items():
        ans = memory.predict(q, docs)  # never raises: nothing to fit on is a reason, not an error
        assert not ans.recalibrated.any() and np.isnan(ans.prob).all()
        assert ans.why[0].startswith(
            "query has one class in memory (3 labels, all negative); "
            "not recalibrated (too few all-negative views: needs at least 20 simulated rows"
        ), ans.why[0]
    assert memory.combiner is None and memory.fallback is not None


def test_each_class_has_its_own_map_and_a_class_without_views_says_so() -> None:
    memory, _ = synthetic_memory([0.03] * 20 + [0.5] * 20, seed=2)
    memory.fit()
    assert memory.fallback is not None and set(memory.fallback.models) == {False}
    one = "q-lonely"
    memory.source.add(MemoryRow("k-lonely", one, "q0 d0", 3))  # type: ignore[attr-defined]
    ans = memory.predict(one, ["q0 d1"])
    # All-positive views of 10 labels are rare at these rates: no map, so today's fallback.
    assert not ans.recalibrated.any() and ans.why[0].startswith(
        "query has one label in memory; not recalibrated (too few all-positive views"
    )
