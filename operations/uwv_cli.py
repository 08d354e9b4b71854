"""`spoorwerk uwv`: a case's messages to UWV, prepared and sent, and UWV's answers processed.

    spoorwerk uwv list CASE                       # the case's messages with their status and UWV's reason
    spoorwerk uwv prepare CASE ziekmelding|hersteldmelding [--key KEY]
    spoorwerk uwv send CASE MESSAGE_ID
    spoorwerk uwv answers                         # read UWV's answers and record them (operations)

Through the API with the token's scope (operations.uwv), as the other case commands. Exit codes as theirs.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from service.i18n import _

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 1, 2, 3


def add_uwv_parser(sub: Any, connection: Any) -> None:
    """Register `spoorwerk uwv` (with the case commands' --api and --token)."""
    uwv = sub.add_parser(
        "uwv",
        parents=[connection],
        help=_("messages to UWV: the ziekmelding after 42 weeks and the hersteldmelding"),
        description=_(
            "'list CASE' shows a case's messages to UWV with their status; 'prepare CASE KIND' builds one from the "
            "case (ziekmelding or hersteldmelding); 'send CASE MESSAGE_ID' hands it to the channel; 'answers' "
            "records UWV's answers on their cases (operations). docs/uwv.md"
        ),
    )
    uwv.add_argument("what", choices=("list", "prepare", "send", "answers"))
    uwv.add_argument("case_id", nargs="?", metavar="CASE")
    uwv.add_argument("detail", nargs="?", metavar="KIND|MESSAGE_ID")
    uwv.add_argument("--key", help=_("the request's Idempotency-Key: the same key again prepares no second message"))
    uwv.add_argument("--json", action="store_true", help=_("print the API's JSON answer"))
    uwv.set_defaults(func=uwv_command)


def _say(message: str) -> None:
    print(_("spoorwerk: error: %(problem)s", problem=message), file=sys.stderr)


def uwv_command(args: argparse.Namespace) -> int:
    import httpx

    from operations.figures_cli import _http

    if args.what != "answers" and not args.case_id:
        _say(_("give CASE"))
        return EXIT_BAD_INPUT
    if args.what in ("prepare", "send") and not args.detail:
        _say(_("give the kind of message (ziekmelding, hersteldmelding) or the message's id"))
        return EXIT_BAD_INPUT
    try:
        with _http(args) as http:
            if args.what == "list":
                r = http.get(f"/api/cases/{args.case_id}/uwv")
            elif args.what == "prepare":
                r = http.post(
                    f"/api/cases/{args.case_id}/uwv",
                    json={"message": args.detail},
                    headers={"Idempotency-Key": args.key or f"cli-{uuid.uuid4().hex[:16]}"},
                )
            elif args.what == "send":
                r = http.post(f"/api/cases/{args.case_id}/uwv/{args.detail}/send")
            else:
                r = http.post("/api/uwv/answers")
    except httpx.HTTPError as err:
        _say(_("cannot reach the API at %(url)s: %(detail)s", url=args.api, detail=str(err)[:200]))
        return EXIT_UNREACHABLE
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text
        _say(f"{r.status_code}: {detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)}")
        return EXIT_REFUSED
    data = r.json()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif args.what == "answers":
        for o in data:
            said = o["status"] if o["recorded"] else _("not recorded: %(problem)s", problem=o["problem"])
            print(f"{o['handle']}  {o.get('case_id') or '–'}  {o.get('message_id') or '–'}  {said}")
        if not data:
            print(_("no answers from UWV"))
    else:
        for m in data if isinstance(data, list) else [data]:
            _print_message(m)
    return 0


def _print_message(m: dict[str, Any]) -> None:
    from domain import glossary

    message = _(glossary.UWV_MESSAGES.get(m["message"], m["message"]))
    status = _(glossary.UWV_STATUSES.get(m["status"], m["status"]))
    line = f"{m['message_id']}  {message}  {status}"
    if m.get("reference"):
        line += f"  {m['reference']}"
    print(line)
    if m.get("reason"):
        print("  " + _("UWV's reason: %(reason)s", reason=m["reason"]))
