"""The statutory clock: due dates from first sick days, the four-week rule, rule sets, deviations."""

from datetime import date, timedelta

import pytest

from domain.clock import Clock, PeriodError, build_periods, split_into_cases, statutory_calendar
from domain.rules import parse_rulebook
from service.rulebook import load_rulebook

RULEBOOK = load_rulebook()


def calendar(first: date, *interruptions: tuple[date, date | None]) -> dict[str, date | None]:
    periods = build_periods(first, list(interruptions))
    steps = statutory_calendar(RULEBOOK.for_first_sick_day(first), periods)
    return {(s.key if s.occurrence is None else f"{s.key}#{s.occurrence}"): s.due for s in steps}


def test_issue_example_first_sick_day_monday_6_january_2025():
    cal = calendar(date(2025, 1, 6))
    assert cal["ziekmelding_arbodienst"] == date(2025, 1, 12)
    assert cal["probleemanalyse"] == date(2025, 2, 16)  # end of week 6 = day 42
    assert cal["plan_van_aanpak"] == date(2025, 3, 2)  # end of week 8
    assert cal["evaluatie#1"] == date(2025, 4, 13)  # six weeks after the plan
    assert cal["ziekmelding_uwv"] == date(2025, 10, 27)  # day 295 is a Sunday: next working day
    assert cal["eerstejaarsevaluatie"] == date(2026, 1, 4)
    assert cal["spoor2_start"] == date(2026, 2, 15)  # week 58
    assert cal["wia_brief_uwv"] == date(2026, 9, 20)  # week 89
    assert cal["reintegratieverslag"] == date(2026, 10, 4)  # week 91
    assert cal["wia_aanvraag"] == date(2026, 10, 18)  # week 93
    assert cal["einde_wachttijd"] == date(2027, 1, 3)  # week 104 = day 728


def test_across_a_year_end():
    cal = calendar(date(2024, 12, 30))
    assert cal["ziekmelding_arbodienst"] == date(2025, 1, 5)
    assert cal["probleemanalyse"] == date(2025, 2, 9)
    assert cal["einde_wachttijd"] == date(2026, 12, 27)


def test_across_a_leap_day():
    cal = calendar(date(2024, 2, 1))
    assert cal["probleemanalyse"] == date(2024, 3, 13)  # 29 February counts as a day
    cal = calendar(date(2023, 2, 1))
    assert cal["probleemanalyse"] == date(2023, 3, 14)


@pytest.mark.parametrize("first", [date(2025, 1, 6), date(2023, 7, 1), date(2027, 12, 31), date(2028, 2, 29)])
def test_week_n_ends_on_day_7n(first):
    cal = calendar(first)
    for key, week in [
        ("probleemanalyse", 6),
        ("plan_van_aanpak", 8),
        ("eerstejaarsevaluatie", 52),
        ("reintegratieverslag", 91),
        ("einde_wachttijd", 104),
    ]:
        assert cal[key] == first + timedelta(days=7 * week - 1), key
    # The UWV sick report is due the first working day after week 42.
    day_after = first + timedelta(days=7 * 42)
    uwv = cal["ziekmelding_uwv"]
    assert uwv is not None
    assert uwv >= day_after and uwv.weekday() < 5
    assert (uwv - day_after).days <= 2


def test_four_week_rule_adds_up_periods_and_moves_later_deadlines_by_the_gap():
    first = date(2025, 1, 6)
    plain = calendar(first)
    # Back at work on 20 January, sick again on 3 February: a 14-day gap.
    shifted = calendar(first, (date(2025, 1, 20), date(2025, 2, 3)))
    assert shifted["ziekmelding_arbodienst"] == plain["ziekmelding_arbodienst"]  # before the gap
    for key in (
        "probleemanalyse",
        "plan_van_aanpak",
        "ziekmelding_uwv",
        "eerstejaarsevaluatie",
        "wia_aanvraag",
        "einde_wachttijd",
    ):
        new, old = shifted[key], plain[key]
        assert new is not None and old is not None, key
        gap = (new - old).days
        # The UWV report rolls to a working day, so it may move by the gap +-2 days.
        assert gap == 14 or (key == "ziekmelding_uwv" and abs(gap - 14) <= 2), key


def test_two_gaps_add_up():
    first = date(2025, 1, 6)
    cal = calendar(first, (date(2025, 1, 13), date(2025, 1, 20)), (date(2025, 3, 3), date(2025, 3, 24)))
    plain = calendar(first)["einde_wachttijd"]
    assert plain is not None
    assert cal["einde_wachttijd"] == plain + timedelta(days=7 + 21)


def test_gap_of_four_weeks_or_more_starts_a_new_case():
    first = date(2025, 1, 6)
    periods = build_periods(first, [(date(2025, 2, 1), date(2025, 3, 1))])  # 28 days
    cases = split_into_cases(periods, 28)
    assert len(cases) == 2 and cases[1][0].start == date(2025, 3, 1)
    periods = build_periods(first, [(date(2025, 2, 1), date(2025, 2, 28))])  # 27 days
    assert len(split_into_cases(periods, 28)) == 1


def test_recovered_without_relapse_pauses_the_clock():
    clock = Clock(build_periods(date(2025, 1, 6), [(date(2025, 1, 20), None)]))
    assert clock.paused
    assert clock.date_of_day(14) == date(2025, 1, 19)
    assert clock.date_of_day(15) is None
    cal = calendar(date(2025, 1, 6), (date(2025, 1, 20), None))
    assert cal["ziekmelding_arbodienst"] == date(2025, 1, 12) and cal["probleemanalyse"] is None


@pytest.mark.parametrize(
    "interruptions, field",
    [
        ([(date(2025, 1, 6), date(2025, 1, 10))], "recovered"),  # back at work on the first sick day
        ([(date(2025, 1, 20), date(2025, 1, 19))], "relapse"),  # relapse before recovery
        ([(date(2025, 1, 20), date(2025, 1, 20))], "relapse"),
        ([(date(2025, 1, 20), None), (date(2025, 2, 20), None)], "relapse"),  # two recoveries, no relapse
        ([(date(2025, 1, 20), date(2025, 2, 1)), (date(2025, 1, 25), None)], "recovered"),  # out of order
    ],
)
def test_impossible_periods_are_refused_naming_the_field(interruptions, field):
    with pytest.raises(PeriodError) as err:
        build_periods(date(2025, 1, 6), interruptions)
    assert err.value.field == field


def test_day_of_date_counts_only_sick_days():
    clock = Clock(build_periods(date(2025, 1, 6), [(date(2025, 1, 20), date(2025, 2, 3))]))
    assert clock.day_of_date(date(2025, 1, 5)) == 0
    assert clock.day_of_date(date(2025, 1, 19)) == 14
    assert clock.day_of_date(date(2025, 1, 25)) == 14  # in the gap
    assert clock.day_of_date(date(2025, 2, 3)) == 15
    assert clock.week_of_date(date(2025, 2, 3)) == 3


def test_rule_set_is_chosen_by_first_sick_day():
    assert RULEBOOK.for_first_sick_day(date(2012, 12, 31)).deadline("wia_aanvraag").week == 91
    assert RULEBOOK.for_first_sick_day(date(2013, 1, 1)).deadline("wia_aanvraag").week == 93
    # A based_on rule set keeps every other step of its base.
    assert RULEBOOK.for_first_sick_day(date(2013, 1, 1)).deadline("probleemanalyse").week == 6
    with pytest.raises(ValueError, match="first_sick_day"):
        RULEBOOK.for_first_sick_day(date(2001, 1, 1))


def test_rules_change_without_code():
    from importlib import resources

    original = resources.files("domain").joinpath("rulebook.toml").read_text("utf-8")
    amended = original + (
        '\n[[ruleset]]\nid = "test-2030"\nbased_on = "wia-2013"\nvalid_from = 2030-01-01\n'
        'description = "a jurist moves the probleemanalyse"\n\n'
        '  [[ruleset.deadline]]\n  key = "probleemanalyse"\n  week = 5\n'
    )
    book = parse_rulebook(amended)
    new = book.for_first_sick_day(date(2030, 1, 7))
    old = book.for_first_sick_day(date(2029, 12, 31))
    assert new.id == "test-2030" and old.id == "wia-2013"
    new_cal = {s.key: s.due for s in statutory_calendar(new, build_periods(date(2030, 1, 7), []))}
    assert new_cal["probleemanalyse"] == date(2030, 2, 10)  # day 35


def test_rulebook_refuses_inconsistent_rules():
    bad = (
        '[[ruleset]]\nid="x"\nvalid_from=2020-01-01\ndescription="x"\nfour_week_rule_days=28\n'
        "max_loonsanctie_weeks=52\nloonsanctie_ends_weeks_after_repair=6\nmax_voluntary_extension_weeks=52\n"
        'views_required_from=2023-07-01\n[[ruleset.deadline]]\nkey="probleemanalyse"\nlabel="x"\nweek=6\n'
        'actor="x"\nsource="x"\n'
    )
    with pytest.raises(ValueError, match="missing deadline"):
        parse_rulebook(bad)
