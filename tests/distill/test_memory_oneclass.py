"""One-class views and model (the experiment for the memory's fallback calibration): pure numpy."""

from __future__ import annotations

import numpy as np
import pytest

from judgecache.distill.memory_oneclass import (
    ONE_CLASS_FEATURES,
    OneClassModel,
    one_class_features,
    one_class_views,
)
from judgecache.errors import InsufficientDataError

pytestmark = pytest.mark.distill  # scikit-learn


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
