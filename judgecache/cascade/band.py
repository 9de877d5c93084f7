"""The uncertain band of a cascade: which calibrated probabilities go to the teacher.

A pair whose student probability ``p`` satisfies ``lo <= p <= hi`` is *escalated* to the teacher;
every other pair is *kept* (the student's decision stands). ``lo > hi`` is the empty band: nothing
is escalated. The band's digest is part of the cascade's cache identity, so a new band never
serves answers cached under the old one.

Example:
    >>> b = Band(0.2, 0.7)
    >>> b.escalates(0.5), b.escalates(0.9), Band.keep_all().escalates(0.5)
    (True, False, False)
    >>> Band.from_dict(b.to_dict()) == b, len(b.digest())
    (True, 12)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from judgecache.errors import ConfigError
from judgecache.keys import canonical_json


@dataclass(frozen=True)
class Band:
    """Escalate ``lo <= p <= hi``; ``lo > hi`` escalates nothing (see :meth:`keep_all`)."""

    lo: float
    hi: float

    def __post_init__(self) -> None:
        for name in ("lo", "hi"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"band {name} must be a number in [0, 1], got {value!r}")
            if not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"band {name} must be in [0, 1], got {value!r}")
        # Normalise ints so that equal bands compare and digest equal.
        object.__setattr__(self, "lo", float(self.lo))
        object.__setattr__(self, "hi", float(self.hi))

    @classmethod
    def keep_all(cls) -> Band:
        """The empty band: the student answers everything."""
        return cls(1.0, 0.0)

    @property
    def empty(self) -> bool:
        """True when no probability is escalated."""
        return self.lo > self.hi

    def escalates(self, p: float) -> bool:
        """Whether a pair with calibrated probability ``p`` goes to the teacher."""
        return self.lo <= p <= self.hi

    def mask(self, probs: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Elementwise :meth:`escalates`."""
        p = np.asarray(probs, dtype=np.float64)
        return (p >= self.lo) & (p <= self.hi)

    def to_dict(self) -> dict[str, float]:
        return {"lo": self.lo, "hi": self.hi}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "band") -> Band:
        """Read ``{"lo": ..., "hi": ...}``; unknown or missing keys are errors naming them."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: expected an object with keys ['hi', 'lo']")
        unknown = sorted(set(d) - {"lo", "hi"})
        missing = sorted({"lo", "hi"} - set(d))
        if unknown or missing:
            raise ConfigError(
                f"{where}: unknown keys {unknown}, missing keys {missing}; valid keys: ['hi', 'lo']"
            )
        return cls(d["lo"], d["hi"])

    @classmethod
    def parse(cls, text: str) -> Band:
        """``"LO,HI"`` (e.g. ``"0.2,0.8"``) or ``"none"`` for the empty band.

        >>> Band.parse("0.2, 0.8")
        Band(lo=0.2, hi=0.8)
        """
        if text.strip().lower() == "none":
            return cls.keep_all()
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2:
            raise ConfigError(f"band {text!r}: expected 'LO,HI' (e.g. '0.2,0.8') or 'none'")
        try:
            lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise ConfigError(f"band {text!r}: LO and HI must be numbers in [0, 1]") from None
        if lo > hi:
            raise ConfigError(f"band {text!r}: LO must be <= HI (write 'none' for no band)")
        return cls(lo, hi)

    def digest(self) -> str:
        """12 hex characters of sha256 over the canonical JSON of the band."""
        return hashlib.sha256(canonical_json(self.to_dict())).hexdigest()[:12]

    def __str__(self) -> str:
        return "none" if self.empty else f"[{self.lo:.4g}, {self.hi:.4g}]"
