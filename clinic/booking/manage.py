"""A youth runs their own booking from the link they hold: cancel it, move it to another open
time, or, after a treatment, book the next session without retyping the intake.

Each use case is one transaction, committed once, and works as a staff change does: the seat
counter moves only by conditional UPDATEs (``seats``), the appointment's history records the
change (``StatusChange``, actor youth, no staff member), the youth hears of it through the
outbox, and a seat given back goes to the next person on a list (``offers.fill_freed``). The
move itself is the desk's too (``moves.move_booking``): one service, whoever moves it.

The visitor proved the link, so a refusal here is said plainly (which ``request_online``
cannot do for a stranger). Rule violations raise ``BookingError`` subclasses. The reads the
pages need (the appointment with its history, the times it can move to, the days the next
session may take) are here too, beside the writes they lead to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from clinic.booking import offers
from clinic.booking.availability import (
    DayAvailability,
    last_treatment_day,
    upcoming_days,
)
from clinic.booking.book import Cancellation, _book_once
from clinic.booking.errors import NoNextSession, NotCancellable
from clinic.booking.moves import (
    RESCHEDULE,
    Move,
    move_booking,
    not_started,
    open_days,
    record_change,
    retrying,
)

# The youth's pages read these here, beside the rest of what their link can do.
from clinic.booking.moves import is_ahead as is_ahead
from clinic.booking.moves import move_options as move_options
from clinic.booking.request import BookingRequest
from clinic.booking.seats import answers_of, give_back_seat
from clinic.database import lock_day
from clinic.extensions import db
from clinic.messaging import links, outbox
from clinic.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    Slot,
    utcnow,
)
from clinic.rules.messages import Kind
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import earliest_follow_up

CANCEL = "cancel"


# --- Reads --------------------------------------------------------------------------------


def appointment_for_page(appointment_id: int) -> Appointment | None:
    """The appointment with all its page shows: slot, youth, intake, history."""
    return db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .options(
            selectinload(Appointment.slot),
            selectinload(Appointment.youth),
            selectinload(Appointment.intake),
            selectinload(Appointment.changes),
        )
        # The link's look-up loaded it already, without these.
        .execution_options(populate_existing=True)
    )


def last_move(appointment: Appointment) -> Move | None:
    """The appointment's latest move, from its history (loaded with it), if the youth made it:
    their page says "You moved this appointment"; after a move by the clinic it says nothing
    of an earlier move of theirs (the message about the new time told them)."""
    for change in reversed(appointment.changes):
        if change.action == RESCHEDULE and change.detail and change.undone_at is None:
            if change.actor != Actor.YOUTH:
                return None
            return Move(
                datetime.fromisoformat(change.detail["from"]),
                datetime.fromisoformat(change.detail["to"]),
            )
    return None


@dataclass(frozen=True)
class NextSessionPlan:
    """The days a treated youth's next session may take."""

    earliest: date | None  # the last treatment plus the healing interval
    days: list[DayAvailability]  # open days from then, bookable slots with a seat only


def next_session_plan(youth_id: int, rules: ClinicRules, now: datetime) -> NextSessionPlan:
    """Rule: open clinic days in the booking window, no sooner than the youth's LAST
    treatment plus the healing interval (``earliest_follow_up``)."""
    earliest = earliest_follow_up(last_treatment_day(youth_id), rules.follow_up)
    first_day = max(now.date(), earliest) if earliest else now.date()
    days = open_days(upcoming_days(rules, now), lambda day, _start: day >= first_day)
    return NextSessionPlan(earliest, days)


# --- Cancel -------------------------------------------------------------------------------


def cancel_by_youth(appointment_id: int, rules: ClinicRules, now: datetime) -> Cancellation:
    """The youth cancels their appointment from its link.

    Rule: only while it is booked and has not started (one conditional UPDATE, so two taps or
    a staff change at the same moment cancel once and free one seat). The seat goes back to
    the slot and, through ``offers.fill_freed``, to the next person on a list; the youth is
    told (``outbox.cancelled``), and the history says the youth did it.
    """

    def once() -> Cancellation:
        held = db.session.execute(
            select(Appointment.slot_id, Slot.day)
            .join(Slot, Slot.id == Appointment.slot_id)
            .where(Appointment.id == appointment_id)
        ).one_or_none()
        if held is None:
            raise NotCancellable()
        # Before any row lock, as a booking does: a schedule change to the day waits for
        # this, or this for it, and neither holds what the other needs.
        lock_day(held.day, exclusive=False)
        cancelled = db.session.execute(
            update(Appointment)
            .where(
                Appointment.id == appointment_id,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.slot_id == held.slot_id,
                Appointment.slot_id.in_(select(Slot.id).where(not_started(rules, now))),
            )
            .values(status=AppointmentStatus.CANCELLED, cancelled_at=utcnow())
            .returning(Appointment.slot_id, Appointment.code)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if cancelled is None:
            raise NotCancellable()
        give_back_seat(cancelled.slot_id)
        record_change(appointment_id, CANCEL, AppointmentStatus.CANCELLED, now, staff_id=None)
        outbox.cancelled(appointment_id, now, kind=Kind.YOUTH_CANCELLED)
        offers.fill_freed(held.day, rules, now)
        return Cancellation(cancelled.code, held.day)

    return retrying(once)


# --- Reschedule ---------------------------------------------------------------------------


def reschedule_by_youth(
    appointment_id: int, day: date, start: time, rules: ClinicRules, now: datetime
) -> Move:
    """The youth moves their appointment to another open time, atomically: the one move
    every caller shares (``moves.move_booking``), recorded as the youth's own."""
    return move_booking(appointment_id, day, start, rules, now, staff_id=None)


# --- The next session ---------------------------------------------------------------------


@dataclass(frozen=True)
class ContactUpdate:
    """The contact details a youth confirms or updates when booking their next session."""

    phone: str | None
    email: str | None
    language: str
    contact_by: str | None
    guardian_name: str | None = None
    guardian_relationship: str | None = None
    guardian_phone: str | None = None


@dataclass(frozen=True)
class NextSession:
    """The next session booked, and the link to it the visitor's browser now holds."""

    appointment: Appointment
    link_hash: str


def book_next(
    appointment_id: int,
    day: date,
    start: time,
    contact: ContactUpdate,
    rules: ClinicRules,
    now: datetime,
    *,
    submission_key: str,
) -> NextSession:
    """Book the youth's next session from the link of a treated visit, without the intake.

    Rule: only from a COMPLETED appointment; the same rules as any booking (capacity, window,
    age and consent for the new date, one upcoming appointment, and no sooner than the last
    treatment plus the healing interval), applied by the booking itself. The request is the
    youth's names and birth date and the previous intake's answers, with the contact details
    just confirmed. A new link to the new appointment is minted in the same transaction, so
    the visitor lands on its page. The submission key makes a repeated POST find the same
    booking. Raises ``BookingError`` subclasses.
    """

    def once() -> NextSession:
        treated = db.session.scalar(
            select(Appointment)
            .where(Appointment.id == appointment_id)
            .options(selectinload(Appointment.youth), selectinload(Appointment.intake))
        )
        if treated is None or treated.status != AppointmentStatus.COMPLETED:
            raise NoNextSession()
        request = _next_request(treated, day, start, contact, submission_key)
        booked = _book_once(request, rules, now, None)
        if booked is None:  # only a quiet request declines without raising
            raise RuntimeError("the next session was declined without a refusal")
        token = links.mint(appointment_id=booked.id)
        return NextSession(booked, links.hash_token(token))

    return retrying(once)


def _next_request(
    treated: Appointment, day: date, start: time, contact: ContactUpdate, submission_key: str
) -> BookingRequest:
    youth, intake = treated.youth, treated.intake
    return BookingRequest(
        day=day,
        start=start,
        submission_key=submission_key,
        first_name=youth.first_name,
        last_name=youth.last_name,
        preferred_name=youth.preferred_name,
        date_of_birth=youth.date_of_birth,
        phone=contact.phone,
        email=contact.email,
        language=contact.language,
        contact_by=contact.contact_by,
        guardian_name=contact.guardian_name,
        guardian_relationship=contact.guardian_relationship,
        guardian_phone=contact.guardian_phone,
        **answers_of(intake),
    )
