"""Messages in real browsers, end to end: a youth books on a phone, asks for texts in Spanish,
and is told so; a worker process sends the text through Twilio's client to a local fake of its
Messages API; the front desk sees it sent on the messages page, sends it again when the youth
says it never came, and sees why that failed, without the number in the reason.

Chromium (Playwright) against gunicorn in the production configuration (CSRF on).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text as sql

from config import TestingConfig
from tests.support import databases
from tests.support.live import STAFF_PASSWORD, ClinicToday, Server, assert_clean_log, bookable_slots
from tests.support.mailservers import Reply, fake_twilio

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(ROOT / ".venv" / "bin" / "flask")
DESK = "desk@messages.test"


def twilio_environment(twilio) -> dict[str, str]:
    from tests.support.mailservers import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN

    return {
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": TWILIO_FROM,
        "TWILIO_API_URL": twilio.url,
        "TWILIO_TIMEOUT": "5",
    }


def booked_code(url: str) -> str:
    """The one booking's code (the page after the form never shows it: it goes by message)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        code = connection.execute(sql("SELECT code FROM appointment")).scalar_one()
    engine.dispose()
    return code


def run_worker(url: str, twilio) -> str:
    """`flask outbox run` once, as cron would."""
    env = {
        **os.environ,
        "CLINIC_ENV": "production",
        "SECRET_KEY": "e2e-messages",
        "DATA_KEYS": TestingConfig.DATA_KEYS,  # the keys the test databases were made with
        "BLIND_INDEX_KEY": TestingConfig.BLIND_INDEX_KEY,
        "RATELIMIT_SINGLE_PROCESS": "1",  # one cron run, one process
        "DATABASE_URL": url,
        **twilio_environment(twilio),
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
    return done.stdout + done.stderr


def test_a_youth_books_for_texts_in_spanish_and_the_desk_follows_the_message(tmp_path, guard):
    from playwright.sync_api import expect

    url = databases.new_database("e2e_messages", tmp_path)
    databases.migrate(url)
    clinic = ClinicToday(url)
    clinic.add_staff(DESK, "front_desk", "Dana Desk")
    clinic.close()
    with fake_twilio() as twilio:
        server = Server(url, tmp_path, workers=2, **twilio_environment(twilio)).start()
        try:
            day, starts = bookable_slots(server)
            base = f"http://127.0.0.1:{server.port}"
            phone = guard.new_context(
                base_url=base, locale="en-US", viewport={"width": 390, "height": 844}
            )
            youth = phone.new_page()
            youth.goto(f"/book/{day}/{starts[0]}")
            # The intake's steps: about you, the tattoo and health, check and book.
            youth.get_by_label("First name").fill("Valeria")
            youth.get_by_label("Last name").fill("Ruiz")
            youth.get_by_label("Month", exact=True).select_option("3")
            youth.get_by_label("Day", exact=True).fill("9")
            youth.get_by_label("Year", exact=True).fill("2004")
            youth.get_by_label("Mobile phone").fill("415 555 0177")
            youth.get_by_label("Español").check()
            youth.get_by_label("Text message").check()
            youth.get_by_role("button", name="Continue").click()
            youth.get_by_label("Hands or fingers").check()
            youth.get_by_label("Small (smaller than a credit card)").check()
            youth.get_by_label("Black or blue-black only").check()
            youth.get_by_label("Not sure").check()
            youth.get_by_label("No", exact=True).check()
            youth.get_by_role("button", name="Continue").click()
            expect(youth.get_by_text("March 9, 2004")).to_be_visible()
            youth.get_by_label("How did you hear about the clinic?").select_option("self")
            youth.get_by_label("I agree that the clinic keeps these answers").check()
            youth.get_by_role("button", name="Book").click()
            heading = "Thank you, Valeria: we have your request"
            expect(youth.get_by_role("heading", name=heading)).to_be_visible()
            expect(youth.get_by_text("on its way by text message")).to_be_visible()

            # The worker sends it: one text, in Spanish, with her code, to her number.
            assert "1 sent" in run_worker(url, twilio)
            (text,) = twilio.requests
            assert text.form["To"] == "+14155550177"
            assert booked_code(url) in text.form["Body"] and "Código" in text.form["Body"]

            desk = guard.new_context(base_url=base, locale="en-US").new_page()
            desk.goto("/auth/login")
            desk.get_by_label("Email").fill(DESK)
            desk.get_by_label("Password").fill(STAFF_PASSWORD)
            desk.get_by_role("button", name="Sign in").click()
            desk.get_by_role("link", name="Messages").click()
            row = desk.locator("tr", has_text="Valeria Ruiz").filter(has_text="Confirmation")
            expect(row).to_contain_text("Sent")
            expect(row).to_contain_text("(415) 555-0177")

            # She says it never came; the number has since stopped taking texts.
            twilio.answer(Reply.invalid_number())
            row.get_by_role("button", name="Send again").click()
            expect(desk.get_by_text("The message will be sent again in a moment.")).to_be_visible()
            run_worker(url, twilio)
            desk.get_by_role("link", name="Failed").click()
            failed = desk.locator("tr", has_text="Valeria Ruiz")
            expect(failed).to_contain_text("Failed")
            expect(failed).to_contain_text("21211")
            assert not re.search(r"555.?0177", failed.locator("small.error-text").inner_text())
        finally:
            server.stop()
        assert_clean_log(server)
    databases.drop_database(url)
