"""Who may see and act on a case: the need-to-know scopes, decided here and nowhere else.

A case records who is assigned to it per role (`CaseState.assigned`, changed by `person_assigned`
and `person_unassigned`, kept in the dossier). The rule, per role of the caller:

- operations sees every case (a cross-tenant view; medical notes stay with the bedrijfsarts, see
  `domain.models.without_medical_notes`);
- a werkgever sees the cases of its own employer;
- a casemanager, bedrijfsarts, arbeidsdeskundige or reintegratiecoach sees a case it is assigned to.
  While nobody of its role is assigned, the case is open to that role's people (the bureau's pool), so
  that one can take it up and assign themselves; a coach's pool is limited to cases whose spoor 2
  trajectory runs. A professional whose sign-in names the employers it works for
  (`employer_ids`) sees only those employers' cases, assigned or not.
- any other role sees none.

`may_access` answers for reads and actions alike (API, dashboard, documents, audit all call it through
`operations.api.readable_case`); the case workflow's validator applies `assignment_refusal` again,
with the assignments as the case holds them at that moment.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from domain.errors import ActionRefused, joined
from domain.models import Role

# The roles a case assigns people to; the casemanager may be several people, the others one at a time.
ASSIGNABLE: frozenset[Role] = frozenset(
    {Role.CASEMANAGER, Role.BEDRIJFSARTS, Role.ARBEIDSDESKUNDIGE, Role.REINTEGRATIECOACH}
)
MAX_ASSIGNED: Mapping[Role, int] = {
    Role.CASEMANAGER: 5,
    Role.BEDRIJFSARTS: 1,
    Role.ARBEIDSDESKUNDIGE: 1,
    Role.REINTEGRATIECOACH: 1,
}
# Who keeps the dossier: they record what others report to them, on the case and on its trajectory.
ADMIN: frozenset[Role] = frozenset({Role.CASEMANAGER, Role.OPERATIONS})
# The parties to the re-integration, with the dossier's keepers.
ALL_PARTIES: frozenset[Role] = frozenset({Role.WERKGEVER, Role.WERKNEMER, *ADMIN})
# The trajectory's coach, with the dossier's keepers.
COACH: frozenset[Role] = frozenset({Role.REINTEGRATIECOACH, *ADMIN})
# The marker a listing matches for "nobody of this role is assigned" (search attribute `Assigned`).
UNASSIGNED = "-"


def assigned_ids(
    assigned: Mapping[Role, Sequence[str]], role: Role, *, trajectory_coach: str | None = None
) -> list[str]:
    """Who is assigned to a case in `role`; for the coach, also the coach its spoor 2 intake named."""
    ids = list(assigned.get(role, ()))
    if role is Role.REINTEGRATIECOACH and trajectory_coach and trajectory_coach not in ids:
        ids.append(trajectory_coach)
    return ids


def may_access(
    role: Role,
    person_id: str,
    *,
    caller_employer_id: str | None,
    caller_employer_ids: Collection[str] | None,
    case_employer_id: str,
    assigned: Mapping[Role, Sequence[str]],
    trajectory_coach: str | None,
    spoor2_running: bool,
) -> bool:
    """Whether a caller may see (and so act on) a case: the module's rule."""
    if role is Role.OPERATIONS:
        return True
    if role is Role.WERKGEVER:
        return caller_employer_id is not None and caller_employer_id == case_employer_id
    if role not in ASSIGNABLE:
        return False
    if caller_employer_ids is not None and case_employer_id not in caller_employer_ids:
        return False
    ids = assigned_ids(assigned, role, trajectory_coach=trajectory_coach)
    if ids:
        return person_id in ids
    return spoor2_running if role is Role.REINTEGRATIECOACH else True


def assignment_list_refusal(role: Role, ids: Sequence[str], *, field: str = "role") -> ActionRefused | None:
    """Why a case cannot have these people assigned in `role` (the role is not assigned, too many, twice), naming
    `field`; None when it can."""
    if role not in ASSIGNABLE:
        return ActionRefused(
            "%(field)s: a %(role)s is not assigned to a case (assignable: %(roles)s)",
            field=field,
            role=role,
            roles=joined(ASSIGNABLE),
        )
    if len(set(ids)) != len(ids):
        return ActionRefused("%(field)s: a person is named twice", field=field)
    if len(ids) > MAX_ASSIGNED[role]:
        return ActionRefused(
            "%(field)s: a case has at most %(limit)s %(role)s assigned at a time",
            field=field,
            limit=MAX_ASSIGNED[role],
            role=role,
        )
    return None


def assignment_refusal(
    assigned: Mapping[Role, Sequence[str]], role: Role, person_id: str | None, *, trajectory_coach: str | None = None
) -> ActionRefused | None:
    """Why the case refuses an action of this person, judged by the assignments alone; None when it does not."""
    if role not in ASSIGNABLE:
        return None
    ids = assigned_ids(assigned, role, trajectory_coach=trajectory_coach)
    if ids and person_id not in ids:
        return ActionRefused(
            "actor.id: this %(role)s is not assigned to the case; ask its casemanager or operations to assign you",
            role=role,
        )
    return None


def listing_markers(role: Role, person_id: str) -> list[str]:
    """The `Assigned` search attribute values that make a case listed for this person (assigned, or the pool)."""
    return [f"{role.value}:{person_id}", f"{role.value}:{UNASSIGNED}"]


def attribute_values(
    assigned: Mapping[Role, Sequence[str]], *, trajectory_coach: str | None, spoor2_running: bool
) -> list[str]:
    """The case's `Assigned` search attribute: `role:id` per assigned person, `role:-` where the role's pool sees it
    (the same rule as `may_access`, so a listing shows what a read allows)."""
    values: list[str] = []
    for role in sorted(ASSIGNABLE):
        ids = assigned_ids(assigned, role, trajectory_coach=trajectory_coach)
        if ids:
            values += [f"{role.value}:{i}" for i in ids]
        elif role is not Role.REINTEGRATIECOACH or spoor2_running:
            values.append(f"{role.value}:{UNASSIGNED}")
    return values
