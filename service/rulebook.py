"""Loads the rules shipped as data (domain/rulebook.toml, spoor2.toml, stagnation.toml, dossier.toml) once per process."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow

from domain.documents import DossierRules, parse_dossier_rules
from domain.rules import Rulebook, RuleSet, RulesRef, content_hash, holidays_hash, parse_rulebook
from domain.spoor2 import Spoor2Rules, parse_spoor2_rules
from domain.stagnation import StagnationRules, parse_stagnation_rules

R = TypeVar("R", bound=BaseModel)


def _read(name: str, path: Path | None) -> str:
    return path.read_text("utf-8") if path else resources.files("domain").joinpath(name).read_text("utf-8")


@lru_cache(maxsize=4)
def load_rulebook(path: Path | None = None) -> Rulebook:
    """The statutory rulebook shipped with the package, or one at `path`."""
    return parse_rulebook(_read("rulebook.toml", path))


HOLIDAY_YEARS = 5

# A calendar's holidays for a case's years, by (calendar, first year): what `working_day_holidays` computed in this
# process (the worker computes those of the years cases open in when it starts, `preload`), kept.
_HOLIDAYS: dict[tuple[str, int], tuple[list[date], str]] = {}


def working_day_holidays(ruleset: RuleSet, first_sick_day: date, years: int = HOLIDAY_YEARS) -> list[date]:
    """The public holidays of the rule set's calendar for a case's years (two years of illness, extended and
    interrupted), as dates: computed once when the case opens and kept with it."""
    if ruleset.holiday_calendar is None:
        return []
    if years == HOLIDAY_YEARS:
        return list(_holidays(ruleset.holiday_calendar, first_sick_day.year)[0])
    return _compute_holidays(ruleset.holiday_calendar, first_sick_day.year, years)


def _holidays(calendar: str, first_year: int) -> tuple[list[date], str]:
    kept = _HOLIDAYS.get((calendar, first_year))
    if kept is None:
        days = _compute_holidays(calendar, first_year, HOLIDAY_YEARS)
        kept = _HOLIDAYS[(calendar, first_year)] = (days, holidays_hash(days))
    return kept


def _compute_holidays(calendar: str, first_year: int, years: int) -> list[date]:
    # Where cases are opened, and in a worker once per year and calendar: at its start (`preload`), or as a workflow
    # task decodes a continued run's holidays by reference of a year it has not computed. There the sandbox would
    # refuse the package's reads of the locale and the clock, which do not change what it computes for given years;
    # the hash the reference carries is the check on that.
    with workflow.unsafe.imports_passed_through(), workflow.unsafe.sandbox_unrestricted():
        import holidays

        return sorted(holidays.country_holidays(calendar, years=range(first_year, first_year + years)))


@lru_cache(maxsize=4)
def load_spoor2_rules(path: Path | None = None) -> Spoor2Rules:
    """The spoor 2 trajectory rules shipped with the package, or those at `path`."""
    return parse_spoor2_rules(_read("spoor2.toml", path))


@lru_cache(maxsize=4)
def load_stagnation_rules(path: Path | None = None) -> StagnationRules:
    """The stagnation watch, escalation ladder and reminder rules shipped with the package, or those at `path`."""
    return parse_stagnation_rules(_read("stagnation.toml", path))


@lru_cache(maxsize=4)
def load_dossier_rules(path: Path | None = None) -> DossierRules:
    """When documents are made and what the loonsanctie pre-flight checks, shipped with the package or at `path`."""
    return parse_dossier_rules(_read("dossier.toml", path))


class RulesChanged(RuntimeError):
    """A case's rules by reference that the code's rules do not match: a rule set edited in place, or a case opened
    by other code. Not an ApplicationError: it fails the workflow task, which records nothing, and the task is retried
    until the code has the rules again (or a worker of the code that opened the case takes it)."""


# The content hash of each shipped rules object (by identity: they are made once per process, and kept).
_HASHES: dict[int, tuple[BaseModel, str]] = {}


def _hash(rules: BaseModel) -> str:
    kept = _HASHES.get(id(rules))
    if kept is None or kept[0] is not rules:
        kept = _HASHES[id(rules)] = (rules, content_hash(rules))
    return kept[1]


def _is_shipped(given: BaseModel, own: BaseModel) -> bool:
    # The shipped object itself (a case opened by reference), or rules of the same content (a state that carried
    # them by value since older code opened the case): the hash check on the way back holds for both.
    return given is own or content_hash(given) == _hash(own)


def shipped_ref(
    ruleset: RuleSet,
    *,
    spoor2: Spoor2Rules | None,
    stagnation: StagnationRules | None,
    dossier: DossierRules | None,
    holidays: list[date] | None = None,
) -> RulesRef | None:
    """The reference to these rules when they are the ones shipped with the code (what a worker can resolve); None
    when any is not (a rule set of a rulebook of one's own, edited rules): those go by value. `holidays` (a continued
    run's): referenced too when they are the rule set's calendar's for five years that this process has computed
    (none is computed here: this runs in workflow code); else the state carries them by value."""
    try:
        own = load_rulebook().by_id(ruleset.id)
    except KeyError:
        return None
    if not _is_shipped(ruleset, own):
        return None
    shipped = (load_spoor2_rules(), load_stagnation_rules(), load_dossier_rules())
    if any(
        given is not None and not _is_shipped(given, mine)
        for given, mine in zip((spoor2, stagnation, dossier), shipped)
    ):
        return None
    first_year = holidays_hash_ = None
    if holidays and ruleset.holiday_calendar is not None:
        kept = _HOLIDAYS.get((ruleset.holiday_calendar, holidays[0].year))
        if kept is not None and kept[0] == holidays:
            first_year, holidays_hash_ = holidays[0].year, kept[1]
    return RulesRef(
        ruleset_id=ruleset.id,
        ruleset_hash=_hash(own),
        spoor2_hash=_hash(shipped[0]) if spoor2 is not None else None,
        stagnation_hash=_hash(shipped[1]) if stagnation is not None else None,
        dossier_hash=_hash(shipped[2]) if dossier is not None else None,
        holidays_from=first_year,
        holidays_hash=holidays_hash_,
    )


def resolve(ref: RulesRef) -> tuple[RuleSet, Spoor2Rules | None, StagnationRules | None, DossierRules | None]:
    """The shipped rules a reference names; raises RulesChanged when the code's rules are not those it was made of."""
    try:
        ruleset = load_rulebook().by_id(ref.ruleset_id)
    except KeyError:
        raise RulesChanged(f"rule set {ref.ruleset_id!r} is not in this code's rulebook") from None
    _check(f"rule set {ref.ruleset_id}", ruleset, ref.ruleset_hash)
    spoor2 = _check("spoor 2 rules", load_spoor2_rules(), ref.spoor2_hash)
    stagnation = _check("stagnation rules", load_stagnation_rules(), ref.stagnation_hash)
    dossier = _check("dossier rules", load_dossier_rules(), ref.dossier_hash)
    return ruleset, spoor2, stagnation, dossier


def resolve_holidays(ref: RulesRef, ruleset: RuleSet) -> list[date] | None:
    """The public holidays a reference names (None: it names none, the state carries its own); raises RulesChanged
    when this code's calendar gives other days for those years (the `holidays` package changed them)."""
    if ref.holidays_hash is None or ref.holidays_from is None:
        return None
    if ruleset.holiday_calendar is None:
        raise RulesChanged(f"rule set {ruleset.id} of this code has no holiday calendar; the case has holidays")
    days, found = _holidays(ruleset.holiday_calendar, ref.holidays_from)
    if found != ref.holidays_hash:
        raise RulesChanged(
            f"the public holidays from {ref.holidays_from} of calendar {ruleset.holiday_calendar} in this code (hash "
            f"{found}) are not those the case carried ({ref.holidays_hash}): a newer holidays package?"
        )
    return list(days)


def _check(name: str, own: R, wanted: str | None) -> R | None:
    """`own` when its hash is `wanted`; None when nothing is wanted (the case has none of these rules)."""
    if wanted is None:
        return None
    if _hash(own) != wanted:
        raise RulesChanged(
            f"the {name} of this code (hash {_hash(own)}) are not those the case was opened with ({wanted}): edited "
            "in place? A case keeps its rules for life: restore them, and add changed rules as new ones"
        )
    return own


def preload(today: date | None = None) -> None:
    """Load the shipped rules and their hashes once, so that no workflow task reads a file; and the holidays of
    every year a case may have opened in (from the first rule set with a calendar to next year), so that a continued
    run's holidays by reference are found, not computed, in a workflow task."""
    for rules in (*load_rulebook().rulesets, load_spoor2_rules(), load_stagnation_rules(), load_dossier_rules()):
        _hash(rules)
    last = (today or date.today()).year + 1
    for ruleset in load_rulebook().rulesets:
        if ruleset.holiday_calendar is not None:
            for year in range(ruleset.valid_from.year, last + 1):
                _holidays(ruleset.holiday_calendar, year)
