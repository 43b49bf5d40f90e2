"""What the tests of a youth's own pages share: bookings made through the use case at the
frozen clinic clock, a link minted for one (as the worker mints one into each message), a
browser that opened it, and a visit marked treated."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import func, select

from clinic import booking, settings
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import links
from clinic.models import (
    Appointment,
    AppointmentStatus,
    OutboxMessage,
    Slot,
    StaffRole,
    StaffUser,
    StatusChange,
    Treatment,
)
from tests.conftest import NEXT_DAY, NOW

EN = {"Accept-Language": "en"}
ES = {"Accept-Language": "es"}


def book(
    n: int = 1,
    day: date = NEXT_DAY,
    start: time = time(16, 0),
    now: datetime = NOW,
    **overrides,
) -> int:
    """Youth ``n`` (an adult with their own phone) booked for ``day`` at ``start``."""
    values = {
        "day": day,
        "start": start,
        "submission_key": f"youth-{n:04d}-{day.isoformat()}-{'k' * 12}",
        "first_name": f"Youth{n}",
        "last_name": "Link",
        "date_of_birth": date(2004, 4, 4),
        "phone": f"+1415555{n:04d}",
        "language": "en",
        "tattoo_locations": ["arms"],
        "screening": ["tan"],
        "referral_source": "probation",
        **overrides,
    }
    appointment = booking.book(booking.BookingRequest(**values), settings.current_rules(), now)
    return appointment.id


def link_to(appointment_id: int) -> str:
    """A fresh token for the appointment, as a message would carry."""
    with write_transaction():
        return links.mint(appointment_id=appointment_id)


def open_link(client, appointment_id: int) -> str:
    """The browser opens a fresh link to the appointment; returns the token."""
    token = link_to(appointment_id)
    response = client.get(f"/my/{token}")
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert response.headers["Location"] == "/my"
    return token


def treat(appointment_id: int, day: date | None = None) -> None:
    """The visit completed and its treatment recorded (on ``day``: its own by default)."""
    appointment = db.session.get(Appointment, appointment_id)
    slot_day = db.session.scalar(select(Slot.day).where(Slot.id == appointment.slot_id))
    appointment.status = AppointmentStatus.COMPLETED
    db.session.add(
        Treatment(
            appointment_id=appointment_id,
            youth_id=appointment.youth_id,
            day=day or slot_day,
            session_number=1,
            areas=["arms"],
            clinician_id=_clinician(),
        )
    )
    db.session.commit()


def _clinician() -> int:
    found = db.session.scalar(select(StaffUser.id).where(StaffUser.email == "links@clinic.test"))
    if found is not None:
        return found
    staff = StaffUser(email="links@clinic.test", name="Clin", role=StaffRole.CLINICIAN)
    staff.set_password("correct horse battery")
    db.session.add(staff)
    db.session.flush()
    return staff.id


def counters() -> dict[tuple[date, time], int]:
    """Every slot's seat counter, by day and time, as committed."""
    db.session.rollback()
    return {
        (row.day, row.start_time): row.booked
        for row in db.session.execute(select(Slot.day, Slot.start_time, Slot.booked))
    }


def slot_of(appointment_id: int) -> tuple[date, time, str]:
    db.session.rollback()
    row = db.session.execute(
        select(Slot.day, Slot.start_time, Appointment.status)
        .join(Appointment, Appointment.slot_id == Slot.id)
        .where(Appointment.id == appointment_id)
    ).one()
    return row.day, row.start_time, row.status


def changes(appointment_id: int) -> list[StatusChange]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(StatusChange)
            .where(StatusChange.appointment_id == appointment_id)
            .order_by(StatusChange.id)
        )
    )


def kinds(appointment_id: int | None = None) -> list[str]:
    """The kinds of the outbox's messages (of one appointment), oldest first."""
    db.session.rollback()
    query = select(OutboxMessage.kind).order_by(OutboxMessage.id)
    if appointment_id is not None:
        query = query.where(OutboxMessage.appointment_id == appointment_id)
    return list(db.session.scalars(query))


def rows(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))
