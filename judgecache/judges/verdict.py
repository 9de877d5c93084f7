"""What :meth:`Judge.score` returns: the label plus where it came from.

Example:
    >>> from judgecache.envelope import Envelope
    >>> env = Envelope(label=2, score=None, raw_output="2", task="relevance",
    ...                judge={"provider": "callable", "model": "f", "version": "1"},
    ...                inputs={"query": "q", "doc": "d"})
    >>> v = Verdict.from_envelope(env, key="jc1:ab", cached=True)
    >>> v.label, v.score, v.cached
    (2, 2.0, True)
"""

from __future__ import annotations

import msgspec

from judgecache.envelope import Envelope, Label


class Verdict(msgspec.Struct, frozen=True, gc=False):
    """A judged pair.

    ``score`` is the teacher's score or probability when it gave one, else the label as a number
    (so graded labels sort naturally). ``cached`` is True when no teacher call was made for it in
    this request. Like :class:`Envelope`, a frozen struct the cyclic garbage collector does not
    track (it holds an envelope and plain values, never a cycle): one is built per cache hit.
    """

    label: Label
    score: float | None
    cached: bool
    key: str
    envelope: Envelope

    @property
    def reason(self) -> str | None:
        return self.envelope.reason

    @property
    def raw_output(self) -> str:
        return self.envelope.raw_output

    @property
    def cost_usd(self) -> float:
        return self.envelope.cost_usd

    @classmethod
    def from_envelope(cls, env: Envelope, *, key: str, cached: bool) -> Verdict:
        return verdict_of(env, key, cached)


def verdict_of(env: Envelope, key: str, cached: bool) -> Verdict:
    """:meth:`Verdict.from_envelope` with positional arguments: the hit path builds one per cached
    pair, and keyword arguments to a classmethod cost as much again.

    >>> from judgecache.envelope import Envelope
    >>> env = Envelope(label=1, score=None, raw_output="1", task="t", judge={}, inputs={})
    >>> verdict_of(env, "jc1:ab", True).score
    1.0
    """
    label, score = env.label, env.score
    if score is None and isinstance(label, int | float):
        score = float(label)
    return Verdict(label, score, cached, key, env)
