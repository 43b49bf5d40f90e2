"""Fuzzing every route of the app (Hypothesis): arbitrary text, numbers, dates and times in
every URL part, query string and form field, as every role allowed the route.

Two properties, for each route and method of ``app.url_map``, so a new route is fuzzed as
soon as it exists (a POST route also needs an entry in ``FORMS`` below, or
``test_every_post_route_has_a_fuzz_strategy`` fails):

- never a 5xx, whatever was sent;
- nothing stored from invalid input: a GET never changes a row, and neither does a POST made
  invalid by construction ("poisoned": a URL part that names no row or date, or a field the
  route must refuse, such as a wrong current password). Every table is compared whole, row by
  row, before and after.

The form fields are the WTForms classes' own, plus the ones views read from the request
directly and a few unknown ones. Each field gets a valid answer (to get past validation into
the use cases), a nasty one (other scripts' digits such as '²' and '٣', numbers beyond 64 bits,
NUL and other control characters, very long text, dates such as 0000-00-00 or 1900-02-29), a
list of answers, or nothing.

The world (a clinic day in progress: a youth in treatment, one late, one booked for later, one
treated; staff of each role signed in) is built once per module; an example that changed it
(a valid move) is undone by writing the tables back, so every example starts from the same
state and a failure replays. ``HYPOTHESIS_PROFILE=fuzz-deep`` runs 40 times more examples per
route.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from random import Random
from time import monotonic
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, select, update
from sqlalchemy import make_url as make_db_url
from werkzeug.routing import ValidationError
from wtforms.fields.core import UnboundField

from clinic import create_app, records
from clinic import settings as clinic_settings
from clinic.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from clinic.extensions import db
from clinic.models import (
    Appointment,
    Consent,
    Intake,
    ListEntry,
    ListKind,
    MessageStatus,
    OutboxMessage,
    StaffRole,
    StaffUser,
    Youth,
    utcnow,
)
from clinic.permissions import can
from clinic.rules.eligibility import normalize_phone
from clinic.schedule import Resolution
from clinic.web.auth.forms import LoginForm, TwoFactorForm, TwoFactorSetupForm
from clinic.web.forms import IntakeForm
from clinic.web.public.lists import ListForm, StandbyForm
from clinic.web.public.manage_forms import LostLinkForm, NextSessionForm
from clinic.web.staff.accounts.forms import (
    NewAccountForm,
    OwnPasswordForm,
    ResetPasswordForm,
    RoleForm,
    TwoFactorCodeForm,
)
from clinic.web.staff.day.forms import TreatmentForm, WalkInForm
from clinic.web.staff.lists.forms import MoveForm
from clinic.web.staff.records.bookings_forms import CallerForm, FindForm
from clinic.web.staff.records.bookings_forms import MoveForm as BookingMoveForm
from clinic.web.staff.records.forms import (
    EditYouthForm,
    FollowUpForm,
    MergeForm,
    SearchForm,
    UseNewDetailsForm,
)
from clinic.web.staff.records.privacy import EraseForm
from clinic.web.staff.schedule.forms import CloseForm, ExtraDayForm, HoursForm
from tests.conftest import (
    COMPILED_TEMPLATES,
    LA,
    NEXT_DAY,
    NOW,
    PASSWORD,
    TOTP_SECRET,
    IsolatedClient,
    intake_data,
    intake_url,
)
from tests.conftest import sign_in as form_sign_in
from tests.support import databases

# --- Settings ------------------------------------------------------------------------------

# Examples per route and method. The world is built once, so the function-scoped-fixture
# health check does not apply (no fixture is reused across examples unknowingly): the examples
# run inside the test, on the module's world, which each example leaves as it found it.
settings.register_profile(
    "fuzz",
    max_examples=25,
    deadline=None,  # a request may take a while on a loaded machine; speed is tested elsewhere
    database=None,  # fresh examples each run; a failure prints its input and a replay blob
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("fuzz-deep", parent=settings.get_profile("fuzz"), max_examples=1000)
FUZZ = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz"))

# During the fuzz: Tuesday 24 November 2026, 16:40, the clinic day in progress.
DURING = datetime(2026, 11, 24, 16, 40, tzinfo=LA)
LATER_CLINIC_DAY = date(2026, 12, 22)
# The first clinic day a youth treated on NEXT_DAY may book again (six weeks on, in window).
FOLLOW_UP_DAY = date(2027, 1, 19)
# No table of the world holds this many rows: an id from here on names none.
NO_SUCH_ID = 10**6
NEW_PASSWORD = "a fresh long phrase"
# Seconds; well within STAFF_IDLE_MINUTES, which counts from the saved cookie's last request.
SIGN_IN_AGAIN_AFTER = 10 * 60


# --- Nasty values --------------------------------------------------------------------------

ODD = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "16:00\x00",
    "\x07\x1b[2J",
    "\r\n",
    "\u202e\u200b",
    "²",
    "٣",
    "١٢",
    "３",
    "Ⅻ",
    "1e9",
    "-1",
    "-0",
    "0",
    "+1",
    " 1",
    "1 ",
    "1_000",
    "0x1f",
    "NaN",
    "inf",
    "99999999999999999999",
    str(2**31 - 1),
    str(2**31),
    str(2**63),
    str(-(2**63) - 1),
    "0000-00-00",
    "9999-12-31",
    "0001-01-01",
    "1900-02-29",
    "2026-02-30",
    "2026-13-01",
    "1899-12-31",
    "2201-01-01",
    "20261124",
    "2026-W48-2",
    "24:00",
    "23:60",
    "99:99",
    "-01:00",
    "16:00:00.5+05:00",
    "T16:00",
    "4 pm",
    "2026-11-24T16:00",
    "0000-00-00T00:00",
    "9999-12-31T23:59",
    "%s%n",
    "{0}",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "//evil.example",
    "/\\evil.example",
]


def _long_values(n: int) -> st.SearchStrategy[str]:
    return st.sampled_from(["9" * n, "x" * n, "é" * n, "\x00" * n, "٣" * n])


def _noise(seed: int) -> str:
    """5,000 characters that do not compress (a signed cookie compresses what it holds)."""
    return Random(seed).randbytes(2500).hex()


# Slipped into otherwise good answers: what a form must drop, refuse or read as nothing.
SLIPS = ["\x00", "\x07", "\x1f", "\x7f", "²", "٣", "\u202e", "\ufeff", " ", "\n"]


def _with_slip(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``values`` with one odd character put in somewhere (NUL most often)."""
    return st.builds(
        lambda text, slip, at: text[:at] + slip + text[at:] if isinstance(text, str) else text,
        values,
        st.sampled_from(["\x00", *SLIPS]),
        st.integers(0, 60),
    )


PLAIN: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(ODD),
    st.text(max_size=40),
    st.integers().map(str),
    st.floats().map(str),
    st.dates().map(date.isoformat),
    st.times().map(time.isoformat),
    st.integers(200, 20_000).flatmap(_long_values),
    st.integers(0, 2**32).map(_noise),
)
NASTY: st.SearchStrategy[str] = st.one_of(PLAIN, _with_slip(PLAIN))


def _drop_controls(text: str) -> str:
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def _as_int(text: str) -> int | None:
    """What ``int()`` (and so WTForms' IntegerField) reads in ``text``, if anything."""
    try:
        return int(text)
    except ValueError:
        return None


def _refused(values: list[str] | tuple[str, ...], accepted: Callable[[str], bool]):
    """Nasty answers that ``accepted`` says no to."""
    return st.one_of(st.sampled_from(values), NASTY).filter(lambda v: not accepted(v))


# --- The world -----------------------------------------------------------------------------


class Clock:
    now = NOW


@dataclass
class World:
    app: Any
    clock: Clock
    # Real values per URL or form name (ids of rows that exist, days and times that are open).
    real: dict[str, list[str]]
    # The staff accounts: one per role (fuzz-<role>@clinic.test), then one to act on.
    emails: list[str]
    clients: dict[StaffRole | None, Any] = field(default_factory=dict)
    cookies: dict[StaffRole | None, str | None] = field(default_factory=dict)
    signed_in_at: float = 0.0
    # Every table's rows, as each example must find them.
    base: dict[str, list[tuple]] = field(default_factory=dict)

    def sign_in(self) -> None:
        """A client per role, signed in, and an anonymous one; the state to start from."""
        self.clients = {None: self.app.test_client()}
        self.cookies = {None: None}
        for role in StaffRole:
            client = self.app.test_client()
            email = f"fuzz-{role.value}@clinic.test"
            _ok(form_sign_in(client, email, PASSWORD), 303)
            self.clients[role] = client
            self.cookies[role] = client.get_cookie(self.app.config["SESSION_COOKIE_NAME"]).value
        self.signed_in_at = monotonic()
        self.base = self.snapshot()

    def client(self, role: StaffRole | None):
        """The role's client, its session cookie as just after signing in: flashed messages
        never pile up from one example to the next."""
        if monotonic() - self.signed_in_at > SIGN_IN_AGAIN_AFTER:
            self.sign_in()  # long runs: before the idle timeout signs the cookies out
        client = self.clients[role]
        name = self.app.config["SESSION_COOKIE_NAME"]
        if self.cookies[role] is None:
            client.delete_cookie(name)
        else:
            client.set_cookie(name, self.cookies[role])
        return client

    def snapshot(self) -> dict[str, list[tuple]]:
        with db.engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in _restorable()
            }

    def restore(self) -> None:
        """Write every table back as it was when the world was built."""
        tables = _restorable()
        with db.engine.begin() as connection:
            for table in reversed(tables):
                connection.execute(table.delete())
            for table in tables:
                rows = [
                    dict(zip(table.columns.keys(), row, strict=True))
                    for row in self.base[table.name]
                ]
                if not rows:
                    continue
                # A row may point at a later row of its own table (a youth merged into a newer
                # record): those links are written once every row is back.
                own = [c.name for c in table.columns if _points_at(c, table)]
                connection.execute(table.insert(), [{**row, **dict.fromkeys(own)} for row in rows])
                for row in rows:
                    links = {name: row[name] for name in own if row[name] is not None}
                    if links:
                        connection.execute(
                            update(table).where(*_same_key(table, row)).values(**links)
                        )


def _restorable() -> list[Table]:
    """Every table but the audit trail: a page view adds to it by design, and it refuses
    DELETE (append-only), so it is neither compared nor written back (tests/audit checks that
    GETs add views only)."""
    return [table for table in db.metadata.sorted_tables if table.name != "audit_event"]


def _points_at(column, table: Table) -> bool:
    return any(fk.column.table is table for fk in column.foreign_keys)


def _same_key(table: Table, row: dict) -> list:
    return [column == row[column.name] for column in table.primary_key.columns]


def _changes(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict:
    return {
        name: {
            "gone": [row for row in rows if row not in after[name]],
            "new": [row for row in after[name] if row not in rows],
        }
        for name, rows in before.items()
        if after[name] != rows
    }


def _new_staff(role: StaffRole, email: str) -> StaffUser:
    user = StaffUser(email=email, name=f"Fuzz {role.value}", role=role)
    user.active = True
    user.set_password(PASSWORD)
    if role == StaffRole.ADMIN:  # admins must have two-step sign-in
        user.totp_secret, user.totp_enabled_at = TOTP_SECRET, utcnow()
    db.session.add(user)
    db.session.commit()
    return user


def _ok(response, *codes: int) -> None:
    assert response.status_code in codes, response.get_data(as_text=True)[:2000]


@pytest.fixture(scope="module")
def world(migrated_db, tmp_path_factory):
    """A clinic day in progress, and a signed-in client per role.

    At 16:40 on the clinic day: Ana is in treatment at Laser 1, Bea (16:00) has not come (a
    no-show can be marked), Luis (a minor, 17:00) is booked, and Dani was treated at Laser 2
    (a follow-up can be booked). Each booking queued its confirmation message. Bea's booking
    gave an e-mail her record lacks (the record offers "use the new details").
    """
    clock = Clock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clinic_settings, "clinic_now", lambda rules: clock.now)
        if databases.on_postgres():
            url = migrated_db
        else:
            path = tmp_path_factory.mktemp("fuzz") / "clinic.sqlite3"
            shutil.copy(make_db_url(migrated_db).database, path)
            url = f"sqlite:///{path}"
        # The rate limits would answer 429 to a fuzz that posts faster than any person.
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
        app.test_client_class = IsolatedClient
        app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
        with app.app_context():
            yield _build(app, clock)
            db.session.remove()
            db.engine.dispose()
        if databases.on_postgres():
            databases.empty_tables(url)


def _build(app, clock: Clock) -> World:
    youth = app.test_client()
    youth.post("/language", data={"lang": "en", "next": "/"})
    people = [
        ("Ana", "Flores", "16:00", {}),
        ("Bea", "Soto", "16:00", {"phone": "4155550135"}),
        (
            "Luis",
            "Reyes",
            "17:00",
            {
                "date_of_birth": "2011-03-03",
                "guardian_name": "Marta Reyes",
                "guardian_relationship": "parent",
                "guardian_phone": "4155550111",
                "phone": "4155550136",
            },
        ),
        ("Dani", "Cruz", "16:20", {"phone": "4155550137"}),
    ]
    booked = {}
    for n, (first, last, start, extra) in enumerate(people):
        data = intake_data(
            first_name=first,
            last_name=last,
            slot_time=start,
            submission_key=f"fuzz-world-{n:02d}" + "k" * 20,
            **extra,
        )
        _ok(youth.post(intake_url(start=time.fromisoformat(start)), data=data), 303)
        booked[first] = db.session.scalars(
            select(Appointment.id).where(Appointment.submission_key == data["submission_key"])
        ).one()

    clock.now = DURING
    staff = {role: _new_staff(role, f"fuzz-{role.value}@clinic.test") for role in StaffRole}
    target = _new_staff(StaffRole.FRONT_DESK, "fuzz-target@clinic.test")
    world = World(app=app, clock=clock, real={}, emails=[u.email for u in staff.values()])
    world.emails.append(target.email)
    world.sign_in()
    desk, clinician = world.clients[StaffRole.FRONT_DESK], world.clients[StaffRole.CLINICIAN]
    for first in ("Dani", "Ana"):
        _ok(desk.post(f"/staff/appointments/{booked[first]}/check-in"), 303)
    _ok(
        clinician.post(f"/staff/appointments/{booked['Dani']}/call", data={"station": "Laser 2"}),
        303,
    )
    _ok(
        clinician.post(
            f"/staff/appointments/{booked['Dani']}/complete",
            data={
                "session_number": "1",
                "areas": ["hands"],
                "skin_type": "III",
                "settings": "1064 nm",
            },
        ),
        303,
    )
    _ok(
        clinician.post(f"/staff/appointments/{booked['Ana']}/call", data={"station": "Laser 1"}),
        303,
    )

    youth_ids = db.session.scalars(select(Youth.id).order_by(Youth.id)).all()
    # Two on the later day's standby list, one on the program's waiting list.
    entries = [
        ListEntry(kind=ListKind.STANDBY, youth_id=youth_ids[0], day=LATER_CLINIC_DAY, rank=1),
        ListEntry(kind=ListKind.STANDBY, youth_id=youth_ids[1], day=LATER_CLINIC_DAY, rank=2),
        ListEntry(kind=ListKind.PROGRAM, youth_id=youth_ids[2], rank=1),
    ]
    db.session.add_all(entries)
    db.session.flush()
    entry_ids = [entry.id for entry in entries]
    bea_intake = db.session.scalars(
        select(Intake).where(Intake.appointment_id == booked["Bea"])
    ).one()
    bea_intake.email = "bea@example.org"
    message_ids = db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
    # One message failed for good, so that the desk can send it again.
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_ids[0])
        .values(status=MessageStatus.DEAD, attempts=1, last_error="refused by the provider")
    )
    db.session.commit()
    desk_user = staff[StaffRole.FRONT_DESK]
    world.real = {
        "appointment_id": [str(i) for i in booked.values()],
        "youth_id": [str(i) for i in youth_ids],
        "other_id": [str(i) for i in youth_ids],
        "user_id": [str(target.id), str(staff[StaffRole.ADMIN].id)],
        "message_id": [str(i) for i in message_ids[:3]],
        "entry_id": [str(i) for i in entry_ids],
        "intake_id": [str(i) for i in db.session.scalars(select(Intake.id).order_by(Intake.id))],
        # Each record's details as its edit form draws them (an edit form sends it back).
        "drawn": [records.edit_form(int(i), desk_user).drawn for i in youth_ids],
        "clinicians": [str(staff[StaffRole.CLINICIAN].id)],
        "day": [d.isoformat() for d in (NEXT_DAY, LATER_CLINIC_DAY, FOLLOW_UP_DAY)],
        "start": ["16:00", "16:20", "17:00"],
    }
    world.sign_in()  # fresh cookies: no flashed messages from building the world
    return world


# --- What each POST route takes ------------------------------------------------------------


def form_fields(form_class) -> tuple[str, ...]:
    """The fields a WTForms class declares (its own and inherited)."""
    declared = (name for name in dir(form_class) if not name.startswith("_"))
    return tuple(sorted(n for n in declared if isinstance(getattr(form_class, n), UnboundField)))


Answers = dict[str, Any]


@dataclass(frozen=True)
class Form:
    """What one POST route reads: its fields, a valid answer for each (so some examples get
    past validation), and answers it must refuse whatever else is sent (``poison``)."""

    fields: tuple[str, ...] = ()
    valid: Callable[[World], Answers] = lambda world: {}
    poison: Callable[[World], st.SearchStrategy[Answers]] | None = None


def _consent_answers(world: World) -> Answers:
    return {"consent": [c.value for c in Consent]}


def _intake_valid(world: World) -> Answers:
    data = intake_data(submission_key="fuzz-new-booking" + "q" * 16)
    return {name: [value] for name, value in data.items()} | STEP_ANSWERS


# The intake in steps (clinic/web/public/steps.py): which step was shown, the button pressed,
# and the date of birth as its three inputs.
STEP_FIELDS = (
    "step",
    "go",
    "return_to",
    "date_of_birth-day",
    "date_of_birth-month",
    "date_of_birth-year",
)
STEP_ANSWERS = {
    "step": ["about", "guardian", "tattoo", "check"],
    "go": ["next", "back", "book", "about", "tattoo"],
    "return_to": ["check"],
    "date_of_birth-day": ["1", "31"],
    "date_of_birth-month": ["5", "2"],
    "date_of_birth-year": ["2007", "2011"],
    "health_any": ["yes", "no"],
}


def _youth_answers_refused(world: World) -> st.SearchStrategy[Answers]:
    """Intake answers no booking may come from: no consent, or no number of tattoos from 1
    to 30."""
    return st.one_of(
        st.sampled_from([{"consent": None}, {"consent": ""}, {"consent": "false"}]),
        _refused(["0", "31", "²", "-1"], lambda v: _as_int(v) in range(1, 31)).map(
            lambda v: {"tattoo_count": v}
        ),
    )


def _stations(world: World) -> list[str]:
    return list(world.app.config["STATIONS"])


def _station_refused(world: World) -> st.SearchStrategy[Answers]:
    stations = _stations(world)
    return _refused(["laser 1", "Laser 3"], lambda v: v in stations).map(lambda v: {"station": v})


def _ids_refused(name: str, real: str) -> Callable[[World], st.SearchStrategy[Answers]]:
    """Posted ids of which none names a real row in ASCII digits ('01' does, as in a URL)."""

    def poison(world: World) -> st.SearchStrategy[Answers]:
        ids = set(world.real[real])

        def names_a_row(v: str) -> bool:
            return v.isascii() and v.isdigit() and len(v) < 20 and str(int(v)) in ids

        value = _refused(["٣", "²", "99999999999999999999"], names_a_row)
        return st.lists(value, max_size=4).map(lambda values: {name: values})

    return poison


def _password_refused(name: str) -> Callable[[World], st.SearchStrategy[Answers]]:
    return lambda world: _refused(["", "short"], lambda v: v == PASSWORD).map(lambda v: {name: v})


def _new_password_refused(world: World) -> st.SearchStrategy[Answers]:
    """Too short or too long for a password, counted as the form counts."""
    fits = range(MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH + 1)
    return _refused(["", "x" * (MIN_PASSWORD_LENGTH - 1)], lambda v: len(v) in fits).map(
        lambda v: {"password": v}
    )


def _role_refused(world: World) -> st.SearchStrategy[Answers]:
    roles = {role.value for role in StaffRole}
    return _refused(["Admin", "root"], lambda v: v in roles).map(lambda v: {"role": v})


def _could_be_a_coming_day(text: str) -> bool:
    """Whether an extra-day form might read ``text`` as a date it can open (broadly)."""
    try:
        day = date.fromisoformat(_drop_controls(text).strip())
    except ValueError:
        return False
    return 2026 <= day.year <= 2027


SLOT_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


def _slot_refused(world: World) -> st.SearchStrategy[Answers]:
    return _refused(["2027-01-19 16:00"], SLOT_SHAPE.fullmatch).map(lambda v: {"slot": v})


def _names_a_row(world: World, real: str) -> Callable[[str], bool]:
    """Whether a posted id names a row of ``world.real[real]`` as a number field reads it."""
    ids = set(world.real[real])

    def names(v: str) -> bool:
        text = v.strip().removeprefix("-")
        return text.isascii() and text.isdigit() and len(text) < 19 and str(int(text)) in ids

    return names


def _drawn_refused(world: World) -> st.SearchStrategy[Answers]:
    """A fingerprint of no record's details: the form is stale, so nothing is saved."""
    drawn = set(world.real["drawn"])
    return _refused(["0" * 32, "F" * 32], lambda v: v.strip() in drawn).map(lambda v: {"drawn": v})


def _look_alike_unanswered(world: World) -> st.SearchStrategy[Answers]:
    """A walk-in saved with Ana's phone under another name (a look-alike), without saying
    whether it is Ana or someone else: the desk must answer first."""
    answered = {"new", *world.real["youth_id"]}
    return _refused(["x", "99999999999999999999", "NEW"], answered.__contains__).map(
        lambda v: {
            "step": "save",
            "first_name": "Destiny",
            "last_name": "Brown",
            "phone": "(415) 555-0134",
            "same_youth": v,
        }
    )


HOURS = {"start": ["16:00"], "end": ["19:00"], "slot_minutes": ["20"], "seats": ["2"]}
CHANGES = ["close", "reopen", "hours", "remove", "roster"]
ROLES = [role.value for role in StaffRole]

FORMS: dict[str, Form] = {
    # --- The public pages: a youth's phone, no account
    "public.intake": Form(
        fields=(*form_fields(IntakeForm), *STEP_FIELDS),
        valid=_intake_valid,
        poison=_youth_answers_refused,
    ),
    # Stores nothing in the database at all (the language lives in the session).
    "public.set_language": Form(
        fields=("lang", "next"),
        valid=lambda w: {"lang": ["en", "es"], "next": ["/", "/book"]},
    ),
    # A youth's link (/my): without one opened in the session, each answers "this link does
    # not work"; "send my link again" looks up and may queue a message.
    "public.cancel": Form(),
    "public.reschedule": Form(
        fields=("slot",),
        valid=lambda w: {"slot": [f"{LATER_CLINIC_DAY}T16:00", f"{NEXT_DAY}T17:00"]},
        poison=_slot_refused,
    ),
    "public.next_session": Form(
        fields=form_fields(NextSessionForm),
        valid=lambda w: {
            "slot": [f"{FOLLOW_UP_DAY}T16:00"],
            "submission_key": ["fuzz-next-session" + "n" * 16],
            "phone": ["(415) 555-0137"],
            "email": ["", "dani@example.org"],
            "contact_by": ["sms", "email"],
            "language": ["en", "es"],
        },
        poison=_slot_refused,
    ),
    "public.lost_link": Form(
        fields=form_fields(LostLinkForm),
        valid=lambda w: {
            "contact": ["(415) 555-0134", "4155550137", "ana@example.org"],
            "date_of_birth": ["2007-05-01", "05/01/2007"],
        },
        poison=lambda w: _refused(
            ["no", "555-0134"], lambda v: normalize_phone(_drop_controls(v)) is not None or "@" in v
        ).map(lambda v: {"contact": v}),
    ),
    # Standby and the waiting list: joins take the booking's intake (and the same poison);
    # an offer is answered, and a list left, only from a link opened in the session.
    "public.join_standby": Form(
        fields=(*form_fields(StandbyForm), *STEP_FIELDS),
        valid=lambda w: {**_intake_valid(w), "earliest": ["", "16:00"], "latest": ["", "17:00"]},
        poison=_youth_answers_refused,
    ),
    "public.join_program": Form(
        fields=(*form_fields(ListForm), *STEP_FIELDS),
        valid=_intake_valid,
        poison=_youth_answers_refused,
    ),
    "public.answer_offer": Form(
        fields=("offer_id", "answer"),
        valid=lambda w: {"offer_id": ["1", "2"], "answer": ["take", "decline"]},
    ),
    "public.leave_list": Form(),
    # --- Sign-in
    "auth.login": Form(
        fields=form_fields(LoginForm),
        valid=lambda w: {"email": w.emails, "password": [PASSWORD]},
        poison=_password_refused("password"),
    ),
    "auth.logout": Form(),
    "auth.two_factor": Form(
        fields=form_fields(TwoFactorForm), valid=lambda w: {"code": ["123456", "abcde-fghjk"]}
    ),
    "auth.two_factor_setup": Form(
        fields=form_fields(TwoFactorSetupForm), valid=lambda w: {"code": ["123456"]}
    ),
    # --- The clinic day; ``day`` is where a refused move goes back to
    "staff.check_in": Form(fields=("consent", "day"), valid=_consent_answers),
    "staff.record_consent": Form(
        fields=("consent", "day"),
        valid=_consent_answers,
        poison=lambda w: _refused(["CONFIRMED", "yes"], lambda v: v in set(Consent)).map(
            lambda v: {"consent": v}
        ),
    ),
    "staff.call": Form(
        fields=("station", "day"),
        valid=lambda w: {"station": _stations(w)},
        poison=_station_refused,
    ),
    "staff.call_next": Form(
        fields=("station", "day"),
        valid=lambda w: {"station": _stations(w)},
        poison=_station_refused,
    ),
    "staff.no_show": Form(fields=("day",)),
    "staff.no_shows": Form(
        fields=("appointment_id",),
        valid=lambda w: {"appointment_id": w.real["appointment_id"]},
        poison=_ids_refused("appointment_id", "appointment_id"),
    ),
    "staff.cancel_appointment": Form(fields=("day",)),
    "staff.undo": Form(fields=("day",)),
    "staff.complete": Form(
        fields=(*form_fields(TreatmentForm), "day"),
        valid=lambda w: {
            "session_number": ["1", "2"],
            "areas": ["hands", "arms"],
            "skin_type": ["III", "VI"],
            "settings": ["1064 nm, 3 J/cm², 4 mm"],
            "notes": ["Mild redness.\nNo blisters."],
        },
        poison=lambda w: _refused(
            ["0", "41", "²"], lambda v: (_as_int(v) or 0) in range(1, 41)
        ).map(lambda v: {"session_number": v}),
    ),
    # In two steps: "check" (names, birth date, phone) stores nothing; "save" stores. Ana's
    # phone under another name is a look-alike the desk must answer for (``same_youth``).
    "staff.walk_in": Form(
        fields=form_fields(WalkInForm),
        valid=lambda w: {
            **_intake_valid(w),
            "first_name": ["Ana", "Destiny"],
            "last_name": ["Flores", "Brown"],
            "guardian_consent": [c.value for c in Consent],
            "step": ["check", "save"],
            "same_youth": ["new", *w.real["youth_id"]],
        },
        poison=lambda w: st.one_of(_youth_answers_refused(w), _look_alike_unanswered(w)),
    ),
    # --- Youth records
    # A search reads only.
    "staff.youth_search": Form(
        fields=form_fields(SearchForm),
        valid=lambda w: {"q": ["Ana", "2007-05-01", "05/01/2007", "(415) 555-0134"]},
    ),
    "staff.book_follow_up": Form(
        fields=form_fields(FollowUpForm),
        valid=lambda w: {
            "slot": [f"{FOLLOW_UP_DAY}T16:00", f"{LATER_CLINIC_DAY}T16:00"],
            "submission_key": ["fuzz-follow-up" + "f" * 18],
            "guardian_name": ["Marta Reyes"],
            "guardian_relationship": ["parent"],
            "guardian_phone": ["4155550111"],
        },
        poison=lambda w: _refused(["2027-01-19 16:00"], SLOT_SHAPE.fullmatch).map(
            lambda v: {"slot": v}
        ),
    ),
    # Editing a youth's details: ``drawn`` is the fingerprint of what the form showed; any
    # other is refused (the record changed meanwhile), so nothing is stored.
    "staff.edit_youth": Form(
        fields=form_fields(EditYouthForm),
        valid=lambda w: {
            "preferred_name": ["", "Nia"],
            "phone": ["(415) 555-0134", "4155550199", ""],
            "email": ["", "ana@example.org"],
            "language": ["en", "es"],
            "contact_by": ["sms", "email"],
            "guardian_name": ["", "Marta Reyes"],
            "guardian_relationship": ["", "parent"],
            "guardian_phone": ["", "4155550111"],
            "drawn": w.real["drawn"],
        },
        poison=_drawn_refused,
    ),
    "staff.use_new_details": Form(
        fields=form_fields(UseNewDetailsForm),
        valid=lambda w: {"intake_id": w.real["intake_id"], "drawn": w.real["drawn"]},
        poison=lambda w: st.one_of(
            _drawn_refused(w),
            _refused(["٣", "0", "99999999999999999999"], _names_a_row(w, "intake_id")).map(
                lambda v: {"intake_id": v}
            ),
        ),
    ),
    # Moving one booking (Luis's, at 17:00, is ahead): choose, then confirm.
    "staff.move_booking": Form(
        fields=form_fields(BookingMoveForm),
        valid=lambda w: {
            "slot": [f"{LATER_CLINIC_DAY}T16:00", f"{FOLLOW_UP_DAY}T16:00"],
            "confirmed": ["", "yes"],
        },
        poison=_slot_refused,
    ),
    # A new youth who phones in; Ana's names and birth date are a possible duplicate.
    "staff.book_for_caller": Form(
        fields=form_fields(CallerForm),
        valid=lambda w: {
            "slot": [f"{LATER_CLINIC_DAY}T16:00", f"{FOLLOW_UP_DAY}T16:00"],
            "submission_key": ["fuzz-caller" + "c" * 21],
            "first_name": ["Marisol", "Ana"],
            "last_name": ["Reyes", "Flores"],
            "date_of_birth": ["2004-06-15", "2007-05-01", "2011-03-03"],
            "phone": ["4155550161", "(415) 555-0134"],
            "email": ["", "marisol@example.org"],
            "contact_by": ["sms", "email"],
            "language": ["en", "es"],
            "guardian_name": ["", "Marta Reyes"],
            "guardian_relationship": ["", "parent"],
            "guardian_phone": ["", "4155550111"],
            "tattoo_locations": ["hands", "arms"],
            "referral_source": ["friend"],
            "duplicates_seen": ["", "yes"],
        },
        poison=_slot_refused,
    ),
    # Finding a caller on file reads only.
    "staff.find_caller": Form(
        fields=form_fields(FindForm),
        valid=lambda w: {"q": ["Ana", "2007-05-01", "(415) 555-0134"]},
    ),
    "staff.merge_youth": Form(
        fields=form_fields(MergeForm),
        valid=lambda w: {"other_id": w.real["youth_id"]},
        poison=lambda w: _refused(
            ["٣", "99999999999999999999", str(2**31)],
            lambda v: str(_as_int(v)) in w.real["youth_id"],
        ).map(lambda v: {"other_id": v}),
    ),
    # Erasing on request: the box must be ticked (an empty answer is refused with 422).
    "staff.erase_youth": Form(
        fields=form_fields(EraseForm),
        valid=lambda w: {"confirm": ["y"]},
        poison=lambda w: st.sampled_from(
            [{"confirm": None}, {"confirm": ""}, {"confirm": "false"}]
        ),
    ),
    # --- Standby and waiting lists
    "staff.move_entry": Form(
        fields=form_fields(MoveForm),
        valid=lambda w: {"direction": ["up", "down"]},
        poison=lambda w: _refused(["UP", "left"], lambda v: v in ("up", "down")).map(
            lambda v: {"direction": v}
        ),
    ),
    "staff.remove_entry": Form(),
    "staff.invite_entry": Form(),
    # --- Messages
    "staff.resend_message": Form(),
    # --- The schedule
    "staff.schedule_add_extra": Form(
        fields=form_fields(ExtraDayForm),
        valid=lambda w: {"day": ["2026-12-01", "2026-12-08"], **HOURS},
        poison=lambda w: _refused(["2020-01-01", "9999-12-31"], _could_be_a_coming_day).map(
            lambda v: {"day": v}
        ),
    ),
    "staff.schedule_day": Form(
        fields=(
            *form_fields(HoursForm),
            *form_fields(CloseForm),
            "change",
            "resolution",
            "seen",
            "clinicians",
        ),
        valid=lambda w: {
            "change": CHANGES,
            # The day's roster: the clinician, nobody (the default seats), or an account that
            # is not a clinician (refused).
            "clinicians": [*w.real["clinicians"], "", *w.real["user_id"]],
            "note": ["Laser broken"],
            "resolution": [r.value for r in Resolution],
            "seen": w.real["appointment_id"],
            **HOURS,
        },
        # An unknown change is refused (400) before anything is read.
        poison=lambda w: _refused(["Close", "delete"], lambda v: v in CHANGES).map(
            lambda v: {"change": v}
        ),
    ),
    "staff.schedule_block_slot": Form(
        fields=("resolution", "seen"),
        valid=lambda w: {
            "resolution": [r.value for r in Resolution],
            "seen": w.real["appointment_id"],
        },
    ),
    "staff.schedule_unblock_slot": Form(fields=("resolution", "seen")),
    # --- Staff accounts
    "staff.create_account": Form(
        fields=form_fields(NewAccountForm),
        valid=lambda w: {
            "name": ["Nia Park"],
            "email": ["nia@clinic.test", w.emails[0]],
            "role": ROLES,
            "password": [NEW_PASSWORD],
        },
        poison=_role_refused,
    ),
    "staff.deactivate_account": Form(),
    # ``next``: the page the unlock was pressed on, to go back to (a path of this site only).
    "staff.unlock_sign_in": Form(
        fields=("next",),
        valid=lambda w: {"next": ["/staff/accounts", "/staff/", "//evil.example"]},
    ),
    "staff.reset_two_factor": Form(),
    "staff.own_two_factor_start": Form(),
    "staff.own_two_factor_setup": Form(
        fields=form_fields(TwoFactorCodeForm), valid=lambda w: {"code": ["123456"]}
    ),
    "staff.own_two_factor_off": Form(
        fields=("off-current_password",),
        valid=lambda w: {"off-current_password": [PASSWORD]},
        poison=_password_refused("off-current_password"),
    ),
    "staff.own_recovery_codes": Form(
        fields=("codes-current_password",),
        valid=lambda w: {"codes-current_password": [PASSWORD]},
        poison=_password_refused("codes-current_password"),
    ),
    "staff.reactivate_account": Form(),
    "staff.change_role": Form(
        fields=form_fields(RoleForm), valid=lambda w: {"role": ROLES}, poison=_role_refused
    ),
    "staff.reset_password": Form(
        fields=form_fields(ResetPasswordForm),
        valid=lambda w: {"password": [NEW_PASSWORD]},
        poison=_new_password_refused,
    ),
    "staff.own_password": Form(
        fields=form_fields(OwnPasswordForm),
        valid=lambda w: {
            "current_password": [PASSWORD],
            "new_password": [NEW_PASSWORD],
            "confirm": [NEW_PASSWORD],
        },
        poison=_password_refused("current_password"),
    ),
}


def _first(value: Any) -> str:
    values = value if isinstance(value, list) else [value]
    return values[0] if values and isinstance(values[0], str) else ""


@dataclass(frozen=True)
class KnownError:
    """A 5xx the fuzz found in code another change was rewriting at the time, so not fixed
    with the others. The fuzz steers around it, and ``test_known_errors_still_fail`` pins it
    with its exact input: once fixed, that test fails until the entry is removed here."""

    endpoint: str
    method: str
    hits: Callable[[Answers], bool]  # whether a drawn form meets the error
    example: Answers  # the smallest input found
    raises: type[Exception]
    reason: str
    postgres_only: bool = False

    def applies(self) -> bool:
        return databases.on_postgres() or not self.postgres_only

    def meets(self, endpoint: str, method: str, answers: Answers) -> bool:
        return (endpoint, method) == (self.endpoint, self.method) and (
            self.applies() and self.hits(answers)
        )


# Inputs that still give a 5xx, each with where it is and why; the test below keeps each one
# failing until it is fixed (then it must leave this list). None today.
KNOWN_ERRORS: list[KnownError] = []


# Query arguments pages read (the others get a few unknown ones only).
QUERY = {
    "staff.audit_trail": ("youth", "staff", "since", "until", "before"),
    "staff.audit_export": ("youth", "staff", "since", "until"),
    "staff.day_picker": ("day",),
    "staff.reports": ("kind", "month", "quarter", "year", "start", "end"),
    "staff.report_download": ("kind", "month", "quarter", "year", "start", "end", "format"),
    "staff.report_visits_csv": ("kind", "month", "quarter", "year", "start", "end"),
    "staff.report_visits_xlsx": ("kind", "month", "quarter", "year", "start", "end"),
    "staff.messages": ("status", "page"),
    "auth.login": ("next",),
}


# --- The routes ----------------------------------------------------------------------------


def _routes() -> list[tuple[str, str]]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted(
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


ROUTES = _routes()
PLACEHOLDER = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def _rule(app, endpoint: str):
    return next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)


def _roles(app, endpoint: str) -> list[StaffRole | None]:
    """Who may use the route: the roles its action allows (a staff route), else anyone."""
    action = getattr(app.view_functions[endpoint], "required_action", None)
    if endpoint.startswith("staff."):
        return [role for role in StaffRole if action is not None and can(role, action)]
    # Mostly a visitor without an account; sometimes staff, signed in, on the same pages.
    return [None, None, None, *StaffRole]


def _url_part(world: World, converter_name: str | None, name: str):
    """A strategy of (text for this URL part, whether the route must find nothing there)."""
    converter = world.app.url_map.converters[converter_name or "default"](world.app.url_map)

    def names_nothing(text: str) -> bool:
        if not re.fullmatch(converter.regex, text):
            return True
        try:
            value = converter.to_python(text)
        except ValidationError:
            return True
        return isinstance(value, int) and value >= NO_SUCH_ID

    if converter_name == "int":
        plausible = st.integers(1, 2**31 - 1).map(str)
    elif converter_name == "isodate":
        plausible = st.dates(date(1900, 1, 1), date(2200, 12, 31)).map(date.isoformat)
    elif converter_name == "clock":
        plausible = st.times().map(lambda t: t.strftime("%H:%M"))
    else:
        plausible = st.text(max_size=30)
    real = world.real.get(name) or []
    # Mostly a real row, day or time, so that most examples get past the URL into the view.
    kinds = {"real": st.sampled_from(real)} if real else {}
    kinds.update(plausible=plausible, nasty=NASTY)
    weights = [kind for kind in kinds for _ in range(6 if kind == "real" else 1)]
    anything = (
        st.sampled_from(weights)
        .flatmap(kinds.__getitem__)
        .map(lambda text: (text, names_nothing(text)))
    )
    # Drawn only for the converters above, which refuse most nasty text.
    return anything, lambda: NASTY.filter(names_nothing).map(lambda text: (text, True))


def _answers(data, world: World, form: Form) -> Answers:
    """A form's answers: mostly valid but for a field or two (to reach the use cases), or
    anything at all; per field a valid answer, a nasty one, several, or none; and unknown
    fields."""
    valid = form.valid(world)
    fields = form.fields
    odd: set[str] = set(fields)
    if fields and data.draw(st.booleans(), label="mostly valid"):
        odd = data.draw(st.sets(st.sampled_from(fields), max_size=2), label="odd fields")
    nasty = st.one_of(NASTY, NASTY, st.lists(NASTY, min_size=2, max_size=3), st.none())
    answers = {}
    for name in fields:
        good = st.sampled_from(list(valid[name])) if valid.get(name) else None
        if good is not None and name not in odd:
            choice = st.one_of(good, st.lists(good, min_size=1, max_size=2))
        elif good is not None:
            choice = st.one_of(good, _with_slip(good), nasty)
        else:
            choice = nasty
        answers[name] = data.draw(choice, label=name)
    unknown = data.draw(st.dictionaries(st.text(min_size=1, max_size=12), NASTY, max_size=2))
    return {**unknown, **{k: v for k, v in answers.items() if v is not None}}


def _poisoned(answers: Answers, overrides: Answers) -> Answers:
    merged = {**answers, **overrides}
    return {name: value for name, value in merged.items() if value is not None}


# --- The tests -----------------------------------------------------------------------------


def test_every_post_route_has_a_fuzz_strategy():
    posts = {endpoint for endpoint, method in ROUTES if method != "GET"}
    assert posts <= set(FORMS), f"add these to FORMS in {__name__}: {sorted(posts - set(FORMS))}"
    assert set(FORMS) <= posts, f"no such POST route any more: {sorted(set(FORMS) - posts)}"


def test_the_world_is_as_described(world):
    """The fuzz reaches the use cases only if the world's state is what it claims."""
    statuses = dict(
        db.session.execute(
            select(Appointment.id, Appointment.status).where(
                Appointment.id.in_([int(i) for i in world.real["appointment_id"]])
            )
        ).all()
    )
    assert sorted(statuses.values()) == ["booked", "booked", "completed", "in_treatment"]
    assert world.real["message_id"]
    assert world.snapshot() == world.base


@pytest.mark.parametrize(("endpoint", "method"), ROUTES)
def test_fuzz(world, endpoint, method):
    app = world.app
    rule = _rule(app, endpoint)
    roles = _roles(app, endpoint)
    assert roles, f"{endpoint}: no role may use it"
    form = Form() if method == "GET" else FORMS.get(endpoint, Form())
    parts = [(m["converter"], m["name"]) for m in PLACEHOLDER.finditer(rule.rule)]
    url_parts = {name: _url_part(world, converter, name) for converter, name in parts}
    known_query = QUERY.get(endpoint, ())
    query = st.dictionaries(
        st.one_of(st.sampled_from(known_query), st.text(min_size=1, max_size=10))
        if known_query
        else st.text(min_size=1, max_size=10),
        st.one_of(NASTY, st.lists(NASTY, max_size=2)),
        max_size=3,
    )
    # A GET is checked whatever it was sent; a POST when it was made invalid on purpose.
    ways_to_poison = []
    if method != "GET":
        ways_to_poison = [
            f"url:{name}" for converter, name in parts if converter in ("int", "isodate", "clock")
        ]
        if form.poison is not None:
            ways_to_poison.append("form")

    @FUZZ
    @given(data=st.data())
    def run(data):
        role = data.draw(st.sampled_from(roles), label="role")
        poison = data.draw(st.sampled_from([None, None, *ways_to_poison]), label="poison")
        path = rule.rule
        poisoned = poison is not None
        for _converter, name in parts:
            anything, nothing = url_parts[name]
            text, names_nothing = data.draw(
                nothing() if poison == f"url:{name}" else anything, label=name
            )
            poisoned = poisoned or names_nothing
            placeholder = PLACEHOLDER.search(path)
            path = path[: placeholder.start()] + quote(text, safe="") + path[placeholder.end() :]
        answers = {} if method == "GET" else _answers(data, world, form)
        if poison == "form":
            answers = _poisoned(answers, data.draw(form.poison(world), label="poisoned with"))
        arguments = data.draw(query, label="query")
        assume(not any(known.meets(endpoint, method, answers) for known in KNOWN_ERRORS))

        client = world.client(role)
        try:
            response = client.open(path, method=method, query_string=arguments, data=answers)
            assert response.status_code < 500, (response.status_code, path)
            after = world.snapshot()
            if method == "GET" or poisoned:
                assert after == world.base, _changes(world.base, after)
        finally:
            if world.snapshot() != world.base:
                world.restore()

    run()


def test_known_errors_still_fail(world):
    """Each known 5xx still fails as described: once fixed, it must leave KNOWN_ERRORS (and
    the fuzz test then tries it again like any other input)."""
    for known in (known for known in KNOWN_ERRORS if known.applies()):
        path = _rule(world.app, known.endpoint).rule
        assert "<" not in path, "give the example's URL parts too"
        try:
            with pytest.raises(known.raises):
                world.client(None).open(path, method=known.method, data=known.example)
        finally:
            if world.snapshot() != world.base:
                world.restore()
