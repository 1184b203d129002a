"""Business-hours arithmetic: how much working time lies between two instants, and which
instant is N working seconds after another, in a tenant's time zone, weekly hours and
holidays. Days are walked in local time, so a DST change shortens or lengthens nothing but
the night: 09:00-17:00 stays eight working hours on the day the clocks move."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3 * 366  # a target further than this is treated as never reached


@dataclass(frozen=True)
class Calendar:
    timezone: str = "UTC"
    # weekday -> list of (start, end) local times; an empty dict means 24x7
    weekly: dict[str, list[tuple[time, time]]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    @property
    def always_open(self) -> bool:
        return not self.weekly

    @classmethod
    def from_config(
        cls, timezone: str, weekly_hours: dict[str, list[list[str]]], holidays: list[str]
    ) -> Calendar:
        weekly = {
            day: [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in spans]
            for day, spans in weekly_hours.items()
            if spans
        }
        return cls(timezone, weekly, frozenset(date.fromisoformat(h) for h in holidays))

    def _windows(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows (UTC) from the local day containing `start` onwards."""
        zone = ZoneInfo(self.timezone)
        day = start.astimezone(zone).date()
        for _ in range(MAX_DAYS):
            if day not in self.holidays:
                for a, b in self.weekly.get(WEEKDAYS[day.weekday()], []):
                    yield (
                        datetime.combine(day, a, zone).astimezone(UTC),
                        datetime.combine(day, b, zone).astimezone(UTC),
                    )
            day += timedelta(days=1)

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end)."""
        if end <= start:
            return 0.0
        if self.always_open:
            return (end - start).total_seconds()
        total = 0.0
        for a, b in self._windows(start):
            if a >= end:
                break
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        return total

    def add(self, start: datetime, seconds: float) -> datetime | None:
        """The instant `seconds` working seconds after `start` (None: not within 3 years)."""
        if seconds <= 0:
            return start
        if self.always_open:
            return start + timedelta(seconds=seconds)
        left = seconds
        for a, b in self._windows(start):
            lo = max(a, start)
            if b <= lo:
                continue
            span = (b - lo).total_seconds()
            if span >= left:
                return lo + timedelta(seconds=left)
            left -= span
        return None


ALWAYS = Calendar()
