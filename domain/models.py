"""Shared vocabulary of a case: roles, stages, outcomes, statuses and opaque ids."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# Ids that travel into workflow ids, search attributes and logs. The pattern leaves no room for
# names, e-mail addresses or a BSN-like run of 9 digits being mistaken for an id format: callers
# must map people to opaque ids outside Spoorwerk.
OpaqueId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{1,63}$")]
ActionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]


class Role(StrEnum):
    """Who acts on a case (DOMAIN.md, 'Who acts')."""

    WERKNEMER = "werknemer"
    WERKGEVER = "werkgever"
    BEDRIJFSARTS = "bedrijfsarts"
    ARBEIDSDESKUNDIGE = "arbeidsdeskundige"
    CASEMANAGER = "casemanager"
    REINTEGRATIECOACH = "reintegratiecoach"
    OPERATIONS = "operations"
    UWV = "uwv"
    # The case workflow itself (timers); never accepted on an action.
    SYSTEEM = "systeem"


class Actor(BaseModel):
    """A role and an opaque id of the person acting (never a name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    id: OpaqueId | None = None


SYSTEM = Actor(role=Role.SYSTEEM)


class Stage(StrEnum):
    """Where a case stands; the value of the `CaseStage` search attribute."""

    ZIEKMELDING = "ziekmelding"
    SPOOR1 = "spoor1"
    AD_ONDERZOEK = "ad_onderzoek"
    SPOOR2 = "spoor2"
    WIA = "wia"
    CLOSED = "closed"


class Outcome(StrEnum):
    """How a case closed."""

    HERSTELD = "hersteld"  # fully recovered and no relapse within the four-week window
    EINDE_WACHTTIJD = "einde_wachttijd"  # waiting time (plus any extension) ended
    INGETROKKEN = "ingetrokken"  # withdrawn, e.g. opened in error


class DeadlineStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    OVERDUE = "overdue"
    WAIVED = "waived"  # deviated from without a new date (Reg art. 5), or no longer required
    PASSED = "passed"  # an untracked milestone whose date has gone by


class AdConclusion(StrEnum):
    """The AD-onderzoek's answer, in the fixed order of its questions."""

    EIGEN_WERK = "eigen_werk"  # own work, possibly adapted
    ANDER_WERK_INTERN = "ander_werk_intern"  # other work inside the organisation
    SPOOR2 = "spoor2"  # neither: advise spoor 2
