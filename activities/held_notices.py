"""The notification log's entries from `notify_local`, held until the workflow task that made them is recorded.

A local activity runs inside a workflow task, before the server has recorded that task. When the worker dies first,
the task runs again (here or on another worker) and, with actions that arrived meanwhile, may make other notices or
none: release 9 wrote the log from the local activity, so the log could hold a reminder the case never sent
(docs/durability.md). Now `notify_local` holds each entry beside the log with the task that made it (the run's history
length in that task: its WorkflowTaskStarted event), and `LogConfirmer`, running beside the worker, writes it to the
log once the run's history records a `notify_local` marker that delivered it, or drops it when the history shows that
task failed or timed out. The log says only what a recorded history says was sent.

Held entries are a JSON-lines file beside the log (`<log>.held`), shared like the log by the workers on one host: a
worker that dies leaves its held entries to the next confirmer that looks.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import structlog
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.delivery import LocalDelivery, LocalWorkDone
from service.files import open_private, private_file

log = structlog.get_logger("spoorwerk.notifications")

# A held entry whose task was recorded without its marker (a local activity that outlived its workflow task, whose
# marker then came in a later task that never got recorded) is given up on after this long.
STALE = timedelta(minutes=10)
MARKER = "core_local_activity"
READS_AT_ONCE = 8  # histories read at the same time by one confirmer
# Seconds: a held entry's history is first read this long after it was held (its task is recorded by then, normally:
# one read per wake that sends notices); a run whose task is still running is read again after a pause that doubles
# up to MAX_PAUSE; with nothing held, the file is looked at every POLL (lines another worker left).
LOOK_AFTER = 0.25
MAX_PAUSE = 8.0
POLL = 1.0
TAIL_PAGE = 32  # events per page read from a history's end
_TASK_ENDED = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED: "workflow_task_failed_event_attributes",
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: "workflow_task_timed_out_event_attributes",
}
_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


@dataclass(frozen=True)
class Task:
    """The workflow task a local activity ran in: its run and the history length it saw (its started event's id)."""

    workflow_id: str
    run_id: str
    started: int


@dataclass
class Held:
    """One log entry waiting for its task: the line the log will get, without its `sent_at`."""

    task: Task
    held_at: datetime
    record: dict[str, Any]

    @property
    def notification_id(self) -> str:
        return str(self.record["notification_id"])

    def line(self) -> str:
        return json.dumps(
            {
                "workflow_id": self.task.workflow_id,
                "run_id": self.task.run_id,
                "task": self.task.started,
                "held_at": self.held_at.isoformat(),
                "record": self.record,
            },
            ensure_ascii=False,
        )

    @classmethod
    def parse(cls, line: str) -> Held:
        data = json.loads(line)
        return cls(
            Task(data["workflow_id"], data["run_id"], int(data["task"])),
            datetime.fromisoformat(data["held_at"]),
            data["record"],
        )

    def key(self) -> tuple[str, str, int, str]:
        return (self.task.workflow_id, self.task.run_id, self.task.started, self.notification_id)


class HeldNotices:
    """The held entries beside a log: appended by `notify_local`, removed by `LogConfirmer`, under one file lock."""

    def __init__(self, log_path: Path) -> None:
        self.path = log_path.with_name(log_path.name + ".held")
        self._lock_path = log_path.with_name(log_path.name + ".held.lock")
        self._thread_lock = threading.Lock()
        self.on_hold: Callable[[], None] = lambda: None
        # Each line parsed once: the confirmer reads the file at every look, twice, and a morning's wake (or a flood of
        # new cases) holds thousands of lines at once; parsing them all each time made its cost grow with the square.
        self._parsed: dict[str, Held] = {}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            with os.fdopen(open_private(self._lock_path, os.O_RDONLY), "rb") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
                yield

    def hold(self, task: Task, record: dict[str, Any]) -> None:
        """Keep `record` until `task` is known recorded (raises OSError when the disk will not take it)."""
        entry = Held(task, datetime.now(timezone.utc), record)
        with self._locked():
            with os.fdopen(open_private(self.path, os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8") as out:
                out.write(entry.line() + "\n")
                out.flush()
        self.on_hold()

    def read(self) -> list[Held]:
        """Every entry held, oldest first; a damaged line (a disk that filled up mid-write) is skipped."""
        return [entry for _line, entry in self._lines()]

    def _lines(self) -> list[tuple[str, Held]]:
        """Each held line with its entry; a line seen before is not parsed again."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return []
        known, parsed = self._parsed, {}
        found = []
        for line in text.splitlines():
            entry = known.get(line)
            if entry is None:
                try:
                    entry = Held.parse(line)
                except (ValueError, KeyError, TypeError):
                    continue
            parsed[line] = entry
            found.append((line, entry))
        self._parsed = parsed  # the lines still held: what was removed is forgotten
        return found

    def remove(self, done: set[tuple[str, str, int, str]]) -> None:
        """Take the entries `done` (confirmed or dropped) out; those held meanwhile stay, as they were written."""
        if not done:
            return
        with self._locked():
            left = [line for line, entry in self._lines() if entry.key() not in done]
            # A new file moved over the old one: a crash mid-write leaves the old file whole, not half of it.
            spare = self.path.with_name(self.path.name + ".new")
            private_file(spare)
            with spare.open("w", encoding="utf-8") as out:
                out.writelines(line + "\n" for line in left)
            os.replace(spare, self.path)


@dataclass
class RunRecord:
    """What a run's history says of the tasks that held entries: the notifications a recorded `notify_local` marker
    delivered over the log (by id), the tasks recorded as failed or timed out, the tasks completed, whether the run
    ended."""

    delivered: set[str] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    completed: set[int] = field(default_factory=set)
    closed: bool = False


class LogConfirmer:
    """Writes held entries to the log once their task is recorded, drops those whose task is not (module docstring).

    Each run's history is read once its entries are `LOOK_AFTER` old (by then their task is normally recorded: one read
    per wake, not one per try), again after a growing pause while its task is still running; woken when this process
    holds an entry, and every `POLL` seconds for entries other workers left."""

    def __init__(self, held: HeldNotices, write: Callable[[str, dict[str, Any]], bool], client: Client) -> None:
        self.held = held
        self._write = write
        self._client = client
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned: datetime | None = None
        self._next_look: dict[tuple[str, str], tuple[datetime, float]] = {}  # a run still running: when, and pause
        self._reverse = True  # reads a history from its end (the time-skipping test server cannot)

    def wake(self) -> None:
        """Look soon (thread-safe: `notify_local` runs in the activity threads)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    @asynccontextmanager
    async def beside(self) -> AsyncIterator[None]:
        """Run the confirmer while the block (the worker) runs; on the way out, one last look at what is held (what is
        left waits for the next worker on this data folder)."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        self.held.on_hold = self.wake
        task = asyncio.create_task(self._run())
        try:
            yield
        finally:
            task.cancel()
            self.held.on_hold = lambda: None
            self._loop = None
            try:  # one look, not a wait: a task the stop cut short is recorded (or not) long after
                left = await asyncio.wait_for(self.confirm(eager=True), timeout=5)
            except Exception as err:  # the next worker to start takes what is left
                log.warning("held notices left for the next worker", error=type(err).__name__)
            else:
                if left:
                    log.warning("held notices left for the next worker", held=left)

    async def _run(self) -> None:
        assert self._wake is not None
        pause = POLL
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
                await asyncio.sleep(LOOK_AFTER)  # woken by a hold: its task is completing; let it be recorded
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                left = await self.confirm()
            except Exception:  # a server away: held entries wait, nothing is lost
                log.warning("held notices not confirmed", exc_info=True)
                left = 1
            pause = LOOK_AFTER if left else POLL

    async def settle(self, seconds: float = 5.0) -> int:
        """Look at every held entry at once and again until none is held or `seconds` have passed (a task still
        running); the number still held."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            left = await self.confirm(eager=True)
            if not left or asyncio.get_running_loop().time() >= deadline:
                return left
            await asyncio.sleep(0.02)  # a history to look at again: there is nothing to wait on but time

    async def confirm(self, *, eager: bool = False) -> int:
        """One look at the held entries that are due (`eager`: all): write, drop or keep each; the number kept.
        The files are read and written in a thread: the worker's event loop also carries its workflow tasks."""
        held = await asyncio.to_thread(self.held.read)
        now = datetime.now(timezone.utc)
        runs: dict[tuple[str, str], list[Held]] = {}
        for entry in held:
            runs.setdefault((entry.task.workflow_id, entry.task.run_id), []).append(entry)
        self._next_look = {run: look for run, look in self._next_look.items() if run in runs}
        due = {
            run: entries
            for run, entries in runs.items()
            if eager
            or (
                now >= self._next_look[run][0]
                if run in self._next_look
                else max(e.held_at for e in entries) <= now - timedelta(seconds=LOOK_AFTER)
            )
        }
        if not due:
            return len(held)
        records = await self._records(due)
        done = await asyncio.to_thread(self._apply, due, records, now)
        for run, entries in due.items():
            if any(e.key() not in done for e in entries):  # its task still running: look again, less often
                pause = min(self._next_look.get(run, (now, LOOK_AFTER))[1] * 2, MAX_PAUSE)
                self._next_look[run] = (now + timedelta(seconds=pause), pause)
        return len(held) - len(done)

    def _apply(
        self, due: dict[tuple[str, str], list[Held]], records: dict[tuple[str, str], RunRecord], now: datetime
    ) -> set[tuple[str, str, int, str]]:
        """Write or drop each due entry by its run's record, and take those out of the held file; their keys."""
        done: set[tuple[str, str, int, str]] = set()
        for run, entries in due.items():
            for entry in entries:
                verdict = _verdict(entry, records[run], now)
                if verdict == "write":
                    try:
                        self._write(entry.notification_id, entry.record)
                    except OSError as err:  # a full disk: the line stays held until the log takes it
                        self._cannot_write(err)
                        verdict = "keep"
                elif verdict == "drop":
                    log.info(
                        "held notice dropped: its workflow task was not recorded",
                        case_id=entry.record.get("case_id"),
                        notification_id=entry.notification_id,
                        workflow_id=run[0],
                        run_id=run[1],
                        task=entry.task.started,
                    )
                if verdict != "keep":
                    done.add(entry.key())
        self.held.remove(done)
        return done

    def _cannot_write(self, err: OSError) -> None:
        now = datetime.now(timezone.utc)
        if self._warned is None or now - self._warned > timedelta(minutes=1):  # a warning a minute, not a line each
            self._warned = now
            log.warning("notification log cannot be written; its lines stay held", error=type(err).__name__)

    async def _records(self, runs: dict[tuple[str, str], list[Held]]) -> dict[tuple[str, str], RunRecord]:
        """Each run's record, a few histories read at a time (a morning's wake holds lines of thousands of runs)."""
        gate = asyncio.Semaphore(READS_AT_ONCE)

        async def one(run: tuple[str, str], entries: list[Held]) -> tuple[tuple[str, str], RunRecord]:
            async with gate:
                return run, await self._record(*run, min(e.task.started for e in entries))

        return dict(await asyncio.gather(*(one(run, entries) for run, entries in runs.items())))

    async def _record(self, workflow_id: str, run_id: str, since: int) -> RunRecord:
        """What the run's history says from event `since` (the earliest held task's start) on."""
        record = RunRecord()
        current = 0  # the started event of the task whose commands the events are
        started = 0  # the last WorkflowTaskStarted event: a task's end follows its start directly
        try:
            events = await self._events_since(workflow_id, run_id, since)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            record.closed = True  # the run is gone (deleted, past retention): nothing of it will be recorded
            return record
        for event in events:
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started = event.event_id
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                # (The time-skipping test server leaves the attribute 0.)
                current = event.workflow_task_completed_event_attributes.started_event_id or started
                record.completed.add(current)
            elif kind in _TASK_ENDED:
                # A sticky task that timed out before it started has no started event: it ran nowhere.
                ended = getattr(event, _TASK_ENDED[kind]).started_event_id
                record.failed.add(ended or (started if started == event.event_id - 1 else 0))
            elif kind in _CLOSED:
                record.closed = True
            elif kind == EventType.EVENT_TYPE_MARKER_RECORDED and current >= since:
                record.delivered |= await self._delivered(event)
        return record

    async def _events_since(self, workflow_id: str, run_id: str, since: int) -> list[HistoryEvent]:
        """The run's events from `since` on, oldest first. Read from the end, a page at a time: a case's run holds
        months of wakes, and what matters is its last few tasks."""
        execution = WorkflowExecution(workflow_id=workflow_id, run_id=run_id)
        if self._reverse:
            tail: list[HistoryEvent] = []
            token = b""
            try:
                while True:
                    page = await self._client.workflow_service.get_workflow_execution_history_reverse(
                        GetWorkflowExecutionHistoryReverseRequest(
                            namespace=self._client.namespace,
                            execution=execution,
                            maximum_page_size=TAIL_PAGE,
                            next_page_token=token,
                        )
                    )
                    tail.extend(page.history.events)
                    token = page.next_page_token
                    if not token or (tail and tail[-1].event_id <= since):
                        return [e for e in reversed(tail) if e.event_id >= since]
            except RPCError as err:
                if err.status != RPCStatusCode.UNIMPLEMENTED:
                    raise
                self._reverse = False
        handle = self._client.get_workflow_handle(workflow_id, run_id=run_id)
        return [e async for e in handle.fetch_history_events() if e.event_id >= since]

    async def _delivered(self, event: HistoryEvent) -> set[str]:
        """The notifications a `notify_local` marker (or a `local_work` one, release 11) says went to the log."""
        marker = event.marker_recorded_event_attributes
        if marker.marker_name != MARKER or marker.HasField("failure") or "result" not in marker.details:
            return set()
        kind = json.loads(marker.details["data"].payloads[0].data).get("activity_type")
        if kind not in _DELIVERING:
            return set()
        [result] = await self._client.data_converter.decode(marker.details["result"].payloads, [_DELIVERING[kind]])
        delivery = result.delivery if isinstance(result, LocalWorkDone) else result
        return {r.notification_id for r in delivery.reports if "log" in r.delivered} if delivery is not None else set()


# The local activities whose result reports deliveries to the log, and the type of that result.
_DELIVERING: dict[str, type] = {"notify_local": LocalDelivery, "local_work": LocalWorkDone}


def _verdict(entry: Held, record: RunRecord, now: datetime) -> str:
    """write (a recorded task delivered it), drop (its task was not recorded, or the run ended without it), keep."""
    if entry.notification_id in record.delivered:
        return "write"
    if entry.task.started in record.failed or record.closed:
        return "drop"
    if entry.task.started in record.completed and now - entry.held_at > STALE:
        return "drop"
    return "keep"
