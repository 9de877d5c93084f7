"""A per-run budget: a maximum number of teacher calls and/or dollars.

Calls are reserved *before* they are made, so concurrent workers can never overshoot the call
limit; dollars are only known after a call, so the dollar limit stops new calls once reached.

Example:
    >>> b = Budget(max_calls=1)
    >>> b.reserve(); b.commit(0.01)
    >>> b.exhausted
    True
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from judgecache.errors import BudgetExceededError


@dataclass
class Budget:
    """Thread-safe counters of calls and dollars against optional limits."""

    max_calls: int | None = None
    max_cost_usd: float | None = None
    calls: int = 0
    cost_usd: float = 0.0
    _reserved: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.max_calls is not None and self.max_calls < 0:
            raise ValueError(f"max_calls must be >= 0, got {self.max_calls}")
        if self.max_cost_usd is not None and self.max_cost_usd < 0:
            raise ValueError(f"max_cost_usd must be >= 0, got {self.max_cost_usd}")

    @property
    def exhausted(self) -> bool:
        with self._lock:
            return self._exhausted_locked()

    def _exhausted_locked(self) -> bool:
        if self.max_calls is not None and self.calls + self._reserved >= self.max_calls:
            return True
        return self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd

    def reserve(self) -> None:
        """Claim one call or raise :class:`BudgetExceededError`."""
        with self._lock:
            if self._exhausted_locked():
                raise BudgetExceededError(self._describe())
            self._reserved += 1

    def commit(self, cost_usd: float) -> None:
        """Turn a reservation into a made call costing ``cost_usd``."""
        with self._lock:
            self._reserved -= 1
            self.calls += 1
            self.cost_usd += cost_usd

    def cancel(self) -> None:
        """Give back a reservation whose call was never made."""
        with self._lock:
            self._reserved -= 1

    def _describe(self) -> str:
        parts = []
        if self.max_calls is not None:
            parts.append(f"{self.calls}/{self.max_calls} teacher calls")
        if self.max_cost_usd is not None:
            parts.append(f"${self.cost_usd:.4f}/${self.max_cost_usd:.4f}")
        return "budget exhausted: " + ", ".join(parts)
