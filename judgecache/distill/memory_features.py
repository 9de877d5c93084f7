"""What a query's labelled documents say about a new document of that query: features + combiner.

Pure numpy (plus scikit-learn's logistic regression): no encoder, no store. Per target document,
given its cosine to each labelled document of the same query and the base judge's score:

* ``base``: the base judge's score (student logit or zero-shot cosine);
* ``vote`` / ``grade_vote``: a softmax(similarity / 0.05)-weighted vote of the ``k`` nearest
  labelled documents' binary labels / grades (grades scaled to 0-1);
* ``near_pos`` / ``near_neg``: the cosine to the nearest positive / negative labelled document;
* ``rate``: the query's share of positives (Laplace-smoothed);
* ``neg_below`` / ``pos_above``: the share of the query's labelled negatives scored below ``base``
  and of positives scored above it, and ``base_mid``: ``base`` minus the midpoint of the mean
  positive and mean negative scores -- a per-query calibration of the base score;
* ``probe_L`` (one per cut ``L``, :func:`probe`): a per-query kernel ridge regression of
  ``label >= L`` on the labelled documents' embeddings (its exact leave-one-out prediction for the
  fitting rows) -- a smoother read of the same neighbours than the vote (measured in
  docs/benchmarks.md: binary / weighted kappa +0.028 / +0.017 at 50% memory, +0.003 / +0.007 at 10%).

:class:`Combiner` reads them with one logistic regression per cut ``P(label >= L)``; labels come
from cutting those probabilities in order, at thresholds chosen for kappa on the fitting data.

Example:
    >>> import numpy as np
    >>> sims = np.array([[0.9, 0.2, 0.1], [0.1, 0.8, 0.7]])
    >>> f = neighbour_features(sims, np.array([3, 0, 1]), np.array([2.0, -1.0, 0.0]),
    ...                        np.array([1.5, -0.5]), labels=[0, 1, 2, 3], positive_from=2)
    >>> f[:, FEATURES.index("vote")].round(3).tolist()
    [1.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from judgecache.errors import InsufficientDataError
from judgecache.stats import cohen_kappa

Array = NDArray[np.float64]
FEATURES = (
    "base",
    "vote",
    "grade_vote",
    "near_pos",
    "near_neg",
    "rate",
    "neg_below",
    "pos_above",
    "base_mid",
)
TEMPERATURE = 0.05
DEFAULT_K = 10
PROBE_GAMMA, PROBE_RIDGE = 4.0, 1.0  # kernel exp(gamma * (cosine - 1)) + 1, ridge penalty


def feature_names(labels: Sequence[int]) -> tuple[str, ...]:
    """The combiner's features on a label scale: :data:`FEATURES`, then one probe per cut.

    >>> feature_names([0, 1])[-2:]
    ('base_mid', 'probe_1')
    """
    return FEATURES + tuple(f"probe_{c}" for c in sorted(labels)[1:])


def probe(
    memory_sims: NDArray[Any],
    grades: NDArray[Any],
    *,
    labels: Sequence[int],
    targets: NDArray[Any] | None = None,
) -> Array:
    """Kernel ridge regression of each cut's ``label >= L`` on one query's labelled documents.

    ``memory_sims``: ``(m, m)`` cosines between the labelled documents; ``targets``: ``(n, m)``
    cosines of new documents to them -> ``(n, cuts)`` predictions. Without ``targets``, the exact
    leave-one-out prediction of each labelled document from the others (``(m, cuts)``).

    >>> sims = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.1], [0.0, 0.1, 1.0]])
    >>> p = probe(sims, np.array([3, 2, 0]), labels=[0, 1, 2, 3], targets=np.array([[0.95, 0.9, 0.0]]))
    >>> bool(p[0, 1] > 0.5), probe(sims, np.array([3, 2, 0]), labels=[0, 1, 2, 3]).shape
    (True, (3, 3))
    """
    g = np.asarray(grades)
    y = np.stack([g >= c for c in sorted(labels)[1:]], axis=1).astype(np.float64)
    kern = np.exp(PROBE_GAMMA * (np.asarray(memory_sims, dtype=np.float64) - 1)) + 1.0
    a = kern + PROBE_RIDGE * np.eye(g.size)
    if targets is None:
        hat = np.linalg.solve(a, kern).T  # K (K + rI)^-1: both symmetric, so (A^-1 K)^T
        hd = np.diag(hat)[:, None]
        return np.asarray((hat @ y - hd * y) / np.clip(1 - hd, 1e-9, None), dtype=np.float64)
    t = np.exp(PROBE_GAMMA * (np.asarray(targets, dtype=np.float64) - 1)) + 1.0
    return np.asarray(t @ np.linalg.solve(a, y), dtype=np.float64)


def neighbour_features(
    sims: NDArray[Any],
    grades: NDArray[Any],
    memory_base: NDArray[Any],
    base: NDArray[Any],
    *,
    labels: Sequence[int],
    positive_from: int,
    k: int = DEFAULT_K,
    exclude: NDArray[np.bool_] | None = None,
) -> Array:
    """``(n, len(FEATURES))`` features of ``n`` targets against ``m`` labelled documents.

    ``sims`` is ``(n, m)``; ``exclude[i, j]`` drops labelled document ``j`` for target ``i``
    (leave-one-out fitting). Every target must keep at least one positive and one negative.
    """
    s = np.asarray(sims, dtype=np.float64).copy()
    g = np.asarray(grades, dtype=np.float64)
    y = (g >= positive_from).astype(np.float64)
    bm = np.asarray(memory_base, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    n, m = s.shape
    keep = np.ones((n, m), dtype=bool) if exclude is None else ~exclude
    s[~keep] = -np.inf
    kk = max(1, min(k, m))
    top = np.argpartition(-s, kk - 1, axis=1)[:, :kk] if kk < m else np.tile(np.arange(m), (n, 1))
    ts = np.take_along_axis(s, top, axis=1)
    w = np.where(np.isfinite(ts), np.exp((ts - ts.max(axis=1, keepdims=True)) / TEMPERATURE), 0.0)
    w /= w.sum(axis=1, keepdims=True)
    lo, hi = float(min(labels)), float(max(labels))
    vote = (w * y[top]).sum(axis=1)
    grade_vote = (w * (g[top] - lo) / max(hi - lo, 1.0)).sum(axis=1)
    pos, neg = keep & (y[None, :] == 1), keep & (y[None, :] == 0)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    if (n_pos == 0).any() or (n_neg == 0).any():
        raise InsufficientDataError(
            "every target needs a positive and a negative labelled document"
        )
    near_pos = np.where(pos, s, -np.inf).max(axis=1)
    near_neg = np.where(neg, s, -np.inf).max(axis=1)
    rate = (n_pos + 1) / (n_pos + n_neg + 2)
    below = (neg & (bm[None, :] < b[:, None])).sum(axis=1) / n_neg
    above = (pos & (bm[None, :] > b[:, None])).sum(axis=1) / n_pos
    mean_pos = np.where(pos, bm[None, :], 0.0).sum(axis=1) / n_pos
    mean_neg = np.where(neg, bm[None, :], 0.0).sum(axis=1) / n_neg
    mid = b - (mean_pos + mean_neg) / 2
    return np.stack([b, vote, grade_vote, near_pos, near_neg, rate, below, above, mid], axis=1)


def leave_one_out(
    sims: NDArray[Any],
    grades: NDArray[Any],
    base: NDArray[Any],
    *,
    labels: Sequence[int],
    positive_from: int,
    k: int = DEFAULT_K,
) -> tuple[Array, NDArray[np.int64]]:
    """:func:`feature_names` of each labelled document against the others of its query (``sims``:
    ``(m, m)``), and its grade. Documents whose removal leaves one class only are skipped (they
    would fall back in use).
    """
    g = np.asarray(grades)
    y = g >= positive_from
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    ok = np.where(y, n_pos > 1, n_neg > 1) & (n_neg > 0) & (n_pos > 0)
    if not ok.any():
        return np.zeros((0, len(feature_names(labels)))), np.zeros(0, dtype=np.int64)
    idx = np.flatnonzero(ok)
    exclude = np.zeros((idx.size, g.size), dtype=bool)
    exclude[np.arange(idx.size), idx] = True
    feats = neighbour_features(
        np.asarray(sims)[idx],
        g,
        base,
        np.asarray(base)[idx],
        labels=labels,
        positive_from=positive_from,
        k=k,
        exclude=exclude,
    )
    loo = probe(sims, g, labels=labels)[idx]
    return np.hstack([feats, loo]), g[idx].astype(np.int64)


def target_features(
    sims: NDArray[Any],
    memory_sims: NDArray[Any],
    grades: NDArray[Any],
    memory_base: NDArray[Any],
    base: NDArray[Any],
    *,
    labels: Sequence[int],
    positive_from: int,
    k: int = DEFAULT_K,
) -> Array:
    """:func:`feature_names` of new documents (``sims``: ``(n, m)``) against a query's memory."""
    feats = neighbour_features(
        sims, grades, memory_base, base, labels=labels, positive_from=positive_from, k=k
    )
    return np.hstack([feats, probe(memory_sims, grades, labels=labels, targets=sims)])


def standard_logistic(
    x: NDArray[Any], targets: Sequence[NDArray[Any]]
) -> tuple[Array, Array, Array, Array]:
    """Standardize ``x``'s columns, then one logistic regression per binary target.

    Returns ``(mean, scale, coef (targets, features), intercept (targets,))`` on the standardized
    features. A target no row crosses gets a constant (smoothed rate) probability, not an error.

    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> mean, scale, coef, b = standard_logistic(x, [x[:, 0] >= 2, x[:, 0] >= 9])
    >>> bool(coef[0, 0] > 0), float(coef[1, 0]), round(float(b[1]), 3)
    (True, 0.0, -2.197)
    """
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    coef = np.zeros((len(targets), x.shape[1]))
    intercept = np.zeros(len(targets))
    for c, target in enumerate(targets):
        t = np.asarray(target, dtype=bool)
        if t.all() or not t.any():  # a cut no row crosses: a constant probability
            rate = (t.sum() + 0.5) / (t.size + 1)
            intercept[c] = float(np.log(rate / (1 - rate)))
            continue
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(z, t)
        coef[c], intercept[c] = lr.coef_[0], float(lr.intercept_[0])
    return mean, scale, coef, intercept


@dataclass
class Combiner:
    """Ordinal logistic regressions over :func:`feature_names`, with kappa-chosen cut thresholds."""

    labels: list[int]
    positive_from: int
    mean: Array
    scale: Array
    coef: Array  # (cuts, features)
    intercept: Array  # (cuts,)
    thresholds: Array  # (cuts,)
    n: int

    @classmethod
    def fit(
        cls, feats: NDArray[Any], grades: NDArray[Any], *, labels: Sequence[int], positive_from: int
    ) -> Combiner:
        """Fit on (features, grade) rows; raises InsufficientDataError without both classes."""
        x = np.asarray(feats, dtype=np.float64)
        g = np.asarray(grades)
        labs = sorted(int(v) for v in labels)
        y_bin = g >= positive_from
        if x.shape[0] < 2 or y_bin.all() or not y_bin.any():
            raise InsufficientDataError(
                f"the memory's combiner needs labelled pairs of both classes; got {x.shape[0]} "
                f"usable pair(s), {int(y_bin.sum())} positive"
            )
        mean, scale, coef, intercept = standard_logistic(x, [g >= cut for cut in labs[1:]])
        combiner = cls(
            labs, positive_from, mean, scale, coef, intercept, np.full(len(labs) - 1, 0.5), len(g)
        )
        combiner.thresholds = combiner._fit_thresholds(combiner.p_at_least(x), g)
        return combiner

    def p_at_least(self, feats: NDArray[Any]) -> Array:
        """``(n, cuts)`` probabilities of ``label >= labels[c + 1]``, made non-increasing in c."""
        z = (np.asarray(feats, dtype=np.float64) - self.mean) / self.scale
        p = 1 / (1 + np.exp(-(z @ self.coef.T + self.intercept)))
        return np.asarray(np.minimum.accumulate(p, axis=1), dtype=np.float64)

    @property
    def pos_cut(self) -> int:
        return self.labels.index(self.positive_from) - 1

    def grades(self, p: NDArray[Any], thresholds: NDArray[Any] | None = None) -> NDArray[np.int64]:
        """Walk the cuts in order: the label is the last one whose probability passes."""
        t = self.thresholds if thresholds is None else thresholds
        passed = np.cumprod(np.asarray(p) >= np.asarray(t)[None, :], axis=1)
        out: NDArray[np.int64] = np.asarray(self.labels, dtype=np.int64)[passed.sum(axis=1)]
        return out

    def _fit_thresholds(self, p: Array, g: NDArray[Any]) -> Array:
        # The positive cut maximizes binary kappa; the others then weighted kappa (given it).
        grid = np.linspace(0.05, 0.95, 37)
        t = np.full(p.shape[1], 0.5)
        truth = (g >= self.positive_from).astype(int)

        def bin_kappa(v: float) -> float:
            return _kappa(truth, (p[:, self.pos_cut] >= v).astype(int), [0, 1])

        t[self.pos_cut] = max(grid, key=bin_kappa)
        for c in range(p.shape[1]):
            if c == self.pos_cut or len(self.labels) <= 2:
                continue

            def w_kappa(v: float, c: int = c) -> float:
                tt = t.copy()
                tt[c] = v
                return _kappa(g, self.grades(p, tt), self.labels, weighting="quadratic")

            t[c] = max(grid, key=w_kappa)
        return t

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary (coefficients on standardized features, thresholds)."""
        return {
            "features": list(feature_names(self.labels)),
            "coef": self.coef.round(4).tolist(),
            "intercept": self.intercept.round(4).tolist(),
            "thresholds": self.thresholds.round(3).tolist(),
            "n": self.n,
        }


def _kappa(
    truth: Any, pred: Any, labels: Sequence[int], weighting: Literal["quadratic"] | None = None
) -> float:
    """Cohen's kappa for picking cuts; where it is undefined (both sides one and the same
    constant answer) the agreement itself, 1.0, so such a cut still ranks as a perfect one."""
    k = cohen_kappa(truth, pred, labels=labels, weighting=weighting)
    return float(np.mean(np.asarray(truth) == np.asarray(pred))) if math.isnan(k) else k
