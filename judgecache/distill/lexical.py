"""Cheap lexical features of a pair, computed inside the student beside the embedding cosine.

A mean-pooled bi-encoder cosine says "same topic"; it is blind to whether the passage actually
contains the query's rare terms, which is much of what a relevance judge looks at. These features
add that, at the cost of a word split and a dictionary lookup per pair:

* ``idf_coverage`` -- idf-weighted share of the query's distinct words found in the document;
* ``term_coverage`` -- plain share of the query's distinct words found in the document;
* ``bm25`` -- BM25 (k1 0.9, b 0.4) of the document for the query, divided by the query's idf mass;
* ``log_doc_len`` -- log of (1 + the document's word count).

The idf table is estimated from the training documents and saved as ``lexical.json`` beside the
student (JSON, never pickle). The "query" is always the protected side (the query/answer), the
"document" the other side.

Example:
    >>> lex = LexicalScorer.fit(["paris is the capital of france", "berlin is big", "the sea"])
    >>> f = lex.features("capital of france", "paris is the capital of france")
    >>> [round(x, 3) for x in f[:2]]
    [1.0, 1.0]
    >>> lex.features("capital of france", "the sea")[1]
    0.0
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from judgecache.errors import DistillationError

FEATURES = ("idf_coverage", "term_coverage", "bm25", "log_doc_len")
LEXICAL_FORMAT = 1
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (unicode ``\\w+``).

    >>> words("What's a Wi-Fi router?")
    ['what', 's', 'a', 'wi', 'fi', 'router']
    """
    return _WORD.findall(text.lower())


class LexicalScorer:
    """Turns (query, document) into the :data:`FEATURES`, with an idf table from training docs."""

    def __init__(
        self,
        idf: Mapping[str, float],
        *,
        unseen_idf: float,
        avgdl: float,
        k1: float = 0.9,
        b: float = 0.4,
    ) -> None:
        self.idf = dict(idf)
        self.unseen_idf = float(unseen_idf)
        self.avgdl = max(float(avgdl), 1.0)
        self.k1 = float(k1)
        self.b = float(b)

    @property
    def names(self) -> tuple[str, ...]:
        return FEATURES

    @classmethod
    def fit(cls, docs: Iterable[str]) -> LexicalScorer:
        """Estimate idf (BM25's ``log(1 + (N - df + 0.5) / (df + 0.5))``) on distinct documents."""
        unique = list(dict.fromkeys(docs))
        if not unique:
            raise DistillationError("the lexical features need at least one training document")
        df: Counter[str] = Counter()
        total = 0
        for doc in unique:
            w = words(doc)
            total += len(w)
            df.update(set(w))
        n = len(unique)
        idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        # A word never seen in training is at least as rare as one seen once.
        unseen = math.log(1 + (n + 0.5) / 0.5)
        return cls(idf, unseen_idf=unseen, avgdl=total / n)

    def term_idf(self, term: str) -> float:
        return self.idf.get(term, self.unseen_idf)

    def features(self, query: str, doc: str) -> tuple[float, ...]:
        """The feature vector of one pair, in :data:`FEATURES` order."""
        q_terms = list(dict.fromkeys(words(query)))
        d_words = words(doc)
        counts = Counter(d_words)
        dl = len(d_words)
        if not q_terms:
            return (0.0, 0.0, 0.0, math.log1p(dl))
        weights = [self.term_idf(t) for t in q_terms]
        mass = sum(weights) or 1.0
        found = [counts.get(t, 0) for t in q_terms]
        idf_cov = sum(w for w, c in zip(weights, found, strict=True) if c) / mass
        term_cov = sum(1 for c in found if c) / len(q_terms)
        norm = self.k1 * (1 - self.b + self.b * dl / self.avgdl)
        bm25 = sum(
            w * c * (self.k1 + 1) / (c + norm) for w, c in zip(weights, found, strict=True) if c
        )
        return (idf_cov, term_cov, bm25 / mass, math.log1p(dl))

    def batch(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, ...]]:
        """Features of many (query, document) pairs."""
        return [self.features(q, d) for q, d in pairs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": LEXICAL_FORMAT,
            "features": list(FEATURES),
            "k1": self.k1,
            "b": self.b,
            "avgdl": self.avgdl,
            "unseen_idf": self.unseen_idf,
            "idf": {t: round(v, 6) for t, v in sorted(self.idf.items())},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "lexical.json") -> LexicalScorer:
        if d.get("format") != LEXICAL_FORMAT or list(d.get("features", [])) != list(FEATURES):
            raise DistillationError(
                f"{where}: unsupported lexical features (format {d.get('format')!r}, features "
                f"{d.get('features')!r}); expected format {LEXICAL_FORMAT} with {list(FEATURES)}"
            )
        try:
            return cls(
                {str(k): float(v) for k, v in d["idf"].items()},
                unseen_idf=float(d["unseen_idf"]),
                avgdl=float(d["avgdl"]),
                k1=float(d["k1"]),
                b=float(d["b"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DistillationError(f"{where}: malformed lexical table: {exc!r}") from exc

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LexicalScorer:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DistillationError(f"cannot read {path}: {exc}") from exc
        return cls.from_dict(data, str(path))
