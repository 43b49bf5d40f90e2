"""The worker as production runs it: `flask outbox run --loop` in its own process, sending a
booking's confirmation over a real SMTP server within seconds, and stopping cleanly on SIGTERM
(a deploy, systemd). Also the confirmation page telling the youth how they will hear from us."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from clinic import booking, create_app, settings
from clinic.extensions import db
from tests import databases
from tests.conftest import intake_data, intake_url
from tests.mailservers import smtp_environment, smtp_server

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(ROOT / ".venv" / "bin" / "flask")


@pytest.mark.slow
def test_a_running_worker_delivers_a_booking_within_seconds_and_stops_on_sigterm(tmp_path):
    url = databases.new_database("worker", tmp_path)
    databases.migrate(url)
    with smtp_server() as server:
        env = {
            **os.environ,
            "CLINIC_ENV": "production",
            "SECRET_KEY": "worker-test",
            "DATABASE_URL": url,
            "OUTBOX_POLL_SECONDS": "1",
            **smtp_environment(server),
        }
        worker = subprocess.Popen(
            [FLASK, "--app", "wsgi", "outbox", "run", "--loop"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            app = create_app({"SQLALCHEMY_DATABASE_URI": url})
            with app.app_context():
                rules = settings.current_rules()
                now = settings.clinic_now(rules)  # the real clock, as the worker's
                day = next(d for d in booking.upcoming_days(rules, now) if d.bookable)
                slot = next(s for s in day.slots if s.bookable)
                booked_at = time.monotonic()
                appointment = booking.book(
                    booking.BookingRequest(
                        day=day.plan.day,
                        start=slot.plan.start,
                        submission_key="w" * 32,
                        first_name="Worker",
                        last_name="Test",
                        date_of_birth=date(2004, 4, 4),
                        email="worker@example.org",
                        contact_by="email",
                    ),
                    rules,
                    now,
                )
                code = appointment.code
                db.session.remove()
                db.engine.dispose()
            while not server.messages_to("worker@example.org"):
                assert time.monotonic() - booked_at < 15, "no confirmation within 15 s"
                assert worker.poll() is None, worker.stdout.read()
                time.sleep(0.05)
            received = server.messages_to("worker@example.org")
            assert len(received) == 1 and code in received[0].message["Subject"] + str(
                received[0].message.get_body(("plain",)).get_content()
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                output, _ = worker.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                raise
    assert worker.returncode == 0, output
    assert "Outbox worker stopped." in output
    assert "worker@example.org" not in output  # nothing personal in its log
    databases.drop_database(url)


def test_the_confirmation_page_says_how_the_youth_will_hear_from_us(client):
    client.post(intake_url(), data=intake_data(language="en"))
    page = client.get("/book/confirmed").get_data(as_text=True)
    assert "We will text you this confirmation, and reminders before your visit." in page

    other = client.application.test_client()
    other.post(
        intake_url(),
        data=intake_data(
            language="en",
            first_name="Bea",
            submission_key="b" * 32,
            email="bea@example.org",
            contact_by="email",
        ),
    )
    page = other.get("/book/confirmed").get_data(as_text=True)
    assert "We will email you this confirmation with a calendar file" in page
