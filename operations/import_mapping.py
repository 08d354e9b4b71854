"""How another system's export is read: which column holds what, in which date format, with which words.

A mapping is a small TOML file (operations/mappings/generic.toml is the shipped one and the example to copy; how
to write one: docs/import.md). Column names are matched without regard to case or surrounding spaces, so an export
is read as it comes, without editing it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.models import Role, Stage

MAPPINGS_DIR = Path(__file__).parent / "mappings"
DEFAULT_MAPPING = "generic"


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the setting."""


class Columns(BaseModel):
    """The file's column per field of a case; the first three are required, the rest may be left out."""

    model_config = ConfigDict(extra="forbid")

    case_key: str = Field(description="The case's number in the other system: with the employer, it names the case")
    employer_id: str
    first_sick_day: str
    stage: str | None = None
    surname: str | None = None
    given_names: str | None = None
    personnel_number: str | None = None
    evaluations_held: str | None = Field(default=None, description="Days the plan van aanpak was evaluated")
    interruptions: str | None = Field(default=None, description="Earlier recoveries: recovered/relapsed pairs")


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    date_formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d"], min_length=1)
    list_separator: str = Field(default=";", min_length=1)
    range_separator: str = Field(default="/", min_length=1)
    delimiter: str | None = Field(default=None, description="CSV only; left out: , ; or tab, as the file has it")
    sheet: str | None = Field(default=None, description="XLSX only; left out: the first sheet")
    not_done: list[str] = Field(
        default_factory=lambda: ["niet gedaan", "not done"], description="A step's cell saying it was not done"
    )
    columns: Columns
    steps: dict[str, str] = Field(default_factory=dict, description="Statutory step key -> column of its date done")
    contacts: dict[Role, str] = Field(default_factory=dict, description="Role -> column of e-mail addresses")
    assigned: dict[Role, str] = Field(default_factory=dict, description="Role -> column of opaque person ids")
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per field (stage, employer_id), the other system's words -> Spoorwerk's value",
    )

    @field_validator("values")
    @classmethod
    def _known_value_fields(cls, values: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        unknown = set(values) - {"stage", "employer_id"}
        if unknown:
            raise ValueError(f"values: only stage and employer_id are translated, not {sorted(unknown)}")
        for word, stage in values.get("stage", {}).items():
            if stage not in {s.value for s in Stage}:
                raise ValueError(f"values.stage: {word!r} maps to {stage!r}, which is not a stage")
        return values

    def value(self, field: str, text: str) -> str:
        """The other system's word as Spoorwerk's value (matched without regard to case); unknown words as given."""
        table = {k.strip().casefold(): v for k, v in self.values.get(field, {}).items()}
        return table.get(text.strip().casefold(), text.strip())


def load_mapping(name_or_path: str | Path) -> Mapping:
    """A shipped mapping by name ("generic"), or a mapping file by its path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        shipped = MAPPINGS_DIR / f"{name_or_path}.toml"
        if shipped.exists():
            path = shipped
    try:
        text = path.read_text("utf-8")
    except OSError as err:
        raise MappingError(
            f"{name_or_path}: no such mapping ({err.strerror}); shipped: {', '.join(shipped_mappings())}"
        ) from None
    return parse_mapping(text, path.name)


def shipped_mappings() -> list[str]:
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml"))


def parse_mapping(text: str, name: str) -> Mapping:
    """A mapping from its TOML text; `name` says where it came from in an error."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise MappingError(f"{name}: not valid TOML ({err})") from None
    try:
        return Mapping.model_validate(raw)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MappingError(f"{name}: {where}: {first['msg']}") from None
