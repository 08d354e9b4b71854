"""The verzuim figures against hand computations (domain.figures), and a case's facts as the store receives them
(domain.facts). Every expected number is worked out in the comment above it."""

from __future__ import annotations

from datetime import date

import pytest

from domain import case as rules
from domain.errors import ActionRefused
from domain.facts import CaseRow, Spell, derive
from domain.figures import Employment, Period, PeriodKind, compute, period_of, periods_between
from domain.figures_access import figure_employers
from domain.models import Role
from tests.domain.test_case_rules import act, new_case

MARCH = period_of(PeriodKind.MONTH, date(2025, 3, 15))  # 31 days
Q1 = period_of(PeriodKind.QUARTER, date(2025, 2, 1))  # 90 days


def spell(case_id: str, start: date, end: date | None, incapacity: int = 100, reported: bool = True) -> Spell:
    return Spell(case_id=case_id, employer_id="E1", start=start, end=end, incapacity=incapacity, reported=reported)


def case(case_id: str, key: str, employer: str = "E1") -> CaseRow:
    return CaseRow(
        case_id=case_id, employer_id=employer, first_sick_day=date(2025, 1, 1), stage="spoor1", person_keys=(key,)
    )


STAFF = [
    Employment(employer_id="E1", employee_key="k1", start=date(2020, 1, 1), part_time_factor=1.0),
    Employment(employer_id="E1", employee_key="k2", start=date(2020, 1, 1), part_time_factor=0.5),
    # Joins on 17 March: 15 days of March (17..31).
    Employment(employer_id="E1", employee_key="k3", start=date(2025, 3, 17), part_time_factor=0.8),
    Employment(employer_id="E2", employee_key="k9", start=date(2020, 1, 1), part_time_factor=1.0),
]
# C1: the half-timer k2, sick 20 February up to 11 March (back at work on the 11th): crosses into March.
C1 = (case("C1", "k2"), [spell("C1", date(2025, 2, 20), date(2025, 3, 11))])
# C2: the full-timer k1, sick from 24 March, back for 60% on the 28th (incapacity 40%), still sick at the end.
C2 = (
    case("C2", "k1"),
    [spell("C2", date(2025, 3, 24), date(2025, 3, 28)), spell("C2", date(2025, 3, 28), None, 40, reported=False)],
)
# Another employer's case: never counted for E1.
C9 = (
    case("C9", "k9", "E2"),
    [Spell(case_id="C9", employer_id="E2", start=date(2025, 3, 1), end=None, incapacity=100, reported=True)],
)


def test_a_month_with_part_timers_partial_incapacity_and_a_case_crossing_its_border():
    f = compute("E1", MARCH, [C1, C2, C9], STAFF)
    # Employment days × part-time factor: 31 × 1 + 31 × 0.5 + 15 × 0.8 = 58.5.
    # Sick days × factor × incapacity: C1 1–10 March = 10 × 0.5 × 1 = 5; C2 24–27 March 4 × 1 × 1 = 4 and
    # 28–31 March 4 × 1 × 0.4 = 1.6; together 10.6. Vernet: 10.6 / 58.5 × 100 = 18.12.
    assert f.verzuimpercentage == 18.12
    # CBS, no factors: sick days 10 + 8 = 18; employment days 31 + 31 + 15 = 77. 18 / 77 × 100 = 23.38.
    assert f.verzuimpercentage_cbs == 23.38
    # One new report in March (C2; C1 reported in February). Average headcount 77 / 31 = 2.48.
    # Per year: 1 / (77 / 31) × 12 = 4.83.
    assert (f.sick_reports, f.average_headcount, f.meldingsfrequentie) == (1, 2.48, 4.83)
    # C1 ended in March (last sick day 10 March), counted from 20 February: 8 + 11 = 19 days. C2 has not ended.
    assert (f.cases_ended, f.gemiddelde_verzuimduur) == (1, 19.0)
    # C1 lasted 19 days (15–91); C2 8 days up to the end of March (1–14).
    assert f.duration_classes == {"1-14": 1, "15-91": 1, "92-365": 0, "366-730": 0}
    assert f.cases_without_employment == 0
    assert (f.period, f.start, f.end) == ("2025-03", date(2025, 3, 1), date(2025, 3, 31))


def test_a_running_month_counts_its_days_up_to_today_and_no_day_after():
    # Today is 26 March: March runs up to and including it (26 days); no later day counts.
    f = compute("E1", MARCH.so_far(date(2025, 3, 26)), [C1, C2], STAFF)
    assert f.running and (f.period, f.start, f.end) == ("2025-03", date(2025, 3, 1), date(2025, 3, 26))
    # Employment days × factor: 26 × 1 + 26 × 0.5 + 10 (17..26) × 0.8 = 47. Sick: C1 10 × 0.5 = 5; C2 24–26 March
    # 3 × 1 = 3; together 8. Vernet: 8 / 47 × 100 = 17.02.
    assert f.verzuimpercentage == 17.02
    # CBS: sick days 10 + 3 = 13; employment days 26 + 26 + 10 = 62: 13 / 62 × 100 = 20.97.
    assert f.verzuimpercentage_cbs == 20.97
    # One report; headcount 62 / 26 = 2.38; per year over the days counted: 1 / 2.38 × 12 × 31 / 26 = 6.0.
    assert (f.sick_reports, f.average_headcount, f.meldingsfrequentie) == (1, 2.38, 6.0)
    # C2 has lasted 3 days so far (24–26 March), not 8 up to the month's end.
    assert f.duration_classes == {"1-14": 1, "15-91": 1, "92-365": 0, "366-730": 0}
    # A month that has ended is itself; one not begun is not listed.
    assert MARCH.so_far(date(2025, 4, 2)) == MARCH and not compute("E1", MARCH, [C1], STAFF).running
    assert [
        p.label for p in periods_between(PeriodKind.MONTH, date(2025, 2, 1), date(2025, 5, 1), date(2025, 3, 26))
    ] == [
        "2025-02",
        "2025-03",
    ]


def test_a_long_running_case_counts_its_length_up_to_today():
    # Sick since 20 December 2024, still sick. Today, 10 December 2025, it has lasted 356 days (20 Dec .. 10 Dec):
    # 92–365. Up to the month's end it would have said 377 days, 366–730: a class it has not reached.
    long = (case("C3", "k1"), [spell("C3", date(2024, 12, 20), None)])
    december = period_of(PeriodKind.MONTH, date(2025, 12, 1))
    so_far = compute("E1", december.so_far(date(2025, 12, 10)), [long], STAFF).duration_classes
    assert (so_far["92-365"], so_far["366-730"]) == (1, 0)


def test_a_quarter_counts_its_reports_four_times_to_compare_with_a_year():
    f = compute("E1", Q1, [C1], STAFF[:2])
    # 90 days; weighted employment 90 × 1 + 90 × 0.5 = 135; C1's 19 sick days × 0.5 = 9.5: 9.5 / 135 × 100 = 7.04.
    assert f.verzuimpercentage == 7.04
    # CBS: 19 / 180 × 100 = 10.56. Headcount 180 / 90 = 2; one report: 1 / 2 × 4 = 2.0.
    assert (f.verzuimpercentage_cbs, f.average_headcount, f.meldingsfrequentie) == (10.56, 2.0, 2.0)


def test_a_period_without_cases_is_zero_and_has_no_average_duration():
    f = compute("E1", MARCH, [C9], STAFF)
    assert (f.verzuimpercentage, f.verzuimpercentage_cbs, f.meldingsfrequentie) == (0.0, 0.0, 0.0)
    assert f.gemiddelde_verzuimduur is None and f.cases_ended == 0
    assert sum(f.duration_classes.values()) == 0
    # Without employment data there is nothing to divide by: no figure rather than a made-up one.
    empty = compute("E1", MARCH, [C1], [])
    assert (empty.verzuimpercentage, empty.meldingsfrequentie) == (None, None)


def test_an_employee_missing_from_the_employment_data_counts_at_factor_one_and_is_named():
    stranger = (case("C3", "unknown"), [spell("C3", date(2025, 3, 30), date(2025, 4, 2))])
    f = compute("E1", MARCH, [stranger], STAFF)
    # 30 and 31 March at factor 1: 2 / 58.5 × 100 = 3.42.
    assert (f.verzuimpercentage, f.cases_without_employment) == (3.42, 1)


def test_sick_days_after_the_employment_ended_do_not_count():
    leaver = [
        Employment(
            employer_id="E1", employee_key="k1", start=date(2020, 1, 1), end=date(2025, 3, 9), part_time_factor=1.0
        )
    ]
    sick = (case("C4", "k1"), [spell("C4", date(2025, 3, 5), None)])
    f = compute("E1", MARCH, [sick], leaver)
    # Employed 1–9 March (9 days), sick 5–9 March inside it (5 days): 5 / 9 × 100 = 55.56, by either definition.
    assert (f.verzuimpercentage, f.verzuimpercentage_cbs) == (55.56, 55.56)


def test_a_long_case_falls_in_the_last_class_and_its_whole_length_counts_for_the_duration():
    long = (case("C5", "k1"), [spell("C5", date(2023, 3, 1), date(2025, 3, 2))])
    f = compute("E1", MARCH, [long], STAFF)
    # 1 March 2023 to 2 March 2025 is 732 days: more than 730 counts as 366–730; the average takes all 732.
    assert f.duration_classes["366-730"] == 1 and f.gemiddelde_verzuimduur == 732.0


def test_periods_are_months_quarters_and_years_across_the_turn_of_the_year():
    assert period_of(PeriodKind.QUARTER, date(2025, 11, 30)) == Period(
        kind=PeriodKind.QUARTER, start=date(2025, 10, 1), end=date(2026, 1, 1)
    )
    months = periods_between(PeriodKind.MONTH, date(2025, 11, 15), date(2026, 2, 1))
    assert [p.label for p in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert [p.label for p in periods_between(PeriodKind.YEAR, date(2024, 5, 1), date(2025, 1, 1))] == ["2024", "2025"]


def test_who_sees_whose_figures():
    assert figure_employers(Role.OPERATIONS, None, None) is None
    assert figure_employers(Role.WERKGEVER, "E1", None) == {"E1"}
    assert figure_employers(Role.CASEMANAGER, None, ["E1", "E2"]) == {"E1", "E2"}
    with pytest.raises(ActionRefused, match="bedrijfsarts may not see verzuim figures"):
        figure_employers(Role.BEDRIJFSARTS, None, None)


def test_a_cases_facts_split_its_illness_at_a_partial_recovery_and_count_a_late_step():
    state = new_case()  # first sick day Monday 6 January 2025; the probleemanalyse is due at the end of week 6
    act(state, "probleemanalyse_recorded", date(2025, 2, 20), role="bedrijfsarts")
    act(state, "partial_recovery", date(2025, 2, 3), role="bedrijfsarts", percentage=50)
    act(state, "full_recovery", date(2025, 3, 3))
    act(state, "relapse", date(2025, 3, 10))
    facts = derive(state, date(2025, 3, 20))
    assert [(s.start, s.end, s.incapacity, s.reported) for s in facts.spells] == [
        (date(2025, 1, 6), date(2025, 2, 3), 100, True),
        (date(2025, 2, 3), date(2025, 3, 3), 50, False),
        (date(2025, 3, 10), None, 100, True),  # a relapse is a new ziekmelding
    ]
    steps = [e for e in facts.events if e.kind == "step_done"]
    due = next(v.due for v in rules.deadlines(state, date(2025, 3, 20)) if v.key == "probleemanalyse")
    assert due is not None
    assert [(e.detail, e.days_late) for e in steps] == [("probleemanalyse", (date(2025, 2, 20) - due).days)]
    assert steps[0].days_late and steps[0].days_late > 0
    assert [e.kind for e in facts.events if e.kind in ("partial_recovery", "recovered", "relapse")] == [
        "partial_recovery",
        "recovered",
        "relapse",
    ]
    # Derived again (a replay, a rebuild): the same rows, so the store's keys find them again.
    assert derive(state, date(2025, 3, 20)) == facts
