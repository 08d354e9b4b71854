"""`spoorwerk repair [CASE]`: free a case (and its trajectory) that a known SDK fault holds up (operations.repair).

    spoorwerk repair CASE            # reset what is held up (or a history a worker cannot replay); says what it did
    spoorwerk repair CASE --check    # only say whether it is held up
    spoorwerk repair [--check]       # every case and trajectory the server reports held up

Straight to Temporal with the service's settings (TEMPORAL_ADDRESS, the encryption keys), as `--direct`: a case that is
held up answers no query, so the API cannot help. Exit 0 done (also when nothing was held up), 1 no such case or
Temporal refused, 2 bad command-line input or configuration, 3 Temporal cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.i18n import _

EXIT_REFUSED, EXIT_UNREACHABLE = 1, 3


def add_repair_parser(sub: Any, opaque_id: Any, run: Any, actor_id: str) -> None:
    """Register `spoorwerk repair` (`opaque_id`: the case id's argument type of the other commands; `run`: theirs
    to run a command against Temporal, its refusals and outages turned into exit codes; `actor_id`: the operations id
    it connects as)."""
    rep = sub.add_parser(
        "repair",
        help=_("free a case that a known Temporal fault holds up (it answers 'Workflow Task in failed state')"),
        description=_(
            "Looks at the case and its spoor 2 trajectory (without a case: at every one the server reports held up). "
            "One whose workflow task keeps failing for one of two known faults of Temporal's SDK after a server "
            "restart (an action's acceptance sent twice; a history that does not replay) is reset: every action and "
            "dossier entry is kept and none is applied twice. One held up by another cause is named, not reset. "
            "A named case is also put to a worker, which replays a history it does not hold: one that does not "
            "replay is found before any task fails. Talks to Temporal directly. docs/durability.md"
        ),
    )
    rep.add_argument(
        "case_id",
        nargs="?",
        type=opaque_id,
        metavar="CASE",
        help=_("the case (and its trajectory); without it: every case and trajectory the server reports held up"),
    )
    rep.add_argument("--check", action="store_true", help=_("only say whether it is held up; change nothing"))
    # Always straight to Temporal, as operations: a held-up case answers no query, so the API cannot help.
    rep.set_defaults(
        func=lambda args: run(args, lambda backend: _repair(args, backend)), direct=True, actor_id=actor_id
    )


def _say(message: str) -> None:
    print(_("spoorwerk: error: %(problem)s", problem=message), file=sys.stderr)


async def _repair(args: argparse.Namespace, backend: Any) -> int:
    from temporalio.service import RPCError, RPCStatusCode

    from operations import repair
    from workflows.ids import case_workflow_id, trajectory_workflow_id

    client = backend.client
    try:
        if args.case_id is None:
            found = await repair.held_up(client)
            if not found:
                print(_("no case or trajectory is held up"))
        else:
            found = [
                (case_workflow_id(args.case_id), repair.CASE_TYPE),
                (trajectory_workflow_id(args.case_id), repair.TRAJECTORY_TYPE),
            ]
        for workflow_id, workflow_type in found:
            label = _("spoor 2 trajectory") if workflow_type == repair.TRAJECTORY_TYPE else _("case")
            try:
                stuck = await repair.stuck_task(client, workflow_id)
            except RPCError as err:
                if err.status is not RPCStatusCode.NOT_FOUND:
                    raise
                if workflow_type == repair.CASE_TYPE and args.case_id is not None:
                    _say(_("case_id: no case %(case)s", case=repr(args.case_id)))
                    return EXIT_REFUSED
                continue  # no trajectory: nothing to free
            if stuck is None and args.case_id is not None:
                # No failed task yet; a history that does not replay shows when a worker replays it (a query).
                try:
                    stuck = await repair.replays(client, workflow_id)
                except RPCError as err:
                    # The server gives a query no worker takes up "CANCELLED: Timeout expired".
                    if err.status not in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
                        raise
                    print(
                        _(
                            "%(what)s %(id)s: not held up; no worker answered, so whether its history replays was "
                            "not checked",
                            what=label,
                            id=workflow_id,
                        )
                    )
                    continue
            print(_describe(stuck, label, workflow_id))
            if stuck is None or args.check or not stuck.known_fault:
                continue
            run_id = await repair.reset(client, workflow_id, stuck)
            print(_("%(what)s %(id)s: freed, new run %(run)s", what=label, id=workflow_id, run=run_id))
    except RPCError as err:
        if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            print(
                "spoorwerk: " + _("cannot reach %(where)s: %(detail)s", where=backend.where, detail=err.message),
                file=sys.stderr,
            )
            return EXIT_UNREACHABLE
        _say(_("Temporal answered %(status)s: %(detail)s", status=err.status.name, detail=err.message))
        return EXIT_REFUSED
    return 0


def _describe(stuck: Any, label: str, workflow_id: str) -> str:
    """One line on a workflow: not held up, held up by a known fault (and where a reset goes), or by another cause."""
    from operations import repair

    if stuck is None:
        return _("%(what)s %(id)s: not held up", what=label, id=workflow_id)
    if stuck.cause not in repair.SDK_FAULTS:
        return _(
            "%(what)s %(id)s: held up since event %(failed)s by another cause (%(cause)s: %(detail)s); not reset, "
            "see docs/durability.md",
            what=label,
            id=workflow_id,
            failed=stuck.failed_event_id,
            cause=stuck.cause_name,
            detail=stuck.message[:200],
        )
    if stuck.disagrees_at is not None:
        fault = _("its history does not replay at event %(event)s", event=stuck.disagrees_at)
    else:
        fault = _("an action's acceptance sent twice")
    if not stuck.task_failed:  # a worker's replay found it; its next task will fail
        if stuck.reset_to is None:
            return _(
                "%(what)s %(id)s: %(fault)s (no task has failed yet); no earlier task to go back to, not reset",
                what=label,
                id=workflow_id,
                fault=fault,
            )
        return _(
            "%(what)s %(id)s: %(fault)s (no task has failed yet); reset to event %(to)s",
            what=label,
            id=workflow_id,
            fault=fault,
            to=stuck.reset_to,
        )
    if stuck.reset_to is None:
        return _(
            "%(what)s %(id)s: held up since event %(failed)s (%(fault)s); no earlier task to go back to, not reset",
            what=label,
            id=workflow_id,
            failed=stuck.failed_event_id,
            fault=fault,
        )
    return _(
        "%(what)s %(id)s: held up since event %(failed)s (%(fault)s); reset to event %(to)s",
        what=label,
        id=workflow_id,
        failed=stuck.failed_event_id,
        fault=fault,
        to=stuck.reset_to,
    )
