"""Our written-out Europe/Amsterdam rule agrees with the IANA database."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from domain.nl_time import local_date, next_working_day, start_of_day

AMS = ZoneInfo("Europe/Amsterdam")


def test_local_date_matches_iana_every_half_hour_around_transitions():
    for year in range(2004, 2032):
        for month, day in ((3, 24), (10, 24)):
            t = datetime(year, month, day, tzinfo=timezone.utc)
            for _ in range(8 * 48):
                assert local_date(t) == t.astimezone(AMS).date(), t
                t += timedelta(minutes=30)


def test_start_of_day_is_local_midnight_every_day_for_years():
    d = date(2019, 1, 1)
    while d < date(2031, 1, 1):
        expected = datetime(d.year, d.month, d.day, tzinfo=AMS).astimezone(timezone.utc)
        assert start_of_day(d) == expected, d
        d += timedelta(days=1)


def test_next_working_day_skips_weekend():
    assert next_working_day(date(2025, 10, 25)) == date(2025, 10, 27)  # Saturday -> Monday
    assert next_working_day(date(2025, 10, 26)) == date(2025, 10, 27)  # Sunday -> Monday
    assert next_working_day(date(2025, 10, 24)) == date(2025, 10, 24)  # Friday stays
