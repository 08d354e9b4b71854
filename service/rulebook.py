"""Loads the rules shipped as data (domain/rulebook.toml, spoor2.toml, stagnation.toml, dossier.toml) once per process."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from domain.documents import DossierRules, parse_dossier_rules
from domain.rules import Rulebook, parse_rulebook
from domain.spoor2 import Spoor2Rules, parse_spoor2_rules
from domain.stagnation import StagnationRules, parse_stagnation_rules


def _read(name: str, path: Path | None) -> str:
    return path.read_text("utf-8") if path else resources.files("domain").joinpath(name).read_text("utf-8")


@lru_cache(maxsize=4)
def load_rulebook(path: Path | None = None) -> Rulebook:
    """The statutory rulebook shipped with the package, or one at `path`."""
    return parse_rulebook(_read("rulebook.toml", path))


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
