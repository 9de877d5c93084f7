"""Report periods: an ISO week, a date range, a relative window resolved to dates, or everything.

A period's ``label`` seeds the sampler's hash, so a period must resolve to the same label when the
same run is repeated: relative windows are resolved to whole UTC days.

Example:
    >>> p = Period.parse("2025-W02")
    >>> p.label, p.start.isoformat(), p.end.isoformat()
    ('2025-W02', '2025-01-06T00:00:00+00:00', '2025-01-13T00:00:00+00:00')
    >>> Period.parse("2025-01-01..2025-01-08").contains(parse_timestamp("2025-01-07T23:59:00Z"))
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from judgecache.errors import ConfigError

FORMATS = "'all', 'YYYY-Www', 'YYYY-MM-DD..YYYY-MM-DD', 'last-Nd' or 'previous-week'"


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` accepted); a naive time is taken as UTC.

    >>> parse_timestamp("2025-01-02T03:04:05Z").isoformat()
    '2025-01-02T03:04:05+00:00'
    """
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    """A half-open UTC time window ``[start, end)``; ``None`` bounds are open."""

    label: str
    start: datetime | None = None
    end: datetime | None = None

    def contains(self, when: datetime) -> bool:
        """True when ``when`` lies in ``[start, end)``."""
        if self.start is not None and when < self.start:
            return False
        return self.end is None or when < self.end

    def days(self) -> set[str] | None:
        """The UTC dates (``YYYY-MM-DD``) this period touches, or ``None`` when unbounded."""
        if self.start is None or self.end is None:
            return None
        out, day = set(), self.start.date()
        while _day(day) < self.end:
            out.add(day.isoformat())
            day += timedelta(days=1)
        return out

    @classmethod
    def parse(cls, text: str, *, now: datetime | None = None) -> Period:
        """Parse a period spec; ``now`` (UTC) resolves the relative forms."""
        spec = text.strip()
        now = now or datetime.now(UTC)
        if spec == "all":
            return cls("all")
        if m := re.fullmatch(r"(\d{4})-W(\d{2})", spec):
            try:
                start = _day(date.fromisocalendar(int(m[1]), int(m[2]), 1))
            except ValueError as exc:
                raise ConfigError(f"period {spec!r}: {exc}") from exc
            return cls(spec, start, start + timedelta(days=7))
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", spec):
            try:
                start, end = _day(date.fromisoformat(m[1])), _day(date.fromisoformat(m[2]))
            except ValueError as exc:
                raise ConfigError(f"period {spec!r}: {exc}") from exc
            if end <= start:
                raise ConfigError(f"period {spec!r}: the end date must be after the start date")
            return cls(spec, start, end)
        if m := re.fullmatch(r"last-(\d+)d", spec):
            end = _day(now.astimezone(UTC).date()) + timedelta(days=1)
            start = end - timedelta(days=int(m[1]))
            if int(m[1]) < 1:
                raise ConfigError(f"period {spec!r}: the window must be at least one day")
            return cls(f"{start.date()}..{end.date()}", start, end)
        if spec == "previous-week":
            year, week, _ = (now.astimezone(UTC) - timedelta(days=7)).isocalendar()
            return cls.parse(f"{year}-W{week:02d}")
        raise ConfigError(f"unknown period {spec!r}: expected {FORMATS}")
