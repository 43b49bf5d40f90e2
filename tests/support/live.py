"""The app under gunicorn, as production runs it, and browsers that talk to it over HTTP.

Used by the race, crash and backup tests (``tests/concurrency``) and the browser tests
(``tests/e2e``): real worker processes, real sockets, the production configuration (CSRF on,
secure cookies), a real database. The race harness itself is in ``tests.support.races``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from html import unescape
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import pyotp
from sqlalchemy import Engine, create_engine, select, text
from werkzeug.security import generate_password_hash

from clinic import booking, clinic_day, create_app, settings
from clinic.extensions import db
from clinic.models import ClinicDay, Consent, StaffUser
from config import TestingConfig
from tests.conftest import intake_data
from tests.support import databases

ROOT = Path(__file__).resolve().parents[2]
# Shared by every server of a test, as app servers behind one load balancer share theirs.
SECRET_KEY = "live-test-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One gunicorn master with sync workers, serving ``wsgi:app`` on ``database_url``."""

    def __init__(self, database_url: str, log_dir: Path, workers: int = 4, **settings: str):
        self.port = free_port()
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        self.env = {
            **os.environ,
            "CLINIC_ENV": "production",
            "SECRET_KEY": SECRET_KEY,
            # The keys the test databases were made with (clinic/crypto.py).
            "DATA_KEYS": TestingConfig.DATA_KEYS,
            "BLIND_INDEX_KEY": TestingConfig.BLIND_INDEX_KEY,
            "DATABASE_URL": database_url,
            # The races and load tests are not about limits: they book hundreds of times from
            # one address. The limits have their own tests against several workers and Redis.
            "RATELIMIT_ENABLED": "0",
            # Nor about the answer's timing (tests/booking/test_public_answers.py): a floor
            # per booking would only slow fifty-youth races down.
            "BOOKING_ANSWER_FLOOR_MS": "0",
            **settings,
        }
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the handle
            self.process = self._spawn(log)
        self.wait_until_ready()
        return self

    def _spawn(self, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_until_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log_path}\n{self.log()}")
            if len(self.worker_pids()) == self.workers:
                try:
                    if Browser(self).get("/healthz").status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer in {timeout}s:\n{self.log()}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def kill_a_worker(self, pid: int) -> None:
        """SIGKILL: no cleanup, no rollback from the worker itself, as in an OOM kill."""
        with contextlib.suppress(ProcessLookupError):  # it died already
            os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def app_servers(database_url: str, log_dir: Path, **settings: str) -> Iterator[list[Server]]:
    """One gunicorn with 4 sync workers on SQLite (one machine); two on PostgreSQL, as two app
    servers behind a load balancer would be. Started together (booting takes a while), stopped
    after the block, and, if it ended normally, their logs checked clean."""
    count = 2 if databases.on_postgres() else 1
    servers = [Server(database_url, log_dir, workers=4, **settings) for _ in range(count)]
    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(Server.start, servers))
        yield servers
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        assert_clean_log(server)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Browser:
    """One person's browser: its own cookies, one request at a time (or many, when a test
    double-clicks on purpose)."""

    server: Server
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict | None = None) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        headers = {"Accept-Language": "en", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            response = Response(
                raw.status,
                {k.lower(): v for k, v in raw.getheaders()},
                raw.read().decode("utf-8", "replace"),
            )
        finally:
            connection.close()
        for header, value in raw.getheaders():
            # The cookies are marked Secure (production) but this is plain HTTP on loopback.
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict) -> Response:
        return self.request("POST", path, form)


def hidden_value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', page
    )
    if match is None:
        raise AssertionError(f"no hidden {name} in the page")
    return match.group(1)


@dataclass
class Youth:
    """Someone about to book: their browser holds the intake form, filled in."""

    browser: Browser
    path: str
    form: dict

    def submit(self) -> Response:
        return self.browser.post(self.path, self.form)


def open_intake(server: Server, day: str, start: str, n: int) -> Youth:
    """A youth opens the intake form for ``day`` at ``start`` and fills it in as youth ``n``."""
    browser = Browser(server)
    path = f"/book/{day}/{start}"
    page = browser.get(path)
    assert page.status == 200, (page.status, page.body[:500])
    form = intake_data(
        csrf_token=hidden_value(page.body, "csrf_token"),
        submission_key=hidden_value(page.body, "submission_key"),
        slot_time=start,
        first_name=f"Racer{n}",
        last_name="Live",
        date_of_birth=f"{2004 + n % 4}-0{1 + n % 9}-1{n % 10}",
        phone=f"415555{n % 10000:04d}",
        language="en",
    )
    return Youth(browser, path, form)


FILLED_UP = "this time just filled up"
ALREADY_BOOKED = "already an upcoming appointment for this name and date of birth"


def outcome(response: Response) -> str:
    """'booked', 'full', 'already booked', or what else happened."""
    if response.status == 303 and response.location.endswith("/book/confirmed"):
        return "booked"
    if response.status == 422 and FILLED_UP in response.body:
        return "full"
    if response.status == 422 and ALREADY_BOOKED in response.body:
        return "already booked"
    return f"unexpected {response.status}: {response.body[:300]!r}"


def booked_keys(url: str) -> list[str]:
    """The submission keys of the booked appointments: which forms got a seat. (The page
    after the form shows only what was typed, the same whether booked or not.)"""
    engine = create_engine(url)
    with engine.connect() as connection:
        keys = connection.execute(
            text("SELECT submission_key FROM appointment WHERE status = 'booked'")
        ).scalars()
        found = sorted(keys)
    engine.dispose()
    return found


def _open_days(server: Server) -> list[dict]:
    """The server's bookable days (real clock), except today: a trial must not straddle a
    slot's booking cutoff on a clinic Tuesday."""
    availability = json.loads(Browser(server).get("/api/availability").body)
    today = availability["generated_at"][:10]
    return [day for day in availability["days"] if day["date"] != today]


def bookable_slots(server: Server) -> tuple[str, list[str]]:
    """The first clinic day with bookable times, and all of them."""
    for day in _open_days(server):
        starts = [slot["start"] for slot in day["slots"] if slot["bookable"]]
        if starts:
            return day["date"], starts
    raise AssertionError("no bookable slot in the booking window")


def bookable_pairs(server: Server) -> list[tuple[str, str]]:
    """Every (day, start) the server offers for booking now."""
    days = _open_days(server)
    return [(d["date"], s["start"]) for d in days for s in d["slots"] if s["bookable"]]


# Children before parents: messages, links, offers, the clinic day's history and treatments
# point at appointments (and list entries); list entries at youth.
BOOKING_TABLES = (
    "outbox_message",
    "youth_link",
    "seat_offer",
    "list_entry",
    "status_change",
    "treatment",
    "intake",
    "appointment",
    "youth",
    "slot",
    "ticket_counter",
)


@contextlib.contextmanager
def connect(database: str | Engine, *, begin: bool = False):
    """A connection to a database given by URL (a short-lived engine) or by its engine."""
    engine = create_engine(database) if isinstance(database, str) else database
    try:
        with engine.begin() if begin else engine.connect() as connection:
            yield connection
    finally:
        if isinstance(database, str):
            engine.dispose()


def wipe_bookings(database: str | Engine) -> None:
    """Remove every booking and what the clinic day recorded about it (not staff, not the
    schedule, not the schema) between trials."""
    with connect(database, begin=True) as connection:
        for table in BOOKING_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))


# --- Staff in a browser ----------------------------------------------------------------------

STAFF_PASSWORD = "live-staff-password-2026"


# The authenticator app of each live account that set up two-step sign-in in this run: its
# secret, and the last 30-second step it answered with (a code works once).
AUTHENTICATORS: dict[tuple[str, str], list] = {}


def _totp_code(key: tuple[str, str]) -> str:
    """The next code the account's "app" may give: the current step's, or a later one within
    the window if the current one was used already by an earlier sign-in of this test."""
    secret, last = AUTHENTICATORS[key]
    step = max(int(time.time() // 30), (last or 0) + 1)
    AUTHENTICATORS[key][1] = step
    return pyotp.TOTP(secret).generate_otp(step)


def sign_in(server: Server, email: str, password: str = STAFF_PASSWORD) -> Browser:
    """A staff member's browser, signed in through the real forms (CSRF and all): the
    password, then, for an admin (or anyone with a second factor), the second step; an admin
    new to this database first sets it up from the page (the secret is shown as text)."""
    browser = Browser(server)
    page = browser.get("/auth/login")
    signed_in = browser.post(
        "/auth/login",
        {"csrf_token": hidden_value(page.body, "csrf_token"), "email": email, "password": password},
    )
    assert signed_in.status == 303, (signed_in.status, signed_in.body[:500])
    key = (server.env["DATABASE_URL"], email)  # two app servers share one database
    if signed_in.location.endswith("/auth/two-factor/setup"):
        page = browser.get("/auth/two-factor/setup")
        secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page.body).group(1)
        AUTHENTICATORS[key] = [secret.replace(" ", ""), None]
        codes = browser.post(
            "/auth/two-factor/setup",
            {"csrf_token": hidden_value(page.body, "csrf_token"), "code": _totp_code(key)},
        )
        assert codes.status == 200 and "recovery-codes" in codes.body, codes.body[:500]
    elif signed_in.location.endswith("/auth/two-factor"):
        page = browser.get("/auth/two-factor")
        signed_in = browser.post(
            "/auth/two-factor",
            {"csrf_token": hidden_value(page.body, "csrf_token"), "code": _totp_code(key)},
        )
        assert signed_in.status == 303, (signed_in.status, signed_in.body[:500])
    return browser


def staff_browser(
    server: Server, database: str | Engine, email: str, role: str, name: str
) -> Browser:
    """A staff account written straight into the database (replacing one with that e-mail),
    for a test with no app of its own, and its browser, signed in through the real form."""
    with connect(database, begin=True) as connection:
        mine = "SELECT id FROM staff_user WHERE email = :email"
        connection.execute(
            text(f"DELETE FROM staff_session WHERE staff_id IN ({mine})"), {"email": email}
        )
        connection.execute(text("DELETE FROM staff_user WHERE email = :email"), {"email": email})
        connection.execute(
            text(
                "INSERT INTO staff_user (email, name, role, password_hash, active, created_at) "
                "VALUES (:email, :name, :role, :hash, true, CURRENT_TIMESTAMP)"
            ),
            {
                "email": email,
                "name": name,
                "role": role,
                "hash": generate_password_hash(STAFF_PASSWORD),
            },
        )
    return sign_in(server, email)


def follow(browser: Browser, response: Response, hops: int = 5) -> Response:
    """Follow redirects the way a browser does (the fragment stays in the browser)."""
    for _ in range(hops):
        if response.status not in (301, 302, 303, 307, 308):
            return response
        parts = urlsplit(response.location)
        response = browser.get(parts.path + (f"?{parts.query}" if parts.query else ""))
    raise AssertionError(f"more than {hops} redirects")


def flashes(page: str) -> list[tuple[str, str]]:
    """The flashed messages on a page: (category, text)."""
    return [
        (category, unescape(message))
        for category, message in re.findall(
            r'<p class="flash flash-(\w+)" role="status">(.*?)</p>', page, re.S
        )
    ]


# --- Today's clinic day, seeded in this process ----------------------------------------------


@dataclass(frozen=True)
class Booked:
    id: int
    code: str
    name: str
    start: clock_time


class ClinicToday:
    """The app in the test's own process, on the servers' database, for what happened before
    the test looks: today made a clinic day, staff accounts, bookings, earlier check-ins.

    The servers use the real clock, so the clinic day is today (the clinic's date). Bookings
    go through the booking use case with yesterday as its clock (a youth books ahead); moves
    go through the clinic-day use cases with the real clock, as a staff member's would.
    """

    def __init__(self, database_url: str, **config: object):
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, **config})
        self.count = 0
        self._password_hashes: dict[str, str] = {}

    @property
    def engine(self) -> Engine:
        """This process's engine on the database, for the tests' own checks."""
        with self.app.app_context():
            return db.engine

    def close(self) -> None:
        with self.app.app_context():
            db.engine.dispose()

    def now(self) -> datetime:
        """The clinic's wall clock, real, as the servers read it."""
        return datetime.now(ZoneInfo(self.app.config["CLINIC_TZ"]))

    def today(self) -> date:
        return self.now().date()

    def open_today(
        self,
        start: clock_time = clock_time(0, 0),
        end: clock_time = clock_time(23, 40),
        seats: int = 2,
        slot_minutes: int = 20,
    ) -> date:
        """Make today an extra clinic day (or replace today's hours), whatever the weekday."""
        with self.app.app_context():
            today = self.today()
            db.session.execute(text("DELETE FROM clinic_day WHERE day = :day"), {"day": today})
            db.session.add(
                ClinicDay(
                    day=today,
                    extra=True,
                    start_time=start,
                    end_time=end,
                    seats=seats,
                    slot_minutes=slot_minutes,
                    note="live test",
                )
            )
            db.session.commit()
        return today

    def add_staff(self, email: str, role: str, name: str, password: str = STAFF_PASSWORD) -> int:
        if password not in self._password_hashes:  # hashing is slow on purpose: once is enough
            self._password_hashes[password] = generate_password_hash(password)
        with self.app.app_context():
            user = StaffUser(email=email, name=name, role=role)
            user.password_hash = self._password_hashes[password]
            db.session.add(user)
            db.session.commit()
            return user.id

    def current_slot(
        self, slot_minutes: int = 20, last: clock_time = clock_time(23, 20)
    ) -> clock_time:
        """The start of the slot running now (or the day's last one, late at night)."""
        now = self.now()
        minutes = (now.hour * 60 + now.minute) // slot_minutes * slot_minutes
        return min(clock_time(minutes // 60, minutes % 60), last)

    def book(
        self, start: clock_time, first_name: str, last_name: str = "Live", *, minor: bool = False
    ) -> Booked:
        """A youth booked online for ``start`` today (adult, or a minor with a guardian)."""
        self.count += 1
        today = self.today()
        years = 15 if minor else 20
        guardian = (
            {
                "guardian_name": "Rosa Guardian",
                "guardian_relationship": "parent",
                "guardian_phone": "4155550199",
            }
            if minor
            else {}
        )
        request = booking.BookingRequest(
            day=today,
            start=start,
            submission_key=f"live-{os.getpid()}-{time.monotonic_ns()}-{self.count}",
            first_name=first_name,
            last_name=last_name,
            date_of_birth=date(today.year - years, 1, 15),
            phone=f"415555{self.count % 10000:04d}",
            tattoo_locations=["arms"],
            screening=["tan"],
            **guardian,
        )
        with self.app.app_context():
            rules = settings.current_rules()
            # The start of yesterday, not this hour yesterday: at 22:07 a 00:00 slot today would
            # be past the booking cut-off, and a test run late in the evening would fail.
            yesterday = datetime.combine(today - timedelta(days=1), clock_time(0, 0), rules.zone)
            appointment = booking.book(request, rules, yesterday)
            return Booked(appointment.id, appointment.code, f"{first_name} {last_name}", start)

    def _staff(self, email: str) -> StaffUser:
        return db.session.scalars(select(StaffUser).where(StaffUser.email == email)).one()

    def check_in(self, appointment_id: int, by: str, consent: str | None = None) -> None:
        with self.app.app_context():
            rules = settings.current_rules()
            clinic_day.check_in(
                appointment_id,
                self._staff(by),
                self.now(),
                rules,
                Consent(consent) if consent else None,
            )

    def cancel(self, appointment_id: int, by: str) -> None:
        with self.app.app_context():
            clinic_day.cancel(appointment_id, self._staff(by), self.now(), settings.current_rules())


def assert_clean_log(server: Server) -> None:
    """Errors nobody saw as a 5xx still must not happen: a lock timeout, a swallowed trace."""
    log = server.log_path.read_text(errors="replace")
    assert "database is locked" not in log, server.log()
    assert "Traceback" not in log, server.log()
