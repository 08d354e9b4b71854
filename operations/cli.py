"""`spoorwerk`: the command line for case managers and operations."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date

from domain.clock import PeriodError, build_periods, split_into_cases, statutory_calendar
from service.rulebook import load_rulebook

EXIT_BAD_INPUT = 2


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spoorwerk", description="Spoorwerk: sick-leave cases under the Wet verbetering poortwachter")
    sub = parser.add_subparsers(dest="command", required=True)
    cal = sub.add_parser(
        "calendar",
        help="print every statutory step of a case with its due date",
        description=(
            "Every statutory step with its due date. Give each recovery (the first day back at "
            "work) and each relapse (the first sick day again) in order: sick periods less than "
            "four weeks apart add up and the gap moves every later deadline."
        ),
    )
    cal.add_argument("--first-sick-day", type=_date, required=True, metavar="YYYY-MM-DD")
    cal.add_argument("--recovered", type=_date, action="append", default=[], metavar="YYYY-MM-DD",
                     help="first day back at work (repeatable, in order)")
    cal.add_argument("--relapse", type=_date, action="append", default=[], metavar="YYYY-MM-DD",
                     help="first sick day of the next period (repeatable, in order)")
    cal.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cal.set_defaults(func=_calendar)
    return parser


def _fail(message: str) -> int:
    print(f"spoorwerk: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _calendar(args: argparse.Namespace) -> int:
    recovered, relapses = args.recovered, args.relapse
    if len(relapses) > len(recovered):
        return _fail(f"--relapse: {len(relapses)} relapses but only {len(recovered)} recoveries; a relapse follows a recovery")
    if len(recovered) > len(relapses) + 1:
        return _fail("--recovered: two recoveries need a relapse between them")
    pairs = [(rec, relapses[i] if i < len(relapses) else None) for i, rec in enumerate(recovered)]
    try:
        periods = build_periods(args.first_sick_day, pairs)
    except PeriodError as err:
        return _fail(f"--{err.field}: {err.reason}")
    rulebook = load_rulebook()
    try:
        ruleset = rulebook.for_first_sick_day(periods[0].start)
    except ValueError as err:
        return _fail(f"--{err}".replace("first_sick_day", "first-sick-day"))
    cases = split_into_cases(periods, ruleset.four_week_rule_days)
    notes = []
    if len(cases) > 1:
        current = cases[-1]
        notes.append(
            f"a gap of {ruleset.four_week_rule_days} days or more before {current[0].start} starts a new case; "
            f"showing that case (first sick day {current[0].start})"
        )
        ruleset = rulebook.for_first_sick_day(current[0].start)
        periods = current
    steps = statutory_calendar(ruleset, periods)
    if periods[-1].end is not None:
        notes.append(
            f"recovered on {periods[-1].end}: the clock is paused; steps without a date resume on a relapse "
            "within four weeks"
        )
    if args.json:
        out = {
            "first_sick_day": periods[0].start.isoformat(),
            "ruleset": ruleset.id,
            "deadlines": [
                {"key": s.key, "due": s.due.isoformat() if s.due else None, "label": s.label,
                 **({"occurrence": s.occurrence} if s.occurrence else {})}
                for s in steps
            ],
            "notes": notes,
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"First sick day {periods[0].start} - rule set {ruleset.id}")
    for note in notes:
        print(f"Note: {note}")
    print()
    width = max(len(s.key) + (4 if s.occurrence else 0) for s in steps)
    print(f"{'step':<{width}}  {'due':<10}  {'day':<3}  description")
    for s in steps:
        name = f"{s.key} #{s.occurrence}" if s.occurrence else s.key
        due = s.due.isoformat() if s.due else "paused"
        weekday = s.due.strftime("%a") if s.due else ""
        print(f"{name:<{width}}  {due:<10}  {weekday:<3}  {s.label}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `spoorwerk` command."""
    args = _parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
