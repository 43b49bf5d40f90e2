"""Moving one booking to another open time or day: one service, whoever asks for it. The youth
moves it from their link (``manage.reschedule_by_youth``), the front desk moves it for them
when they phone (``move_by_staff``); both run ``move_booking``, so the rules, the seat counter,
the standby offer and the message to the youth cannot drift apart.

Who moved it is a parameter (``staff_id``, None for the youth): it names the actor of the
history's entry ("Moved by the youth from ... to ..." / "Moved from ... to ... by <staff>")
and nothing else. The reads a move page needs (whether the visit is still ahead, the times it
can move to) are here too, and the transaction helpers the youth's other changes share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TypeVar

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import selectinload

from clinic.booking import offers
from clinic.booking.availability import DayAvailability, upcoming_days
from clinic.booking.checks import bookable_slot, check_healed, check_youth
from clinic.booking.errors import NotChangeable, SameTime
from clinic.booking.seats import give_back_seat, take_seat
from clinic.database import lock_day, retrying_transaction
from clinic.extensions import db
from clinic.messaging import outbox
from clinic.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    Slot,
    StaffUser,
    StatusChange,
    naive_utc,
)
from clinic.permissions import Action, require
from clinic.rules.eligibility import slot_start
from clinic.rules.policy import ClinicRules

RESCHEDULE = "reschedule"  # the history's action for a move, by the youth or by staff
GUARDIAN = ("guardian_name", "guardian_relationship", "guardian_phone")


@dataclass(frozen=True)
class Move:
    """Where an appointment moved from, and to (clinic wall-clock times)."""

    old: datetime
    new: datetime


# --- Reads --------------------------------------------------------------------------------


def appointment_to_move(appointment_id: int) -> Appointment | None:
    """The appointment with what a move page shows: its slot and its youth."""
    return db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .options(selectinload(Appointment.slot), selectinload(Appointment.youth))
    )


def is_ahead(appointment: Appointment, rules: ClinicRules, now: datetime) -> bool:
    """Whether the visit has not started yet: it may still be changed or cancelled."""
    return now < slot_start(appointment.slot.day, appointment.slot.start_time, rules.zone)


def move_options(
    appointment: Appointment,
    rules: ClinicRules,
    now: datetime,
    window: list[DayAvailability] | None = None,
) -> list[DayAvailability]:
    """The open times in the booking window the appointment can move to: every bookable slot
    with a seat left, except the one it holds. ``window``: the window's days, if read already."""
    own = (appointment.slot.day, appointment.slot.start_time)
    days = window if window is not None else upcoming_days(rules, now)
    return open_days(days, lambda day, start: (day, start) != own)


def open_days(
    days: list[DayAvailability], keep: Callable[[date, time], bool]
) -> list[DayAvailability]:
    """The days with at least one bookable slot that ``keep`` accepts, with those slots only."""
    found = []
    for day in days:
        slots = [s for s in day.slots if s.bookable and keep(day.plan.day, s.plan.start)]
        if slots:
            found.append(DayAvailability(day.plan, slots))
    return found


# --- The move -----------------------------------------------------------------------------


def move_by_staff(
    appointment_id: int,
    day: date,
    start: time,
    actor: StaffUser,
    rules: ClinicRules,
    now: datetime,
) -> Move:
    """The front desk moves a youth's booking to another open time or day (they phoned).

    Rule: ``MOVE_BOOKING`` (front desk, admin), then exactly the youth's own move
    (``move_booking``), recorded as the staff member's; the youth gets the same "new time"
    message as when they move it themselves.
    """
    require(actor.role, Action.MOVE_BOOKING)
    return move_booking(appointment_id, day, start, rules, now, staff_id=actor.id)


def move_booking(
    appointment_id: int,
    day: date,
    start: time,
    rules: ClinicRules,
    now: datetime,
    *,
    staff_id: int | None,
) -> Move:
    """Move a booked appointment to another open time, atomically (``staff_id`` None: the
    youth from their link).

    Rule: in one transaction, the new seat is taken first (a full slot refuses, and nothing
    changes), the age and consent rule and the healing interval are checked for the new date,
    and the appointment moves only if it is still booked, not started, and in the slot it was
    read in; otherwise (cancelled or moved meanwhile) everything rolls back, the new seat too.
    Only then is the old seat given back and offered to that day's standby list. So the youth
    never holds two seats, nor none, and two moves racing end with the appointment in one
    slot. The youth hears of it once (``outbox.rescheduled``), and the reminders follow.
    Raises ``BookingError`` subclasses (``NotChangeable``, ``SameTime``, ``SlotUnavailable``,
    ``NotEligible``, ``GuardianRequired``, ``TooSoon``).
    """
    return retrying(lambda: _move_once(appointment_id, day, start, rules, now, staff_id))


def _move_once(
    appointment_id: int,
    day: date,
    start: time,
    rules: ClinicRules,
    now: datetime,
    staff_id: int | None,
) -> Move:
    appointment = db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .options(
            selectinload(Appointment.slot),
            selectinload(Appointment.youth),
            selectinload(Appointment.intake),
        )
    )
    if (
        appointment is None
        or appointment.status != AppointmentStatus.BOOKED
        or not is_ahead(appointment, rules, now)
    ):
        raise NotChangeable()
    old_slot = appointment.slot
    old_day, old_start, old_slot_id = old_slot.day, old_slot.start_time, old_slot.id
    if (day, start) == (old_day, old_start):
        raise SameTime()

    # As a booking does: the new day's plan is read once a schedule change to it is done;
    # and the old day's too, before any row lock (fill_freed reads it after giving the seat
    # back), so a schedule change to either waits for this move or this move for it.
    for locked in sorted({day, old_day}):
        lock_day(locked, exclusive=False)
    new_seat = take_seat(bookable_slot(day, start, rules, now))
    check_youth(appointment.youth.date_of_birth, day, _has_guardian(appointment), rules)
    check_healed(appointment.youth_id, day, rules)

    moved = db.session.execute(
        update(Appointment)
        .where(
            Appointment.id == appointment_id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.slot_id == old_slot_id,
            Appointment.slot_id.in_(select(Slot.id).where(not_started(rules, now))),
        )
        .values(slot_id=new_seat)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        raise NotChangeable()  # rolls back the new seat with everything else
    give_back_seat(old_slot_id)
    move = Move(datetime.combine(old_day, old_start), datetime.combine(day, start))
    # The history's entry is also the audit trail's event for the new slot (clinic.audit).
    record_change(
        appointment_id,
        RESCHEDULE,
        AppointmentStatus.BOOKED,
        now,
        staff_id=staff_id,
        detail={"from": _minutes(move.old), "to": _minutes(move.new)},
    )
    outbox.rescheduled(appointment_id, old_day, old_start, now, staff_id=staff_id)
    offers.fill_freed(old_day, rules, now)
    return move


def _has_guardian(appointment: Appointment) -> bool:
    """A guardian on the booking's intake, or on the record (the desk may have added one
    since): either is confirmed at check-in."""
    return any(
        row is not None and all(getattr(row, name) for name in GUARDIAN)
        for row in (appointment.intake, appointment.youth)
    )


# --- Shared by the youth's and the desk's changes -----------------------------------------


def not_started(rules: ClinicRules, now: datetime):
    """A slot whose start is still ahead (SQL): a later day, or later today."""
    local = now.astimezone(rules.zone)
    return or_(
        Slot.day > local.date(),
        and_(Slot.day == local.date(), Slot.start_time > local.time().replace(tzinfo=None)),
    )


def record_change(
    appointment_id: int,
    action: str,
    to_status: AppointmentStatus,
    now: datetime,
    *,
    staff_id: int | None,
    detail: dict[str, str] | None = None,
) -> None:
    """One entry in the appointment's history: by the staff member, or (None) by the youth."""
    db.session.add(
        StatusChange(
            appointment_id=appointment_id,
            action=action,
            from_status=AppointmentStatus.BOOKED.value,
            to_status=to_status.value,
            actor=Actor.YOUTH if staff_id is None else Actor.STAFF,
            staff_id=staff_id,
            detail=detail,
            at=naive_utc(now),
        )
    )


def _minutes(moment: datetime) -> str:
    """'2026-12-22T16:00', as the history's detail records a time."""
    return moment.strftime("%Y-%m-%dT%H:%M")


class _Deadlocked(Exception):
    """PostgreSQL broke a cycle of row locks by failing this transaction (two youth swapping
    times at once take each other's old seat last): it is run again from the top."""


T = TypeVar("T")


def retrying(work: Callable[[], T]) -> T:
    """Run ``work`` in one write transaction, again from the top when a concurrent one made
    it fail (a unique row inserted first, or a deadlock PostgreSQL broke)."""

    def attempt() -> T:
        try:
            return work()
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == "40P01":  # deadlock_detected
                raise _Deadlocked() from error
            raise

    try:
        return retrying_transaction(attempt, retry_on=(IntegrityError, _Deadlocked))
    except _Deadlocked as deadlocked:
        # Out of tries: answered as the database's other passing troubles are (a 503).
        raise deadlocked.__cause__ from None  # type: ignore[misc]
