"""Additional services: requested, approved by the employer, started."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from domain.access import COACH
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import (
    ActionId,
    Role,
)
from domain.spoor2.state import ServiceRecord, TrajectoryState


class ServiceRequested(ActionBase):
    kind: Literal["service_requested"]
    service: str = Field(min_length=3, max_length=200)


class ServiceApproved(ActionBase):
    kind: Literal["service_approved"]
    request_id: ActionId


class ServiceStarted(ActionBase):
    kind: Literal["service_started"]
    request_id: ActionId


def _service(state: TrajectoryState, request_id: str) -> ServiceRecord:
    for s in state.services:
        if s.request_id == request_id:
            return s
    raise ActionRefused("request_id: no additional service was requested under %(value)r", value=request_id)


def _check_service_approved(state: TrajectoryState, a: ServiceApproved, today: date) -> None:
    s = _service(state, a.request_id)
    if s.approved_on is not None:
        raise ActionRefused(
            "request_id: %(service)r was already approved on %(on)s", service=s.service, on=s.approved_on
        )


def _service_requested(state: TrajectoryState, a: ServiceRequested, now: datetime) -> str:
    state.services.append(ServiceRecord(request_id=a.action_id, service=a.service, requested_on=a.on))
    return f"Additional service requested: {a.service}"


def _service_approved(state: TrajectoryState, a: ServiceApproved, now: datetime) -> str:
    s = _service(state, a.request_id)
    s.approved_on = a.on
    return f"Employer approved the additional service {s.service!r}"


def _check_service_started(state: TrajectoryState, a: ServiceStarted, today: date) -> None:
    s = _service(state, a.request_id)
    if s.approved_on is None:
        raise ActionRefused("service_started: %(service)r is not approved by the employer", service=s.service)
    if s.started_on is not None:
        raise ActionRefused("service_started: %(service)r started on %(on)s", service=s.service, on=s.started_on)


def _service_started(state: TrajectoryState, a: ServiceStarted, now: datetime) -> str:
    s = _service(state, a.request_id)
    s.started_on = a.on
    return f"Additional service started: {s.service}"


DECLARED: tuple[Declared[TrajectoryState], ...] = (
    Declared(ServiceRequested, frozenset({*COACH, Role.WERKNEMER}), None, _service_requested),
    Declared(ServiceApproved, frozenset({Role.WERKGEVER}), _check_service_approved, _service_approved),
    Declared(ServiceStarted, COACH, _check_service_started, _service_started),
)
