"""A youth runs their own bookings from the links in their texts, end to end, in real
browsers on phones, without calling the clinic: change the time, join a full day's standby
list, cancel (the seat goes to the standby list at once), take an offered seat, and book the
next session after a treatment. Nothing on any of those pages tells one youth about another.

Chromium (Playwright) against gunicorn in the production configuration (CSRF on), the real
clock, and `flask outbox run` sending through a local fake of Twilio's Messages API: every link
a youth opens here is one the worker wrote into a text.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text as sql

from clinic import booking, clinic_day, settings
from clinic.clinic_day import TreatmentRecord
from clinic.extensions import db
from clinic.models import StaffUser
from config import TestingConfig
from tests.support import databases
from tests.support.live import ClinicToday, Server, assert_clean_log
from tests.support.mailservers import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN, fake_twilio

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(ROOT / ".venv" / "bin" / "flask")
DESK = "desk@self-service.test"
CLINICIAN = "laser@self-service.test"
LINK = re.compile(r"https?://[^\s]+/my/[A-Za-z0-9_-]{43}")
# A short clinic day of two one-seat times, so one booking more makes it full; a long booking
# window, so that the next session (six weeks on) always has a clinic day in it.
CLINIC = {
    "CLINIC_DAY_START": "16:00",
    "CLINIC_DAY_END": "16:40",
    "SEATS_PER_SLOT": "1",
    "BOOKING_HORIZON_DAYS": "120",
}


def _environment(twilio, base: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": TWILIO_FROM,
        "TWILIO_API_URL": twilio.url,
        "TWILIO_TIMEOUT": "5",
        "PUBLIC_BASE_URL": base,
        **CLINIC,
    }


def send_messages(url: str, environment: dict[str, str]) -> None:
    """`flask outbox run` once, as cron would."""
    env = {
        **os.environ,
        "CLINIC_ENV": "production",
        "SECRET_KEY": "e2e-self-service",
        "DATA_KEYS": TestingConfig.DATA_KEYS,  # the keys the test databases were made with
        "BLIND_INDEX_KEY": TestingConfig.BLIND_INDEX_KEY,
        "RATELIMIT_SINGLE_PROCESS": "1",
        "DATABASE_URL": url,
        **environment,
    }
    done = subprocess.run(
        [FLASK, "--app", "wsgi", "outbox", "run"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def texts_to(twilio, phone: str) -> list[str]:
    return [r.form["Body"] for r in twilio.requests if r.form["To"] == phone]


def link_in(body: str) -> str:
    found = LINK.search(body)
    assert found, body
    return found.group(0)


def slot_of(url: str, name: str) -> tuple[str, str, str]:
    """(day, start, status) of the youth's latest appointment, read from the database."""
    engine = create_engine(url)
    with engine.connect() as connection:
        row = connection.execute(
            sql(
                "SELECT s.day, s.start_time, a.status FROM appointment a "
                "JOIN slot s ON s.id = a.slot_id JOIN youth y ON y.id = a.youth_id "
                "WHERE y.first_name = :name ORDER BY a.id DESC LIMIT 1"
            ),
            {"name": name},
        ).one()
    engine.dispose()
    return str(row[0]), str(row[1])[:5], row[2]


def seats_add_up(url: str) -> None:
    """Every slot's counter is its booked appointments plus its open offers."""
    engine = create_engine(url)
    with engine.connect() as connection:
        wrong = connection.execute(
            sql(
                "SELECT s.id FROM slot s WHERE s.booked <> "
                "(SELECT count(*) FROM appointment a WHERE a.slot_id = s.id AND a.status IN "
                "('booked', 'checked_in', 'in_treatment', 'completed')) + "
                "(SELECT count(*) FROM seat_offer o WHERE o.slot_id = s.id AND o.status = 'open')"
            )
        ).all()
    engine.dispose()
    assert wrong == []


def book_by_staff(clinic: ClinicToday, day: date, start: time, first_name: str) -> None:
    """Another youth takes a seat (the desk booked them on the phone)."""
    clinic.count += 1
    request = booking.BookingRequest(
        day=day,
        start=start,
        submission_key=f"e2e-self-service-{first_name}-{clinic.count}-kkkkkkkk",
        first_name=first_name,
        last_name="Other",
        date_of_birth=date(2003, 5, 5),
        phone=f"41555501{clinic.count:02d}",
        tattoo_locations=["arms"],
    )
    with clinic.app.app_context():
        rules = settings.current_rules()
        booking.book(request, rules, settings.clinic_now(rules))


def treat_today(clinic: ClinicToday, first_name: str) -> None:
    """A youth comes today, is checked in, treated and the treatment recorded."""
    today = clinic.open_today(start=time(0, 0), end=time(23, 40), seats=2)
    booked = clinic.book(clinic.current_slot(), first_name, "Treated")
    clinic.check_in(booked.id, by=DESK)
    with clinic.app.app_context():
        rules = settings.current_rules()
        laser = db.session.query(StaffUser).filter_by(email=CLINICIAN).one()
        now = clinic.now()
        clinic_day.call(booked.id, laser, rules.stations[0], now, rules)
        record = TreatmentRecord(areas=["arms"], skin_type="IV", settings="1064 nm")
        clinic_day.complete(booked.id, laser, record, now)
    assert today == clinic.today()


def fill_intake(page, first: str, last: str, phone: str) -> None:
    """The intake's steps up to the last one (its button, Book or Join, is the caller's)."""
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Month", exact=True).select_option("3")
    page.get_by_label("Day", exact=True).fill("9")
    page.get_by_label("Year", exact=True).fill("2004")
    page.get_by_label("Mobile phone").fill(phone)
    page.get_by_label("Text message").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Hands or fingers").check()
    page.get_by_label("Small (smaller than a credit card)").check()
    page.get_by_label("Black or blue-black only").check()
    page.get_by_label("Not sure").check()
    page.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("How did you hear about the clinic?").select_option("self")
    page.get_by_label("I agree that the clinic keeps these answers").check()


def test_a_youth_changes_cancels_waits_takes_a_seat_and_books_the_next_session(tmp_path, guard):
    from playwright.sync_api import expect

    url = databases.new_database("e2e_self_service", tmp_path)
    databases.migrate(url)
    clinic = ClinicToday(url, **{key: _typed(value) for key, value in CLINIC.items()})
    clinic.add_staff(DESK, "front_desk", "Dana Desk")
    clinic.add_staff(CLINICIAN, "clinician", "Lee Laser")
    with fake_twilio() as twilio:
        server = Server(url, tmp_path, workers=2)
        base = f"http://127.0.0.1:{server.port}"
        environment = _environment(twilio, base)
        server.env.update(environment)
        server.start()
        try:
            with clinic.app.app_context():
                rules = settings.current_rules()
                upcoming = [
                    d
                    for d in booking.upcoming_days(rules, settings.clinic_now(rules))
                    if d.plan.day > clinic.today() and d.seats_left == 2
                ]
            day = upcoming[0].plan.day
            phone = {"viewport": {"width": 390, "height": 844}, "locale": "en-US"}

            # Valeria books 4:00 PM by text, and her confirmation carries her link.
            valeria = guard.new_context(base_url=base, **phone).new_page()
            valeria.goto(f"/book/{day.isoformat()}/16:00")
            fill_intake(valeria, "Valeria", "Ruiz", "415 555 0177")
            valeria.get_by_role("button", name="Book").click()
            expect(
                valeria.get_by_role("heading", name=re.compile("we have your request"))
            ).to_be_visible()
            send_messages(url, environment)
            (confirmation,) = texts_to(twilio, "+14155550177")
            valeria.goto(link_in(confirmation))
            assert valeria.url == f"{base}/my"  # the token leaves the address bar
            expect(valeria.get_by_role("link", name="Add to calendar")).to_be_visible()
            expect(valeria.locator("a[href^='tel:']").first).to_be_visible()

            # She moves to 4:20 PM, the day's other time.
            valeria.get_by_role("link", name="Change the day or time").click()
            valeria.locator(f"input[value='{day.isoformat()}T16:20']").check()
            valeria.get_by_role("button", name="Move my appointment").click()
            expect(valeria.get_by_text("4:20").first).to_be_visible()
            assert slot_of(url, "Valeria") == (day.isoformat(), "16:20", "booked")

            # The desk books someone into 4:00 PM: the day is full. Marco joins its standby.
            book_by_staff(clinic, day, time(16, 0), "Noor")
            marco = guard.new_context(base_url=base, **phone).new_page()
            marco.goto(f"/book/{day.isoformat()}")
            marco.get_by_role("link", name=re.compile("standby", re.IGNORECASE)).first.click()
            fill_intake(marco, "Marco", "Diaz", "415 555 0188")
            marco.get_by_role("button", name=re.compile("Join")).click()
            expect(marco.get_by_text("You are on standby for")).to_be_visible()
            send_messages(url, environment)
            (joined,) = texts_to(twilio, "+14155550188")
            marco.goto(link_in(joined))
            expect(marco.get_by_text(re.compile("number 1"))).to_be_visible()

            # Valeria cancels; her seat is held for Marco at once and offered by text.
            valeria.goto("/my")
            valeria.get_by_role("link", name="Cancel this appointment").click()
            valeria.get_by_role("button", name="Yes, cancel my appointment").click()
            expect(
                valeria.get_by_role("heading", name="This appointment is cancelled")
            ).to_be_visible()
            seats_add_up(url)
            send_messages(url, environment)
            offer = texts_to(twilio, "+14155550188")[-1]
            assert "4:20" in offer
            marco.goto(link_in(offer))
            expect(marco.get_by_role("heading", name="A seat is free for you")).to_be_visible()
            marco.get_by_role("button", name="Take this seat").click()
            expect(marco.get_by_text(re.compile("4:20")).first).to_be_visible()
            assert slot_of(url, "Marco") == (day.isoformat(), "16:20", "booked")
            seats_add_up(url)
            for page in (valeria, marco):  # nobody else's name on anyone's pages
                content = page.content()
                assert "Noor" not in content
            assert "Valeria" not in marco.content() and "Marco" not in valeria.content()

            # Someone treated today books their next session from the aftercare text.
            treat_today(clinic, "Ines")
            send_messages(url, environment)
            bodies = [r.form["Body"] for r in twilio.requests]
            aftercare = [body for body in bodies if "next session" in body.lower()][-1]
            ines = guard.new_context(base_url=base, **phone).new_page()
            ines.goto(link_in(aftercare))
            ines.get_by_role("link", name="Book your next session").first.click()
            first_time = ines.locator("input[name='slot']").first
            earliest = first_time.get_attribute("value")
            assert date.fromisoformat(earliest[:10]) >= clinic.today() + timedelta(weeks=6)
            first_time.check()
            ines.get_by_role("button", name="Book").click()
            expect(
                ines.get_by_text(re.compile("next session|booked", re.IGNORECASE)).first
            ).to_be_visible()
            day_booked, start_booked, status = slot_of(url, "Ines")
            assert (f"{day_booked}T{start_booked}", status) == (earliest, "booked")
            seats_add_up(url)
        finally:
            server.stop()
            clinic.close()
        assert_clean_log(server)
    databases.drop_database(url)


def _typed(value: str) -> object:
    """A setting as the app's configuration holds it (numbers as numbers)."""
    return int(value) if value.isdigit() else value
