"""Minimum necessary, proven: which of one youth's personal fields each staff role sees on
every staff page, and no personal value in any log.

One youth, a minor with a guardian, whose every personal field holds a sentinel (a value
found nowhere else), goes through a clinic day: booked online, checked in, treated, a
follow-up booked (a first one cancelled by a schedule change), on a standby list and on the
program's waiting list, a message sent. Then each role opens every staff page the app has:
every GET route of the staff blueprint, its path filled from the fixture (a route the test
cannot fill is listed in ``UNFILLED`` with its reason, so a new page cannot slip past), and
the few pages that show youth data in answer to a POST (``post_reads``). The fields whose
sentinels a page shows are compared with ``SHOWN``, the one table of what each role sees where,
and ``SHOWN`` itself must follow ``clinic/permissions.py`` (``FIELD_NEEDS``): clinicians never
see phone, e-mail or guardian; front desk and admins never see screening answers, treatment
notes or laser settings; the audit trail shows no personal value to anyone.

A page that starts showing a field fails here with the role, the page, the field and the text
that gave it away; a page that stops showing a declared field fails too (the table says what
is shown, not what might be).
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from html.parser import HTMLParser

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from clinic import accounts, crypto, settings, vocab
from clinic.extensions import db
from clinic.messaging import worker
from clinic.models import (
    Appointment,
    ClinicDay,
    EntryStatus,
    Intake,
    ListEntry,
    ListKind,
    MessageStatus,
    OutboxMessage,
    StaffRole,
    StaffUser,
    Treatment,
    Youth,
)
from clinic.permissions import Action, can
from clinic.rules.visits import VisitStatus
from tests.conftest import (
    LA,
    NEXT_DAY,
    PASSWORD,
    TOTP_SECRET,
    IsolatedClient,
    intake_data,
    intake_url,
    sign_in,
)

A, D, C = StaffRole.ADMIN, StaffRole.FRONT_DESK, StaffRole.CLINICIAN
ADMIN_EMAIL = "mn-admin@clinic.test"

# --- The youth, every personal field a sentinel ---------------------------------------------

FIRST, LAST, PREFERRED = "Zephyrine", "Quillfeather", "Zeddicus"
BORN = date(2010, 3, 17)  # 16 on the day: a minor
PHONE = "(415) 555-0187"
EMAIL = "zq.sentinel@example.org"
GUARDIAN = "Marisol Oakenshield"
GUARDIAN_RELATIONSHIP = "foster"
GUARDIAN_PHONE = "(415) 555-0142"
TATTOO_NOTES = "Koi fish, tattoo-note-sentinel TN7Q"
SCREENING = ["herpes", "pregnant"]
REFERRAL = "probation"  # a court or probation referral: among the most sensitive answers
TREATMENT_NOTES = "clinical-note-sentinel CN4X, blistering expected"
LASER_SETTINGS = "laser-sentinel LS9K 1064nm 3.2 J/cm2 4 mm"
SKIN_TYPE = "IV"

EXTRA_DAY = date(2027, 1, 12)  # an extra clinic day, closed again with the follow-up on it
FOLLOW_UP_DAY = date(2027, 1, 19)
STANDBY_DAY = date(2026, 12, 22)


def labels(choices, codes) -> tuple[str, ...]:
    with force_locale("en"):
        return tuple(str(dict(choices)[code]) for code in codes)


def sentinels() -> dict[str, tuple[str | re.Pattern, ...]]:
    """Each field, and what on a page gives it away: its value in every form a page writes it
    (a phone formatted or not, a date long, ISO or US), or the label a page shows for a coded
    answer. A page's text is matched after its markup and its blank form choices are gone."""
    from clinic.web.staff.lists.views import PRIORITY_REASONS

    with force_locale("en"):
        referral_priority = str(PRIORITY_REASONS["referral"])
    return {
        "name": (FIRST, LAST),
        "preferred_name": (PREFERRED,),
        "date_of_birth": (
            BORN.isoformat(),
            "March 17, 2010",
            "17 de marzo de 2010",
            "03/17/2010",
            "3/17/2010",
        ),
        "phone": (re.compile(r"555\W{0,2}0187"),),
        "email": (EMAIL, "zq.sentinel%40"),
        "guardian": ("Oakenshield", *labels(vocab.GUARDIAN_RELATIONSHIPS, [GUARDIAN_RELATIONSHIP])),
        "guardian_phone": (re.compile(r"555\W{0,2}0142"),),
        "tattoo_notes": ("TN7Q",),
        "screening": labels(vocab.SCREENING_FLAGS, SCREENING),
        # The answer's label, or the waiting list's reason for its place, which tells it.
        "referral": (*labels(vocab.REFERRAL_SOURCES, [REFERRAL]), referral_priority),
        "treatment_notes": ("CN4X",),
        "laser_settings": ("LS9K",),
    }


# --- The rules: who may see which field -------------------------------------------------------

# A role may see a field on a page if it may take one of these actions (clinic/permissions.py).
FIELD_NEEDS: dict[str, frozenset[Action]] = {
    # Names and ages are on the day sheet for everyone; a birth date tells two youth apart.
    "name": frozenset({Action.VIEW_DAY}),
    "preferred_name": frozenset({Action.VIEW_DAY}),
    "date_of_birth": frozenset({Action.VIEW_RECORDS}),
    "phone": frozenset({Action.SEE_CONTACT}),
    "email": frozenset({Action.SEE_CONTACT}),
    "guardian": frozenset({Action.SEE_CONTACT}),
    "guardian_phone": frozenset({Action.SEE_CONTACT}),
    "tattoo_notes": frozenset({Action.SEE_CLINICAL}),
    "screening": frozenset({Action.SEE_CLINICAL}),
    # The program list's order follows its priority rules, one of them the referral: the desk
    # that works the list (and answers "why am I number 37?") sees that reason, nobody else.
    "referral": frozenset({Action.MANAGE_LISTS}),
    "treatment_notes": frozenset({Action.SEE_CLINICAL}),
    "laser_settings": frozenset({Action.SEE_CLINICAL}),
}
EVERY_FIELD = frozenset(FIELD_NEEDS)

# Pages whose purpose sets their own rule, whatever the role's usual fields: the youth's own
# data, exported on request, is all of it, for the roles that may export it (admins).
PAGE_RULES: dict[str, tuple[Action, frozenset[str]]] = {
    "staff.youth_export": (Action.MANAGE_PRIVACY, EVERY_FIELD),
    # The reports name every referral source as a row of counts ("A probation officer: 3"):
    # the vocabulary, shown whatever the youth answered, never one youth's answer.
    "staff.reports": (Action.VIEW_REPORTS, frozenset({"referral"})),
    "staff.report_download": (Action.VIEW_REPORTS, frozenset({"referral"})),
    "staff.report_visits_csv": (Action.VIEW_REPORTS, frozenset({"referral"})),
    "staff.report_visits_xlsx": (Action.VIEW_REPORTS, frozenset({"referral"})),
}
# The audit trail says who did what to which record, never the values: nothing personal.
NOTHING_PERSONAL = ("staff.audit",)

# --- What each role sees, page by page ---------------------------------------------------------

NAMES = frozenset({"name", "preferred_name"})
RECORD = NAMES | {"date_of_birth"}
CONTACT = frozenset({"phone", "email", "guardian", "guardian_phone"})
CLINICAL = frozenset({"screening", "treatment_notes", "laser_settings"})
NONE: frozenset[str] = frozenset()

# Pages that show the same to every role allowed them.
COMMON: dict[str, frozenset[str]] = {
    "staff.index": NONE,  # redirects to today's sheet
    "staff.day_picker": NONE,  # redirects
    "staff.lists_overview": NONE,  # counts only
    "staff.own_password": NONE,
    "staff.own_two_factor": NONE,
    "staff.own_two_factor_setup": NONE,
}

# The desk's tools (issue 16), the same for front desk and admins: the details to edit are
# all of a youth's contact; finding a caller is the records' search; a new caller, or a
# walk-in's first step, that matches a record names it (what was typed aside).
DESK_TOOLS: dict[str, frozenset[str]] = {
    "staff.edit_youth": RECORD | CONTACT,
    "staff.move_booking": NAMES,
    "staff.book_for_caller": NONE,
    "POST staff.find_caller": frozenset({"name", "date_of_birth", "phone"}),
    "POST staff.book_for_caller": frozenset({"preferred_name"}),
    "POST staff.walk_in": frozenset({"preferred_name", "date_of_birth"}),
}

SHOWN: dict[StaffRole, dict[str, frozenset[str]]] = {
    A: {
        **COMMON,
        "staff.day": NAMES | {"guardian"},
        "staff.queue_fragment": NAMES | {"guardian"},
        "staff.youth_search": NONE,
        "POST staff.youth_search": RECORD | {"phone"},
        "staff.youth_record": RECORD | CONTACT,
        "staff.book_follow_up": {"name", "date_of_birth"},
        "staff.merge_youth_confirm": RECORD | CONTACT,
        "staff.standby_list": NAMES | {"phone", "email"},
        "staff.program_list": NAMES | {"phone", "email", "referral"},
        "staff.remove_entry": NAMES,
        "staff.messages": NAMES | {"email"},
        "staff.walk_in": NONE,
        "staff.schedule": NONE,
        "staff.schedule_day": NONE,
        "POST staff.schedule_day": NAMES | {"phone", "guardian_phone"},
        "staff.schedule_cancelled": NAMES | {"phone", "email", "guardian", "guardian_phone"},
        "staff.accounts": NONE,
        "staff.new_account": NONE,
        "staff.account": NONE,
        "staff.settings": NONE,
        "staff.audit_trail": NONE,
        "staff.audit_export": NONE,
        # Counts and a de-identified visit list: no name, contact, birth date or answer.
        "staff.reports": {"referral"},
        "staff.report_download": {"referral"},
        "staff.report_visits_csv": NONE,
        "staff.report_visits_xlsx": NONE,
        "staff.youth_export": EVERY_FIELD,
        "staff.erase_youth_confirm": NAMES,
        **DESK_TOOLS,
    },
    D: {
        **COMMON,
        "staff.day": NAMES | {"guardian"},
        "staff.queue_fragment": NAMES | {"guardian"},
        "staff.youth_search": NONE,
        "POST staff.youth_search": RECORD | {"phone"},
        "staff.youth_record": RECORD | CONTACT,
        "staff.book_follow_up": {"name", "date_of_birth"},
        "staff.standby_list": NAMES | {"phone", "email"},
        "staff.program_list": NAMES | {"phone", "email", "referral"},
        "staff.remove_entry": NAMES,
        "staff.messages": NAMES | {"email"},
        "staff.walk_in": NONE,
        **DESK_TOOLS,
    },
    C: {
        **COMMON,
        "staff.day": NAMES | {"screening"},
        "staff.queue_fragment": NAMES | {"screening"},
        "staff.complete": NAMES | {"screening"},
        "staff.youth_search": NONE,
        "POST staff.youth_search": RECORD,
        "staff.youth_record": RECORD | CLINICAL,
        "staff.book_follow_up": {"name", "date_of_birth"},
        "staff.standby_list": NAMES,
        "staff.program_list": NAMES,
    },
}

# Staff GET routes the crawl cannot fill, each with its reason.
UNFILLED: dict[str, str] = {}


def allowed_fields(role: StaffRole, endpoint: str) -> frozenset[str]:
    """What the rules let ``role`` see on ``endpoint``."""
    name = endpoint.removeprefix("POST ")
    if name.startswith(NOTHING_PERSONAL):
        return NONE
    if name in PAGE_RULES:
        action, fields = PAGE_RULES[name]
        return fields if can(role, action) else NONE
    return frozenset(f for f, needs in FIELD_NEEDS.items() if any(can(role, a) for a in needs))


def test_the_declared_table_follows_the_permissions():
    problems = [
        f"SHOWN[{role.value}][{endpoint!r}] declares {sorted(fields - allowed)}, which "
        f"{role.value} may not see there (FIELD_NEEDS / PAGE_RULES)"
        for role, pages in SHOWN.items()
        for endpoint, fields in pages.items()
        if not fields <= (allowed := allowed_fields(role, endpoint))
    ]
    assert not problems, "\n".join(problems)
    # The rules the issue names, spelled out.
    for endpoint, fields in SHOWN[C].items():
        assert not fields & CONTACT, endpoint
    for role in (A, D):
        for endpoint, fields in SHOWN[role].items():
            if endpoint.removeprefix("POST ") not in PAGE_RULES:
                assert not fields & (CLINICAL | {"tattoo_notes"}), (role, endpoint)
    for role in SHOWN:
        for endpoint, fields in SHOWN[role].items():
            if endpoint.removeprefix("POST ").startswith(NOTHING_PERSONAL):
                assert not fields, (role, endpoint)


# --- Reading a page as a person would -----------------------------------------------------------


class PageText(HTMLParser):
    """The text a page shows and the values its markup carries (attributes: a title, a link,
    a filled-in field), without its scripts, styles and the choices of a blank form (an
    option not selected, a box not ticked, with its label): the walk-in form lists every
    screening answer, and shows nobody's."""

    CHOICE = ("checkbox", "radio")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0  # inside a script, a style or an option not selected
        self.label: list[str] | None = None  # the text of the <label> being read
        self.label_unchosen = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "style") or (tag == "option" and "selected" not in attributes):
            self.skip += 1
            return
        if tag == "label":
            self.label, self.label_unchosen = [], False
        chosen = "checked" in attributes
        if tag == "input" and attributes.get("type") in self.CHOICE and not chosen:
            if self.label is not None:
                self.label_unchosen = True
            attributes.pop("value", None)
        self._keep(" ".join(value for value in attributes.values() if value))

    def handle_endtag(self, tag):
        if tag in ("script", "style", "option") and self.skip:
            self.skip -= 1
        elif tag == "label" and self.label is not None:
            if not self.label_unchosen:
                self.parts.extend(self.label)
            self.label = None

    def handle_data(self, data):
        if not self.skip:
            self._keep(data)

    def _keep(self, text: str) -> None:
        (self.label if self.label is not None else self.parts).append(text)

    @classmethod
    def of(cls, body: str) -> str:
        parser = cls()
        parser.feed(body)
        parser.close()
        return " ".join(" ".join(parser.parts).split())


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def shown_text(response) -> str:
    if response.mimetype == XLSX:
        # A workbook is a zip of XML parts: what it shows is their text.
        with zipfile.ZipFile(io.BytesIO(response.get_data())) as workbook:
            parts = [workbook.read(name).decode() for name in workbook.namelist()]
        return PageText.of(" ".join(parts))
    body = response.get_data(as_text=True)
    if response.mimetype == "text/html":
        return PageText.of(body)
    if response.mimetype == "application/json":
        # Unescaped, so a value written as \u00e9 or \/ is found too.
        body += " " + json.dumps(response.get_json(), ensure_ascii=False)
    return body  # CSV, plain text: as downloaded


def fields_in(text: str, found_by: dict[str, tuple]) -> dict[str, str]:
    """The fields whose sentinel is in ``text``, each with the first text that gave it away."""
    shown = {}
    for name, needles in found_by.items():
        for needle in needles:
            match = needle.search(text) if isinstance(needle, re.Pattern) else None
            if match or (isinstance(needle, str) and needle in text):
                shown[name] = match.group(0) if match else needle
                break
    return shown


# --- The clinic day ----------------------------------------------------------------------------


@dataclass
class Clinic:
    """The fixture's ids, and one signed-in client per role."""

    clients: dict
    youth_id: int
    other_id: int
    first_visit: int
    follow_up: int
    standby_entry: int
    program_entry: int
    staff_id: int


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LA)


def redirected(response) -> None:
    assert response.status_code in (302, 303), (response.status_code, response.request.path)


@pytest.fixture
def youth_day(app, client, clock, make_staff) -> Iterator[Clinic]:
    """The sentinel youth's clinic day, through the pages staff and youth use: a generator
    that stops twice, with the youth waiting in the queue, then with the day done."""
    return _the_day(app, client, clock, make_staff)


def _the_day(app, client, clock, make_staff) -> Iterator[Clinic]:
    clients = {}
    for role in StaffRole:
        user = make_staff(role, email=f"mn-{role.value}@clinic.test")
        clients[role] = app.test_client()
        assert sign_in(clients[role], user.email).status_code == 303, role
    desk, clinician, admin = clients[D], clients[C], clients[A]

    # Booked online, by a 16-year-old with a guardian, messages by e-mail.
    response = client.post(
        intake_url(),
        data=intake_data(
            first_name=FIRST,
            last_name=LAST,
            preferred_name=PREFERRED,
            date_of_birth=BORN.isoformat(),
            phone=PHONE,
            email=EMAIL,
            contact_by="email",
            language="en",
            guardian_name=GUARDIAN,
            guardian_relationship=GUARDIAN_RELATIONSHIP,
            guardian_phone=GUARDIAN_PHONE,
            tattoo_locations=["arms"],
            tattoo_notes=TATTOO_NOTES,
            screening=SCREENING,
            referral_source=REFERRAL,
        ),
    )
    redirected(response)
    youth_id = db.session.scalar(select(Youth.id).where(Youth.last_name == LAST))
    assert youth_id is not None, "the sentinel youth was not booked"
    first_visit = db.session.scalar(select(Appointment.id).where(Appointment.youth_id == youth_id))
    # Someone else, for the merge page.
    redirected(
        client.post(
            intake_url(start=time(16, 20)),
            data=intake_data(submission_key="o" * 32, first_name="Other", last_name="Person"),
        )
    )
    other_id = db.session.scalar(select(Youth.id).where(Youth.last_name == "Person"))

    # The day: checked in with the guardian's consent, called, treated.
    clock.set(at(NEXT_DAY, 16, 5))
    day = {"day": NEXT_DAY.isoformat()}
    redirected(
        desk.post(
            f"/staff/appointments/{first_visit}/check-in", data={**day, "consent": "confirmed"}
        )
    )
    clinic = Clinic(clients, youth_id, other_id, first_visit, 0, 0, 0, 0)
    yield clinic  # first stop: waiting in the queue (the crawl runs here)

    redirected(
        clinician.post(
            f"/staff/appointments/{first_visit}/call", data={**day, "station": "Laser 1"}
        )
    )
    redirected(
        clinician.post(
            f"/staff/appointments/{first_visit}/complete",
            data={
                "session_number": "1",
                "areas": ["arms"],
                "skin_type": SKIN_TYPE,
                "settings": LASER_SETTINGS,
                "notes": TREATMENT_NOTES,
            },
        )
    )

    # A follow-up on an extra day, which the admin then closes: cancelled by the schedule.
    clock.set(at(NEXT_DAY, 19, 30))
    db.session.add(
        ClinicDay(
            day=EXTRA_DAY,
            extra=True,
            start_time=time(16, 0),
            end_time=time(17, 0),
            slot_minutes=20,
            seats=2,
        )
    )
    db.session.commit()
    follow_up = {"slot": f"{EXTRA_DAY.isoformat()}T16:00", "submission_key": "f" * 32}
    redirected(desk.post(f"/staff/youth/{youth_id}/book", data=follow_up))
    cancelled = db.session.scalar(
        select(Appointment.id).where(
            Appointment.youth_id == youth_id, Appointment.id != first_visit
        )
    )
    close = {"change": "close", "note": "Laser broken", "resolution": "cancel", "seen": cancelled}
    closed = admin.post(f"/staff/schedule/{EXTRA_DAY.isoformat()}", data=close)
    assert closed.headers["Location"].endswith("/cancelled"), closed.status_code
    # Booked again, on the next day the skin allows.
    follow_up = {"slot": f"{FOLLOW_UP_DAY.isoformat()}T16:00", "submission_key": "g" * 32}
    redirected(clinician.post(f"/staff/youth/{youth_id}/book", data=follow_up))
    follow_up_id = db.session.scalar(
        select(Appointment.id).where(
            Appointment.youth_id == youth_id, Appointment.status == VisitStatus.BOOKED
        )
    )

    # On a full day's standby list and on the program's waiting list, with the intake's answers.
    intake = db.session.scalars(select(Intake).where(Intake.appointment_id == first_visit)).one()
    answers = {
        "tattoo_count": 2,
        "tattoo_locations": ["arms"],
        "tattoo_size": "small",
        "tattoo_colors": "black",
        "tattoo_kind": "amateur",
        "tattoo_notes": TATTOO_NOTES,
        "screening": SCREENING,
        "referral_source": REFERRAL,
    }
    contact = {
        "phone": intake.phone,
        "email": EMAIL,
        "language": "en",
        "contact_by": "email",
        "guardian_name": GUARDIAN,
        "guardian_relationship": GUARDIAN_RELATIONSHIP,
        "guardian_phone": intake.guardian_phone,
    }
    rules = settings.current_rules().offers.priority_rules
    standby = ListEntry(
        kind=ListKind.STANDBY, youth_id=youth_id, day=STANDBY_DAY, answers=answers, **contact
    )
    program = ListEntry(
        kind=ListKind.PROGRAM,
        youth_id=youth_id,
        answers=answers,
        priority=rules.index("referral") if "referral" in rules else 0,
        **contact,
    )
    db.session.add_all([standby, program])
    db.session.commit()

    # The confirmation went out: the messages page names where.
    for message in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.appointment_id == first_visit)
    ):
        message.status, message.recipient = MessageStatus.SENT, EMAIL
        message.sent_at = datetime(2026, 11, 20, 17)
    db.session.commit()

    clinic.follow_up = follow_up_id
    clinic.standby_entry = standby.id
    clinic.program_entry = program.id
    clinic.staff_id = db.session.scalar(select(StaffUser.id).where(StaffUser.email == ADMIN_EMAIL))
    yield clinic  # second stop: the day done (the crawl runs again)


def the_day(youth_day: Iterator[Clinic]) -> Iterator[tuple[str, Clinic]]:
    """Each stop of the day, as (its name, the clinic at that moment)."""
    yield "waiting in the queue", next(youth_day)
    yield "after the day", next(youth_day)


def assert_the_sentinels_are_stored(clinic: Clinic) -> None:
    """The fixture stored every sentinel where the pages read it (else a page showing none
    would prove nothing), and the youth went through the day."""
    youth = db.session.get(Youth, clinic.youth_id)
    intake = db.session.scalars(select(Intake).where(Intake.appointment_id == clinic.first_visit))
    intake = intake.one()
    treatment = db.session.scalars(select(Treatment).where(Treatment.youth_id == youth.id)).one()
    assert (youth.preferred_name, youth.date_of_birth) == (PREFERRED, BORN)
    assert youth.phone.endswith("4155550187") and youth.email == EMAIL
    assert (youth.guardian_name, youth.guardian_relationship) == (GUARDIAN, GUARDIAN_RELATIONSHIP)
    assert youth.guardian_phone.endswith("4155550142")
    assert intake.tattoo_notes == TATTOO_NOTES and sorted(intake.screening) == sorted(SCREENING)
    assert intake.referral_source == REFERRAL
    assert (treatment.notes, treatment.settings) == (TREATMENT_NOTES, LASER_SETTINGS)
    entries = db.session.scalars(select(ListEntry).where(ListEntry.youth_id == youth.id)).all()
    assert {(e.kind, e.status) for e in entries} == {
        (ListKind.STANDBY, EntryStatus.WAITING),
        (ListKind.PROGRAM, EntryStatus.WAITING),
    }
    statuses = {
        a.id: a.status
        for a in db.session.scalars(select(Appointment).where(Appointment.youth_id == youth.id))
    }
    assert statuses[clinic.first_visit] == VisitStatus.COMPLETED
    assert statuses[clinic.follow_up] == VisitStatus.BOOKED
    assert VisitStatus.CANCELLED in statuses.values()


# --- The crawl ---------------------------------------------------------------------------------


def staff_get_routes(app):
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("staff.") and "GET" in rule.methods
        ),
        key=lambda rule: (rule.endpoint, rule.rule),
    )


def query_strings(endpoint: str, clinic: Clinic) -> list[str]:
    """The query strings each page is opened with: its filters, as staff use them."""
    if endpoint in ("staff.audit_trail", "staff.audit_export"):
        return ["", f"?youth={clinic.youth_id}", "?since=2026-11-01&until=2027-01-31"]
    if endpoint == "staff.messages":
        return ["", "?status=sent"]
    return [""]


def path_values(clinic: Clinic) -> dict[str, list]:
    """Every value the crawl tries for each path parameter."""
    return {
        # The extra day exists from the follow-up booked on it.
        "day": [NEXT_DAY, FOLLOW_UP_DAY, STANDBY_DAY, *([EXTRA_DAY] if clinic.follow_up else [])],
        "youth_id": [clinic.youth_id],
        "other_id": [clinic.other_id],
        "appointment_id": [a for a in (clinic.first_visit, clinic.follow_up) if a],
        "entry_id": [e for e in (clinic.standby_entry, clinic.program_entry) if e],
        "user_id": [clinic.staff_id] if clinic.staff_id else [],
        "message_id": [],  # no GET page takes one
        "start": [time(16, 0)],
    }


def urls_for(rule, values: dict[str, list]) -> list[str] | None:
    """The rule's URLs for every combination of the fixture's values; None if a parameter has
    none."""
    combos: list[dict] = [{}]
    for argument in sorted(rule.arguments):
        options = values.get(argument)
        if not options:
            return None
        combos = [{**combo, argument: option} for combo in combos for option in options]
    return [rule.build(combo, append_unknown=False)[1] for combo in combos]


def post_reads(clinic: Clinic) -> dict[str, list[tuple[str, dict]]]:
    """Pages that show youth data in answer to a POST that changes nothing."""
    searches = [LAST, BORN.isoformat(), PHONE]
    reads = {
        # Searched by POST so what is typed stays out of URLs and logs.
        "POST staff.youth_search": [("/staff/youth", {"q": q}) for q in searches],
    }
    # The desk looks a caller up by POST too; typing a new caller's names and birth date that
    # match a record first lists the possible duplicates (422) and books nothing.
    reads["POST staff.find_caller"] = [("/staff/call/find", {"q": q}) for q in searches]
    reads["POST staff.book_for_caller"] = [("/staff/call", caller_on_file())]
    # A walk-in's first step with the names and birth date of a youth on file says so.
    reads["POST staff.walk_in"] = [("/staff/walk-in", walk_in_on_file())]
    if clinic.follow_up:
        # Closing a day with a booking first lists who to call (422) and saves nothing.
        close = {"change": "close", "note": "Rain"}
        reads["POST staff.schedule_day"] = [(f"/staff/schedule/{FOLLOW_UP_DAY.isoformat()}", close)]
    return reads


def caller_on_file() -> dict[str, str]:
    """A caller with the sentinel youth's names and birth date, a time that is open, and
    another phone and guardian."""
    return {
        "slot": f"{STANDBY_DAY.isoformat()}T16:00",
        "submission_key": "caller-on-file" + "c" * 18,
        "first_name": FIRST,
        "last_name": LAST,
        "date_of_birth": BORN.isoformat(),
        "phone": "4155550161",
        "contact_by": "sms",
        "language": "en",
        "guardian_name": "Pat Other",
        "guardian_relationship": "parent",
        "guardian_phone": "4155550162",
        "referral_source": "friend",
    }


def walk_in_on_file() -> dict[str, str]:
    return {
        "step": "check",
        "submission_key": "walk-in-on-file" + "w" * 17,
        "first_name": FIRST,
        "last_name": LAST,
        "date_of_birth": BORN.isoformat(),
        "phone": "4155550161",
    }


@dataclass
class Sighting:
    fields: dict[str, str] = field(default_factory=dict)  # field -> the text that gave it away
    where: dict[str, str] = field(default_factory=dict)  # field -> the URL and the stop
    opened: int = 0


def crawl(app, clinic: Clinic, stop: str, seen: dict, found_by: dict) -> None:
    """Every role opens every staff page it may; what each shows is added to ``seen``."""
    for role, client in clinic.clients.items():
        pages = [
            (rule.endpoint, url + query, None)
            for rule in staff_get_routes(app)
            if rule.endpoint not in UNFILLED
            for url in urls_for(rule, path_values(clinic)) or []
            for query in query_strings(rule.endpoint, clinic)
        ]
        pages += [
            (name, url, data) for name, reads in post_reads(clinic).items() for url, data in reads
        ]
        for endpoint, url, data in pages:
            if data is not None:
                response = client.post(url, data=data, buffered=True)
            else:
                response = client.get(url, buffered=True)  # a CSV streams: read it in its request
            if response.status_code == 403:
                continue  # not this role's page (tests/app/test_role_matrix.py)
            # A read by POST answers with a page: a redirect would mean it changed something.
            expected = (200, 422) if data is not None else (200, 302, 303)
            assert response.status_code in expected, (role.value, url, response.status_code)
            sighting = seen.setdefault((role, endpoint), Sighting())
            sighting.opened += 1
            shown = shown_text(response)
            for typed in (data or {}).values():
                shown = shown.replace(typed, " ")  # the search box keeps what was typed
            for name, text in fields_in(shown, found_by).items():
                sighting.fields.setdefault(name, text)
                sighting.where.setdefault(name, f"{'POST' if data else 'GET'} {url} ({stop})")


def test_each_role_sees_only_the_fields_its_pages_declare(app, youth_day):
    found_by = sentinels()
    seen: dict[tuple[StaffRole, str], Sighting] = {}
    last = None
    for stop, clinic in the_day(youth_day):
        crawl(app, clinic, stop, seen, found_by)
        last = clinic
    assert last is not None
    assert_the_sentinels_are_stored(last)

    # Every staff GET page was opened, or is excused with a reason.
    endpoints = {rule.endpoint for rule in staff_get_routes(app)}
    opened = {endpoint for (_role, endpoint) in seen}
    missing = endpoints - opened - set(UNFILLED)
    assert not missing, (
        f"staff GET pages nobody opened: {sorted(missing)}. Declare them in SHOWN for the roles "
        "allowed them (and teach path_values their parameters), or list them in UNFILLED "
        "with the reason the test cannot fill them."
    )

    problems = []
    for role in StaffRole:
        declared = SHOWN[role]
        for (seen_role, endpoint), sighting in sorted(seen.items(), key=lambda i: i[0][1]):
            if seen_role != role:
                continue
            if endpoint not in declared:
                problems.append(
                    f"{role.value} opens {endpoint}, which SHOWN does not declare for "
                    f"{role.value}: add it with the fields it shows "
                    f"({sorted(sighting.fields) or 'none'})"
                )
                continue
            for name in sorted(set(sighting.fields) - declared[endpoint]):
                rule = "not allowed" if name not in allowed_fields(role, endpoint) else "undeclared"
                problems.append(
                    f"{role.value} sees {name!r} on {endpoint} ({rule}): "
                    f"{sighting.fields[name]!r} at {sighting.where[name]}"
                )
            for name in sorted(declared[endpoint] - set(sighting.fields)):
                problems.append(
                    f"{role.value} no longer sees {name!r} on {endpoint}, which SHOWN declares: "
                    "remove it from SHOWN (or put the fixture back where the page shows it)"
                )
        for endpoint in sorted(set(declared) - {e for (r, e) in seen if r == role}):
            problems.append(
                f"SHOWN declares {endpoint} for {role.value}, who was never served it "
                "(refused, or no such page)"
            )
    assert not problems, "Minimum necessary:\n" + "\n".join(problems)


# --- No personal data in the logs --------------------------------------------------------------


def test_no_sentinel_reaches_the_logs_or_an_address(
    app, youth_day, caplog, runner, clock, sent, monkeypatch
):
    """Everything the sentinel youth's data goes through, with every log record kept at DEBUG
    and every address asked for or redirected to noted (what a proxy's access log keeps):
    booking, the clinic day, follow-ups, a schedule change, the lists, every staff page by
    every role (each view written to the audit trail; the audit CSV; the youth's export),
    searches, sign-ins that fail at the password or at the second step, one with a recovery
    code, a second step reset by an admin, the messages sent, a key rotation and reindex, an
    erasure on request, and the retention purge from the command line. Nothing personal in
    any of them, nor in what the commands print; no staff password, second-step key or
    recovery code either."""
    caplog.set_level(logging.DEBUG)
    assert logging.getLogger("clinic.records").isEnabledFor(logging.DEBUG)  # all is kept
    addresses: list[str] = []
    opened = IsolatedClient.open

    def open_and_note(self, *args, **kwargs):
        response = opened(self, *args, **kwargs)
        addresses.extend([response.request.url, response.headers.get("Location", "")])
        return response

    monkeypatch.setattr(IsolatedClient, "open", open_and_note)
    found_by = sentinels()
    stops = dict(the_day(youth_day))  # every page's code ran in the crawl test: once here
    clinic = stops["after the day"]
    crawl(app, clinic, "after the day", {}, found_by)

    # Sign-ins that fail: a youth's e-mail typed as the account, a guardian's name as the
    # password; the admin's right password, then a wrong second step.
    stranger = app.test_client()
    stranger.post("/auth/login", data={"email": EMAIL, "password": PHONE})
    stranger.post("/auth/login", data={"email": ADMIN_EMAIL, "password": GUARDIAN})
    response = stranger.post("/auth/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.headers["Location"] == "/auth/two-factor"
    assert stranger.post("/auth/two-factor", data={"code": "000000"}).status_code != 303
    # Then with a recovery code; and the admin resets the desk's second factor.
    admin_user = db.session.scalar(select(StaffUser).where(StaffUser.email == ADMIN_EMAIL))
    codes = accounts.new_own_recovery_codes(admin_user, PASSWORD)
    assert stranger.post("/auth/two-factor", data={"code": codes[0]}).status_code == 303
    desk_id = db.session.scalar(select(StaffUser.id).where(StaffUser.role == D))
    reset = clinic.clients[A].post(f"/staff/accounts/{desk_id}/two-factor/reset")
    assert reset.status_code == 303, reset.status_code

    # The messages go out (to the recording senders).
    report = worker.run_once(now=lambda: datetime(2026, 11, 25, 4, tzinfo=UTC), rand=lambda: 0.5)
    assert report.sent and any(to == EMAIL for _channel, to, *_rest in sent), sent

    # A new data key first, every value re-encrypted under it, the search indexes rebuilt.
    app.config["DATA_KEYS"] = f"{crypto.generate_key()},{app.config['DATA_KEYS']}"
    printed = []
    for command in (["keys", "rotate"], ["keys", "reindex"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
        printed.append(result.output)
    assert "Every value is under the first key" in printed[0], printed[0]

    # Erased on request (the other youth), then the sentinel youth purged for retention: their
    # lists closed, their last visit years ago.
    admin = clinic.clients[A]
    erased = admin.post(f"/staff/youth/{clinic.other_id}/erase", data={"confirm": "y"})
    assert erased.status_code == 303, erased.status_code
    for entry in db.session.scalars(select(ListEntry).where(ListEntry.youth_id == clinic.youth_id)):
        entry.status = EntryStatus.CLOSED
        entry.joined_at = datetime(2026, 11, 20, 17)
    db.session.commit()
    clock.set(at(date(2031, 6, 3), 3))
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "Purged 1 youth" in result.output, result.output
    printed.append(result.output)
    youth = db.session.get(Youth, clinic.youth_id)
    assert youth.purged_at is not None and youth.phone is None

    logged = "\n".join(caplog.handler.format(record) for record in caplog.records)
    # Staff secrets neither: passwords, the second step's key, recovery codes.
    found_by = {**found_by, "staff secret": (PASSWORD, TOTP_SECRET, *codes)}
    leaks = fields_in(logged, found_by)
    assert not leaks, f"personal data in the log: {leaks}\n{logged[-3000:]}"
    in_addresses = fields_in("\n".join(addresses), found_by)
    assert not in_addresses, f"personal data in an address: {in_addresses}"
    output = "\n".join(printed)
    in_output = fields_in(output, found_by)
    assert not in_output, f"personal data printed by a command: {in_output}\n{output}"
