"""Business-hours arithmetic: weekends, holidays and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from crm_tickets.sla.calendar import Calendar

WARSAW = ZoneInfo("Europe/Warsaw")
NINE_TO_FIVE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WARSAW)


def test_the_clock_skips_the_weekend() -> None:
    cal = Calendar.from_config("Europe/Warsaw", NINE_TO_FIVE, [])
    friday_four = local(2026, 11, 20, 16, 0)
    due = cal.add(friday_four, 2 * 3600)
    assert due == local(2026, 11, 23, 10, 0)
    assert cal.seconds_between(friday_four, local(2026, 11, 23, 10, 0)) == 2 * 3600
    # Saturday noon counts nothing, and a start on Sunday counts from Monday 09:00.
    assert cal.seconds_between(local(2026, 11, 21, 12), local(2026, 11, 22, 23)) == 0
    assert cal.add(local(2026, 11, 22, 12), 60) == local(2026, 11, 23, 9, 1)


def test_a_holiday_is_not_a_working_day() -> None:
    cal = Calendar.from_config("Europe/Warsaw", NINE_TO_FIVE, ["2026-11-23"])
    assert cal.add(local(2026, 11, 20, 16, 0), 2 * 3600) == local(2026, 11, 24, 10, 0)


def test_working_hours_stay_working_hours_across_the_dst_change() -> None:
    # Clocks go back on Sunday 2026-10-25 in Warsaw (CEST +02:00 -> CET +01:00).
    cal = Calendar.from_config("Europe/Warsaw", NINE_TO_FIVE, [])
    due = cal.add(local(2026, 10, 23, 16, 0), 2 * 3600)
    assert due == local(2026, 10, 26, 10, 0)
    assert due is not None and due.astimezone(UTC) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    # Wall-clock elapsed is 67 hours (one hour gained), working time is two.
    assert due - local(2026, 10, 23, 16, 0) == timedelta(hours=67)
    # A Sunday shift 00:00-12:00 local is 13 real hours on the night the clocks go back.
    sunday = Calendar.from_config("Europe/Warsaw", {"sun": [["00:00", "12:00"]]}, [])
    assert sunday.seconds_between(local(2026, 10, 25, 0), local(2026, 10, 26, 0)) == 13 * 3600
    # ... and 11 on the night they go forward (2026-03-29).
    assert sunday.seconds_between(local(2026, 3, 29, 0), local(2026, 3, 30, 0)) == 11 * 3600


def test_a_calendar_without_hours_runs_around_the_clock() -> None:
    start = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
    assert Calendar().add(start, 3600) == start + timedelta(hours=1)
