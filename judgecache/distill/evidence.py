"""SummaC-style evidence selection for faithfulness: short (evidence, claim) pairs from long ones.

A cross-encoder reads a few hundred tokens; a news article is thousands. Cutting the source at
its head loses the sentence a claim rests on. Instead each claim (a sentence of the answer) is
paired with the source sentences that share the most of its rare words (idf weighted within the
source), kept in source order up to a word budget. A pair thus stays short enough to train on 2
CPU cores, and the evidence a claim needs is usually inside it.

Scoring an answer: split it into claims, score each (evidence, claim) pair, and keep the weakest
claim (an answer is as faithful as its least supported sentence). Training pairs keep the answer
whole, with evidence chosen for the whole answer.

Example:
    >>> source = "The cat sat on the mat. Rain fell in Paris on Monday. Stocks rose."
    >>> select_evidence(source, "It rained in Paris.", max_words=6)
    'Rain fell in Paris on Monday.'
    >>> split_claims("Rain fell all day. It was cold. Paris had no sun at all.")
    ['Rain fell all day. It was cold.', 'Paris had no sun at all.']
    >>> answer = "Rain fell in Paris on Monday. Stocks rose sharply in London."
    >>> pairs, owners = expand_claims([(source, answer)], max_words=6)
    >>> owners
    [0, 0]
    >>> pairs[1]
    ('Stocks rose.', 'Stocks rose sharply in London.')
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+|\s*</?t>\s*")
WORD = re.compile(r"\w+")
STOPWORDS = frozenset(
    WORD.findall(
        "a an and are as at be been but by for from had has have he her his i in is it its of on "
        "or she that the their they this to was were which who will with you we our not no"
    )
)
MIN_CLAIM_WORDS = 4
"""A sentence shorter than this joins its neighbour: fragments are no claims on their own."""


@dataclass(frozen=True)
class EvidenceSettings:
    """How a faithfulness student cuts pairs (recorded in ``student.json``).

    ``max_words`` bounds the evidence (0: keep the whole source); ``split_claims`` scores each
    sentence of the answer apart and keeps the weakest.
    """

    max_words: int = 0
    split_claims: bool = False

    @property
    def active(self) -> bool:
        return self.max_words > 0


def sentences(text: str) -> list[str]:
    """Non-empty sentences (a text with no break is one sentence)."""
    return [s.strip() for s in SENTENCE_BREAK.split(text) if s and s.strip()] or [text]


def _content_words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]


def split_claims(answer: str) -> list[str]:
    """The answer's sentences, fragments of under four words merged into the one before."""
    claims: list[str] = []
    for sentence in sentences(answer):
        short = len(sentence.split()) < MIN_CLAIM_WORDS
        if claims and (short or len(claims[-1].split()) < MIN_CLAIM_WORDS):
            claims[-1] = f"{claims[-1]} {sentence}"
        else:
            claims.append(sentence)
    return claims or [answer]


@dataclass(frozen=True)
class SourceIndex:
    """A source cut into sentences with their content words and document frequencies.

    Built once per source and shared by every claim checked against it (an answer's claims, and
    the many answers of one source in a batch).
    """

    text: str
    sents: tuple[str, ...]
    words: tuple[frozenset[str], ...]
    df: Counter[str]

    @classmethod
    def of(cls, source: str) -> SourceIndex:
        sents = tuple(sentences(source))
        words = tuple(frozenset(_content_words(s)) for s in sents)
        return cls(source, sents, words, Counter(w for ws in words for w in ws))

    def evidence(self, claim: str, max_words: int) -> str:
        """The sentences that best cover the claim's words, in source order, within budget."""
        wanted = set(_content_words(claim))
        idf = {w: math.log(1 + len(self.sents) / self.df[w]) for w in wanted if self.df[w]}
        total = sum(idf.values()) or 1.0
        scores = [sum(idf.get(w, 0.0) for w in ws & wanted) / total for ws in self.words]
        order = sorted(range(len(self.sents)), key=lambda i: (-scores[i], i))
        chosen: list[int] = []
        used = 0
        for i in order:
            n = len(self.sents[i].split())
            if chosen and used + n > max_words:
                continue
            chosen.append(i)
            used += n
            if used >= max_words:
                break
        text = " ".join(self.sents[i] for i in sorted(chosen))
        return " ".join(text.split()[:max_words])


class _Sources:
    """Evidence for many (source, claim) pairs, each distinct source indexed once."""

    def __init__(self, max_words: int) -> None:
        self.max_words = max_words
        self._index: dict[str, SourceIndex] = {}

    def evidence(self, source: str, claim: str) -> str:
        if self.max_words <= 0 or len(source.split()) <= self.max_words:
            return source
        index = self._index.get(source)
        if index is None:
            index = self._index[source] = SourceIndex.of(source)
        return index.evidence(claim, self.max_words)


def select_evidence(source: str, claim: str, *, max_words: int) -> str:
    """The source sentences that best cover the claim's words, in source order, within budget.

    Each sentence scores the idf-weighted share of the claim's content words it contains (idf
    over the source's own sentences: a word in every sentence says little). The best sentences
    are taken until ``max_words``; the best one is always kept (cut to the budget if longer).
    """
    return _Sources(max_words).evidence(source, claim)


def cut_pairs(pairs: Sequence[tuple[str, str]], *, max_words: int) -> list[tuple[str, str]]:
    """One (evidence, answer) pair per pair: the evidence chosen for the whole answer."""
    sources = _Sources(max_words)
    return [(sources.evidence(src, ans), ans) for src, ans in pairs]


def expand_claims(
    pairs: Sequence[tuple[str, str]], *, max_words: int
) -> tuple[list[tuple[str, str]], list[int]]:
    """(evidence, claim) pairs for every claim of every answer, and the pair each came from."""
    sources = _Sources(max_words)
    out: list[tuple[str, str]] = []
    owners: list[int] = []
    for i, (src, ans) in enumerate(pairs):
        for claim in split_claims(ans):
            out.append((sources.evidence(src, claim), claim))
            owners.append(i)
    return out, owners


def evidence_view(
    pairs: Sequence[tuple[str, str]], settings: EvidenceSettings, *, claims: bool
) -> tuple[list[tuple[str, str]], list[int] | None]:
    """The pairs an encoder reads under ``settings``, and their owners when claims are split.

    ``claims=False`` (training) cuts evidence for the whole answer; ``claims=True`` (scoring)
    also splits the answer when the settings ask for it. Inactive settings change nothing.

    >>> evidence_view([("a b c. d e f.", "d e")], EvidenceSettings(), claims=True)
    ([('a b c. d e f.', 'd e')], None)
    """
    if not settings.active:
        return list(pairs), None
    if claims and settings.split_claims:
        return expand_claims(pairs, max_words=settings.max_words)
    return cut_pairs(pairs, max_words=settings.max_words), None


def weakest_claim(
    logits: NDArray[np.float64], owners: Sequence[int], n_pairs: int
) -> NDArray[np.float64]:
    """Per pair, the row of its least supported claim (lowest positive logit, last column).

    >>> weakest_claim(np.array([[2.0], [-1.0], [0.5]]), [0, 0, 1], 2).ravel().tolist()
    [-1.0, 0.5]
    """
    out = np.full((n_pairs, logits.shape[1]), np.inf)
    owner = np.asarray(owners, dtype=np.int64)
    # Cumulative logits fall together for a weaker claim, so the minimum per column is the
    # weakest claim's row (exactly so for binary targets, where there is one column).
    np.minimum.at(out, owner, logits)
    return out
