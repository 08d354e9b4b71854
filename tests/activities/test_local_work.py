"""`local_work` (release 11): a wake's notices and facts in one local activity, each part standing on its own."""

from __future__ import annotations

import pytest
from temporalio.testing import ActivityEnvironment

from activities.delivery import LocalWork
from activities.local_work import LocalWorkActivities
from activities.notify import NotificationLog, Notifications
from activities.reporting import ReportingActivities
from domain.facts import derive
from service import reporting
from tests.activities.test_notify_channels import note
from tests.domain.test_case_rules import new_case
from tests.loopback import settings_for


def _facts():
    state = new_case()
    return derive(state, state.first_sick_day)


def test_one_local_activity_delivers_the_notices_and_writes_the_facts(tmp_path) -> None:
    settings = settings_for(tmp_path, ["log"])
    work = LocalWorkActivities(Notifications.from_settings(settings), ReportingActivities(settings.reporting_database))
    facts = _facts()

    done = ActivityEnvironment().run(work.local_work, LocalWork(notices=[note(), note()], facts=facts))

    assert done.delivery is not None and [r.delivered for r in done.delivery.reports] == [["log"], ["log"]]
    assert done.delivery.rest is False and done.notices_failed is None
    assert done.facts_written == len(facts.spells) + len(facts.events) and done.facts_failed is None
    assert len(NotificationLog(settings.notification_log_path).read()) == 2
    store = reporting.open_store(settings.reporting_database)
    assert reporting.event_counts(store, [facts.case.case_id]) == {facts.case.case_id: len(facts.events)}


def test_a_store_that_fails_leaves_the_notices_delivered_and_says_why(tmp_path) -> None:
    folder = tmp_path / "store"
    folder.write_text("in the way")  # a file where the store's folder should be: as a database that is down
    settings = settings_for(tmp_path, ["log"])
    work = LocalWorkActivities(
        Notifications.from_settings(settings), ReportingActivities(f"sqlite:///{folder / 'facts.db'}")
    )

    done = ActivityEnvironment().run(work.local_work, LocalWork(notices=[note()], facts=_facts()))

    assert done.delivery is not None and done.delivery.reports[0].delivered == ["log"]
    assert done.facts_written is None and done.facts_failed
    assert "\n" not in done.facts_failed and "parameters" not in done.facts_failed  # the first line only
    assert len(NotificationLog(settings.notification_log_path).read()) == 1


def test_notices_that_cannot_be_made_leave_the_facts_written(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(tmp_path, ["log"])
    notifications = Notifications.from_settings(settings)

    def broken(*_args, **_kwargs):
        raise KeyError("no such template")

    monkeypatch.setattr(notifications, "notify_local", broken)
    work = LocalWorkActivities(notifications, ReportingActivities(settings.reporting_database))
    facts = _facts()

    done = ActivityEnvironment().run(work.local_work, LocalWork(notices=[note()], facts=facts))

    assert done.delivery is None and "no such template" in (done.notices_failed or "")
    assert done.facts_written == len(facts.spells) + len(facts.events)
    store = reporting.open_store(settings.reporting_database)
    assert reporting.event_counts(store, [facts.case.case_id]) == {facts.case.case_id: len(facts.events)}


def test_a_part_not_asked_is_not_done(tmp_path) -> None:
    settings = settings_for(tmp_path, ["log"])
    work = LocalWorkActivities(Notifications.from_settings(settings), ReportingActivities(settings.reporting_database))
    only_facts = ActivityEnvironment().run(work.local_work, LocalWork(facts=_facts()))
    assert only_facts.delivery is None and only_facts.notices_failed is None and only_facts.facts_written
    only_notices = ActivityEnvironment().run(work.local_work, LocalWork(notices=[note()]))
    assert only_notices.delivery is not None and only_notices.facts_written is None
    assert len(NotificationLog(settings.notification_log_path).read()) == 1
