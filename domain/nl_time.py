"""Calendar days in the Netherlands (Europe/Amsterdam), without the tz database.

Statutory deadlines are calendar dates in the Netherlands. Workflows only know UTC
(`workflow.now()`), and tz data must stay out of the replay path (a tzdata upgrade must not
change a replayed decision), so the EU summer-time rule in force since 1996 is written out here:
CEST (UTC+2) from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC,
CET (UTC+1) otherwise. Tests check it against the IANA database.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta, timezone
from functools import cache

_CET = timedelta(hours=1)
_CEST = timedelta(hours=2)


@cache  # asked a dozen times per wake of a case, for the same two days a year
def _last_sunday(year: int, month: int) -> date:
    # The 31st exists in both March and October, the only months we need.
    last = date(year, month, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def utc_offset(instant: datetime) -> timedelta:
    """The Amsterdam offset from UTC at an aware instant."""
    utc = instant.astimezone(timezone.utc)
    start = datetime.combine(_last_sunday(utc.year, 3), time(1), timezone.utc)
    end = datetime.combine(_last_sunday(utc.year, 10), time(1), timezone.utc)
    return _CEST if start <= utc < end else _CET


def local_date(instant: datetime) -> date:
    """The Amsterdam calendar date of an aware instant."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return (instant.astimezone(timezone.utc) + utc_offset(instant)).date()


def start_of_day(day: date) -> datetime:
    """The UTC instant at which `day` begins in Amsterdam."""
    # Local midnight is never inside a transition (they happen at 02:00/03:00 local), and it
    # falls in summer time exactly when the day lies after the March switch and up to and
    # including the October switch day.
    summer = _last_sunday(day.year, 3) < day <= _last_sunday(day.year, 10)
    offset = _CEST if summer else _CET
    return datetime.combine(day, time(0), timezone.utc) - offset


def wall_clock(day: date, after: timedelta) -> datetime:
    """The UTC instant at which clocks in Amsterdam show `after` past midnight on `day`.

    Not `start_of_day(day) + after` on the two days a year the clocks change: from 03:00 on, that is an hour late in
    March and an hour early in October. A time inside the hour the clocks skip or repeat (02:00-03:00) has no single
    answer; none is asked for."""
    shown = datetime.combine(day, time(0), timezone.utc) + after
    at_night = shown - utc_offset(start_of_day(day))
    return shown - utc_offset(at_night)


def clocks_change(day: date) -> bool:
    """Whether the clocks in Amsterdam change on `day` (the last Sundays of March and October)."""
    return day.month in (3, 10) and day == _last_sunday(day.year, day.month)


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    """Monday to Friday, and not one of `holidays` (the case's public holidays, computed when it opened)."""
    return day.weekday() < 5 and day not in holidays


def next_working_day(day: date, holidays: Collection[date] = ()) -> date:
    """`day` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day
