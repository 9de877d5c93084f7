"""The one-class path: what a query's memory says when all its labels are of one class.

A query whose memory holds negatives only (the commonest case: few relevant documents) used to
fall back to the plain student, whose probability is calibrated over *all* queries and so too
optimistic for this one. Its memory still says something: how many labels, all of one class
(a smoothed label rate), how the new document's base score compares with the labelled ones, and how
close it is to them. :class:`OneClassModel` is a logistic regression over :data:`ONE_CLASS_FEATURES`
fitted on *simulated one-class views*: random subsets of each memory query's labels that happen to
be of one class, each predicting the query's other labelled documents (:func:`one_class_views`) --
the same selection that makes a real query's memory one-class.

:class:`~judgecache.distill.memory.QueryMemory` fits :class:`FallbackCalibration` (a Platt map of
the base score per class, on these views: :func:`fit_fallback`) with its combiner and gives its
probability to one-class and one-label queries. Measured by ``bench/query_memory_oneclass.py``
(docs/benchmarks.md): it brings the fallback rows' ECE from 0.08-0.17 to 0.004-0.022; the full
:class:`OneClassModel` over all five features is no better calibrated, so the library uses the map.

Example:
    >>> import numpy as np
    >>> f = one_class_features(np.array([[0.9, 0.2]]), np.array([0.1, 0.3]), np.array([0.5]),
    ...                        positive=False)
    >>> dict(zip(ONE_CLASS_FEATURES, f[0].round(3).tolist()))
    {'base': 0.5, 'rate_logit': -1.099, 'gap': 0.2, 'near': 0.9, 'positive': 0.0}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from judgecache.distill.memory_features import standard_logistic
from judgecache.errors import InsufficientDataError

Array = NDArray[np.float64]
ONE_CLASS_FEATURES = ("base", "rate_logit", "gap", "near", "positive")
MIN_VIEW_ROWS = 20
ViewSource = tuple[NDArray[Any], NDArray[Any], NDArray[Any]]
"""One memory query's ``(sims between its labelled documents, grades, base scores)``."""


def one_class_features(
    sims: NDArray[Any], memory_base: NDArray[Any], base: NDArray[Any], *, positive: bool
) -> Array:
    """``(n, 5)`` features of ``n`` targets against a one-class memory of ``m`` documents.

    ``rate_logit``: the log-odds of the Laplace-smoothed label rate; ``gap``: the base score minus
    the highest labelled negative's (lowest labelled positive's for an all-positive memory);
    ``near``: the cosine to the nearest labelled document.
    """
    s = np.asarray(sims, dtype=np.float64)
    mb = np.asarray(memory_base, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    m = mb.size
    rate = (m + 1) / (m + 2) if positive else 1 / (m + 2)
    edge = mb.min() if positive else mb.max()
    n = b.size
    return np.stack(
        [
            b,
            np.full(n, np.log(rate / (1 - rate))),
            b - edge,
            s.max(axis=1) if m else np.zeros(n),
            np.full(n, float(positive)),
        ],
        axis=1,
    )


def one_class_views(
    sims: NDArray[Any],
    grades: NDArray[Any],
    base: NDArray[Any],
    *,
    positive_from: int,
    sizes: Sequence[int],
    rng: np.random.Generator,
    draws: int = 8,
    max_rows: int = 40,
) -> tuple[Array, NDArray[np.int64]]:
    """Features and binary truth of one query's documents against its simulated one-class views.

    Each draw takes a random subset of the query's labels, its size drawn from ``sizes`` (the label
    counts of the memory's real one-class queries); a subset of one class predicts (up to
    ``max_rows`` of) the query's other documents.
    """
    y = (np.asarray(grades) >= positive_from).astype(np.int64)
    m = y.size
    feats: list[Array] = []
    truth: list[NDArray[np.int64]] = []
    for _ in range(draws):
        # A real one-class memory of ``size`` labels, mimicked with at most all but one label.
        size = min(int(rng.choice(sizes)) if len(sizes) else max(1, m // 4), m - 1)
        if size < 1:
            continue
        view = rng.choice(m, size, replace=False)
        if len(set(y[view].tolist())) != 1:
            continue
        rest = np.setdiff1d(np.arange(m), view)
        if rest.size > max_rows:
            rest = rng.choice(rest, max_rows, replace=False)
        s = np.asarray(sims)[np.ix_(rest, view)]
        feats.append(
            one_class_features(
                s, np.asarray(base)[view], np.asarray(base)[rest], positive=bool(y[view[0]])
            )
        )
        truth.append(y[rest])
    if not feats:
        return np.zeros((0, len(ONE_CLASS_FEATURES))), np.zeros(0, np.int64)
    return np.concatenate(feats), np.concatenate(truth)


@dataclass
class OneClassModel:
    """Logistic regression over standardized :data:`ONE_CLASS_FEATURES` (``columns``: which)."""

    mean: Array
    scale: Array
    coef: Array
    intercept: float
    columns: list[int]
    n: int

    @classmethod
    def fit(
        cls, feats: NDArray[Any], truth: NDArray[Any], columns: Sequence[int] | None = None
    ) -> OneClassModel:
        """Fit on view rows; raises InsufficientDataError without both classes among them."""
        cols = list(range(len(ONE_CLASS_FEATURES))) if columns is None else list(columns)
        x = np.asarray(feats, dtype=np.float64)[:, cols]
        t = np.asarray(truth)
        if x.shape[0] < MIN_VIEW_ROWS or t.all() or not t.any():
            raise InsufficientDataError(
                f"needs at least {MIN_VIEW_ROWS} simulated rows of both classes; got "
                f"{x.shape[0]} row(s), {int(t.sum())} positive"
            )
        mean, scale, coef, intercept = standard_logistic(x, [t.astype(bool)])
        return cls(mean, scale, coef[0], float(intercept[0]), cols, int(t.size))

    def prob(self, feats: NDArray[Any]) -> Array:
        """P(positive) per row of full :data:`ONE_CLASS_FEATURES` features."""
        x = np.asarray(feats, dtype=np.float64)[:, self.columns]
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return np.asarray(1 / (1 + np.exp(-z)), dtype=np.float64)


@dataclass
class FallbackCalibration:
    """Platt maps of the base score for queries whose memory holds one class, one per class.

    ``models[positive]`` is fitted on the simulated views of that class only (an all-negative
    memory says "fewer positives than usual", an all-positive one the opposite); ``missing[positive]``
    says why a class has no map (too few views of it), and such queries keep today's fallback.
    """

    models: dict[bool, OneClassModel]
    missing: dict[bool, str]

    def prob(self, base: NDArray[Any], *, positive: bool) -> Array | None:
        """P(positive) of documents with these base scores, or ``None`` without a map."""
        model = self.models.get(positive)
        if model is None:
            return None
        b = np.asarray(base, dtype=np.float64)
        feats = np.zeros((b.size, len(ONE_CLASS_FEATURES)))
        feats[:, 0] = b  # the map reads the base score only
        return model.prob(feats)

    def describe(self, positive: bool) -> str:
        """One line for a verdict's reason."""
        kind = "positive" if positive else "negative"
        model = self.models.get(positive)
        if model is None:
            return f"not recalibrated ({self.missing[positive]})"
        return f"probability recalibrated for all-{kind} memories ({model.n} simulated rows)"


def view_rows(
    queries: Iterable[ViewSource],
    *,
    positive_from: int,
    sizes: Sequence[int],
    seed: int = 0,
) -> tuple[Array, NDArray[np.int64]]:
    """:func:`one_class_views` of every ``(sims, grades, base)`` query, concatenated (seeded)."""
    rng = np.random.default_rng(seed)
    feats, truth = [], []
    for sims, grades, base in queries:
        f, t = one_class_views(
            sims, grades, base, positive_from=positive_from, sizes=sizes, rng=rng
        )
        feats.append(f)
        truth.append(t)
    if not feats:
        return np.zeros((0, len(ONE_CLASS_FEATURES))), np.zeros(0, np.int64)
    return np.concatenate(feats), np.concatenate(truth)


def fit_fallback(
    queries: Iterable[ViewSource],
    *,
    positive_from: int,
    sizes: Sequence[int],
    seed: int = 0,
) -> FallbackCalibration:
    """The fallback's Platt maps from ``(sims, grades, base)`` of each memory query.

    ``sizes``: the label counts of the memory's real one-class queries (the views mimic them).
    Never raises for lack of data: a class without enough views is listed in ``missing``.

    >>> rng = np.random.default_rng(0)
    >>> qs = []
    >>> for _ in range(20):
    ...     g = (rng.random(30) < 0.2).astype(int) * 3
    ...     qs.append((np.eye(30), g, g + rng.normal(size=30)))
    >>> cal = fit_fallback(qs, positive_from=2, sizes=[4])
    >>> sorted(cal.models), cal.describe(True).startswith("not recalibrated (too few all-positive")
    ([False], True)
    """
    x, y = view_rows(queries, positive_from=positive_from, sizes=sizes, seed=seed)
    models: dict[bool, OneClassModel] = {}
    missing: dict[bool, str] = {}
    positive_view = x[:, ONE_CLASS_FEATURES.index("positive")] == 1.0
    for positive in (False, True):
        rows = positive_view == positive
        try:
            models[positive] = OneClassModel.fit(x[rows], y[rows], columns=[0])
        except InsufficientDataError as exc:
            kind = "positive" if positive else "negative"
            missing[positive] = f"too few all-{kind} views: {exc}"
    return FallbackCalibration(models, missing)
