"""Whose figures a caller may see: the verzuim figures are aggregates, but of one employer's staff, so the same
need-to-know as its cases holds (domain.access). Rules as data: which role sees which employers' figures.

- operations: every employer;
- werkgever: its own employer only;
- casemanager: the employers it works for (its sign-in's `employer_ids`; none named: every employer), as it keeps
  the dossiers the figures are made of;
- the medical and re-integration professionals (bedrijfsarts, arbeidsdeskundige, re-integratiecoach) and any other
  role: none. Their work is one case, and a small employer's figures would tell of one person's illness.
"""

from __future__ import annotations

from collections.abc import Collection

from domain.errors import ActionRefused, joined
from domain.models import Role

FIGURE_ROLES: dict[Role, str] = {
    Role.OPERATIONS: "all",
    Role.WERKGEVER: "own",
    Role.CASEMANAGER: "listed",
}


def figure_employers(
    role: Role, employer_id: str | None, employer_ids: Collection[str] | None
) -> frozenset[str] | None:
    """The employers whose figures the caller may see; None: every employer. ActionRefused for a role that sees
    none (the role and the roles that do)."""
    rule = FIGURE_ROLES.get(role)
    if rule is None:
        raise ActionRefused(
            "the role %(role)s may not see verzuim figures (allowed: %(roles)s)", role=role, roles=joined(FIGURE_ROLES)
        )
    if rule == "own":
        return frozenset({employer_id}) if employer_id else frozenset()
    if rule == "listed" and employer_ids is not None:
        return frozenset(employer_ids)
    return None
