"""Query memory: the teacher labels a cache (or labels file) already holds for the same query.

The commonest production case re-judges the *same queries* with new documents, while the cache
already holds teacher labels of other documents of those queries. A :class:`QueryMemory` reads them
(one judge identity only: a memory of another teacher is refused), and for a new document of a
query with labels of both classes it combines neighbour features
(:mod:`judgecache.distill.memory_features`) with the base judge's score. Otherwise -- an unseen
query, or one label / one class only -- the caller falls back to its own path, told why. For a
query with one label or one class in memory the fallback's probability is recalibrated: a Platt map
of the base score fitted on simulated one-class views of the memory's queries
(:mod:`judgecache.distill.memory_oneclass`), since the caller's own probability, calibrated over
all queries, is too optimistic for a query whose memory is all negative. An unseen query keeps the
caller's probability (nothing selects it as unusual; measured in docs/benchmarks.md).

Staying current without retraining: every :meth:`QueryMemory.predict` first polls the source for
labels it has not read yet (a store's new keys; imports, cascade escalations and drift re-labels
land there), so a new label is used at once. The combiner is fitted leave-one-out on the memory's
own labels and refitted when the memory has grown by half since the last fit.

Bounded: per query, an index (labelled documents' embeddings and base scores) is built lazily on
first use and kept in an LRU of ``max_queries`` queries (default 256), each holding at most
``max_docs`` labelled documents (default 500, the most recently read). The catalog held for all
queries is the query text plus (key, label) per labelled pair; document texts are fetched from the
source only when a query's index is built.

Example (a toy embedder and base score; real use passes a student or the packaged MiniLM)::

    memory = QueryMemory(RowsSource(rows, identity), embed, base)
    answer = memory.predict("what is a wifi router", ["A router forwards packets ..."])
    answer.used[0], answer.why[0]
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from judgecache.distill.memory_features import (
    DEFAULT_K,
    Combiner,
    feature_names,
    leave_one_out,
    target_features,
)
from judgecache.distill.memory_oneclass import FallbackCalibration, ViewSource, fit_fallback
from judgecache.errors import ConfigError, InsufficientDataError, StorageError
from judgecache.judges.rubric import Rubric
from judgecache.keys import JudgeIdentity

Embed = Callable[[Sequence[str]], NDArray[Any]]
"""Texts -> ``(n, dim)`` unit vectors (e.g. :class:`~judgecache.distill.text_embed.TextEmbedder`)."""
BaseScore = Callable[[str, Sequence[str]], NDArray[Any]]
"""(query, docs) -> the base judge's score per doc (a student's logit, a zero-shot cosine)."""

MEMORY_PATH, FALLBACK_PATH = "memory", "fallback"
ONE_CLASS_CALIBRATION = "one-class"
"""``meta["calibration"]`` of a fallback whose probability the memory's one-class map recalibrated."""
NEW_QUERY_SIZES = (1, 2, 3, 5, 8)
"""One-class view sizes when the memory has no one-class query yet (a query newly in memory)."""


class MemoryIdentityError(ConfigError):
    """The memory's labels come from another judge identity than the one the student learned."""


@dataclass(frozen=True)
class MemoryRow:
    """One labelled pair as the memory reads it."""

    key: str
    query: str
    doc: str
    label: int


class LabelSource(Protocol):
    """Where the memory's labels come from (a store, a labels file, rows in memory)."""

    identity: JudgeIdentity
    where: str

    def poll(self) -> list[MemoryRow]:
        """The labelled pairs not returned before (the first call returns all)."""

    def read(self, keys: Sequence[str]) -> list[tuple[str, int] | None]:
        """The current (document, label) of each key (``None`` when it has gone)."""


def pair_key(query: str, doc: str) -> str:
    """A stable key for a labelled pair without a cache key (rows from a labels file)."""
    return "row:" + hashlib.sha256(f"{query}\x00{doc}".encode()).hexdigest()[:24]


class RowsSource:
    """Labelled pairs held in memory (a labels file, or rows a bench or test adds)."""

    def __init__(
        self, identity: JudgeIdentity, rows: Iterable[MemoryRow] = (), where: str = "rows"
    ):
        self.identity, self.where = identity, where
        self._rows: dict[str, tuple[str, int]] = {}
        self._pending: list[MemoryRow] = []
        for row in rows:
            self.add(row)

    def add(self, row: MemoryRow) -> None:
        self._rows[row.key] = (row.doc, int(row.label))
        self._pending.append(row)

    def poll(self) -> list[MemoryRow]:
        out, self._pending = self._pending, []
        return out

    def read(self, keys: Sequence[str]) -> list[tuple[str, int] | None]:
        return [self._rows.get(k) for k in keys]


def file_source(path: str | Path, identity: JudgeIdentity, rubric: Rubric) -> RowsSource:
    """A labels file (``judgecache export`` JSONL) of exactly ``identity`` on ``rubric``'s task."""
    from judgecache.distill.data import load_labels

    labels = load_labels(path, task=rubric.task)
    if labels.judge != identity:
        raise MemoryIdentityError(
            f"memory {path}: its labels come from {labels.judge}, but this judge learned from "
            f"{identity}; a memory must hold the same teacher's labels"
        )
    rows = (
        MemoryRow(pair_key(p.first, p.second), p.first, p.second, int(p.label))
        for p in labels.pairs
    )
    return RowsSource(identity, rows, where=str(path))


class StoreSource:
    """The labels of one judge identity in a cache store; new keys are read on each poll."""

    def __init__(self, url: str, identity: JudgeIdentity, rubric: Rubric) -> None:
        from judgecache.store import open_store

        self.identity, self.where, self.rubric = identity, url, rubric
        self.store = open_store(url)
        self._seen: set[str] = set()
        self.others: dict[str, int] = {}

    def poll(self) -> list[MemoryRow]:
        from judgecache.envelope import Envelope
        from judgecache.export import judge_name

        new = [k for k in self.store.keys() if k not in self._seen]
        out: list[MemoryRow] = []
        want = str(self.identity)
        fields = self.rubric.fields
        for start in range(0, len(new), 1000):
            chunk = new[start : start + 1000]
            for key, raw in zip(chunk, self.store.get_many(chunk), strict=True):
                if raw is None:
                    continue
                self._seen.add(key)
                try:
                    env = Envelope.from_json(raw)
                except StorageError:
                    continue  # never read an unreadable entry as a label
                name = judge_name(env.judge)
                if env.task != self.rubric.task:
                    continue
                if name != want:
                    self.others[name] = self.others.get(name, 0) + 1
                    continue
                texts = [env.inputs.get(f) for f in fields]
                if not isinstance(env.label, int) or not all(isinstance(t, str) for t in texts):
                    continue
                out.append(MemoryRow(key, str(texts[0]), str(texts[1]), int(env.label)))
        return out

    def read(self, keys: Sequence[str]) -> list[tuple[str, int] | None]:
        from judgecache.envelope import Envelope

        out: list[tuple[str, int] | None] = []
        field_name = self.rubric.fields[1]
        for raw in self.store.get_many(list(keys)):
            try:
                env = Envelope.from_json(raw) if raw is not None else None
            except StorageError:
                env = None
            doc = env.inputs.get(field_name) if env is not None else None
            label = env.label if env is not None else None
            ok = isinstance(doc, str) and isinstance(label, int)
            out.append((str(doc), int(label)) if ok else None)  # type: ignore[arg-type]
        return out


def open_source(spec: str | Path, identity: JudgeIdentity, rubric: Rubric) -> LabelSource:
    """A cache URL (``memory://`` is refused: a fresh one is empty) or a labels file path."""
    from judgecache.distill.data import CACHE_SCHEMES

    text = str(spec)
    if text.startswith(CACHE_SCHEMES):
        if text.startswith("memory://"):
            raise ConfigError(
                "memory=memory:// would be a fresh, empty cache; give a diskcache:// or redis:// "
                "URL, or a labels file"
            )
        source = StoreSource(text, identity, rubric)
        first = source.poll()
        if not first and source.others:
            listed = ", ".join(f"{k} ({v})" for k, v in sorted(source.others.items()))
            raise MemoryIdentityError(
                f"memory {text} holds no labels of {identity} for task {rubric.task!r}, only of "
                f"{listed}; a memory must hold the same teacher's labels"
            )
        rows = RowsSource(identity, first, where=text)
        return _Chained(source, rows)
    return file_source(text, identity, rubric)


class _Chained:
    """A store source whose first poll was already read (to check its identity)."""

    def __init__(self, store: StoreSource, first: RowsSource) -> None:
        self.store, self.first = store, first
        self.identity, self.where = store.identity, store.where

    def poll(self) -> list[MemoryRow]:
        return self.first.poll() + self.store.poll()

    def read(self, keys: Sequence[str]) -> list[tuple[str, int] | None]:
        return self.store.read(keys)


@dataclass
class QueryIndex:
    """One query's labelled documents: keys, embeddings, grades and base scores (rows aligned)."""

    keys: list[str] = field(default_factory=list)
    vecs: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    grades: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    base: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


@dataclass
class MemoryAnswer:
    """Per target document: whether the memory answered, its probabilities and label, and why."""

    used: NDArray[np.bool_]
    # P(positive): the memory's where ``used``, the recalibrated fallback's where
    # ``recalibrated`` (the caller keeps its label there), else NaN.
    prob: NDArray[np.float64]
    p_at_least: NDArray[np.float64]  # (n, cuts); NaN rows where it did not answer
    labels: NDArray[np.int64]  # -1 where it did not answer
    why: list[str]
    recalibrated: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))


class QueryMemory:
    """Labels of the same query as evidence; see the module docstring for the policy."""

    def __init__(
        self,
        source: LabelSource,
        embed: Embed,
        base: BaseScore,
        rubric: Rubric,
        *,
        k: int = DEFAULT_K,
        max_queries: int = 256,
        max_docs: int = 500,
        fit_queries: int = 200,
        refit_growth: float = 0.5,
    ) -> None:
        labels = [int(v) for v in rubric.labels]
        if len(labels) < 2 or not all(isinstance(v, int) for v in rubric.labels):
            raise ConfigError(f"a query memory needs an integer label scale, not {rubric.labels}")
        self.source, self.embed, self.base, self.rubric = source, embed, base, rubric
        self.labels, self.positive_from = labels, int(rubric.positive_from)
        self.k, self.max_queries, self.max_docs = k, max_queries, max_docs
        self.fit_queries, self.refit_growth = fit_queries, refit_growth
        # query -> {key: label}, insertion-ordered (the newest label last).
        self.catalog: dict[str, dict[str, int]] = {}
        self.indexes: OrderedDict[str, QueryIndex] = OrderedDict()
        self.combiner: Combiner | None = None
        self.fallback: FallbackCalibration | None = None
        self.fitted_at = 0
        self.fit_error: str | None = None

    @property
    def size(self) -> int:
        """How many labelled pairs the memory has read."""
        return sum(len(v) for v in self.catalog.values())

    def refresh(self) -> int:
        """Read the labels the source gained since the last call; how many were new."""
        rows = self.source.poll()
        for row in rows:
            entries = self.catalog.setdefault(row.query, {})
            entries.pop(row.key, None)  # a re-label moves to the newest end
            entries[row.key] = int(row.label)
        return len(rows)

    def status(self, query: str) -> str | None:
        """``None`` when the memory can answer for ``query``, else why it falls back."""
        entries = self.catalog.get(query)
        if not entries:
            return "query not in memory"
        if len(entries) < 2:
            return "query has one label in memory"
        positive = self.one_class(query)
        if positive is not None:
            kept = min(len(entries), self.max_docs)
            kind = "positive" if positive else "negative"
            return f"query has one class in memory ({kept} labels, all {kind})"
        return None

    def one_class(self, query: str) -> bool | None:
        """Whether the query's memory is all positive (True) / all negative (False); else None."""
        # Judged on the labels the index keeps (the newest ``max_docs``), which are what it reads.
        kept = list(self.catalog.get(query, {}).values())[-self.max_docs :]
        pos = sum(1 for v in kept if v >= self.positive_from)
        if not kept or 0 < pos < len(kept):
            return None
        return pos == len(kept)

    def index(self, query: str) -> QueryIndex:
        """The query's index, built or extended lazily (only new labelled documents are embedded).

        Every call re-reads the query's labels from the source, so a re-label or a deleted entry
        counts at once (one ``get_many`` of at most ``max_docs`` keys).
        """
        entries = self.catalog.get(query, {})
        wanted = list(entries)[-self.max_docs :]
        current = dict(zip(wanted, self.source.read(wanted), strict=True))
        for k, now in current.items():
            if now is None:
                entries.pop(k, None)  # the entry has left the store: forget it
            else:
                entries[k] = now[1]
        keys = [k for k in wanted if current[k] is not None]
        idx = self.indexes.pop(query, None) or QueryIndex()
        if idx.keys != keys:
            old = {k: i for i, k in enumerate(idx.keys)}
            new = [k for k in keys if k not in old]
            texts = [current[k][0] for k in new]  # type: ignore[index]
            at = {k: i for i, k in enumerate(new)}
            new_vecs = self.embed(texts) if texts else np.zeros((0, 0), np.float32)
            new_base = np.asarray(self.base(query, texts)) if texts else np.zeros(0)
            vecs = [idx.vecs[old[k]] if k in old else new_vecs[at[k]] for k in keys]
            base = [idx.base[old[k]] if k in old else new_base[at[k]] for k in keys]
            idx = QueryIndex(keys, np.asarray(vecs, np.float32), idx.grades, np.asarray(base))
        idx.grades = np.asarray([entries[k] for k in idx.keys], dtype=np.int64)
        self.indexes[query] = idx
        while len(self.indexes) > self.max_queries:
            self.indexes.popitem(last=False)  # the least recently used query's index
        return idx

    def fit(self) -> Combiner | None:
        """Fit the combiner leave-one-out on (up to ``fit_queries``) usable queries, and the
        fallback's calibration on one-class views of (up to ``fit_queries``) memory queries."""
        self.refresh()
        self.fallback = self._fit_fallback()
        usable = [q for q in self.catalog if self.status(q) is None]
        rng = np.random.default_rng(0)
        if len(usable) > self.fit_queries:
            usable = [usable[i] for i in sorted(rng.choice(len(usable), self.fit_queries, False))]
        feats, grades = [], []
        for q in usable:
            idx = self.index(q)
            f, g = leave_one_out(
                idx.vecs @ idx.vecs.T,
                idx.grades,
                idx.base,
                labels=self.labels,
                positive_from=self.positive_from,
                k=self.k,
            )
            feats.append(f)
            grades.append(g)
        self.fitted_at = self.size
        try:
            self.combiner = Combiner.fit(
                np.concatenate(feats) if feats else np.zeros((0, len(feature_names(self.labels)))),
                np.concatenate(grades) if grades else np.zeros(0),
                labels=self.labels,
                positive_from=self.positive_from,
            )
            self.fit_error = None
        except InsufficientDataError as exc:
            self.combiner, self.fit_error = None, str(exc)
        return self.combiner

    def view_sources(self) -> tuple[list[ViewSource], list[int]]:
        """What the fallback's one-class views are drawn from: ``(sims, grades, base)`` of (up to
        ``fit_queries``) memory queries with two labels or more, and the view sizes -- the label
        counts of the memory's real one-class queries (:data:`NEW_QUERY_SIZES` when none)."""
        queries = [q for q in self.catalog if len(self.catalog[q]) >= 2]
        if len(queries) > self.fit_queries:
            rng = np.random.default_rng(1)
            queries = [
                queries[i] for i in sorted(rng.choice(len(queries), self.fit_queries, False))
            ]
        sizes = [
            min(len(entries), self.max_docs)
            for q, entries in self.catalog.items()
            if self.one_class(q) is not None
        ]
        indexes = [self.index(q) for q in queries]
        sources: list[ViewSource] = [(ix.vecs @ ix.vecs.T, ix.grades, ix.base) for ix in indexes]
        return sources, sizes or list(NEW_QUERY_SIZES)

    def _fit_fallback(self) -> FallbackCalibration:
        sources, sizes = self.view_sources()
        return fit_fallback(sources, positive_from=self.positive_from, sizes=sizes)

    def _maybe_fit(self) -> None:
        grown = self.size >= max(1, self.fitted_at) * (1 + self.refit_growth)
        if self.fitted_at == 0 or grown:
            self.fit()

    def predict(
        self, query: str, docs: Sequence[str], base: NDArray[Any] | None = None
    ) -> MemoryAnswer:
        """The memory's answer for documents of one query (``base``: their base scores)."""
        self.refresh()
        if query in self.catalog:
            self.index(query)  # re-reads this query's labels (re-labels count at once)
        n = len(docs)
        cuts = len(self.labels) - 1
        out = MemoryAnswer(
            np.zeros(n, bool),
            np.full(n, np.nan),
            np.full((n, cuts), np.nan),
            np.full(n, -1, np.int64),
            [""] * n,
            np.zeros(n, bool),
        )
        why = self.status(query)
        positive = self.one_class(query)
        if positive is not None and n:
            return self._recalibrated(out, query, docs, base, why or "", positive)
        if why is None:
            self._maybe_fit()
            if self.combiner is None:
                why = f"the memory cannot fit its combiner yet: {self.fit_error}"
        if why is not None or self.combiner is None or n == 0:
            out.why = [why or ""] * n
            return out
        idx = self.index(query)
        b = self.base(query, docs) if base is None else np.asarray(base, dtype=np.float64)
        feats = target_features(
            self.embed(docs) @ idx.vecs.T,
            idx.vecs @ idx.vecs.T,
            idx.grades,
            idx.base,
            b,
            labels=self.labels,
            positive_from=self.positive_from,
            k=self.k,
        )
        p = self.combiner.p_at_least(feats)
        n_pos = int((idx.grades >= self.positive_from).sum())
        out.used[:] = True
        out.p_at_least = p
        out.prob = p[:, self.combiner.pos_cut]
        out.labels = self.combiner.grades(p)
        out.why = [f"{len(idx.keys)} labels of this query in memory ({n_pos} positive)"] * n
        return out

    def _recalibrated(
        self,
        out: MemoryAnswer,
        query: str,
        docs: Sequence[str],
        base: NDArray[Any] | None,
        why: str,
        positive: bool,
    ) -> MemoryAnswer:
        """A one-class (or one-label) query: the fallback's probability from the one-class map."""
        self._maybe_fit()
        cal = self.fallback
        p = None
        if cal is not None:
            b = self.base(query, docs) if base is None else base
            p = cal.prob(np.asarray(b, dtype=np.float64), positive=positive)
        if cal is None or p is None:
            reason = "not recalibrated" if cal is None else cal.describe(positive)
            out.why = [f"{why}; {reason}"] * len(docs)
            return out
        out.prob, out.recalibrated[:] = p, True
        out.why = [f"{why}; {cal.describe(positive)}"] * len(docs)
        return out


def fitted_on_query(meta: Mapping[str, str] | None) -> bool:
    """Whether a verdict's probability was fitted on the teacher's labels of its own query.

    True for the memory path and for the one-class recalibrated fallback; an audited cascade keeps
    a label-free stop on such pairs and audits the rest (:func:`judgecache.cascade.run_batch`).

    >>> fitted_on_query({"path": "memory"}), fitted_on_query({"path": "fallback"})
    (True, False)
    >>> fitted_on_query({"path": "fallback", "calibration": "one-class"})
    True
    """
    m = meta or {}
    return m.get("path") == MEMORY_PATH or m.get("calibration") == ONE_CLASS_CALIBRATION


def path_counts(metas: Iterable[Mapping[str, str] | None]) -> dict[str, int]:
    """How many verdicts each path gave (from the ``path`` entry of their envelope meta).

    >>> path_counts([{"path": "memory"}, {"path": "fallback"}, {}, None])
    {'memory': 1, 'fallback': 1}
    """
    out: dict[str, int] = {}
    for meta in metas:
        path = (meta or {}).get("path")
        if path:
            out[path] = out.get(path, 0) + 1
    return out
