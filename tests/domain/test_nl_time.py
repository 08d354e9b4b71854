"""Our written-out Europe/Amsterdam rule agrees with the IANA database."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from domain.nl_time import clocks_change, local_date, next_working_day, start_of_day, wall_clock

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


def test_wall_clock_is_the_instant_amsterdams_clocks_show_that_time_also_on_the_days_they_change():
    d = date(2024, 1, 1)
    while d < date(2031, 1, 1):
        hours = [0, 1, 3, 6, 7, 23] if clocks_change(d) else [0, 2, 6, 7, 23]  # 02:00-03:00 skipped or repeated
        for hour in hours:
            for minute in (0, 5, 59):
                expected = datetime(d.year, d.month, d.day, hour, minute, tzinfo=AMS).astimezone(timezone.utc)
                assert wall_clock(d, timedelta(hours=hour, minutes=minute)) == expected, (d, hour, minute)
        d += timedelta(days=1)


def test_the_clocks_change_on_the_last_sundays_of_march_and_october_only():
    changing = [d for d in (date(2027, 1, 1) + timedelta(days=n) for n in range(365)) if clocks_change(d)]
    assert changing == [date(2027, 3, 28), date(2027, 10, 31)]
    for d in changing:  # as the IANA database has it: the offset at noon is not the one at midnight
        assert (
            datetime(d.year, d.month, d.day, tzinfo=AMS).utcoffset()
            != datetime(d.year, d.month, d.day, 12, tzinfo=AMS).utcoffset()
        )


def test_next_working_day_skips_weekend():
    assert next_working_day(date(2025, 10, 25)) == date(2025, 10, 27)  # Saturday -> Monday
    assert next_working_day(date(2025, 10, 26)) == date(2025, 10, 27)  # Sunday -> Monday
    assert next_working_day(date(2025, 10, 24)) == date(2025, 10, 24)  # Friday stays
