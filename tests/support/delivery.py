"""What the tests of delivery to real servers on loopback share (``tests/messaging``, with the
servers in ``tests.support.mailservers`` and their fixtures in ``tests/messaging/conftest.py``).

Bookings go through the public form (the Flask test client); the worker is
``worker.run_once`` in this process, with its clock given explicitly: every run is timed
from the confirmation's own send-after time (``at``), so nothing depends on the real date.
The ``messages_only`` fixture turns reminders off for these tests: they are about delivery,
and a reminder falling due would be one more message in every count."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

from sqlalchemy import select

from clinic.extensions import db
from clinic.messaging import worker
from clinic.models import Appointment, OutboxMessage
from tests.conftest import NEXT_DAY, intake_data, intake_url

EMAIL = "ana@example.org"
PHONE = "+14155550134"  # intake_data's "(415) 555-0134", as the form stores it
ADDRESS = "2500 Mission Street, San Francisco, CA"


def book(client, start: str = "16:00", **overrides):
    """Book Ana (intake_data) through the form on the next clinic day at ``start``; returns
    the response and how long it took."""
    url = intake_url(NEXT_DAY, clock_time.fromisoformat(start))
    started = time.perf_counter()
    response = client.post(url, data=intake_data(slot_time=start, **overrides))
    return response, time.perf_counter() - started


def book_by_email(client, **overrides):
    response, _ = book(client, email=EMAIL, contact_by="email", **overrides)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return confirmation()


def book_by_sms(client, **overrides):
    response, _ = book(client, **overrides)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    message = confirmation()
    assert message.channel == "sms"
    return message


def confirmation() -> OutboxMessage:
    """The newest confirmation in the outbox, as the database has it now."""
    db.session.rollback()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "confirmation")
        .order_by(OutboxMessage.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    ).one()


def fresh(message_id: int) -> OutboxMessage:
    db.session.rollback()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .execution_options(populate_existing=True)
    ).one()


def utc(naive: datetime) -> datetime:
    return naive.replace(tzinfo=UTC)


def at(moment: datetime, seconds: float = 0):
    """A worker clock fixed at ``seconds`` after ``moment`` (a column value, naive UTC)."""
    fixed = utc(moment) + timedelta(seconds=seconds)
    return lambda: fixed


def run(now, rand: float = 0.5) -> worker.RunReport:
    return worker.run_once(now=now, rand=lambda: rand)


def parts(message) -> dict[str, list]:
    """A received message's leaf parts by content type."""
    found: dict[str, list] = {}
    for part in message.walk():
        if not part.is_multipart():
            found.setdefault(part.get_content_type(), []).append(part)
    return found


def code_of_booking() -> str:
    """The newest booking's confirmation code."""
    db.session.rollback()
    return db.session.scalars(select(Appointment.code).order_by(Appointment.id.desc())).first()


def book_one_of_each(client) -> tuple[OutboxMessage, OutboxMessage]:
    """Two youth book: one asks for e-mail, one (Luis) gives only a phone. Their
    confirmations, e-mail first."""
    email_message = book_by_email(client)
    response, _ = book(
        client,
        first_name="Luis",
        last_name="Ortega",
        date_of_birth="2006-02-02",
        phone="(415) 555-0177",
        submission_key="l" * 32,
    )
    assert response.status_code == 303
    db.session.rollback()
    sms_message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.channel == "sms")
    ).one()
    return email_message, sms_message
