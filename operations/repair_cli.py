"""`spoorwerk repair CASE`: free a case (and its trajectory) that a known SDK fault holds up (operations.repair).

    spoorwerk repair CASE            # reset what is held up; says what it found and did
    spoorwerk repair CASE --check    # only say whether it is held up

Straight to Temporal with the service's settings (TEMPORAL_ADDRESS, the encryption keys), as `--direct`: a case that is
held up answers no query, so the API cannot help. Exit 0 done (also when nothing was held up), 1 no such case or
Temporal refused, 2 bad input, 3 Temporal cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from service.i18n import _

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 1, 2, 3


def add_repair_parser(sub: Any, opaque_id: Any) -> None:
    """Register `spoorwerk repair` (`opaque_id`: the case id's argument type of the other commands)."""
    rep = sub.add_parser(
        "repair",
        help=_("free a case that a known Temporal fault holds up (it answers 'Workflow Task in failed state')"),
        description=_(
            "Looks at the case and its spoor 2 trajectory. One whose workflow task keeps failing for one of two known "
            "faults of Temporal's SDK after a server restart (an action's acceptance sent twice; a history that does "
            "not replay) is reset: every action and dossier entry is kept and none is applied twice. Talks to Temporal "
            "directly. docs/durability.md"
        ),
    )
    rep.add_argument("case_id", type=opaque_id, metavar="CASE")
    rep.add_argument("--check", action="store_true", help=_("only say whether it is held up; change nothing"))
    rep.set_defaults(func=repair_command, direct=True)  # direct: main() skips the bridge's teardown


def _say(message: str) -> None:
    print(_("spoorwerk: error: %(problem)s", problem=message), file=sys.stderr)


def repair_command(args: argparse.Namespace) -> int:
    from operations.cli import BadInput, DirectBackend, Unreachable

    try:
        return asyncio.run(_repair(args, DirectBackend))
    except BadInput as err:
        _say(str(err))
        return EXIT_BAD_INPUT
    except Unreachable as err:
        print(f"spoorwerk: {err}", file=sys.stderr)
        return EXIT_UNREACHABLE


async def _repair(args: argparse.Namespace, backend_type: Any) -> int:
    from temporalio.service import RPCError, RPCStatusCode

    from operations import repair
    from workflows.ids import case_workflow_id, trajectory_workflow_id

    backend = backend_type("cli-operations")
    await backend.connect()
    client = backend.client
    labels = {case_workflow_id(args.case_id): _("case"), trajectory_workflow_id(args.case_id): _("spoor 2 trajectory")}
    for workflow_id, label in labels.items():
        try:
            stuck = await repair.stuck_task(client, workflow_id)
            if stuck is None:
                print(_("%(what)s %(id)s: not held up", what=label, id=workflow_id))
                continue
            if stuck.disagrees_at is not None:
                fault = _("its history does not replay at event %(event)s", event=stuck.disagrees_at)
            else:
                fault = _("an action's acceptance sent twice")
            print(
                _(
                    "%(what)s %(id)s: held up since event %(failed)s (%(fault)s); reset to event %(to)s",
                    what=label,
                    id=workflow_id,
                    failed=stuck.failed_event_id,
                    fault=fault,
                    to=stuck.reset_to,
                )
            )
            if args.check:
                continue
            run_id = await repair.free(client, workflow_id)
            print(_("%(what)s %(id)s: freed, new run %(run)s", what=label, id=workflow_id, run=run_id or "-"))
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                if workflow_id == case_workflow_id(args.case_id):
                    _say(_("case_id: no case %(case)s", case=repr(args.case_id)))
                    return EXIT_REFUSED
                continue  # no trajectory: nothing to free
            if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                print(
                    "spoorwerk: " + _("cannot reach %(where)s: %(detail)s", where=backend.where, detail=err.message),
                    file=sys.stderr,
                )
                return EXIT_UNREACHABLE
            _say(_("Temporal answered %(status)s: %(detail)s", status=err.status.name, detail=err.message))
            return EXIT_REFUSED
    return 0
