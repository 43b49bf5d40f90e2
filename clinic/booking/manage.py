"""A youth runs their own booking from the link they hold: cancel it, move it to another open
time, or, after a treatment, book the next session without retyping the intake.

Each use case is one transaction, committed once, and works as a staff change does: the seat
counter moves only by conditional UPDATEs (``seats``), the appointment's history records the
change (``StatusChange``, actor youth, no staff member), the youth hears of it through the
outbox, and a seat given back goes to the next person on a list (``offers.fill_freed``).

The visitor proved the link, so a refusal here is said plainly (which ``request_online``
cannot do for a stranger). Rule violations raise ``BookingError`` subclasses. The reads the
pages need (the appointment with its history, the times it can move to, the days the next
session may take) are here too, beside the writes they lead to.
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
from clinic.booking.availability import (
    DayAvailability,
    last_treatment_day,
    upcoming_days,
)
from clinic.booking.book import Cancellation, _book_once
from clinic.booking.checks import bookable_slot, check_healed, check_youth
from clinic.booking.errors import (
    NoNextSession,
    NotCancellable,
    NotChangeable,
    SameTime,
)
from clinic.booking.request import BookingRequest
from clinic.booking.seats import answers_of, give_back_seat, take_seat
from clinic.database import lock_day, retrying_transaction
from clinic.extensions import db
from clinic.messaging import links, outbox
from clinic.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    Slot,
    StatusChange,
    naive_utc,
    utcnow,
)
from clinic.rules.eligibility import slot_start
from clinic.rules.messages import Kind
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import earliest_follow_up

RESCHEDULE = "reschedule"
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


def is_ahead(appointment: Appointment, rules: ClinicRules, now: datetime) -> bool:
    """Whether the visit has not started yet: the youth may still change or cancel it."""
    return now < slot_start(appointment.slot.day, appointment.slot.start_time, rules.zone)


@dataclass(frozen=True)
class Move:
    """Where a youth moved their appointment from, and to (clinic wall-clock times)."""

    old: datetime
    new: datetime


def last_move(appointment: Appointment) -> Move | None:
    """The appointment's latest move by the youth, from its history (loaded with it)."""
    for change in reversed(appointment.changes):
        if change.action == RESCHEDULE and change.detail and change.undone_at is None:
            return Move(
                datetime.fromisoformat(change.detail["from"]),
                datetime.fromisoformat(change.detail["to"]),
            )
    return None


def move_options(
    appointment: Appointment, rules: ClinicRules, now: datetime
) -> list[DayAvailability]:
    """The open times in the booking window the appointment can move to: every bookable slot
    with a seat left, except the one it holds."""
    own = (appointment.slot.day, appointment.slot.start_time)
    return _open_days(upcoming_days(rules, now), lambda day, start: (day, start) != own)


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
    days = _open_days(upcoming_days(rules, now), lambda day, _start: day >= first_day)
    return NextSessionPlan(earliest, days)


def _open_days(
    days: list[DayAvailability], keep: Callable[[date, time], bool]
) -> list[DayAvailability]:
    found = []
    for day in days:
        slots = [s for s in day.slots if s.bookable and keep(day.plan.day, s.plan.start)]
        if slots:
            found.append(DayAvailability(day.plan, slots))
    return found


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
                Appointment.slot_id.in_(select(Slot.id).where(_not_started(rules, now))),
            )
            .values(status=AppointmentStatus.CANCELLED, cancelled_at=utcnow())
            .returning(Appointment.slot_id, Appointment.code)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if cancelled is None:
            raise NotCancellable()
        give_back_seat(cancelled.slot_id)
        _record(appointment_id, CANCEL, AppointmentStatus.CANCELLED, now)
        outbox.cancelled(appointment_id, now, kind=Kind.YOUTH_CANCELLED)
        offers.fill_freed(held.day, rules, now)
        return Cancellation(cancelled.code, held.day)

    return _retrying(once)


# --- Reschedule ---------------------------------------------------------------------------


def reschedule_by_youth(
    appointment_id: int, day: date, start: time, rules: ClinicRules, now: datetime
) -> Move:
    """The youth moves their appointment to another open time, atomically.

    Rule: in one transaction, the new seat is taken first (a full slot refuses, and nothing
    changes), the age rule and the healing interval are checked for the new date, and the
    appointment moves only if it is still booked, not started, and in the slot it was read
    in; otherwise (cancelled or moved meanwhile) everything rolls back, the new seat too.
    Only then is the old seat given back and offered on. So the youth never holds two seats,
    nor none, and two moves racing end with the appointment in one slot.
    """
    return _retrying(lambda: _reschedule_once(appointment_id, day, start, rules, now))


def _reschedule_once(
    appointment_id: int, day: date, start: time, rules: ClinicRules, now: datetime
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
    intake = appointment.intake
    has_guardian = intake is not None and all(
        (intake.guardian_name, intake.guardian_relationship, intake.guardian_phone)
    )
    check_youth(appointment.youth.date_of_birth, day, has_guardian, rules)
    check_healed(appointment.youth_id, day, rules)

    moved = db.session.execute(
        update(Appointment)
        .where(
            Appointment.id == appointment_id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.slot_id == old_slot_id,
            Appointment.slot_id.in_(select(Slot.id).where(_not_started(rules, now))),
        )
        .values(slot_id=new_seat)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        raise NotChangeable()  # rolls back the new seat with everything else
    give_back_seat(old_slot_id)
    move = Move(datetime.combine(old_day, old_start), datetime.combine(day, start))
    _record(
        appointment_id,
        RESCHEDULE,
        AppointmentStatus.BOOKED,
        now,
        detail={"from": _minutes(move.old), "to": _minutes(move.new)},
    )
    outbox.rescheduled(appointment_id, old_day, old_start, now)
    offers.fill_freed(old_day, rules, now)
    return move


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

    return _retrying(once)


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


# --- Shared -------------------------------------------------------------------------------


def _not_started(rules: ClinicRules, now: datetime):
    """A slot whose start is still ahead (SQL): a later day, or later today."""
    local = now.astimezone(rules.zone)
    return or_(
        Slot.day > local.date(),
        and_(Slot.day == local.date(), Slot.start_time > local.time().replace(tzinfo=None)),
    )


def _record(
    appointment_id: int,
    action: str,
    to_status: AppointmentStatus,
    now: datetime,
    detail: dict[str, str] | None = None,
) -> None:
    db.session.add(
        StatusChange(
            appointment_id=appointment_id,
            action=action,
            from_status=AppointmentStatus.BOOKED.value,
            to_status=to_status.value,
            actor=Actor.YOUTH,
            staff_id=None,
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


def _retrying(work: Callable[[], T]) -> T:
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
