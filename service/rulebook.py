"""Loads the rules shipped as data (domain/rulebook.toml, spoor2.toml, stagnation.toml, dossier.toml) once per process."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path

from domain.documents import DossierRules, parse_dossier_rules
from domain.rules import Rulebook, RuleSet, parse_rulebook
from domain.spoor2 import Spoor2Rules, parse_spoor2_rules
from domain.stagnation import StagnationRules, parse_stagnation_rules


def _read(name: str, path: Path | None) -> str:
    return path.read_text("utf-8") if path else resources.files("domain").joinpath(name).read_text("utf-8")


@lru_cache(maxsize=4)
def load_rulebook(path: Path | None = None) -> Rulebook:
    """The statutory rulebook shipped with the package, or one at `path`."""
    return parse_rulebook(_read("rulebook.toml", path))


def working_day_holidays(ruleset: RuleSet, first_sick_day: date, years: int = 5) -> list[date]:
    """The public holidays of the rule set's calendar for a case's years (two years of illness, extended and
    interrupted), as dates: computed once when the case opens and kept with it."""
    if ruleset.holiday_calendar is None:
        return []
    import holidays  # only where cases are opened

    calendar = holidays.country_holidays(
        ruleset.holiday_calendar, years=range(first_sick_day.year, first_sick_day.year + years)
    )
    return sorted(calendar)


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
