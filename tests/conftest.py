"""Shared fixtures: an app on a freshly migrated database, a frozen clinic clock, staff users
per role, and a valid intake form to vary."""

from __future__ import annotations

import contextvars
import shutil
from datetime import date, datetime, time
from time import time as unix_time
from zoneinfo import ZoneInfo

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import event, make_url, select, update
from sqlalchemy.orm import Session, raiseload

from clinic import accounts, create_app, settings
from clinic.extensions import db
from clinic.models import StaffRole, StaffUser, utcnow
from tests.support import databases

LA = ZoneInfo("America/Los_Angeles")
# Friday 20 November 2026, 9 a.m. in the clinic. Coming clinic days: Tue 24 Nov, then 22 and
# 29 Dec, 19 Jan (exactly 60 days ahead, the edge of the booking window).
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=LA)
NEXT_DAY = date(2026, 11, 24)
FIRST_SLOT = time(16, 0)
PASSWORD = "correct horse battery"


@event.listens_for(Session, "do_orm_execute")
def _lazy_loading_raises(state):
    """In tests, touching a relationship that was not eager-loaded raises instead of quietly
    running one more query per row (the N+1 pattern that makes pages slow with many rows)."""
    if state.is_select and not state.is_column_load and state.all_mappers:
        state.statement = state.statement.options(raiseload("*"))


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory):
    """The database every test starts from, its schema made by the migrations.

    On SQLite, a template file that each test copies; on PostgreSQL, one database for the
    run, emptied after each test.
    """
    url = databases.new_database("template", tmp_path_factory.mktemp("template"))
    databases.migrate(url)
    yield url
    databases.drop_database(url)


@pytest.fixture
def clock(monkeypatch):
    """The clinic's clock, frozen at NOW; tests move it with ``clock.set(...)``."""

    class Clock:
        now = NOW

        def set(self, value: datetime) -> None:
            self.now = value

    frozen = Clock()
    monkeypatch.setattr(settings, "clinic_now", lambda rules: frozen.now)
    return frozen


class CompiledTemplates(BytecodeCache):
    """Compiled templates kept for the whole run.

    Each test makes its own app, and so its own Jinja environment that would compile every
    template it renders again: a quarter of the suite's time. Jinja checks each template's
    source checksum before reusing its code, so an edited template is compiled afresh.
    """

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The test body keeps an app context open for its own queries; without this, requests would
    share it, and with it ``g``, the cached locale and the database session.
    """

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            # End the test body's read transaction, so it sees what the request wrote (on
            # SQLite a transaction reads one snapshot); its objects reload on next use.
            db.session.rollback()
        return response


@pytest.fixture
def app(migrated_db, tmp_path, clock):
    if databases.on_postgres():
        url = migrated_db
    else:
        path = tmp_path / "clinic.sqlite3"
        shutil.copy(make_url(migrated_db).database, path)
        url = f"sqlite:///{path}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if databases.on_postgres():
        databases.empty_tables(url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# Every admin of the suite has two-step sign-in on, with this key (TWO_FACTOR_ROLES is
# "admin" in the test configuration too, so an admin cannot sign in without it).
TOTP_SECRET = "JBSWY3DPEHPK3PXPTESTSONLY234567A"  # tests only  # nosec B105


@pytest.fixture
def make_staff(app):
    def make(
        role: StaffRole = StaffRole.FRONT_DESK,
        email: str | None = None,
        active=True,
        two_factor: bool | None = None,
    ):
        """An account with PASSWORD; with two-step sign-in on (TOTP_SECRET) if its role needs
        it, or if ``two_factor`` says so."""
        user = StaffUser(
            email=email or f"{role.value}@clinic.test", name=f"Test {role.value}", role=role
        )
        user.active = active
        user.set_password(PASSWORD)
        if two_factor if two_factor is not None else role == StaffRole.ADMIN:
            user.totp_secret = TOTP_SECRET
            user.totp_enabled_at = utcnow()
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def staff(make_staff):
    """One active account per role."""
    return {role: make_staff(role) for role in StaffRole}


@pytest.fixture
def sent(monkeypatch):
    """Messages 'sent' by senders that record them (see tests.support.outbox.Sent)."""
    from tests.support.outbox import record_sends  # it imports this module's constants

    return record_sends(monkeypatch)


def next_totp_code(email: str) -> str:
    """A code the account's second step accepts now: the current step's, or the next one's
    if the current one was used already (a code works once). A test that signs one account in
    more than twice within 30 seconds would run out of steps: then the account's record of
    the last step used is moved back, as if the earlier sign-ins were half a minute ago. The
    replay rule itself is tested with real codes in tests/accounts/test_two_factor.py."""
    secret, last = db.session.execute(
        select(StaffUser.totp_secret, StaffUser.totp_last_step).where(StaffUser.email == email)
    ).one()
    current = accounts.totp_step(unix_time())
    for step in (current, current + 1):
        if last is None or step > last:
            return accounts.totp_code(secret, step)
    db.session.execute(
        update(StaffUser).where(StaffUser.email == email).values(totp_last_step=current - 1)
    )
    db.session.commit()
    return accounts.totp_code(secret, current)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, url: str = "/auth/login"):
    """Sign in through the form, and answer the second step with the app's code when the
    account has one: the last answer (303 to the staff page when signed in)."""
    response = client.post(url, data={"email": email, "password": password})
    if response.status_code == 303 and response.headers["Location"] == "/auth/two-factor":
        response = client.post("/auth/two-factor", data={"code": next_totp_code(email)})
    return response


@pytest.fixture
def login(client):
    def do(user: StaffUser, password: str = PASSWORD):
        return sign_in(client, user.email, password)

    return do


def intake_data(**overrides) -> dict:
    """A complete, valid intake submission for an 19-year-old; override any field."""
    data = {
        "slot_time": "16:00",
        "submission_key": "k" * 32,
        "first_name": "Ana",
        "last_name": "Flores",
        "preferred_name": "",
        "date_of_birth": "2007-05-01",
        "phone": "(415) 555-0134",
        "email": "",
        "language": "es",
        "guardian_name": "",
        "guardian_relationship": "",
        "guardian_phone": "",
        "tattoo_count": "2",
        "tattoo_locations": ["hands", "face_neck"],
        "tattoo_size": "small",
        "tattoo_colors": "black",
        "tattoo_kind": "amateur",
        "tattoo_age_years": "3",
        "tattoo_notes": "",
        "screening": ["tan"],
        "referral_source": "probation",
        "consent": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def intake_url(day: date = NEXT_DAY, start: time = FIRST_SLOT) -> str:
    return f"/book/{day.isoformat()}/{start.strftime('%H:%M')}"
