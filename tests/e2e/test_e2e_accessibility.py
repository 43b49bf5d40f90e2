"""Accessibility, checked by an engine: axe-core (``axe-playwright-python``) on every page the
app serves to a person, public and staff, in English and in Spanish, on a phone (360 x 740)
and a desk screen (1280 x 800). The assertion is zero violations of any impact; a failure
lists each one with its rule, impact, page, language, width and the element (a CSS path), so
whoever reads it can fix it. Pages that had violations are kept as screenshots under
``$E2E_ARTIFACTS/axe`` (``test-artifacts/`` by default) for CI to collect.

What is scanned is one table, ``PAGES``: a name, the route it covers and how a browser
reaches it (a link opened, a form sent with errors, a refusal). Ids come from a clinic seeded
here through the use cases (a clinic day today with youth waiting, in treatment and treated;
a full day with a standby list and a seat offered; a far day for the next session), served by
gunicorn in the production configuration, with staff signed in through the real two-step
forms. ``test_every_page_route_is_scanned_or_exempt`` fails when a GET route appears that no
row of ``PAGES`` covers and ``EXEMPT`` does not excuse with a reason.

The booking steps: ``BOOKING_STEPS`` is the hook for a booking made of several pages (posted
in sequence): add a row per step there, and each is scanned like the rest.

``make screenshots`` runs ``test_readme_screenshots`` here, on the same seeded clinic, and
writes the README's pictures to ``docs/screenshots/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from clinic import booking, clinic_day, settings
from clinic.booking import lists, offers
from clinic.clinic_day import TreatmentRecord
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import links
from clinic.models import ClinicDay, ListEntry, StaffUser
from tests.conftest import intake_data
from tests.support import databases
from tests.support.browsers import artifacts_dir, axe_violations, fill_by_name, press_on
from tests.support.live import STAFF_PASSWORD, ClinicToday, Server, assert_clean_log

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("en", "es")
WIDTHS = ({"width": 360, "height": 740}, {"width": 1280, "height": 800})
PHONE = WIDTHS[0]

ADMIN = {"en": "admin-en@a11y.test", "es": "admin-es@a11y.test"}
CLINICIAN = "laser@a11y.test"

# Two times a day of six seats; a long window, so the next session (six weeks on) has a day.
CLINIC = {
    "CLINIC_DAY_START": "16:00",
    "CLINIC_DAY_END": "16:40",
    "SEATS_PER_SLOT": "6",
    "BOOKING_HORIZON_DAYS": "120",
}


# --- The seeded clinic ------------------------------------------------------------------------


@dataclass
class Clinic:
    """What the pages are opened with: days, ids and youth links (tokens), by name."""

    base: str
    today: date
    open_day: date  # bookable: seats left at 16:20
    full_day: date  # full, a standby list, a seat offered
    far_day: date  # six weeks on: the next session
    closed_day: date  # closed by staff, with a reason
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    seed: Callable[[str], None] | None = None  # changes the clinic's state: "every day full"
    app: object = None
    authenticators: dict = field(default_factory=dict)


def _typed(value: str) -> object:
    return int(value) if value.isdigit() else value


def _request(n: int, day: date, start: clock_time, **overrides) -> booking.BookingRequest:
    values = {
        "day": day,
        "start": start,
        "submission_key": f"a11y-{n:04d}-{day.isoformat()}-{start:%H%M}-kkkkkk",
        "first_name": f"Youth{n}",
        "last_name": "Scan",
        "date_of_birth": date(2004, 4, 4),
        "phone": f"+1415555{n:04d}",
        "language": "en",
        "tattoo_locations": ["arms"],
        "screening": ["tan"],
        "referral_source": "self",
        **overrides,
    }
    return booking.BookingRequest(**values)


def _seed(app, today_clinic: ClinicToday) -> Clinic:
    rules = settings.current_rules()
    now = settings.clinic_now(rules)
    today = now.date()
    upcoming = [d.plan.day for d in booking.upcoming_days(rules, now) if d.plan.day > today]
    open_day = upcoming[0]
    far_day = next(d for d in upcoming if d >= today + timedelta(weeks=6, days=1))
    # An extra day of one seat (filled below), on a day the clinic does not usually open.
    full_day = next(
        open_day + timedelta(days=n)
        for n in range(1, 7)
        if open_day + timedelta(days=n) not in upcoming
    )
    closed = [d for d in upcoming if d not in (open_day, far_day)]
    # Every other day closed (the program's waiting list opens only when no day has a seat).
    for day in closed:
        db.session.add(ClinicDay(day=day, closed=True, note="Staff training"))
    db.session.add(
        ClinicDay(
            day=full_day,
            extra=True,
            start_time=clock_time(16, 0),
            end_time=clock_time(16, 20),
            slot_minutes=20,
            seats=1,
        )
    )
    db.session.commit()
    clinic = Clinic("", today, open_day, full_day, far_day, closed[0])
    ids, tokens = clinic.ids, clinic.tokens

    def book(key: str, n: int, day: date, start: clock_time, **overrides) -> int:
        ids[key] = booking.book(_request(n, day, start, **overrides), rules, now).id
        return ids[key]

    def mint(key: str, **what: int) -> None:
        with write_transaction():
            tokens[key] = links.mint(**what)

    def entry_of(n: int) -> int:
        db.session.rollback()
        return db.session.scalar(
            db.select(ListEntry.id).where(ListEntry.submission_key.like(f"a11y-{n:04d}-%"))
        )

    # The open day: a youth who will change, one per language who will cancel.
    mint("valeria", appointment_id=book("valeria", 1, open_day, clock_time(16, 0)))
    for n, lang in ((2, "en"), (3, "es")):
        mint(
            f"cancel-{lang}", appointment_id=book(f"cancel-{lang}", n, open_day, clock_time(16, 0))
        )
    # The full day: Noor took the one seat, Marco and Sol joined its standby list; Noor
    # cancels, and the seat is held for Marco: an offer on his page.
    book("noor", 4, full_day, clock_time(16, 0))
    for n, key in ((5, "marco"), (6, "sol")):
        lists.join_standby(_request(n, full_day, clock_time(16, 0)), None, None, rules, now)
        ids[key] = entry_of(n)
        mint(key, entry_id=ids[key])
    booking.cancel(ids["noor"], None, now)
    with write_transaction():
        offers.fill_freed(full_day, rules, now)

    # Today: a clinic day already under way, with staff.
    start, slot = clock_time(0, 0), today_clinic.current_slot()
    end_minutes = min(slot.hour * 60 + slot.minute + 20, 23 * 60 + 40)
    today_clinic.open_today(start, clock_time(end_minutes // 60, end_minutes % 60), seats=4)
    for email, role, name in (
        (ADMIN["en"], "admin", "Alex Admin"),
        (ADMIN["es"], "admin", "Ale Admin"),
        ("desk@a11y.test", "front_desk", "Dana Desk"),
        (CLINICIAN, "clinician", "Lee Laser"),
    ):
        ids[email] = today_clinic.add_staff(email, role, name)
    treated = today_clinic.book(slot, "Tomas", "Treated")
    treating = today_clinic.book(slot, "Ana", "Adulta")
    waiting = today_clinic.book(slot, "Milo", "Menor", minor=True)
    ids["treating"], ids["waiting"] = treating.id, waiting.id
    for booked in (treated, treating):
        today_clinic.check_in(booked.id, by="desk@a11y.test")
    laser = db.session.scalars(db.select(StaffUser).filter_by(email=CLINICIAN)).one()
    station = rules.stations[0]
    clinic_day.call(treated.id, laser, station, today_clinic.now(), rules)
    record = TreatmentRecord(areas=["arms"], skin_type="III", settings="1064 nm", notes="Fine")
    clinic_day.complete(treated.id, laser, record, today_clinic.now())
    clinic_day.call(treating.id, laser, station, today_clinic.now(), rules)
    mint("treated", appointment_id=treated.id)
    from clinic.models import Appointment

    for key, appointment_id in (("treated", treated.id), ("treating", treating.id)):
        ids[f"{key}-youth"] = db.session.get(Appointment, appointment_id).youth_id
    ids["waiting-youth"] = db.session.get(Appointment, waiting.id).youth_id

    def every_day_full(_lang: str) -> None:
        """Fill the open and the far day: the program's waiting list opens; Pia joins it.
        Today's last seats go to walk-ins: the walk-in page offers other days instead."""
        if "pia" in ids:
            return
        with app.app_context():
            _fill(now)

    def _fill(now: datetime) -> None:
        n = 100
        for day in (open_day, far_day):
            for availability in booking.day_availability(day, rules, now).slots:
                for _ in range(availability.seats_left):
                    booking.book(_request(n, day, availability.plan.start), rules, now)
                    n += 1
        lists.join_program(_request(99, today, clock_time(0, 0)), rules, now)
        ids["pia"] = entry_of(99)
        mint("pia", entry_id=ids["pia"])
        desk = db.session.scalars(db.select(StaffUser).filter_by(email="desk@a11y.test")).one()
        for n in range(200, 240):  # a bound: today has a few seats
            if not clinic_day.walk_in_seats(rules, today_clinic.now()):
                break
            clinic_day.walk_in(
                _request(n, today, clock_time(0, 0)), desk, today_clinic.now(), rules
            )

    clinic.seed = every_day_full
    return clinic


@pytest.fixture(scope="module")
def clinic(request, tmp_path_factory):
    """A seeded clinic behind gunicorn. The scan takes one per language (an indirect
    parameter), so the two languages run on two test workers at once; each scan fills its
    clinic's days as it goes."""
    folder = tmp_path_factory.mktemp("a11y")
    url = databases.new_database("e2e_a11y", folder)
    databases.migrate(url)
    today_clinic = ClinicToday(url, **{key: _typed(value) for key, value in CLINIC.items()})
    server = Server(url, folder, workers=2, **CLINIC)
    try:
        with today_clinic.app.app_context():
            seeded = _seed(today_clinic.app, today_clinic)
        server.start()
        seeded.base = f"http://127.0.0.1:{server.port}"
        seeded.app = today_clinic.app
        yield seeded
    finally:
        server.stop()
        today_clinic.close()
    assert_clean_log(server)
    databases.drop_database(url)


# --- How a page is reached ---------------------------------------------------------------------
# Each ``reach(page, clinic, lang, scan_here)`` leaves ``page`` on the state to scan (which is
# scanned after it, at each width); ``scan_here(name)`` scans a page met on the way there.


def goto(path: str | Callable[[Clinic], str]) -> Callable:
    def reach(page, clinic: Clinic, lang: str, scan_here) -> None:
        page.goto(path(clinic) if callable(path) else path)

    return reach


def open_link(key: str, then: str | None = None) -> Callable:
    """A youth opens the link in their text (``/my/<token>``), then, maybe, a page of theirs."""

    def reach(page, clinic: Clinic, lang: str, scan_here) -> None:
        page.goto(f"/my/{clinic.tokens[key]}")
        if then:
            page.goto(then)

    return reach


def send_form(path: Callable[[Clinic], str], values: Callable[[Clinic, str], dict]) -> Callable:
    """Open a form, fill it from ``values`` (field names to values, as posted), send it."""

    def reach(page, clinic: Clinic, lang: str, scan_here) -> None:
        page.goto(path(clinic))
        fill_by_name(page, values(clinic, lang))
        press_on(page)

    return reach


def youth(n: int, lang: str, age: int = 19, guardian: bool = False, **overrides) -> dict:
    """A youth's answers as posted; ``n`` and the language make each one someone new."""
    first = {"en": "Sam", "es": "Sara"}[lang] + "abcdefghij"[n % 10]
    born = date.today().replace(month=1, day=15)
    values = intake_data(
        **{
            "first_name": first,
            "last_name": f"Escaneo{n}",
            "phone": f"(415) 555-{n:04d}",
            "date_of_birth": born.replace(year=born.year - age).isoformat(),
            "language": lang,
            "contact_by": "sms",
            "health_any": "yes",
            "slot_time": None,  # the time chosen before the form (its address) stays
            **overrides,
        }
    )
    if guardian:
        values.update(
            guardian_name="Rosa Guardian",
            guardian_relationship="parent",
            guardian_phone="(415) 555-0199",
        )
    return values


def intake_path(clinic: Clinic) -> str:
    return f"/book/{clinic.open_day.isoformat()}/16:20"


def booking_walk(
    name: str,
    values: Callable[[str], dict],
    last_step_blank: bool = False,
    path: Callable[[Clinic], str] = intake_path,
):
    """Through a form of steps (the booking, or joining a list) from its first page, the
    answers filled in on each step and sent, each page on the way scanned, to the page it
    ends on (the confirmation, or a refusal). With ``last_step_blank``, the second step is
    sent empty instead (its errors). A step that does not go on fails, with what it says."""

    def reach(page, clinic: Clinic, lang: str, scan_here) -> None:
        page.goto(path(clinic))
        seen = []
        for number in range(1, 9):
            step = page.locator("main form input[name='step']")
            if not step.count() or page.locator("main .refusal").count():
                return  # not a step: where the form led, or the age rule's refusal
            seen.append(step.first.get_attribute("value"))
            if seen[-1] in seen[:-1]:
                problems = page.locator("main .error-summary, main .error").all_inner_texts()
                raise AssertionError(f"step {seen[-1]!r} again, saying {problems}")
            if number > 1:
                scan_here(f"{name}: step {number} ({seen[-1]})")
                if last_step_blank:
                    press_on(page)
                    return
            fill_by_name(page, values(lang))
            press_on(page)
        raise AssertionError("the form did not end within 8 steps")

    return reach


def then_cancel(page, clinic: Clinic, lang: str, scan_here) -> None:
    open_link(f"cancel-{lang}", "/my/cancel")(page, clinic, lang, scan_here)
    press_on(page)


def staff_search(page, clinic: Clinic, lang: str, scan_here) -> None:
    page.goto("/staff/youth")
    page.locator("main input[name='q']").fill("Adulta")
    press_on(page, "main form:has(input[name='q'])")


def start_two_factor(page, clinic: Clinic, lang: str, scan_here) -> None:
    """The clinician turns two-step sign-in on: the set-up page with its code (not finished)."""
    page.goto("/staff/account/two-factor")
    start = page.locator("main form[action$='/two-factor/start']")
    if start.count():
        press_on(page, "main form[action$='/two-factor/start']")
    else:
        page.goto("/staff/account/two-factor/setup")


def find_caller(page, clinic: Clinic, lang: str, scan_here) -> None:
    """The desk looks a caller up before booking them as new: the matches, each with "Book"."""
    page.goto("/staff/call")
    page.locator("main input[name='q']").fill("Scan")
    press_on(page, "main form:has(input[name='q'])")


def born(age: int) -> str:
    day = date.today().replace(month=1, day=15)
    return day.replace(year=day.year - age).isoformat()


def walk_in_first_step(first: str, age: int, phone: str) -> Callable[[Clinic, str], dict]:
    """The walk-in's first step: names, birth date, phone (Youth1 Scan's phone is on file)."""
    return lambda c, lang: {
        "first_name": first,
        "last_name": f"Paso{lang}",
        "date_of_birth": born(age),
        "phone": phone,
    }


def caller_on_file(c: Clinic, lang: str) -> dict:
    """A caller with the names and birth date of Youth1 Scan, booked on the open day."""
    return {
        "slot": f"{_day(c, 'open_day')}T16:20",
        "first_name": "Youth1",
        "last_name": "Scan",
        "date_of_birth": "2004-04-04",
        "phone": "(415) 555-0777",
        "contact_by": "sms",
        "language": lang,
        "referral_source": "friend",
    }


def _day(clinic: Clinic, which: str) -> str:
    return getattr(clinic, which).isoformat()


def on(which: str, suffix: str = "") -> Callable[[Clinic], str]:
    return lambda clinic: f"{_day(clinic, which)}{suffix}"


@dataclass(frozen=True)
class Page:
    """One page to scan: its name (in failure messages), who opens it ("youth", "admin" or
    "clinician") and how."""

    name: str
    who: str
    reach: Callable
    every_day_full: bool = False  # scanned last, once the clinic has no free seat left
    lands_on: str = ""  # the path the page must end on (a form sent that must succeed)
    shows: str = ""  # a CSS selector the page must then have (the state it is about)


def adult(n: dict[str, int], **overrides) -> Callable[[str], dict]:
    return lambda lang: youth(n[lang], lang, **overrides)


# The booking, step by step: each step's page is scanned on the way (``booking_walk``), with
# the first step's errors, a later step's, the age rule's refusal and the confirmation. HOOK:
# a new step, or a new path through the steps, is a row here.
BOOKING_STEPS: list[Page] = [
    Page("booking: first step", "youth", goto(intake_path)),
    Page(
        "booking: first step with errors",
        "youth",
        send_form(intake_path, lambda c, lang: {}),
    ),
    Page(
        "booking: refused by the age rule (26)",
        "youth",
        booking_walk("refused at 26", adult({"en": 11, "es": 12}, age=26)),
        shows=".refusal",
    ),
    Page(
        "booking: a later step with errors",
        "youth",
        booking_walk("a later step", adult({"en": 13, "es": 14}), last_step_blank=True),
    ),
    Page(
        "booking: a 15-year-old with a guardian, booked",
        "youth",
        booking_walk("a minor", adult({"en": 15, "es": 16}, age=15, guardian=True)),
        lands_on="/book/confirmed",
    ),
    Page(
        "booking: an adult, booked",
        "youth",
        booking_walk("an adult", adult({"en": 17, "es": 18})),
        lands_on="/book/confirmed",
    ),
]

PAGES: list[Page] = [
    # Public
    Page("home", "youth", goto("/")),
    Page("days", "youth", goto("/book")),
    Page("times of an open day", "youth", goto(lambda c: f"/book/{_day(c, 'open_day')}")),
    Page("times of a full day", "youth", goto(lambda c: f"/book/{_day(c, 'full_day')}")),
    Page("times of a closed day", "youth", goto(lambda c: f"/book/{_day(c, 'closed_day')}")),
    *BOOKING_STEPS,
    Page("standby: join form", "youth", goto(lambda c: f"/book/{_day(c, 'full_day')}/standby")),
    Page(
        "standby: join with errors",
        "youth",
        send_form(lambda c: f"/book/{_day(c, 'full_day')}/standby", lambda c, lang: {}),
    ),
    Page(
        "standby: joined",
        "youth",
        booking_walk(
            "standby",
            adult({"en": 21, "es": 22}),
            path=lambda c: f"/book/{_day(c, 'full_day')}/standby",
        ),
        lands_on="/waiting-list/joined",
    ),
    Page("waiting list while times are open", "youth", goto("/waiting-list")),
    Page("manage: my appointment", "youth", open_link("valeria")),
    Page("manage: change the time", "youth", open_link("valeria", "/my/reschedule")),
    Page("manage: cancel (asks first)", "youth", open_link("valeria", "/my/cancel")),
    Page("manage: cancelled", "youth", then_cancel),
    Page("manage: after a treatment", "youth", open_link("treated")),
    Page("manage: book the next session", "youth", open_link("treated", "/my/next")),
    Page("standby: my place", "youth", open_link("sol")),
    Page("standby: leave the list (asks first)", "youth", open_link("sol", "/my/list/leave")),
    Page("standby: a seat is offered", "youth", open_link("marco")),
    Page("lost link", "youth", goto("/my/lost")),
    Page("lost link with errors", "youth", send_form(lambda c: "/my/lost", lambda c, lang: {})),
    Page(
        "lost link: sent",
        "youth",
        send_form(
            lambda c: "/my/lost",
            lambda c, lang: {"contact": "(415) 555-0001", "date_of_birth": "2004-04-04"},
        ),
        lands_on="/my/lost/sent",
    ),
    Page("manage without a link", "youth", goto("/my")),
    Page("now serving", "youth", goto("/now-serving")),
    Page("not found", "youth", goto("/no-such-page")),
    # Every day full: the program's waiting list opens (this changes the clinic: scanned last).
    Page("waiting list: join form", "youth", goto("/waiting-list"), every_day_full=True),
    Page(
        "waiting list: join with errors",
        "youth",
        send_form(lambda c: "/waiting-list", lambda c, lang: {}),
        every_day_full=True,
    ),
    Page(
        "waiting list: joined",
        "youth",
        booking_walk("waiting list", adult({"en": 31, "es": 32}), path=lambda c: "/waiting-list"),
        every_day_full=True,
        lands_on="/waiting-list/joined",
    ),
    Page("waiting list: my place", "youth", open_link("pia"), every_day_full=True),
    Page(
        "staff: walk-in on a full day",
        "admin",
        goto("/staff/walk-in"),
        every_day_full=True,
        shows="#walk-in-full",
    ),
    # Staff. Sign-in and its second step (with their errors) are scanned as admins sign in.
    Page("staff: day sheet", "admin", goto(lambda c: f"/staff/day/{_day(c, 'today')}")),
    Page(
        "staff: a day with no clinic",
        "admin",
        goto(lambda c: f"/staff/day/{_day(c, 'closed_day')}"),
    ),
    Page("staff: walk-in", "admin", goto("/staff/walk-in")),
    Page(
        "staff: walk-in with errors",
        "admin",
        send_form(lambda c: "/staff/walk-in", lambda c, lang: {}),
    ),
    Page(
        "staff: walk-in, the rest of the form (an adult)",
        "admin",
        send_form(lambda c: "/staff/walk-in", walk_in_first_step("Rita", 19, "(415) 555-0701")),
        shows="main input[name='tattoo_count']",
    ),
    Page(
        "staff: walk-in, a minor (guardian and consent)",
        "admin",
        send_form(lambda c: "/staff/walk-in", walk_in_first_step("Nico", 15, "(415) 555-0702")),
        shows="main input[name='guardian_consent']",
    ),
    Page(
        "staff: walk-in, a look-alike on file (same phone)",
        "admin",
        send_form(lambda c: "/staff/walk-in", walk_in_first_step("Rosa", 20, "(415) 555-0001")),
        shows="main input[name='same_youth']",
    ),
    Page("staff: youth search", "admin", goto("/staff/youth")),
    Page("staff: youth search results", "admin", staff_search),
    Page("staff: youth record", "admin", goto(lambda c: f"/staff/youth/{c.ids['treated-youth']}")),
    Page(
        "staff: edit a youth",
        "admin",
        goto(lambda c: f"/staff/youth/{c.ids['waiting-youth']}/edit"),
    ),
    Page(
        "staff: edit a youth with errors (no contact left)",
        "admin",
        send_form(
            lambda c: f"/staff/youth/{c.ids['waiting-youth']}/edit",
            lambda c, lang: {"phone": "", "email": ""},
        ),
        shows="main .error-summary",
    ),
    Page(
        "staff: move a booking",
        "admin",
        goto(lambda c: f"/staff/appointments/{c.ids['valeria']}/move"),
    ),
    Page(
        "staff: move a booking with errors",
        "admin",
        send_form(lambda c: f"/staff/appointments/{c.ids['valeria']}/move", lambda c, lang: {}),
        shows="main .error-summary",
    ),
    Page(
        "staff: move a booking, confirm",
        "admin",
        send_form(
            lambda c: f"/staff/appointments/{c.ids['valeria']}/move",
            lambda c, lang: {"slot": f"{_day(c, 'open_day')}T16:20"},
        ),
        shows="main input[name='confirmed'][value='yes']",
    ),
    Page(
        "staff: move a booking that has begun",
        "admin",
        goto(lambda c: f"/staff/appointments/{c.ids['waiting']}/move"),
    ),
    Page("staff: book for a caller", "admin", goto("/staff/call")),
    Page(
        "staff: book for a caller with errors",
        "admin",
        send_form(lambda c: "/staff/call", lambda c, lang: {}),
        shows="main .error-summary",
    ),
    Page(
        "staff: book for a caller, a record that may be them",
        "admin",
        send_form(lambda c: "/staff/call", caller_on_file),
        shows="main a[href$='/book']",
    ),
    Page("staff: book for a caller, found on file", "admin", find_caller),
    Page(
        "staff: book a follow-up",
        "admin",
        goto(lambda c: f"/staff/youth/{c.ids['treated-youth']}/book"),
    ),
    Page(
        "staff: merge two records",
        "admin",
        goto(lambda c: f"/staff/youth/{c.ids['treating-youth']}/merge/{c.ids['waiting-youth']}"),
    ),
    Page(
        "staff: erase a youth",
        "admin",
        goto(lambda c: f"/staff/youth/{c.ids['waiting-youth']}/erase"),
    ),
    Page("staff: lists", "admin", goto("/staff/lists")),
    Page("staff: a standby list", "admin", goto(lambda c: f"/staff/lists/{_day(c, 'full_day')}")),
    Page("staff: the program list", "admin", goto("/staff/lists/program")),
    Page(
        "staff: remove from a list",
        "admin",
        goto(lambda c: f"/staff/lists/entries/{c.ids['sol']}/remove"),
    ),
    Page("staff: messages", "admin", goto("/staff/messages")),
    Page("staff: schedule", "admin", goto("/staff/schedule")),
    Page(
        "staff: schedule of a day",
        "admin",
        goto(lambda c: f"/staff/schedule/{_day(c, 'open_day')}"),
    ),
    Page(
        "staff: schedule of a closed day",
        "admin",
        goto(lambda c: f"/staff/schedule/{_day(c, 'closed_day')}"),
    ),
    Page(
        "staff: who to call after a closing",
        "admin",
        goto(lambda c: f"/staff/schedule/{_day(c, 'closed_day')}/cancelled"),
    ),
    Page("staff: accounts", "admin", goto("/staff/accounts")),
    Page("staff: new account", "admin", goto("/staff/accounts/new")),
    Page(
        "staff: an account", "admin", goto(lambda c: f"/staff/accounts/{c.ids['desk@a11y.test']}")
    ),
    Page("staff: settings", "admin", goto("/staff/settings")),
    Page("staff: audit trail", "admin", goto("/staff/audit")),
    Page("staff: reports", "admin", goto("/staff/reports")),
    Page(
        "staff: reports with errors",
        "admin",
        goto("/staff/reports?kind=custom&start=2026-09-30&end=2026-07-01"),
    ),
    Page("staff: my password", "admin", goto("/staff/account/password")),
    Page(
        "staff: my password with errors",
        "admin",
        send_form(lambda c: "/staff/account/password", lambda c, lang: {}),
    ),
    Page("staff: my two-step sign-in", "admin", goto("/staff/account/two-factor")),
    Page(
        "staff: day sheet (clinician)",
        "clinician",
        goto(lambda c: f"/staff/day/{_day(c, 'today')}"),
    ),
    Page(
        "staff: record a treatment",
        "clinician",
        goto(lambda c: f"/staff/appointments/{c.ids['treating']}/complete"),
    ),
    Page(
        "staff: record a treatment with errors",
        "clinician",
        send_form(
            lambda c: f"/staff/appointments/{c.ids['treating']}/complete", lambda c, lang: {}
        ),
        shows="main .error-summary",
    ),
    Page(
        "staff: youth record (clinician)",
        "clinician",
        goto(lambda c: f"/staff/youth/{c.ids['treated-youth']}"),
    ),
    Page("staff: set up two-step sign-in", "clinician", start_two_factor),
]

# GET routes no row is served by, each with its reason.
EXEMPT: dict[str, str] = {
    "healthz": "plain text for the load balancer",
    "static": "CSS, scripts and images: not pages",
    "public.availability_api": "JSON",
    "public.calendar": "an .ics calendar file",
    "public.open_link": "redirects at once to /my (scanned there)",
    "public.now_serving_board": "a fragment the waiting room's screen swaps in (scanned there)",
    "staff.queue_fragment": "an HTML fragment swapped into the day sheet (scanned there)",
    "staff.audit_export": "CSV",
    "staff.report_download": "a download of the report (CSV or XLSX)",
    "staff.report_visits_csv": "a download of the de-identified visit list (CSV)",
    "staff.report_visits_xlsx": "a download of the de-identified visit list (XLSX)",
    "staff.youth_export": "a download of the youth's data (JSON)",
    "staff.index": "redirects to the day sheet",
    "staff.day_picker": "redirects to the day sheet",
}
# The GET routes the rows above (and the admins' sign-ins) are served by: the scan fails if
# one of them was not, and the route test if a GET route is neither here nor in EXEMPT.
ROUTES_SCANNED = {
    "public.home", "public.days", "public.times", "public.intake", "public.confirmed",
    "public.join_standby", "public.join_program", "public.list_joined", "public.my",
    "public.reschedule", "public.cancel", "public.next_session", "public.leave_list",
    "public.lost_link", "public.lost_link_sent", "public.now_serving",
    "auth.login", "auth.two_factor", "auth.two_factor_setup",
    "staff.day", "staff.walk_in", "staff.youth_search", "staff.youth_record",
    "staff.book_follow_up", "staff.merge_youth_confirm", "staff.erase_youth_confirm",
    "staff.lists_overview", "staff.standby_list", "staff.program_list", "staff.remove_entry",
    "staff.messages", "staff.schedule", "staff.schedule_day", "staff.schedule_cancelled",
    "staff.accounts", "staff.new_account", "staff.account", "staff.settings",
    "staff.audit_trail", "staff.own_password", "staff.own_two_factor",
    "staff.own_two_factor_setup", "staff.complete", "staff.edit_youth", "staff.move_booking",
    "staff.book_for_caller", "staff.reports",
}  # fmt: skip


# --- Scanning ----------------------------------------------------------------------------------


def axe_at_widths(page) -> dict[int, list[dict]]:
    """axe-core's violations at each width, the engine injected once."""
    found = {}
    for size in WIDTHS:
        page.set_viewport_size(size)
        found[size["width"]] = axe_violations(page)
    page.set_viewport_size(PHONE)
    return found


@dataclass
class Scan:
    """Every page's violations, and which routes the pages scanned were served by."""

    app: object
    problems: list[str] = field(default_factory=list)
    endpoints: set[str] = field(default_factory=set)
    scanned: dict[str, int] = field(default_factory=dict)  # "en 360" -> pages

    def endpoint(self, url: str) -> str | None:
        adapter = self.app.url_map.bind("localhost")
        try:
            endpoint, _ = adapter.match(urlsplit(url).path, method="GET")
        except Exception:  # a 404 page: no endpoint
            return None
        return endpoint

    def page(self, page, name: str, lang: str) -> None:
        """Scan the page as it is, at each width."""
        served = page.evaluate("document.documentElement.lang")
        if not (served or "").startswith(lang):
            self.problems.append(f"{name} [{lang}]: served in {served!r}, not {lang!r}")
        if endpoint := self.endpoint(page.url):
            self.endpoints.add(endpoint)
        for width, found in axe_at_widths(page).items():
            key = f"{lang} {width}"
            self.scanned[key] = self.scanned.get(key, 0) + 1
            for violation in found:
                for target in violation["targets"]:
                    self.problems.append(
                        f"{violation['id']} ({violation['impact']}) on {name} [{lang}, {width} px]"
                        f" {urlsplit(page.url).path}: {target} - {violation['help']}"
                    )
            if found:
                slug = "".join(ch if ch.isalnum() else "-" for ch in name)[:60]
                page.set_viewport_size({"width": width, "height": 800})
                page.screenshot(path=artifacts_dir("axe") / f"{slug}-{lang}-{width}.png")
                page.set_viewport_size(PHONE)


def choose_language(page, lang: str) -> None:
    """As a person would: the language button in the page's header, if the page is not in
    ``lang`` already (the choice is kept in the session for the pages after)."""
    if page.url == "about:blank":
        page.goto("/")
    if not (page.evaluate("document.documentElement.lang") or "").startswith(lang):
        page.locator(f"form.lang button[value='{lang}']").click()
        page.wait_for_load_state()


def sign_in(context, clinic: Clinic, scan: Scan, email: str, lang: str, scanning: bool):
    """Sign in through the real forms and return the page it led to; when ``scanning``, scan
    each page of the way with its error: the password page, the second step's set-up (with
    the recovery codes it shows) and, signed in again, the second step itself."""
    import pyotp

    def check(page, name: str) -> None:
        if scanning:
            scan.page(page, name, lang)

    def password(page, secret: str) -> None:
        page.locator("input[name='email']").fill(email)
        page.locator("input[name='password']").fill(secret)
        press_on(page)

    def code() -> str:
        last = clinic.authenticators.get(f"{email}#step", 0)
        step = max(int(datetime.now().timestamp() // 30), last + 1)
        clinic.authenticators[f"{email}#step"] = step
        return pyotp.TOTP(clinic.authenticators[email]).generate_otp(step)

    def wrong_code_then_right(page, name: str) -> None:
        check(page, name)
        if scanning:
            page.locator("input[name='code']").fill("000000")
            press_on(page)
            check(page, f"{name} with an error")
        page.locator("input[name='code']").fill(code())
        press_on(page)

    page = context.new_page()
    page.goto("/auth/login")
    choose_language(page, lang)
    check(page, "sign-in")
    if scanning:
        password(page, "not-the-password")
        check(page, "sign-in with an error")
    password(page, STAFF_PASSWORD)
    if page.url.endswith("/auth/two-factor/setup"):
        clinic.authenticators[email] = page.locator("code.secret").inner_text().replace(" ", "")
        wrong_code_then_right(page, "two-step set-up")
        check(page, "two-step: recovery codes")
        context.clear_cookies()  # signed out: sign in again, now with the second step
        page.goto("/auth/login")
        password(page, STAFF_PASSWORD)
    if page.url.endswith("/auth/two-factor"):
        wrong_code_then_right(page, "two-step sign-in")
    assert "/staff/" in page.url, page.url
    return page


# --- The README's pictures ---------------------------------------------------------------------
# Before the scan in this file: it books a seat, and the scan ends with every day full.

SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.mark.skipif(not os.environ.get("SCREENSHOTS"), reason="`make screenshots` runs this")
def test_readme_screenshots(clinic, guard):
    """What a youth and the desk see, small: a phone's first screen (360 px wide) for the
    youth, the day sheet at 1280 px for the desk; device scale 1, the visible screen only."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone = guard.new_context(base_url=clinic.base, viewport=PHONE, locale="en-US")
    page = phone.new_page()
    page.goto("/book")
    page.screenshot(path=SCREENSHOTS / "youth-days.png")
    page.goto(intake_path(clinic))
    page.screenshot(path=SCREENSHOTS / "youth-intake.png")
    walk = booking_walk("screenshot", adult({"en": 41}, first_name="Valeria", last_name="Ruiz"))
    walk(page, clinic, "en", lambda name: None)
    page.screenshot(path=SCREENSHOTS / "youth-confirmed.png")
    desk = guard.new_context(
        base_url=clinic.base, viewport={"width": 1280, "height": 800}, locale="en-US"
    )
    page = sign_in(desk, clinic, Scan(clinic.app), "desk@a11y.test", "en", scanning=False)
    page.goto(f"/staff/day/{clinic.today.isoformat()}")
    # The top of the sheet: the counts, the stations, who waits (small enough for the README).
    page.screenshot(
        path=SCREENSHOTS / "staff-day.png", clip={"x": 0, "y": 0, "width": 1280, "height": 720}
    )
    for picture in SCREENSHOTS.glob("*.png"):
        assert picture.stat().st_size < 90_000, (picture.name, picture.stat().st_size)


# One scan per language, each with a clinic of its own: the two run on two test workers at
# once (together, the scan of every page was five minutes of one worker's time).
@pytest.mark.parametrize("clinic", LANGUAGES, indirect=True)
# The pages' markup is the same whatever the database behind them: the SQLite pass scans them,
# and the PostgreSQL pass keeps its five minutes for what the database does change.
@pytest.mark.skipif(
    databases.on_postgres(), reason="markup is database-independent: scanned in the SQLite pass"
)
def test_every_page_is_free_of_axe_violations(clinic, guard, request):
    languages = (request.node.callspec.params["clinic"],)
    scan = Scan(clinic.app)
    contexts = {}

    def context(lang: str):
        opened = guard.new_context(base_url=clinic.base, viewport=PHONE, locale=f"{lang}-US")
        opened.set_default_timeout(5_000)  # a step that cannot be done fails fast, reported
        contexts.setdefault(lang, []).append(opened)
        return opened

    youth_page = context("en").new_page()
    clinician_page = sign_in(context("en"), clinic, scan, CLINICIAN, "en", scanning=False)
    admin_pages = {
        lang: sign_in(context(lang), clinic, scan, ADMIN[lang], lang, scanning=True)
        for lang in languages
    }
    # The pages that need a free seat first, in both languages; then every day is made full.
    for full in (False, True):
        if full:
            clinic.seed("full")
        for lang in languages:
            pages = {"youth": youth_page, "clinician": clinician_page, "admin": admin_pages[lang]}
            for page in pages.values():
                choose_language(page, lang)
            for row in (row for row in PAGES if row.every_day_full == full):
                page = pages[row.who]

                def scan_here(name: str, page=page, lang=lang) -> None:
                    scan.page(page, name, lang)

                try:
                    row.reach(page, clinic, lang, scan_here)
                    if row.lands_on and urlsplit(page.url).path != row.lands_on:
                        errors = page.locator("main .error-summary, main .error").all_inner_texts()
                        raise AssertionError(f"ended on {page.url}, saying {errors}")
                    if row.shows and not page.locator(row.shows).count():
                        raise AssertionError(f"{page.url} has no {row.shows}")
                    if scan.endpoint(page.url):  # a GET page: the link may have reset it
                        choose_language(page, lang)
                except Exception as error:  # every page's outcome is reported, not the first
                    scan.problems.append(f"could not reach {row.name} [{lang}]: {error}")
                    continue
                scan.page(page, row.name, lang)
    print(f"\nPages scanned: {scan.scanned}")
    missing = sorted(ROUTES_SCANNED - scan.endpoints)
    if missing:
        scan.problems.append(f"routes no page of the scan was served by: {missing}")
    assert not scan.problems, (
        f"{len(scan.problems)} accessibility problems (axe-core rule, impact, page, element):\n"
        + "\n".join(scan.problems)
    )


def get_routes(app) -> dict[str, str]:
    """Every GET route of the app: endpoint -> rule."""
    return {rule.endpoint: rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods}


def test_every_page_route_is_scanned_or_exempt(app):
    """A new page must get a row in ``PAGES`` and its endpoint in ``ROUTES_SCANNED`` (or be
    excused in ``EXEMPT`` with the reason); the scan itself checks each was served to it."""
    routes = set(get_routes(app))
    unknown = routes - ROUTES_SCANNED - set(EXEMPT)
    assert not unknown, (
        f"GET routes the accessibility scan does not know: {sorted(unknown)}: add a row to "
        "PAGES (tests/e2e/test_e2e_accessibility.py) and the endpoint to ROUTES_SCANNED, or "
        "excuse it in EXEMPT with the reason"
    )
    gone = (ROUTES_SCANNED | set(EXEMPT)) - routes
    assert not gone, f"no such routes any more: {sorted(gone)}"
