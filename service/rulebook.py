"""Loads the statutory rulebook (domain/rulebook.toml) once per process."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from domain.rules import Rulebook, parse_rulebook


@lru_cache(maxsize=4)
def load_rulebook(path: Path | None = None) -> Rulebook:
    """The rulebook shipped with the package, or one at `path`."""
    text = path.read_text("utf-8") if path else resources.files("domain").joinpath("rulebook.toml").read_text("utf-8")
    return parse_rulebook(text)
