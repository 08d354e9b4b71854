"""The arbeidsdeskundig onderzoek: started, its conversations, its answers in the order of its questions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from domain.access import ADMIN
from domain.case.stages import set_stage
from domain.case.state import AdConversation, CaseState
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import AdConclusion, AdParty, Role, Stage


class AdOnderzoekStarted(ActionBase):
    kind: Literal["ad_onderzoek_started"]


class AdGesprekHeld(ActionBase):
    """A conversation of the AD-onderzoek: with the employer, the employee, or a workplace visit."""

    kind: Literal["ad_gesprek_held"]
    party: AdParty


class AdOnderzoekConcluded(ActionBase):
    """The AD-onderzoek's answers, in the fixed order of its questions.

    `own_work_possible` first; only if not, `other_work_inside_possible`; if neither, the advice is
    spoor 2. `conclusion`, if given, must be where the answers lead.
    """

    kind: Literal["ad_onderzoek_concluded"]
    own_work_possible: bool | None = Field(default=None, description="Own work, adapted if needed?")
    other_work_inside_possible: bool | None = Field(default=None, description="Other work inside the organisation?")
    conclusion: AdConclusion | None = None
    report_reference: str | None = Field(default=None, min_length=1, max_length=200)

    def answers(self) -> AdConclusion | None:
        """The conclusion the answers lead to, in the order of the questions."""
        if self.own_work_possible is None:
            return None
        if self.own_work_possible:
            return AdConclusion.EIGEN_WERK
        if self.other_work_inside_possible:
            return AdConclusion.ANDER_WERK_INTERN
        return AdConclusion.SPOOR2


def _check_ad_started(state: CaseState, action: AdOnderzoekStarted, today: date) -> None:
    if state.stage is Stage.ZIEKMELDING:
        raise ActionRefused("ad_onderzoek_started: needs a probleemanalyse on record first")
    if state.ad.running:
        raise ActionRefused(
            "ad_onderzoek_started: an AD-onderzoek is already running (since %(on)s)", on=state.ad.started_on
        )


def _check_ad_gesprek(state: CaseState, action: AdGesprekHeld, today: date) -> None:
    if not state.ad.running:
        raise ActionRefused(
            "ad_gesprek_held: no AD-onderzoek is running; record \u201c%(next_kind)s\u201d first",
            next_kind="ad_onderzoek_started",
        )
    assert state.ad.started_on is not None  # running
    if action.on < state.ad.started_on:
        raise ActionRefused(
            "on: %(on)s is before the AD-onderzoek started (%(started_on)s)",
            on=action.on,
            started_on=state.ad.started_on,
        )


def _check_ad_concluded(state: CaseState, action: AdOnderzoekConcluded, today: date) -> None:
    if state.stage is Stage.ZIEKMELDING:
        raise ActionRefused("ad_onderzoek_concluded: needs a probleemanalyse on record first")
    if state.ad.started_on is not None and action.on < state.ad.started_on:
        raise ActionRefused(
            "on: %(on)s is before the AD-onderzoek started (%(started_on)s)",
            on=action.on,
            started_on=state.ad.started_on,
        )
    # The questions are answered in a fixed order: own work, then other work inside, else spoor 2.
    if action.own_work_possible is None:
        raise ActionRefused(
            "own_work_possible: the AD-onderzoek first answers whether the employee can do their own "
            "work, adapted if needed"
        )
    elif action.own_work_possible and action.other_work_inside_possible is not None:
        raise ActionRefused("other_work_inside_possible: asked only when own work is not possible; leave it out")
    elif not action.own_work_possible and action.other_work_inside_possible is None:
        raise ActionRefused(
            "other_work_inside_possible: own work is not possible, so say whether other work inside the organisation is"
        )
    elif action.conclusion is not None and action.conclusion is not action.answers():
        raise ActionRefused(
            "conclusion: the answers lead to %(expected)s, not %(given)s",
            expected=action.answers(),
            given=action.conclusion,
        )
    if not state.ad.running:
        raise ActionRefused(
            "ad_onderzoek_concluded: no AD-onderzoek is running; record \u201c%(next_kind)s\u201d first",
            next_kind="ad_onderzoek_started",
        )
    held = {c.party for c in state.ad.conversations}
    missing = [p.value for p in (AdParty.WERKGEVER, AdParty.WERKNEMER) if p not in held]
    if missing:
        raise (
            ActionRefused(
                "ad_onderzoek_concluded: the AD-onderzoek needs a conversation with the werkgever and the "
                "werknemer on record first (ad_gesprek_held)"
            )
            if len(missing) > 1
            else ActionRefused(
                "ad_onderzoek_concluded: the AD-onderzoek needs a conversation with the %(party_role)s on "
                "record first (ad_gesprek_held)",
                party_role=missing[0],
            )
        )


def _ad_started(state: CaseState, action: AdOnderzoekStarted, now: datetime) -> str:
    state.ad.started_on, state.ad.conclusion = action.on, None
    state.ad.conversations, state.ad.report_reference = [], None
    if state.stage is Stage.SPOOR1:
        set_stage(state, Stage.AD_ONDERZOEK, on=action.on, now=now, actor=action.actor)
    return "AD-onderzoek started"


_GESPREK = {
    AdParty.WERKGEVER: "conversation with the employer",
    AdParty.WERKNEMER: "conversation with the employee",
    AdParty.WERKPLEKBEZOEK: "workplace visit",
}


def _ad_gesprek(state: CaseState, action: AdGesprekHeld, now: datetime) -> str:
    state.ad.conversations.append(AdConversation(party=action.party, on=action.on, action_id=action.action_id))
    return f"AD-onderzoek: {_GESPREK[action.party]}"


def _ad_concluded(state: CaseState, action: AdOnderzoekConcluded, now: datetime) -> str:
    conclusion = action.answers()
    assert conclusion is not None  # the check asks for the answers
    state.ad.conclusion = conclusion
    state.ad.report_reference = action.report_reference
    if state.stage in (Stage.SPOOR1, Stage.AD_ONDERZOEK):
        target = Stage.AD_ONDERZOEK if conclusion is AdConclusion.SPOOR2 else Stage.SPOOR1
        set_stage(state, target, on=action.on, now=now, actor=action.actor)
    steps = ["own work: " + ("possible" if action.own_work_possible else "not possible")]
    if action.other_work_inside_possible is not None:
        steps.append("other work inside: " + ("possible" if action.other_work_inside_possible else "not possible"))
    advice = {
        AdConclusion.EIGEN_WERK: "back to own work",
        AdConclusion.ANDER_WERK_INTERN: "other work inside the organisation",
        AdConclusion.SPOOR2: "advice: spoor 2",
    }[conclusion]
    return f"AD-onderzoek concluded: {'; '.join(steps)}; {advice}"


DECLARED: tuple[Declared[CaseState], ...] = (
    Declared(
        AdOnderzoekStarted,
        frozenset({Role.ARBEIDSDESKUNDIGE, Role.WERKGEVER, *ADMIN}),
        _check_ad_started,
        _ad_started,
    ),
    Declared(AdGesprekHeld, frozenset({Role.ARBEIDSDESKUNDIGE}), _check_ad_gesprek, _ad_gesprek),
    Declared(AdOnderzoekConcluded, frozenset({Role.ARBEIDSDESKUNDIGE}), _check_ad_concluded, _ad_concluded),
)
