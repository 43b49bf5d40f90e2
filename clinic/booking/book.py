"""Use cases: a youth books a seat, and an upcoming booking is cancelled. Each is one
transaction, committed once: load -> rules -> write.

Online, the answer may depend only on what the visitor typed and the state of the slot, never
on what the database holds about the name and date of birth they typed: otherwise anyone who
knows a youth's name and birthday could learn that they come here, and when they were last
treated. So ``request_online`` takes the seat first (a full slot answers "full" to everyone
alike), and when the rules then refuse the youth (an appointment already ahead, or too soon
after the last treatment) it gives the seat back, books nothing, and writes to the youth at the
contact already on file, never at the one typed. The visitor sees the same "request received"
page either way. Staff, who are signed in, get the refusal itself (``book``).

Views call these with plain values and the current clinic time; nothing here reads the request.
Rule violations are raised as ``BookingError`` subclasses (``clinic.booking.errors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update

from clinic import audit
from clinic.booking.availability import find_by_submission, upcoming_appointment
from clinic.booking.checks import bookable_slot, check_healed, check_youth, is_repeat_of
from clinic.booking.errors import (
    AlreadyBooked,
    NotCancellable,
    SubmissionCancelled,
    SubmissionReused,
    TooSoon,
)
from clinic.booking.request import BookingRequest
from clinic.booking.seats import give_back_seat, intake_from, new_code, take_seat, upsert_youth
from clinic.database import lock_day, retrying_transaction, write_transaction
from clinic.extensions import db
from clinic.messaging import outbox
from clinic.models import Appointment, AppointmentStatus, Slot, StaffUser, utcnow
from clinic.permissions import Action, require
from clinic.rules.policy import ClinicRules


def book(
    request: BookingRequest, rules: ClinicRules, now: datetime, staff_id: int | None = None
) -> Appointment:
    """Book a seat for a youth: one transaction, committed once, or nothing at all.

    The seat is taken by a conditional UPDATE of the slot's counter, so two requests can never
    both take the last seat. Repeating the same submission returns the first appointment.
    """
    # A concurrent request that inserted the same unique row first (the youth, the slot) makes
    # this attempt fail; the next one finds that row.
    appointment = retrying_transaction(lambda: _book_once(request, rules, now, staff_id))
    if appointment is None:  # only a quiet request declines without raising
        raise RuntimeError("a staff booking was declined without a refusal")
    return appointment


def book_for_caller(
    request: BookingRequest, actor: StaffUser, rules: ClinicRules, now: datetime
) -> Appointment:
    """The front desk books a youth who phones in, new or on file, for any open time.

    Rule: ``BOOK_FOR_CALLER`` (front desk, admin), then exactly an online booking's rules
    (``book``): the window, the age on the day and a guardian for a minor, one upcoming
    appointment, the healing interval, the seat taken atomically. Unlike the online form the
    refusals are said to the desk. The confirmation goes to the contact just given, with the
    youth's own link, as for any booking (the worker mints it into the message).
    """
    require(actor.role, Action.BOOK_FOR_CALLER)
    return book(request, rules, now, staff_id=actor.id)


def request_online(request: BookingRequest, rules: ClinicRules, now: datetime) -> None:
    """A youth's own request for a seat: booked, or declined in a message to the contact on
    file (see the module's docstring). It returns nothing, since the visitor is told the same
    either way. Raises ``BookingError`` only for what the visitor's own answers or the slot's
    state decide: age and consent, a closed or full slot, a reused form.
    """
    retrying_transaction(lambda: _book_once(request, rules, now, None, quiet=True))


def _book_once(
    request: BookingRequest,
    rules: ClinicRules,
    now: datetime,
    staff_id: int | None,
    *,
    quiet: bool = False,
) -> Appointment | None:
    earlier = find_by_submission(request.submission_key)
    if earlier is not None:
        if not is_repeat_of(
            earlier, request.first_name, request.last_name, request.date_of_birth, request.day
        ):
            raise SubmissionReused()
        if earlier.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            # Its booking was cancelled since: never show it as booked; a fresh form books anew.
            raise SubmissionCancelled()
        return earlier

    # Read the day's plan only once a schedule change to it can no longer be half way.
    lock_day(request.day, exclusive=False)
    slot_plan = bookable_slot(request.day, request.start, rules, now)
    check_youth(request.date_of_birth, request.day, request.has_guardian, rules)
    # The seat before the youth: a full slot is full for a client and a stranger alike.
    slot_id = take_seat(slot_plan)

    youth = upsert_youth(request)
    upcoming = upcoming_appointment(youth.id, now.date())
    try:
        if upcoming is not None:
            if upcoming.submission_key == request.submission_key:
                give_back_seat(slot_id)
                return upcoming
            raise AlreadyBooked(upcoming.id)
        check_healed(youth.id, request.day, rules)
    except (AlreadyBooked, TooSoon) as refusal:
        if not quiet:
            raise
        give_back_seat(slot_id)
        _tell_the_youth(refusal, request, now)
        return None

    appointment = Appointment(
        code=new_code(),
        youth_id=youth.id,
        slot_id=slot_id,
        status=AppointmentStatus.BOOKED,
        submission_key=request.submission_key,
    )
    appointment.intake = intake_from(request)
    db.session.add(appointment)
    db.session.flush()
    # In this transaction: the booking and its confirmation commit together or not at all.
    outbox.booked(appointment.id, now, staff_id=staff_id)
    return appointment


def _tell_the_youth(refusal: AlreadyBooked | TooSoon, request: BookingRequest, now: datetime):
    """Write to the youth, at the contact their last booking gave, why a request in their name
    was not booked (they may have forgotten; or it was not them)."""
    if isinstance(refusal, AlreadyBooked):
        if refusal.appointment_id is not None:
            outbox.already_booked(refusal.appointment_id, request.day, request.start, now)
    elif refusal.last_visit_id is not None:
        outbox.too_soon(refusal.last_visit_id, refusal.earliest, request.day, request.start, now)


@dataclass(frozen=True)
class Cancellation:
    code: str
    day: date


def cancel(appointment_id: int, staff_id: int | None, now: datetime) -> Cancellation:
    """Cancel an upcoming appointment and give its seat back.

    One transaction: the appointment's status changes only if it is still booked and
    upcoming, and the seat is given back only if it did, so two people cancelling the same
    appointment at once free one seat; a booking racing for that seat sees it only once the
    cancel has committed.
    """
    with write_transaction():
        cancelled = db.session.execute(
            update(Appointment)
            .where(
                Appointment.id == appointment_id,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.slot_id.in_(select(Slot.id).where(Slot.day >= now.date())),
            )
            .values(
                status=AppointmentStatus.CANCELLED,
                cancelled_at=utcnow(),
                cancelled_by_id=staff_id,
            )
            .returning(Appointment.slot_id, Appointment.code)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if cancelled is None:
            raise NotCancellable()
        audit.changed("appointment", appointment_id, ["status", "cancelled_at", "cancelled_by_id"])
        outbox.cancelled(appointment_id, now, staff_id=staff_id)
        day = db.session.execute(
            update(Slot)
            .where(Slot.id == cancelled.slot_id)
            .values(booked=Slot.booked - 1)
            .returning(Slot.day)
            .execution_options(synchronize_session=False)
        ).scalar_one()
    return Cancellation(cancelled.code, day)
