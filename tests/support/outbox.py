"""What the outbox tests share (``tests/messaging``): a booking made through the form or
through the use case at the frozen clinic clock, the instants its reminders fall due, the
outbox's rows as the worker left them, a worker run at a chosen instant, and senders that
record what they were asked to send instead of sending it (the ``sent`` fixture).

Delivery to real servers on loopback has its own helpers, in ``tests.support.delivery``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time

from sqlalchemy import select, update

from clinic import booking, settings
from clinic.extensions import db
from clinic.messaging import transports, worker
from clinic.models import Appointment, OutboxMessage, naive_utc
from tests.conftest import NEXT_DAY, NOW, intake_data, intake_url

# When the next clinic day's messages fall due (its first slot is Tuesday 24 Nov, 16:00).
EARLY_AT = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # Sunday 10:00 in San Francisco
SAME_DAY_AT = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Tuesday 9:00
STARTS = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # Tuesday 16:00


def book(client, n: int = 0, **overrides) -> Appointment:
    """Youth ``n`` books the next clinic day through the intake form; two to a slot (its
    seats), from 16:00 on."""
    start = time(16 + n // 6, n // 2 % 3 * 20)
    data = intake_data(
        first_name=f"Youth{'abcdefghij'[n]}",
        submission_key=f"key{n:029d}",
        phone=f"415555{n:04d}",
        slot_time=start.strftime("%H:%M"),
        **overrides,
    )
    response = client.post(intake_url(NEXT_DAY, start), data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return db.session.scalars(
        select(Appointment).where(Appointment.submission_key == data["submission_key"])
    ).one()


def book_at(n: int, *, now: datetime = NOW, **overrides) -> int:
    """Youth ``n`` books the next clinic day (two to a slot, from 16:00); returns the id.

    The appointment's ``created_at`` is set to ``now``, as production would write it (the
    column's default is the real clock, which in tests is days after NOW)."""
    values = {
        "day": NEXT_DAY,
        "start": time(16 + n // 6, n // 2 % 3 * 20),
        "submission_key": f"outbox{n:026d}",
        "first_name": f"Youth{'abcdefghij'[n]}",
        "last_name": "Review",
        "date_of_birth": date(2004, 4, 4),
        "phone": f"+1415555{n:04d}",
        "language": "en",
        **overrides,
    }
    appointment_id = booking.book(
        booking.BookingRequest(**values), settings.current_rules(), now
    ).id
    db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment_id)
        .values(created_at=naive_utc(now))
    )
    db.session.commit()
    return appointment_id


def messages(appointment_id: int | None = None) -> list[OutboxMessage]:
    """The outbox's rows, oldest first, as last committed (by the worker too)."""
    db.session.rollback()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if appointment_id is not None:
        query = query.where(OutboxMessage.appointment_id == appointment_id)
    return list(db.session.scalars(query.execution_options(populate_existing=True)))


def run_at(moment: datetime) -> worker.RunReport:
    """One worker run at the clinic instant ``moment``, with the jitter in the middle."""
    return worker.run_once(now=lambda: moment, rand=lambda: 0.5)


class Sent(list):
    """What the senders were asked to send, as (channel, to, subject or text), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.attachments: list[tuple[str, bytes, str] | None] = []
        # Called with each text before it "goes": a test acts while a worker is mid-send.
        self.during_send: Callable[[str], None] | None = None

    def texts(self, words: str) -> list[str]:
        return [body for channel, _to, body in self if channel == "sms" and words in body]


def record_sends(monkeypatch) -> Sent:
    """Both channels 'configured', with senders that record instead of sending."""
    record = Sent()

    def send_email(to, subject, text, html, attachment=None):
        record.append(("email", to, subject))
        record.attachments.append(attachment)
        return f"<{len(record)}@test>"

    def send_sms(to, body):
        if record.during_send is not None:
            record.during_send(body)
        record.append(("sms", to, body))
        return f"SM{len(record):032d}"

    monkeypatch.setattr(transports, "configured_channels", lambda: ("email", "sms"))
    monkeypatch.setattr(transports, "send_email", send_email)
    monkeypatch.setattr(transports, "send_sms", send_sms)
    return record
