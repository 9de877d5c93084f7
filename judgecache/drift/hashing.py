"""Deterministic hashing for sampling decisions: the same id (and salt) always decides the same way.

Example:
    >>> unit_hash("jc1:ab") == unit_hash("jc1:ab"), 0.0 <= unit_hash("x", "2025-W02") < 1.0
    (True, True)
    >>> keep_by_rate("anything", 1.0), keep_by_rate("anything", 0.0)
    (True, False)
"""

from __future__ import annotations

import hashlib

_SCALE = 2**64


def hash64(text: str, salt: str = "") -> int:
    """The first 8 bytes of ``sha256(salt + NUL + text)`` as an unsigned integer."""
    digest = hashlib.sha256(f"{salt}\x00{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def unit_hash(text: str, salt: str = "") -> float:
    """:func:`hash64` mapped to ``[0, 1)``: a uniform pseudo-random number fixed by its inputs."""
    return hash64(text, salt) / _SCALE


def keep_by_rate(item_id: str, rate: float, salt: str = "prodlog") -> bool:
    """Keep an item iff ``hash64(item_id) < rate * 2**64``: the same items survive on every host."""
    if rate >= 1.0:
        return True
    return hash64(item_id, salt) < int(rate * _SCALE)
