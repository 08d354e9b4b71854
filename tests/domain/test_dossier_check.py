"""The dossier check and the document schedule without Temporal: gaps, the loonsanctie pre-flight,
which documents fall due when, and who may ask for which version."""

from datetime import date, datetime, timedelta, timezone

import pytest

from domain import case as rules
from domain import dossier_check as dc
from domain.actions import parse_action
from domain.case import CaseOpening, documents_due, gaps, next_progress_report
from domain.documents import Audience, DocumentKind, add_months
from domain.errors import ActionRefused
from domain.models import SYSTEM, Role
from service.rulebook import load_dossier_rules, load_rulebook, load_spoor2_rules, load_stagnation_rules

FIRST = date(2025, 1, 6)
NOW = datetime(2025, 1, 6, 9, tzinfo=timezone.utc)
DOSSIER_RULES = load_dossier_rules()
PREFLIGHT = DOSSIER_RULES.preflight
_seq = iter(range(10**6))


def new_case(first: date = FIRST, version: int = rules.CURRENT_VERSION, **fields):
    opening = CaseOpening(
        case_id="C1",
        employer_id="E1",
        first_sick_day=first,
        opened_by={"role": "casemanager"},
        contacts={"casemanager": ["cm@example.nl"]},
        **fields,
    )
    return rules.open_case(
        opening,
        load_rulebook().for_first_sick_day(first),
        today=date(2030, 1, 1),
        now=NOW,
        version=version,
        spoor2_rules=load_spoor2_rules(),
        stagnation_rules=load_stagnation_rules(),
        dossier_rules=DOSSIER_RULES,
    )


def act(state, kind, on, role="casemanager", **fields):
    action = parse_action(
        {"kind": kind, "action_id": f"a{next(_seq)}", "actor": {"role": role}, "on": on.isoformat(), **fields}
    )
    return rules.apply(state, action, on, NOW)


def week(n: int) -> date:
    """The last day of week `n` of illness of a case without interruptions."""
    return FIRST + timedelta(days=7 * n - 1)


def spoor1_on_time(state):
    act(state, "ziekmelding_arbodienst_sent", FIRST)
    act(state, "probleemanalyse_recorded", week(5), role="bedrijfsarts")
    act(state, "plan_van_aanpak_agreed", week(7), casemanager_id="cm-1", employer_view="e", employee_view="w")


def gaps_by_key(state, today):
    return {g.key if g.occurrence is None else f"{g.key}#{g.occurrence}": g for g in gaps(state, today, PREFLIGHT)}


def test_a_late_probleemanalyse_is_a_gap_unless_its_reason_is_recorded():
    state = new_case()
    act(state, "ziekmelding_arbodienst_sent", FIRST)
    act(state, "probleemanalyse_recorded", week(9), role="bedrijfsarts")
    gap = gaps_by_key(state, week(9))["probleemanalyse"]
    assert gap.kind is dc.GapKind.LATE and gap.risk is dc.Risk.LOONSANCTIE
    assert (gap.due, gap.done_on) == (week(6), week(9))
    assert "21 dagen te laat" in gap.detail and "Reg art. 5" in gap.detail

    excused = new_case()
    act(excused, "ziekmelding_arbodienst_sent", FIRST)
    act(
        excused,
        "deadline_deviation",
        week(5),
        deadline="probleemanalyse",
        reason="In hospital, no consultation",
        new_due=week(10),
    )
    act(excused, "probleemanalyse_recorded", week(9), role="bedrijfsarts")
    assert "probleemanalyse" not in gaps_by_key(excused, week(9))


def test_a_missing_step_is_a_gap_and_a_late_ziekmelding_at_uwv_costs_a_fine_not_a_loonsanctie():
    state = new_case()
    spoor1_on_time(state)
    act(state, "ziekmelding_uwv_sent", week(45))
    found = gaps_by_key(state, week(46))
    assert found["ziekmelding_uwv"].kind is dc.GapKind.LATE and found["ziekmelding_uwv"].risk is dc.Risk.BOETE
    # No evaluation of the plan van aanpak was held: every occurrence that fell due is missing.
    assert found["evaluatie#1"].kind is dc.GapKind.MISSING and found["evaluatie#1"].due == week(13)
    assert "plan_van_aanpak" not in found and "probleemanalyse" not in found


def test_the_toets_says_every_step_was_on_time_only_when_none_is_missing_or_late():
    state = new_case(prior_steps=[{"key": "ziekmelding_arbodienst", "done_on": FIRST}])
    act(state, "probleemanalyse_recorded", week(5), role="bedrijfsarts")

    def effort(today: date) -> list[tuple[dc.PointStatus, str]]:
        found = rules.poortwachtertoets(state, today, PREFLIGHT)
        assert found is not None
        return [(p.status, p.label) for p in found.points if p.step is dc.ToetsStep.INSPANNINGEN]

    assert effort(week(7)) == [(dc.PointStatus.OK, "Wettelijke stappen")]  # the plan is not due yet
    # The plan van aanpak is overdue: an open point of the verslag (question 1), and no longer "every step on time".
    assert (dc.PointStatus.OK, "Wettelijke stappen") not in effort(week(10))


def test_a_plan_van_aanpak_taken_over_without_the_views_is_a_gap():
    state = new_case(
        stage="spoor1",
        prior_steps=[
            {"key": "ziekmelding_arbodienst", "done_on": FIRST},
            {"key": "probleemanalyse", "done_on": week(5)},
            {"key": "plan_van_aanpak", "done_on": week(7)},
        ],
    )
    gap = gaps_by_key(state, week(8))["plan_van_aanpak"]
    assert gap.kind is dc.GapKind.VIEWS_MISSING and "werkgever en werknemer" in gap.detail


def test_from_week_80_the_dossier_needs_a_recent_judgement_of_the_bedrijfsarts():
    state = new_case()
    spoor1_on_time(state)
    assert "actueel_oordeel" not in gaps_by_key(state, week(79))
    gap = gaps_by_key(state, week(80) + timedelta(days=1))["actueel_oordeel"]
    assert gap.kind is dc.GapKind.NO_RECENT_OORDEEL and gap.done_on == week(5)
    act(state, "bedrijfsarts_oordeel", week(78), role="bedrijfsarts", belastbaarheid_hours_per_day=4)
    assert "actueel_oordeel" not in gaps_by_key(state, week(81))
    assert "actueel_oordeel" in gaps_by_key(state, week(78) + timedelta(weeks=PREFLIGHT.recent_oordeel_weeks, days=1))


def _preflight_entries(state):
    return [e for e in state.dossier if e.kind == "preflight"]


def test_the_preflight_notifies_each_week_it_finds_gaps_climbing_to_operations():
    state = new_case()
    spoor1_on_time(state)
    day80 = week(80) + timedelta(days=1)
    rules.tick(state, today=day80 - timedelta(days=1), now=NOW)
    assert not _preflight_entries(state)
    notes = [n for n in rules.tick(state, today=day80, now=NOW) if n.kind == "preflight_gaps"]
    assert sorted(n.recipient_role for n in notes) == [Role.CASEMANAGER, Role.WERKGEVER]
    cm = next(n for n in notes if n.recipient_role is Role.CASEMANAGER)
    assert cm.recipients == ["cm@example.nl"] and "evaluatie" in cm.body and "actueel" in cm.body.lower()
    [entry] = _preflight_entries(state)
    assert entry.details["week"] == 80 and entry.details["gaps"]
    # Idempotent: the same day again sends nothing new.
    assert not [n for n in rules.tick(state, today=day80, now=NOW) if n.kind == "preflight_gaps"]
    notes84 = [n for n in rules.tick(state, today=week(84) + timedelta(days=1), now=NOW) if n.kind == "preflight_gaps"]
    assert Role.OPERATIONS in {n.recipient_role for n in notes84}


def test_a_late_wake_runs_only_the_latest_preflight_and_a_clean_dossier_notifies_no_one():
    state = new_case()
    spoor1_on_time(state)
    notes = [n for n in rules.tick(state, today=week(85), now=NOW) if n.kind == "preflight_gaps"]
    assert {n.notification_id.split(":")[2] for n in notes} == {"84"}
    assert state.documents.preflights_run == [80, 84] and len(_preflight_entries(state)) == 1

    clean = new_case(
        stage="spoor2",
        prior_steps=[
            {"key": k, "done_on": week(w)}
            for k, w in [
                ("ziekmelding_arbodienst", 1),
                ("probleemanalyse", 5),
                ("ziekmelding_uwv", 42),
                ("spoor2_start", 55),
            ]
        ],
    )
    clean.evaluations = []  # evaluations and views are what the case below records itself
    act(clean, "plan_van_aanpak_agreed", week(7), casemanager_id="cm-1", employer_view="e", employee_view="w")
    for n in range(13):
        act(clean, "evaluatie_held", week(13 + 6 * n))
    act(clean, "eerstejaarsevaluatie_held", week(52), employer_view="e", employee_view="w")
    act(clean, "bedrijfsarts_oordeel", week(79), role="bedrijfsarts")
    assert gaps(clean, week(80) + timedelta(days=1), PREFLIGHT) == []
    assert [
        n for n in rules.tick(clean, today=week(80) + timedelta(days=1), now=NOW) if n.kind == "preflight_gaps"
    ] == []
    assert "has everything" in _preflight_entries(clean)[0].summary


def test_the_case_wakes_in_the_morning_of_the_preflight():
    state = new_case()
    spoor1_on_time(state)
    act(state, "bedrijfsarts_oordeel", week(79), role="bedrijfsarts")
    for n in range(12):
        act(state, "evaluatie_held", week(13 + 6 * n))
    wake = rules.next_wake(state, week(80) - timedelta(days=2))
    assert wake is not None and wake.date() <= week(80) + timedelta(days=1)


def test_documents_fall_due_on_events_monthly_in_spoor2_and_on_request_each_once():
    state = new_case()
    state.spoor2.started_on = date(2026, 1, 31)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    due = documents_due(state, date(2026, 4, 30))
    reports = [o for o in due if o.kind is DocumentKind.VOORTGANGSRAPPORTAGE]
    assert [(o.period_start, o.period_end) for o in reports] == [
        (date(2026, 1, 31), date(2026, 2, 27)),
        (date(2026, 2, 28), date(2026, 3, 30)),
        (date(2026, 3, 31), date(2026, 4, 29)),
    ]
    assert next_progress_report(state, date(2026, 4, 30)) == date(2026, 5, 31)
    state.log(now=NOW, on=date(2026, 2, 10), actor=SYSTEM, kind="spoor2:intake_held", summary="intake")
    state.log(
        now=NOW,
        on=date(2026, 3, 10),
        actor=SYSTEM,
        kind="spoor2:haalbaarheidstoets_decided",
        summary="no",
        details={"decision": "no_go"},
    )
    state.log(now=NOW, on=date(2026, 3, 20), actor=SYSTEM, kind="stage_changed", summary="wia", details={"to": "wia"})
    kinds = {o.order_id: o.kind for o in documents_due(state, date(2026, 4, 30))}
    assert kinds["intakeverslag"] is DocumentKind.INTAKEVERSLAG and kinds["no_go_rapport"] is DocumentKind.NO_GO_RAPPORT
    assert kinds["reintegratieoverzicht-wia"] is DocumentKind.REINTEGRATIEOVERZICHT
    state.documents.done.extend(["intakeverslag", "voortgangsrapportage-1"])
    assert {"intakeverslag", "voortgangsrapportage-1"}.isdisjoint(
        o.order_id for o in documents_due(state, date(2026, 4, 30))
    )


def test_who_may_ask_for_which_version_and_what_a_request_needs():
    state = new_case()
    spoor1_on_time(state)
    with pytest.raises(ActionRefused, match="audience: the bedrijfsarts version is not for the werkgever"):
        act(
            state,
            "document_requested",
            week(8),
            role="werkgever",
            document="reintegratieoverzicht",
            audience="bedrijfsarts",
        )
    with pytest.raises(ActionRefused, match="no spoor 2 intake"):
        act(state, "document_requested", week(8), document="intakeverslag")
    with pytest.raises(ActionRefused, match="spoor 2 has not started"):
        act(state, "document_requested", week(8), document="voortgangsrapportage")
    entry = act(
        state,
        "document_requested",
        week(8),
        role="bedrijfsarts",
        document="reintegratieoverzicht",
        audience="bedrijfsarts",
    )
    [order] = [o for o in documents_due(state, week(8)) if o.order_id.startswith("request:")]
    assert order.audience is Audience.BEDRIJFSARTS and order.action_id == entry.action_id
