"""A per-run budget: a maximum number of teacher calls and/or dollars, held under any concurrency.

Every call is *reserved* before it is made and the reservation is settled after it: committed at
its real cost when the call answered, released when it failed. A call may start only when the
calls made plus the calls in flight fit the call limit, and when the dollars spent plus every call
in flight (each at the highest cost one call has had so far) plus this one fit the dollar limit.
While the first priced call is still in flight its cost is unknown, so the others wait for it
rather than guess. A reservation that cannot fit *yet* (calls in flight may still fail and give
their slot back) waits; one that can never fit raises :class:`BudgetExceededError`.

The dollar limit holds exactly while calls cost no more than the dearest call seen so far; a call
dearer than every one before it can overshoot by the difference, never by a whole extra call.

Example:
    >>> b = Budget(max_calls=1)
    >>> b.reserve(); b.commit(0.01)
    >>> b.exhausted, b.describe()
    (True, 'budget exhausted: 1/1 teacher calls')
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from enum import Enum

from judgecache.errors import BudgetExceededError, ConfigError

# Dollar sums are floats: compare with a little slack so $0.1 + $0.2 fits a $0.3 limit.
_EPS = 1e-9


class _Decision(Enum):
    GO = "go"
    WAIT = "wait"
    STOP = "stop"


@dataclass
class Budget:
    """Thread-safe counters of calls and dollars against optional limits."""

    max_calls: int | None = None
    max_cost_usd: float | None = None
    calls: int = 0
    cost_usd: float = 0.0
    in_flight: int = 0
    _dearest: float | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def __post_init__(self) -> None:
        if self.max_calls is not None and self.max_calls < 0:
            raise ConfigError(f"max_calls must be >= 0, got {self.max_calls}")
        if self.max_cost_usd is not None and not self.max_cost_usd >= 0:
            raise ConfigError(f"max_cost_usd must be >= 0, got {self.max_cost_usd}")

    @property
    def exhausted(self) -> bool:
        """True when no further call can ever fit (calls in flight cannot free anything)."""
        with self._cond:
            return self._decide() is _Decision.STOP

    def _decide(self) -> _Decision:
        if self.max_calls is not None and self.calls + self.in_flight >= self.max_calls:
            return _Decision.WAIT if self.in_flight else _Decision.STOP
        if self.max_cost_usd is None:
            return _Decision.GO
        if self._dearest is None:  # no priced call has answered yet: its cost is unknown
            return _Decision.WAIT if self.in_flight else _Decision.GO
        need = self.cost_usd + (self.in_flight + 1) * self._dearest
        if self.cost_usd >= self.max_cost_usd - _EPS or need > self.max_cost_usd + _EPS:
            return _Decision.WAIT if self.in_flight else _Decision.STOP
        return _Decision.GO

    def try_reserve(self) -> bool:
        """Claim one call: True when claimed, False when it must wait for calls in flight.

        Raises :class:`BudgetExceededError` when no call can ever fit.
        """
        with self._cond:
            decision = self._decide()
            if decision is _Decision.STOP:
                raise BudgetExceededError(self._describe())
            if decision is _Decision.GO:
                self.in_flight += 1
                return True
            return False

    def reserve(self) -> None:
        """Claim one call, waiting while calls in flight decide whether it fits."""
        with self._cond:
            while True:
                decision = self._decide()
                if decision is _Decision.STOP:
                    raise BudgetExceededError(self._describe())
                if decision is _Decision.GO:
                    self.in_flight += 1
                    return
                self._cond.wait()

    async def areserve(self) -> None:
        """Async :meth:`reserve` (polls, so it never blocks the event loop)."""
        delay = 0.001
        while not self.try_reserve():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def commit(self, cost_usd: float) -> None:
        """Turn a reservation into a made call costing ``cost_usd``."""
        with self._cond:
            self.in_flight -= 1
            self.calls += 1
            self.cost_usd += cost_usd
            self._dearest = max(self._dearest or 0.0, cost_usd)
            self._cond.notify_all()

    def release(self) -> None:
        """Give back the reservation of a call that failed (it bought nothing)."""
        with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def describe(self) -> str:
        """What was spent against which limit (the message of :class:`BudgetExceededError`)."""
        with self._cond:
            return self._describe()

    def _describe(self) -> str:
        parts = []
        if self.max_calls is not None:
            parts.append(f"{self.calls}/{self.max_calls} teacher calls")
        if self.max_cost_usd is not None:
            spent = f"${self.cost_usd:.4f}/${self.max_cost_usd:.4f}"
            if self._dearest:
                spent += f" (a call costs up to ${self._dearest:.4f})"
            parts.append(spent)
        return "budget exhausted: " + ", ".join(parts)
