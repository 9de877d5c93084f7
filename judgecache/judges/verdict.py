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

from dataclasses import dataclass

from judgecache.envelope import Envelope, Label


@dataclass(frozen=True)
class Verdict:
    """A judged pair.

    ``score`` is the teacher's score or probability when it gave one, else the label as a number
    (so graded labels sort naturally). ``cached`` is True when no teacher call was made for it in
    this request.
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
        label, score = env.label, env.score
        if score is None and isinstance(label, int | float):
            score = float(label)
        # Built on every cache hit: fill the frozen instance's dict at once instead of five
        # object.__setattr__ calls in the generated __init__ (what it stores is the same).
        verdict = _new(cls)
        verdict.__dict__.update(label=label, score=score, cached=cached, key=key, envelope=env)
        return verdict


_new = object.__new__
