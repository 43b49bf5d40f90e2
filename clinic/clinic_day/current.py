"""An appointment as a move on the clinic day reads it, and the writes every move shares:
the conditional status change with its history row, the seat given back, the day's next
ticket, a guardian's consent.

A move reads the appointment's status, then changes it with an UPDATE conditional on that same
status: if someone else moved it in between (two clinicians calling the same youth), the UPDATE
matches nothing and the move is refused, on PostgreSQL and SQLite alike. Which moves exist,
and which statuses hold a seat, are rules in ``clinic.rules.visits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select, update

from clinic import audit
from clinic.clinic_day.errors import ChangedMeanwhile, NotFound, Refused, WrongDay
from clinic.database import dialect_insert
from clinic.extensions import db
from clinic.models import (
    Appointment,
    Consent,
    Slot,
    StaffUser,
    StatusChange,
    TicketCounter,
    Youth,
    naive_utc,
)
from clinic.rules.eligibility import needs_guardian
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import (
    InvalidTransition,
    VisitAction,
    VisitStatus,
    next_status,
    seat_change,
)


@dataclass(frozen=True)
class Moved:
    appointment_id: int
    code: str
    day: date
    old: VisitStatus
    new: VisitStatus
    station: str | None = None


@dataclass(frozen=True)
class Current:
    id: int
    code: str
    status: VisitStatus
    slot_id: int
    youth_id: int
    day: date
    start: time
    date_of_birth: date
    consent: str | None
    station: str | None


def load(appointment_id: int) -> Current:
    row = db.session.execute(
        select(
            Appointment.id,
            Appointment.code,
            Appointment.status,
            Appointment.slot_id,
            Appointment.youth_id,
            Slot.day,
            Slot.start_time,
            Youth.date_of_birth,
            Appointment.consent,
            Appointment.station,
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .join(Youth, Youth.id == Appointment.youth_id)
        .where(Appointment.id == appointment_id)
    ).one_or_none()
    if row is None:
        raise NotFound()
    return Current(
        row.id,
        row.code,
        VisitStatus(row.status),
        row.slot_id,
        row.youth_id,
        row.day,
        row.start_time,
        row.date_of_birth,
        row.consent,
        row.station,
    )


def make_move(
    current: Current,
    action: VisitAction,
    actor: StaffUser,
    now: datetime,
    **values: object,
) -> Moved:
    """Apply ``action`` to the appointment as last read: status, seat counter, history."""
    try:
        new = next_status(current.status, action)
    except InvalidTransition:
        raise Refused(current.status, action) from None
    changed = db.session.execute(
        update(Appointment)
        .where(Appointment.id == current.id, Appointment.status == current.status)
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise ChangedMeanwhile()
    give_seat_back(current.slot_id, seat_change(current.status, new))
    db.session.add(
        StatusChange(
            appointment_id=current.id,
            action=action.value,
            from_status=current.status.value,
            to_status=new.value,
            staff_id=actor.id,
            at=naive_utc(now),
        )
    )
    # The StatusChange says "status"; this names what else the UPDATE set (one event).
    audit.changed("appointment", current.id, ["status", *values], youth_id=current.youth_id)
    return Moved(current.id, current.code, current.day, current.status, new, values.get("station"))


def give_seat_back(slot_id: int, delta: int) -> None:
    """Give a seat back when a move leaves a seat-holding status (taking one back is
    ``_retake_seat``, which is conditional like any booking)."""
    if delta < 0:
        db.session.execute(
            update(Slot)
            .where(Slot.id == slot_id)
            .values(booked=Slot.booked - 1)
            .execution_options(synchronize_session=False)
        )
    elif delta > 0:
        raise AssertionError("no forward move takes a seat")


def on_the_day(current: Current, now: datetime) -> None:
    if current.day != now.date():
        raise WrongDay()


def next_ticket(day: date) -> int:
    """The day's next ticket number, from one atomic upsert of the day's counter."""
    statement = dialect_insert(TicketCounter).values(day=day, last_ticket=1)
    statement = statement.on_conflict_do_update(
        index_elements=[TicketCounter.day],
        set_={"last_ticket": TicketCounter.last_ticket + 1},
    ).returning(TicketCounter.last_ticket)
    return db.session.execute(statement).scalar_one()


def needs_consent(current: Current, rules: ClinicRules) -> bool:
    return needs_guardian(current.date_of_birth, current.day, rules.ages)


def consent_values(consent: Consent, actor: StaffUser, now: datetime) -> dict[str, object]:
    return {"consent": consent.value, "consent_by_id": actor.id, "consent_at": naive_utc(now)}
