"""Who opens which version of a document (domain.documents.may_read_version)."""

from __future__ import annotations

from domain.documents import Audience, may_read_version
from domain.models import Role


def test_the_employer_version_is_for_every_role_that_works_on_the_case():
    for role in (Role.WERKGEVER, Role.CASEMANAGER, Role.BEDRIJFSARTS, Role.OPERATIONS):
        assert may_read_version(role, "x", Audience.WERKGEVER, requested_by="y", treating=["z"])


def test_the_bedrijfsarts_version_is_for_the_bedrijfsarts_who_treats_the_case():
    medical = Audience.BEDRIJFSARTS
    # Assigned: the assigned one, not the one who asked for it before, nor any other role.
    assert may_read_version(Role.BEDRIJFSARTS, "arts-2", medical, requested_by="arts-1", treating=["arts-2"])
    assert not may_read_version(Role.BEDRIJFSARTS, "arts-1", medical, requested_by="arts-1", treating=["arts-2"])
    assert not may_read_version(Role.CASEMANAGER, "arts-2", medical, requested_by="arts-2", treating=["arts-2"])
    assert not may_read_version(Role.OPERATIONS, "ops-1", medical, requested_by="ops-1", treating=[])
    # None assigned: the one who asked for it, not the rest of the pool.
    assert may_read_version(Role.BEDRIJFSARTS, "arts-1", medical, requested_by="arts-1", treating=[])
    assert not may_read_version(Role.BEDRIJFSARTS, "arts-3", medical, requested_by="arts-1", treating=[])
    assert not may_read_version(Role.BEDRIJFSARTS, "arts-3", medical, requested_by=None, treating=[])
