"""Every refused action names its reason, changes nothing, and never enters the history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType

from operations.cases import ActionRejected


async def accepted_updates(driver) -> int:
    history = await driver.handle.fetch_history()
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


async def assert_refused(driver, kind, on, message, **fields):
    before_state = (await driver.state()).model_dump()
    before_updates = await accepted_updates(driver)
    with pytest.raises(ActionRejected) as err:
        await driver.act(kind, on, **fields)
    assert message in str(err.value)
    assert (await driver.state()).model_dump() == before_state
    assert await accepted_updates(driver) == before_updates
    return str(err.value)


@pytest.fixture
async def opened(driver):
    first = await driver.today() - timedelta(days=10)
    await driver.open(first)
    driver.first = first
    return driver


@pytest.mark.parametrize(
    "kind, offset, fields, message",
    [
        (
            "plan_van_aanpak_agreed",
            0,
            {"casemanager_id": "cm-1", "employer_view": "e", "employee_view": "w"},
            "plan_van_aanpak_agreed: the probleemanalyse must be on record first",
        ),
        ("ziekmelding_arbodienst_sent", -1, {"role": "werkgever"}, "is before the first sick day"),
        ("ziekmelding_arbodienst_sent", 20, {"role": "werkgever"}, "is in the future"),
        ("ziekmelding_arbodienst_sent", 1, {"role": "janitor"}, "actor.role: 'janitor' is not a known role"),
        ("ziekmelding_arbodienst_sent", 1, {"role": "systeem"}, "the role Spoorwerk may not record"),
        (
            "probleemanalyse_recorded",
            1,
            {"role": "werkgever"},
            "actor.role: the role werkgever may not record “Probleemanalyse recorded” (allowed: bedrijfsarts)",
        ),
        ("relapse", 1, {}, "the employee has not recovered, so cannot relapse"),
        ("teleport", 1, {}, "kind: 'teleport' is not a known action"),
        ("partial_recovery", 1, {}, "give hours_per_week or percentage"),
        ("partial_recovery", 1, {"percentage": 150}, "percentage: Input should be less than or equal to 99"),
        ("case_withdrawn", 1, {"reason": "x" * 3000}, "reason: String should have at most 2000 characters"),
        ("spoor2_started", 1, {}, "spoor 2 cannot start without an AD-onderzoek on record"),
        ("loonsanctie_imposed", 1, {"weeks": 10}, "none is on record"),
    ],
)
async def test_refused_action_names_the_reason_and_changes_nothing(opened, kind, offset, fields, message):
    await assert_refused(opened, kind, opened.first + timedelta(days=offset), message, **fields)


async def test_malformed_payloads_are_refused_with_the_field(opened):
    for payload, message in [
        ({"kind": "relapse", "actor": {"role": "werkgever"}, "on": "2025-01-01"}, "action_id: Field required"),
        (
            {"kind": "relapse", "action_id": "a b", "actor": {"role": "werkgever"}, "on": "2025-01-01"},
            "action_id: String should match",
        ),
        (
            {"kind": "relapse", "action_id": "x1", "actor": {"role": "werkgever"}, "on": "yesterday"},
            "on: Input should be a valid date",
        ),
        (
            {"kind": "relapse", "action_id": "x1", "actor": {"role": "werkgever"}, "on": "2025-01-01", "bsn": "1"},
            "bsn: Extra inputs are not permitted",
        ),
    ]:
        before = (await opened.state()).model_dump()
        from temporalio.client import WorkflowUpdateFailedError

        # Straight to Temporal, past the client-side check, as any other Temporal client could.
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await opened.handle.execute_update("act", payload)
        assert message in str(err.value.cause)
        assert (await opened.state()).model_dump() == before


async def test_recovery_of_a_closed_case_is_refused(opened):
    await opened.act("case_withdrawn", opened.first + timedelta(days=2), reason="Opened for the wrong employee")
    await opened.result()
    with pytest.raises(ActionRejected, match="full_recovery: the case is closed \\(withdrawn on"):
        await opened.act("full_recovery", opened.first + timedelta(days=5))


async def test_second_recovery_and_late_relapse_are_refused(opened):
    back = opened.first + timedelta(days=5)
    await opened.act("full_recovery", back)
    await assert_refused(opened, "full_recovery", back + timedelta(days=1), "record a relapse first")
    await assert_refused(opened, "relapse", back, "a relapse must come after the recovery")


async def test_retried_request_is_applied_once(opened):
    on = opened.first + timedelta(days=1)
    first = await opened.act("ziekmelding_arbodienst_sent", on, role="werkgever", action_id="req-42")
    again = await opened.act("ziekmelding_arbodienst_sent", on, role="werkgever", action_id="req-42")
    assert again.entry == first.entry
    dossier = await opened.dossier()
    assert [e.action_id for e in dossier].count("req-42") == 1
    await assert_refused(
        opened,
        "evaluatie_held",
        on,
        "'req-42' was already used for “Ziekmelding to the arbodienst”",
        action_id="req-42",
        role="werkgever",
    )
    # The same caller, the same id, another date: not a retry.
    await assert_refused(
        opened,
        "ziekmelding_arbodienst_sent",
        on + timedelta(days=1),
        "'req-42' was already used for another “Ziekmelding to the arbodienst”",
        action_id="req-42",
        role="werkgever",
    )
    # Anyone else who replays the id (it shows in the dossier) learns nothing of its entry, not even its kind.
    for role in ("casemanager", "operations"):
        refused = await opened.refused("ziekmelding_arbodienst_sent", on, action_id="req-42", role=role)
        assert refused == "action_id: 'req-42' belongs to another caller's request; send a new Idempotency-Key"


async def test_starting_a_case_twice_is_refused(driver):
    from operations.cases import CaseAlreadyExists

    await driver.open(case_id="C-twice")
    with pytest.raises(CaseAlreadyExists, match="case_id: a case 'C-twice' already exists"):
        await driver.open(case_id="C-twice")


async def test_impossible_openings_are_refused_before_start(driver):
    from pydantic import ValidationError

    from operations.cases import ActionRejected

    today = await driver.today()
    with pytest.raises(ActionRejected, match="first_sick_day: .* is in the future"):
        await driver.open(today + timedelta(days=1))
    with pytest.raises(ActionRejected, match="interruptions.0.relapsed_on: a gap of 30 days"):
        await driver.open(
            today - timedelta(days=60),
            interruptions=[
                {
                    "recovered_on": (today - timedelta(days=50)).isoformat(),
                    "relapsed_on": (today - timedelta(days=20)).isoformat(),
                }
            ],
        )
    with pytest.raises(ValidationError, match="case_id"):
        await driver.open(case_id="123456782")  # BSN-shaped: not an opaque id
