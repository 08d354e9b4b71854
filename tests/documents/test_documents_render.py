"""The case's documents rendered from seeded cases: their text read back from the PDF, their pages looked at as images."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from datetime import date, datetime, time, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import TypeVar

import pytest
from PIL import Image
from pypdf import PdfReader

from documents.render import Rendered, RenderError, render, render_html
from domain import case as c
from domain import spoor2 as s2
from domain.actions import parse_action
from domain.case import CaseOpening, CaseState, gaps
from domain.documents import Audience, DocumentKind, DocumentOrder, add_months
from domain.dossier_check import GapKind
from domain.models import Actor, DeadlineStatus, Role
from service.rulebook import load_dossier_rules, load_rulebook, load_spoor2_rules, load_stagnation_rules
from tests.paths import TESTS

ARTIFACTS = TESTS / "artifacts" / "documents"
# The bedrijfsarts's notes: medical, so in its own version only.
PA_NOTE = "Diagnose: hernia nuclei pulposi L5-S1 met uitstraling"
FINDINGS_NOTE = "Medisch: status na discectomie, neuropathische pijn"
PAUSE_NOTE = "Medisch: heroperatie wegens recidief hernia"
OORDEEL_NOTE = "Medisch: restklachten na heroperatie, pijnmedicatie"
MEDICAL = (PA_NOTE, FINDINGS_NOTE, PAUSE_NOTE, OORDEEL_NOTE)
GROUNDS_GO = {
    "belastbaarheid": "Belastbaar voor 4 uur per dag volgens de FML van de bedrijfsarts, zonder tillen",
    "skills": "Ruime administratieve ervaring, MS Office, klantcontact",
    "coping": "Actieve copingstijl; gemotiveerd om ander werk te vinden",
    "circumstances": "Geen persoonlijke belemmeringen om te solliciteren",
    "labour_market": "Voldoende vacatures voor administratief werk in de regio",
}
GROUNDS_NO_GO = {
    "belastbaarheid": "Volgens de bedrijfsarts belastbaar voor hooguit 2 uur per dag; geen duurzaam benutbare mogelijkheden",
    "skills": "Uitsluitend ervaring in zwaar fysiek werk; weinig overdraagbare vaardigheden",
    "coping": "Passieve copingstijl; verwerking van het verlies van het eigen werk is nog niet begonnen",
    "circumstances": "Intensieve mantelzorg thuis; het tempo richting werk is zeer laag",
    "labour_market": "Geen realistische functies bij reguliere werkgevers binnen 2 uur per dag",
}
DATE = re.compile(r"\b\d{2}-\d{2}-\d{4}\b")
T = TypeVar("T")


def _now(on: date) -> datetime:
    return datetime.combine(on, time(9), tzinfo=timezone.utc)


def fmt(d: date | None) -> str:
    assert d is not None, "a date the document prints was expected here"
    return d.strftime("%d-%m-%Y")


def present(value: T | None) -> T:
    """A value the seeded case has by now (an intake held, a haalbaarheidstoets decided)."""
    assert value is not None
    return value


class Seed:
    """A case built with the domain functions, the way people and time would act on it (no Temporal: fast)."""

    def __init__(self, case_id: str, first: date) -> None:
        self.first = first
        opening = CaseOpening(
            case_id=case_id,
            employer_id="E-acme",
            first_sick_day=first,
            opened_by=Actor(role=Role.CASEMANAGER, id="cm-12"),
        )
        self.stagnation = load_stagnation_rules()
        self.case: CaseState = c.open_case(
            opening,
            load_rulebook().for_first_sick_day(first),
            today=first,
            now=_now(first),
            spoor2_rules=load_spoor2_rules(),
            stagnation_rules=self.stagnation,
            dossier_rules=load_dossier_rules(),
        )
        self.trajectory: s2.TrajectoryState | None = None
        self._ids = itertools.count(1)
        self.tokens: dict[str, date] = {}  # activity note token -> day

    @property
    def traj(self) -> s2.TrajectoryState:
        """The spoor 2 trajectory, once spoor 2 started."""
        return present(self.trajectory)

    def day(self, n: int) -> date:
        """Illness day n (no recovery in these cases)."""
        return self.first + timedelta(days=n - 1)

    def tick(self, on: date) -> None:
        if self.trajectory is not None and not self.trajectory.ended:
            s2.tick(self.traj, today=on, now=_now(on))
            self._push(on)
        c.tick(self.case, today=on, now=_now(on), in_order=True)

    def _push(self, on: date) -> None:
        update = s2.update_for_case(self.traj, self.case.spoor2.entries_seen)
        c.apply_trajectory_update(self.case, update, now=_now(on))

    def _evaluations(self, until: date) -> None:
        """Hold each evaluation of the plan van aanpak a day before it falls due, as a diligent employer would."""
        while True:
            due = [
                v.due
                for v in c.deadlines(self.case, until)
                if v.key == "evaluatie"
                and v.due
                and v.status in (DeadlineStatus.OPEN, DeadlineStatus.OVERDUE)
                and v.due - timedelta(days=1) <= until
            ]
            if not due:
                return
            on = min(due) - timedelta(days=1)
            self.tick(on)
            self._apply("evaluatie_held", on, "werkgever", "hr-1", {})

    def _apply(self, kind: str, on: date, role: str, actor_id: str | None, fields: dict) -> None:
        actor = {"role": role, **({"id": actor_id} if actor_id else {})}
        action = parse_action(
            {"kind": kind, "action_id": f"a{next(self._ids)}", "actor": actor, "on": on.isoformat(), **fields}
        )
        c.apply(self.case, action, on, _now(on))

    def act(self, kind: str, on: date, role: str = "casemanager", actor_id: str | None = "cm-12", **fields) -> None:
        if "plan_van_aanpak" in self.case.done:
            self._evaluations(on)
        self.tick(on)
        self._apply(kind, on, role, actor_id, fields)
        if kind == "spoor2_started":
            c.trajectory_started(self.case)
            self.trajectory = s2.start_trajectory(
                self.case.case_id,
                on,
                present(self.case.spoor2.rules),
                now=_now(on),
                actor=Actor(role=Role(role), id=actor_id),
                watch=self.stagnation.spoor2,
            )
            self._push(on)

    def tact(
        self, kind: str, on: date, role: str = "reintegratiecoach", actor_id: str | None = "coach-7", **fields
    ) -> None:
        if "plan_van_aanpak" in self.case.done and "reintegratieverslag" not in self.case.done:
            self._evaluations(on)
        self.tick(on)
        actor = {"role": role, **({"id": actor_id} if actor_id else {})}
        action = s2.parse_spoor2_action(
            {"kind": kind, "action_id": f"t{next(self._ids)}", "actor": actor, "on": on.isoformat(), **fields}
        )
        s2.apply(self.traj, action, on, _now(on))
        self._push(on)

    def activity(self, on: date, activity: str = "conversation") -> None:
        token = f"ACT{len(self.tokens) + 1:03d}"
        self.tokens[token] = on
        self.tact("activity_recorded", on, activity=activity, note=f"{token} vastgelegd")

    def phase(self, number: int, start: date, days: int, *, skip: tuple[int, int] | None = None) -> date:
        """Run phase `number` from `start` for `days`: conversations on its cadence, applications; returns its last day."""
        self.tact("phase_started", start, phase=number)
        offsets = [7, 14, 21, 28, 35] if number == 1 else []
        offsets += list(range((offsets[-1] if offsets else 0) + 14, days, 14))
        for n, off in enumerate(offsets):
            if skip and skip[0] <= off <= skip[1]:
                continue
            self.activity(start + timedelta(days=off))
            if n % 2 == 1:
                self.activity(start + timedelta(days=off + 2), "application")
        end = start + timedelta(days=days)
        self.tact("phase_completed", end, phase=number)
        return end


def spoor1(seed: Seed, *, late_pa: bool) -> None:
    """Ziekmelding, probleemanalyse (late or on time), plan van aanpak, evaluations, 42nd-week report, AD, first-year review."""
    seed.act("ziekmelding_arbodienst_sent", seed.day(2), role="werkgever", actor_id="hr-1")
    if late_pa:
        seed.tick(seed.day(44))  # the probleemanalyse is overdue and the case escalates
    pa_day = seed.day(51 if late_pa else 38)
    seed.act(
        "probleemanalyse_recorded",
        pa_day,
        role="bedrijfsarts",
        actor_id="ba-4",
        belastbaarheid_hours_per_day=4,
        note=PA_NOTE,
    )
    seed.act(
        "plan_van_aanpak_agreed",
        pa_day + timedelta(days=10),
        role="werkgever",
        actor_id="hr-1",
        casemanager_id="cm-12",
        employer_view="Aangepast eigen werk lijkt mogelijk, opbouwend vanaf 4 uur per dag",
        employee_view="Eerst herstellen, dan geleidelijk opbouwen in het eigen werk",
    )
    uwv_due = present(next(v.due for v in c.deadlines(seed.case, seed.day(300)) if v.key == "ziekmelding_uwv"))
    seed.act("ziekmelding_uwv_sent", uwv_due, role="werkgever", actor_id="hr-1")
    ad = seed.day(7 * 43 + 2)
    seed.act("ad_onderzoek_started", ad, role="arbeidsdeskundige", actor_id="ad-3")
    seed.act("ad_gesprek_held", ad + timedelta(days=3), role="arbeidsdeskundige", actor_id="ad-3", party="werkgever")
    seed.act("ad_gesprek_held", ad + timedelta(days=5), role="arbeidsdeskundige", actor_id="ad-3", party="werknemer")
    seed.act(
        "ad_onderzoek_concluded",
        ad + timedelta(days=14),
        role="arbeidsdeskundige",
        actor_id="ad-3",
        own_work_possible=False,
        other_work_inside_possible=False,
        report_reference="AD-2024-117",
    )
    seed.act(
        "eerstejaarsevaluatie_held",
        seed.day(360),
        role="werkgever",
        actor_id="hr-1",
        employer_view="Geen passend werk binnen de organisatie; tweede spoor inzetten",
        employee_view="Wil graag ander werk zoeken, administratief of aan een balie",
    )


def intake(seed: Seed, start: date) -> None:
    for key, role, who in (
        ("toestemmingsformulier", "casemanager", "cm-12"),
        ("opdrachtbevestiging", "werkgever", "hr-1"),
        ("ad_rapport", "arbeidsdeskundige", "ad-3"),
    ):
        seed.tact(
            "document_received",
            start + timedelta(days=2),
            role=role,
            actor_id=who,
            document=key,
            reference=f"dms://{key}/2025",
        )
    seed.tact(
        "document_received",
        start + timedelta(days=3),
        role="bedrijfsarts",
        actor_id="ba-4",
        document="bedrijfsarts_bevindingen",
        reference="dms://ba/2025-11",
        belastbaarheid_hours_per_day=4,
        note=FINDINGS_NOTE,
    )
    seed.tact(
        "document_received",
        start + timedelta(days=3),
        role="bedrijfsarts",
        actor_id="ba-4",
        document="fml",
        reference="dms://fml/2025-11",
    )
    seed.tact(
        "intake_held",
        start + timedelta(days=7),
        coach_id="coach-7",
        note="Kennismaking en inventarisatie; goede klik met de coach",
    )
    seed.tact("proposal_sent", start + timedelta(days=8))
    seed.tact("purchase_approved", start + timedelta(days=10), role="werkgever", actor_id="hr-1", scope="whole")


def full_case(case_id: str, *, late_pa: bool) -> Seed:
    """A case from first sick day to the WIA application: spoor 1, AD, three phases of spoor 2, a pause, a stall."""
    seed = Seed(case_id, date(2024, 1, 8))
    spoor1(seed, late_pa=late_pa)
    start = seed.day(367)
    seed.act("spoor2_started", start, role="werkgever", actor_id="hr-1")
    intake(seed, start)
    seed.tact(
        "haalbaarheidstoets_decided",
        start + timedelta(days=14),
        decision="go",
        grounds=GROUNDS_GO,
        zoekprofiel="Administratief werk of receptie, 20 uur per week, binnen 30 km",
        coach_id="coach-7",
    )
    p1_end = seed.phase(1, start + timedelta(days=15), 88)
    p2 = p1_end + timedelta(days=1)
    # Phase 2: an extra service; paused with the bedrijfsarts for two weeks; a stall after it, with a measure.
    seed.tact("phase_started", p2, phase=2)
    seed.tact("service_requested", p2 + timedelta(days=10), service="Insights Discovery-profiel")
    request_id = seed.traj.services[-1].request_id
    seed.tact("service_approved", p2 + timedelta(days=12), role="werkgever", actor_id="hr-1", request_id=request_id)
    seed.activity(p2 + timedelta(days=14))
    seed.tact("service_started", p2 + timedelta(days=20), request_id=request_id)
    seed.activity(p2 + timedelta(days=28))
    seed.tact(
        "phase_paused",
        p2 + timedelta(days=30),
        role="bedrijfsarts",
        actor_id="ba-4",
        reason="illness",
        bedrijfsarts_consent_on=(p2 + timedelta(days=29)).isoformat(),
        note=PAUSE_NOTE,
    )
    seed.tact("phase_resumed", p2 + timedelta(days=44), role="bedrijfsarts", actor_id="ba-4")
    seed.activity(p2 + timedelta(days=46))
    seed.act("stagnation_reported", p2 + timedelta(days=50), role="reintegratiecoach", actor_id="coach-7")
    seed.act("non_cooperation_recorded", p2 + timedelta(days=52), role="werkgever", actor_id="hr-1")
    seed.act("measure_taken", p2 + timedelta(days=55), role="werkgever", actor_id="hr-1", measure="aanspreken")
    for off in range(58, 100, 14):
        seed.activity(p2 + timedelta(days=off))
        seed.activity(p2 + timedelta(days=off + 3), "application")
    seed.activity(p2 + timedelta(days=90), "progress_meeting")
    p2_end = p2 + timedelta(days=102)
    seed.tact("phase_completed", p2_end, phase=2)
    # Phase 3 until the outcome, with the bedrijfsarts's actueel oordeel and the re-integratieverslag on the way.
    p3 = p2_end + timedelta(days=1)
    seed.tact("phase_started", p3, phase=3)
    outcome_day = seed.day(7 * 90 - 1)
    steps = [
        (
            seed.day(7 * 86),
            lambda on: seed.act(
                "bedrijfsarts_oordeel",
                on,
                role="bedrijfsarts",
                actor_id="ba-4",
                belastbaarheid_hours_per_day=4,
                note=OORDEEL_NOTE,
            ),
        ),
        (
            seed.day(7 * 90 - 5),
            lambda on: seed.act(
                "eindevaluatie_held",
                on,
                role="werkgever",
                actor_id="hr-1",
                employer_view="Terug naar werk lukte niet; WIA-aanvraag",
                employee_view="Eens met het verloop",
            ),
        ),
        (
            seed.day(7 * 90 - 4),
            lambda on: seed.act(
                "werknemer_oordeel_recorded",
                on,
                role="werknemer",
                actor_id=None,
                opinion="De begeleiding was goed",
                agrees=True,
            ),
        ),
        (
            seed.day(7 * 90 - 3),
            lambda on: seed.act("reintegratieverslag_completed", on, role="werkgever", actor_id="hr-1"),
        ),
    ]
    for off in range(14, (outcome_day - p3).days, 14):
        steps.append((p3 + timedelta(days=off), seed.activity))
        if p3 + timedelta(days=off + 4) < outcome_day:
            steps.append((p3 + timedelta(days=off + 4), lambda on: seed.activity(on, "interview")))
    for on, step in sorted(steps, key=lambda s: s[0]):
        step(on)
    seed.tact("outcome_recorded", outcome_day, outcome="geen_resultaat")
    seed.act("wia_aanvraag_filed", seed.day(7 * 91 + 2), role="werknemer", actor_id=None)
    seed.tick(seed.day(7 * 92))
    return seed


def no_go_case() -> Seed:
    seed = Seed("C-nogo-1", date(2025, 1, 6))
    spoor1(seed, late_pa=False)
    start = seed.day(367)
    seed.act("spoor2_started", start, role="werkgever", actor_id="hr-1")
    intake(seed, start)
    seed.tact(
        "haalbaarheidstoets_decided",
        start + timedelta(days=14),
        decision="no_go",
        grounds=GROUNDS_NO_GO,
        report_reference="NG-2026-031",
    )
    return seed


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def late() -> Seed:
    return full_case("C-late-pa", late_pa=True)


@pytest.fixture(scope="module")
def clean() -> Seed:
    return full_case("C-on-time", late_pa=False)


@pytest.fixture(scope="module")
def nogo() -> Seed:
    return no_go_case()


_rendered: dict[tuple, Rendered] = {}


def make(
    seed: Seed,
    kind: DocumentKind,
    as_of: date,
    audience: Audience = Audience.WERKGEVER,
    *,
    fresh: bool = False,
    **period,
) -> Rendered:
    """Render once per order and seed (rendering is deterministic, as a test shows with `fresh`): keeps the file fast."""
    key = (id(seed), kind, as_of, audience, tuple(sorted(period.items())))
    if fresh or key not in _rendered:
        order = DocumentOrder(order_id=f"test-{kind.value}", kind=kind, audience=audience, as_of=as_of, **period)
        _rendered[key] = render(order, seed.case, seed.trajectory, preflight=load_dossier_rules().preflight)
    return _rendered[key]


def text_of(pdf: bytes) -> str:
    """The PDF's text with whitespace folded, the way a reader (or UWV) would search it."""
    reader = PdfReader(BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return " ".join(re.sub(r"(\w-)\n(\w)", r"\1\2", text).split())  # "re-" at a line's end goes on with "integratie"


def pages_of(pdf: bytes) -> int:
    return len(PdfReader(BytesIO(pdf)).pages)


def header_ok(text: str, seed: Seed, as_of: date, audience: Audience) -> None:
    assert seed.case.case_id in text and "E-acme" in text
    assert f"Eerste ziektedag {fmt(seed.first)}" in text and f"Peildatum {fmt(as_of)}" in text
    label = (
        "Versie werkgever — zonder medische gegevens"
        if audience is Audience.WERKGEVER
        else "Versie bedrijfsarts — bevat medische gegevens, vertrouwelijk"
    )
    assert label in text


def after(text: str, anchor: str, width: int = 160) -> str:
    """The text that follows `anchor` (a table row's cells come out in order)."""
    at = text.index(anchor)
    return text[at : at + len(anchor) + width]


# --------------------------------------------------------------------------- tests


def test_wia_overview_lists_a_late_probleemanalyse_as_a_gap_with_its_dates(late: Seed):
    as_of = late.day(7 * 92)
    found = gaps(late.case, as_of, load_dossier_rules().preflight)
    assert [(g.key, g.kind) for g in found] == [("probleemanalyse", GapKind.LATE)]  # the seed is what it says
    due, done = late.day(42), late.day(51)

    doc = make(late, DocumentKind.REINTEGRATIEOVERZICHT, as_of)
    text = text_of(doc.pdf)
    header_ok(text, late, as_of, Audience.WERKGEVER)
    assert "1 gat in het dossier, waarvan 1 met risico op een loonsanctie" in text
    gap_row = after(text, "Dossiercheck: gaten met risico op een loonsanctie", 400)
    assert "Probleemanalyse door de bedrijfsarts te laat loonsanctie" in gap_row
    assert f"{fmt(due)} {fmt(done)}" in gap_row and "9 dagen te laat" in gap_row
    # Every statutory step with its due and actual date, in dd-mm-yyyy.
    steps = after(text, "Wettelijke stappen Stap Uiterlijk", 3000)
    assert f"Probleemanalyse door de bedrijfsarts {fmt(due)} {fmt(done)} gedaan, 9 dagen te laat" in steps
    for v in c.deadlines(late.case, as_of):
        if v.status is DeadlineStatus.DONE and v.occurrence is None:
            assert f"{fmt(v.due)} {fmt(v.done_on)}" in steps, v.key
    evaluations = [v for v in c.deadlines(late.case, as_of) if v.key == "evaluatie"]
    assert len(evaluations) >= 10 and all(f"{fmt(v.due)} {fmt(v.done_on)} gedaan" in steps for v in evaluations)
    # The spoor 1 and spoor 2 record, escalations and measures are in it.
    assert "AD-2024-117" in text and "geen van beide: advies tweede spoor" in text
    assert "Fase 1:" in text and "Fase 3:" in text and "Insights Discovery-profiel" in text
    assert "Escalatie naar niveau 1: een wettelijke stap is te laat" in text
    assert "Escalatie naar niveau 3: de werknemer werkt niet mee" in text
    assert "Maatregel genomen: De werknemer aanspreken op zijn medewerking" in text
    assert doc.filename_stem == f"C-late-pa_reintegratieoverzicht_{as_of:%Y%m%d}_werkgever"


def test_wia_overview_of_a_case_without_gaps_says_so(clean: Seed):
    as_of = clean.day(7 * 92)
    assert gaps(clean.case, as_of, load_dossier_rules().preflight) == []
    text = text_of(make(clean, DocumentKind.REINTEGRATIEOVERZICHT, as_of).pdf)
    assert "Geen gaten gevonden." in text and "gat in het dossier" not in text and "te laat loonsanctie" not in text
    assert "Probleemanalyse door de bedrijfsarts " + fmt(clean.day(42)) + " " + fmt(clean.day(38)) + " gedaan " in text


def test_employer_version_holds_no_medical_note_and_the_bedrijfsarts_version_does(late: Seed):
    as_of = late.day(7 * 92)
    employer = make(late, DocumentKind.REINTEGRATIEOVERZICHT, as_of, Audience.WERKGEVER)
    doctor = make(late, DocumentKind.REINTEGRATIEOVERZICHT, as_of, Audience.BEDRIJFSARTS)
    employer_text, doctor_text = text_of(employer.pdf), text_of(doctor.pdf)
    for note in MEDICAL:
        assert note not in employer_text and note not in employer.html, note
        assert note in doctor_text, note
    header_ok(doctor_text, late, as_of, Audience.BEDRIJFSARTS)
    # What the employer may see stays: capacity and the coach's notes.
    assert "belastbaarheid 4 uur per dag" in employer_text and "ACT001 vastgelegd" in employer_text
    # The intake report too: the bedrijfsarts's findings came with a note.
    intake_day = present(late.traj.intake_on)
    employer_intake = make(late, DocumentKind.INTAKEVERSLAG, intake_day, Audience.WERKGEVER)
    doctor_intake = make(late, DocumentKind.INTAKEVERSLAG, intake_day, Audience.BEDRIJFSARTS)
    assert FINDINGS_NOTE not in text_of(employer_intake.pdf) and FINDINGS_NOTE not in employer_intake.html
    assert FINDINGS_NOTE in text_of(doctor_intake.pdf)


def test_intakeverslag_shows_dates_documents_coach_and_next_steps(late: Seed):
    start, intake_day = late.traj.started_on, present(late.traj.intake_on)
    doc = make(late, DocumentKind.INTAKEVERSLAG, intake_day)
    text = text_of(doc.pdf)
    header_ok(text, late, intake_day, Audience.WERKGEVER)
    assert f"Tweede spoor gestart {fmt(start)} door werkgever hr-1" in text
    for label in (
        "Toestemmingsformulier",
        "Getekende opdrachtbevestiging",
        "AD-rapport eerste ziektejaar",
        "Functionele Mogelijkhedenlijst (FML)",
    ):
        assert label in text
    assert f"Documenten compleet {fmt(start + timedelta(days=3))}" in text
    assert f"Intake uiterlijk {fmt(start + timedelta(days=10))}" in text
    assert f"Intakegesprek {fmt(intake_day)}" in text and "Re-integratiecoach coach-7" in text
    assert "Voorstel voor het traject aan de werkgever" in text and "Haalbaarheidstoets: go of no-go" in text
    assert "ontbreekt" not in text


def test_progress_report_covers_only_the_activities_of_its_period(late: Seed):
    start = add_months(late.traj.started_on, 2)
    end = add_months(late.traj.started_on, 3) - timedelta(days=1)
    inside = {t for t, on in late.tokens.items() if start <= on <= end}
    outside = set(late.tokens) - inside
    assert inside and outside
    doc = make(late, DocumentKind.VOORTGANGSRAPPORTAGE, end + timedelta(days=1), period_start=start, period_end=end)
    text = text_of(doc.pdf)
    assert set(re.findall(r"ACT\d{3}", text)) == inside
    assert f"Periode {fmt(start)} t/m {fmt(end)}" in text
    # Every date in the activity table lies within the period.
    table = text[text.index("Activiteiten in de periode") : text.index("Pauzes en aanvullende diensten")]
    days = {datetime.strptime(d, "%d-%m-%Y").date() for d in DATE.findall(table)}
    assert days and all(start <= d <= end for d in days)
    assert "fase 1 loopt" in text and "Volgend gesprek met de re-integratiecoach" in text


def test_progress_report_over_the_pause_shows_it_and_what_comes_next(late: Seed):
    pause = late.traj.pauses[0]
    start, end = pause.on - timedelta(days=10), pause.on + timedelta(days=20)
    text = text_of(make(late, DocumentKind.VOORTGANGSRAPPORTAGE, end, period_start=start, period_end=end).pdf)
    assert f"{fmt(pause.on)} ziekte {fmt(pause.consent_on)} {fmt(pause.resumed_on)}" in text
    assert "Insights Discovery-profiel" in text and PAUSE_NOTE not in text
    assert "Vooruitblik: wat wordt verwacht" in text and "Einde van fase 2" in text


def test_no_go_report_lists_its_five_grounds_and_what_it_means_for_the_wia_application(nogo: Seed):
    decided = present(nogo.traj.haalbaarheid).on
    doc = make(nogo, DocumentKind.NO_GO_RAPPORT, decided)
    text = text_of(doc.pdf)
    header_ok(text, nogo, decided, Audience.WERKGEVER)
    assert f"Besluit haalbaarheidstoets: no-go — op {fmt(decided)}" in text and "NG-2026-031" in text
    for ground in GROUNDS_NO_GO.values():
        assert ground in text
    assert text.index("1. Actuele fysieke en mentale belastbaarheid") < text.index("5. Arbeidsmarktpotentieel")
    riv = next(v.due for v in c.deadlines(nogo.case, decided) if v.key == "reintegratieverslag")
    wia = next(v.due for v in c.deadlines(nogo.case, decided) if v.key == "wia_aanvraag")
    assert (
        f"Re-integratieverslag gereed, uiterlijk {fmt(riv)}" in text and f"WIA-aanvraag, uiterlijk {fmt(wia)}" in text
    )
    assert "poortwachtersproof" in text and "re-integratiedocument mee met de WIA-aanvraag" in text


def test_rendering_is_deterministic(late: Seed):
    as_of = late.day(7 * 92)
    first = make(late, DocumentKind.REINTEGRATIEOVERZICHT, as_of)
    second = make(late, DocumentKind.REINTEGRATIEOVERZICHT, as_of, fresh=True)
    assert first is not second
    assert first.html == second.html and first.pdf == second.pdf  # timeline included: the same order, the same hash
    metadata = PdfReader(BytesIO(first.pdf)).metadata
    assert metadata is not None and metadata["/CreationDate"] == f"D:{as_of:%Y%m%d}120000+00'00"


def test_documents_render_from_the_dossier_when_the_trajectory_state_is_gone(late: Seed, nogo: Seed):
    preflight = load_dossier_rules().preflight
    start = late.traj.started_on
    orders = [
        (late, DocumentOrder(order_id="i", kind=DocumentKind.INTAKEVERSLAG, as_of=present(late.traj.intake_on))),
        (
            late,
            DocumentOrder(
                order_id="v",
                kind=DocumentKind.VOORTGANGSRAPPORTAGE,
                as_of=add_months(start, 5),
                period_start=add_months(start, 4),
                period_end=add_months(start, 5) - timedelta(days=1),
            ),
        ),
        (
            late,
            DocumentOrder(
                order_id="r",
                kind=DocumentKind.REINTEGRATIEOVERZICHT,
                as_of=late.day(7 * 92),
                audience=Audience.BEDRIJFSARTS,
            ),
        ),
        (nogo, DocumentOrder(order_id="n", kind=DocumentKind.NO_GO_RAPPORT, as_of=present(nogo.traj.haalbaarheid).on)),
    ]
    for seed, order in orders:
        assert render_html(order, seed.case, None, preflight=preflight) == render_html(
            order, seed.case, seed.trajectory, preflight=preflight
        ), order.kind


def test_a_document_the_case_cannot_have_is_refused_with_its_reason():
    seed = Seed("C-early", date(2025, 1, 6))
    seed.act("ziekmelding_arbodienst_sent", seed.day(2), role="werkgever", actor_id="hr-1")
    for kind, reason in (
        (DocumentKind.INTAKEVERSLAG, "needs the spoor 2 trajectory"),
        (DocumentKind.NO_GO_RAPPORT, "no haalbaarheidstoets is on record"),
    ):
        with pytest.raises(RenderError, match=reason):
            make(seed, kind, seed.day(10))
    # The overview can always be made: here it shows the probleemanalyse still open.
    text = text_of(make(seed, DocumentKind.REINTEGRATIEOVERZICHT, seed.day(10)).pdf)
    assert f"Probleemanalyse door de bedrijfsarts {fmt(seed.day(42))} – open" in text
    assert "Geen gaten gevonden." in text and "Het tweede spoor is niet gestart." in text


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils (pdftoppm)")
def test_pages_render_as_images_that_are_not_blank(late: Seed, nogo: Seed, tmp_path: Path):
    as_of = late.day(7 * 92)
    docs = {
        "overview": (make(late, DocumentKind.REINTEGRATIEOVERZICHT, as_of), (4, 12)),
        "intake": (make(late, DocumentKind.INTAKEVERSLAG, present(late.traj.intake_on)), (1, 3)),
        "progress": (
            make(
                late,
                DocumentKind.VOORTGANGSRAPPORTAGE,
                add_months(late.traj.started_on, 3),
                period_start=add_months(late.traj.started_on, 2),
                period_end=add_months(late.traj.started_on, 3) - timedelta(days=1),
            ),
            (1, 4),
        ),
        "nogo": (make(nogo, DocumentKind.NO_GO_RAPPORT, present(nogo.traj.haalbaarheid).on), (1, 4)),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, (doc, (low, high)) in docs.items():
        pdf = tmp_path / f"{name}.pdf"
        pdf.write_bytes(doc.pdf)
        subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / name)], check=True, timeout=60)
        images = sorted(tmp_path.glob(f"{name}-*.png"))
        assert low <= len(images) <= high and len(images) == pages_of(doc.pdf), (name, len(images))
        for n, path in enumerate(images, start=1):
            image = Image.open(path)
            assert abs(image.size[0] - 496) <= 1 and abs(image.size[1] - 702) <= 1, image.size  # A4 at 60 dpi
            ink = sum(image.convert("L").histogram()[:200])
            assert ink > 1000, (name, n, ink)  # text on every page, not an empty sheet
            if n <= 2:
                shutil.copy(path, ARTIFACTS / f"{name}-{n}.png")
    # The timeline is a picture in colour on the overview's first pages: bars and markers, not only black text.
    colours = 0
    for path in sorted(tmp_path.glob("overview-*.png"))[:2]:
        colours += sum(Image.open(path).convert("RGB").convert("HSV").getchannel("S").histogram()[100:])
    assert colours > 1500, colours


def test_documents_stay_dutch_whatever_the_language_of_who_asks(late: Seed):
    """They go to UWV: a person reading Spoorwerk in English still makes the Dutch document, sentence for sentence."""
    from service import i18n

    order = DocumentOrder(
        order_id="test-lang",
        kind=DocumentKind.REINTEGRATIEOVERZICHT,
        audience=Audience.WERKGEVER,
        as_of=late.day(7 * 92),
    )
    preflight = load_dossier_rules().preflight
    with i18n.using("en"):
        english_reader = render_html(order, late.case, late.traj, preflight=preflight)
        assert i18n.language() == "en"  # and the reader's own language is back after the document
    assert english_reader == render_html(order, late.case, late.traj, preflight=preflight)
    assert "Versie werkgever — zonder medische gegevens" in english_reader
    assert f"Zaak geopend; eerste ziektedag {fmt(late.first)}" in english_reader
