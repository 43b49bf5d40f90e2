"""Walk-ins: a youth who came without an appointment takes a free seat of today's remaining
slots, under the same intake and rules as a booking, and joins the queue at once. When
today is full, the desk is shown where else the youth can go (``other_days``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select, update

from clinic import booking
from clinic.clinic_day.current import (
    consent_values,
    next_ticket,
)
from clinic.clinic_day.errors import (
    ConsentNotChosen,
    FormReused,
    NoClinicToday,
    NoFreeSeat,
    NotFound,
)
from clinic.database import lock_day, retrying_transaction
from clinic.extensions import db
from clinic.models import (
    Appointment,
    Consent,
    Slot,
    StaffUser,
    StatusChange,
    Youth,
    naive_utc,
)
from clinic.permissions import Action, require
from clinic.rules.calendar import day_slots
from clinic.rules.counts import SlotSeats, seats_left
from clinic.rules.eligibility import needs_guardian
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import (
    VisitStatus,
    walk_in_slot,
)


def walk_in(
    request: booking.BookingRequest,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    consent: Consent | None = None,
    youth_id: int | None = None,
) -> Appointment:
    """Add a youth who came without an appointment: same intake and age rule as booking, a
    free seat of today's remaining slots, checked in at once with a ticket.

    Rule: today only, on a clinic day; the earliest slot not yet over with a free seat
    (``walk_in_slot``), taken with the same conditional UPDATE as a booking. A
    youth who already holds an upcoming appointment is told to check in to that one. For a
    minor the desk must say what the guardian said (``consent``): none at all is refused
    (``ConsentNotChosen``), so "not confirmed yet" is always a choice, never a default.
    ``youth_id``: the desk recognised the youth as this record ("use this youth"), whose
    birth date then decides the age rule; without it the youth is found by name and birth
    date, or added.
    """
    require(actor.role, Action.CHECK_IN)
    today = now.date()
    request.day = today
    return retrying_transaction(
        lambda: _walk_in_once(request, actor, now, rules, consent, youth_id)
    )


def _walk_in_once(request, actor, now, rules, consent, youth_id) -> Appointment:
    earlier = booking.find_by_submission(request.submission_key)
    if earlier is not None:
        same = booking.is_repeat_of(
            earlier, request.first_name, request.last_name, request.date_of_birth, now.date()
        )
        if not same:
            raise FormReused()
        return earlier  # the same walk-in form sent twice
    today = now.date()
    lock_day(today, exclusive=False)
    plans = booking.day_plans(today, today, rules)
    if not plans:
        raise NoClinicToday()
    if youth_id is not None:
        youth = _lock_known_youth(youth_id, now)
    else:
        booking.check_youth(request.date_of_birth, today, request.has_guardian, rules)
        youth = booking.upsert_youth(request)
    birth = youth.date_of_birth
    if youth_id is not None:
        booking.check_youth(birth, today, request.has_guardian, rules)
    needs = needs_guardian(birth, today, rules.ages)
    if needs and consent is None:
        raise ConsentNotChosen()
    if booking.upcoming_appointment(youth.id, today) is not None:
        raise booking.AlreadyBooked()
    booking.check_healed(youth.id, today, rules)
    taken = _seats_taken(today)
    slot_plans = day_slots(plans[0])
    for _ in range(len(slot_plans)):
        chosen = walk_in_slot(slot_plans, taken, now.time())
        if chosen is None:
            raise NoFreeSeat()
        try:
            slot_id = booking.take_seat(chosen)
            break
        except booking.SlotUnavailable:
            taken[chosen.start] = chosen.seats  # filled meanwhile: try the next one
    else:
        raise NoFreeSeat()
    appointment = Appointment(
        code=booking.new_code(),
        youth_id=youth.id,
        slot_id=slot_id,
        status=VisitStatus.CHECKED_IN,
        submission_key=request.submission_key,
        walk_in=True,
        arrived_at=naive_utc(now),
        ticket=next_ticket(today),
        **(consent_values(consent, actor, now) if needs else {}),
    )
    appointment.intake = booking.intake_from(request)
    db.session.add(appointment)
    db.session.flush()
    db.session.add(
        StatusChange(
            appointment_id=appointment.id,
            action="walk_in",
            from_status=VisitStatus.BOOKED.value,
            to_status=VisitStatus.CHECKED_IN.value,
            staff_id=actor.id,
            at=naive_utc(now),
        )
    )
    return appointment


def _lock_known_youth(youth_id: int, now: datetime) -> Youth:
    """The record the desk chose, row-locked as ``upsert_youth`` locks one (so a booking for
    the same youth waits for this walk-in); a merged record stands for the one it went into."""
    for _ in range(2):
        locked = db.session.execute(
            update(Youth)
            .where(Youth.id == youth_id, Youth.purged_at.is_(None))
            .values(updated_at=naive_utc(now))
            .execution_options(synchronize_session=False)
        ).rowcount
        if locked != 1:
            raise NotFound()
        youth = db.session.scalars(
            select(Youth).where(Youth.id == youth_id).execution_options(populate_existing=True)
        ).one()
        if youth.merged_into_id is None:
            return youth
        youth_id = youth.merged_into_id
    raise NotFound()


def walk_in_seats(rules: ClinicRules, now: datetime) -> int | None:
    """Free seats a walk-in could still take today, or None when there is no clinic today.

    The same count the day sheet and the schedule show (``rules.counts.seats_left``): the
    free seats of the slots not over yet; a blocked slot has none.
    """
    today = now.date()
    plans = booking.day_plans(today, today, rules)
    if not plans:
        return None
    rows = {
        row.start_time: row
        for row in db.session.execute(
            select(Slot.start_time, Slot.booked, Slot.blocked).where(Slot.day == today)
        )
    }
    return seats_left(
        today,
        (
            SlotSeats(
                slot.start,
                slot.end,
                slot.seats,
                rows[slot.start].booked if slot.start in rows else 0,
                bool(rows[slot.start].blocked) if slot.start in rows else False,
            )
            for slot in day_slots(plans[0])
        ),
        now,
    )


@dataclass(frozen=True)
class OpenDay:
    day: date
    seats_left: int


def other_days(rules: ClinicRules, now: datetime, limit: int = 3) -> list[OpenDay]:
    """The next clinic days after today with seats to book: where a youth turned away today
    can go instead."""
    return [
        OpenDay(day.plan.day, day.seats_left)
        for day in booking.upcoming_days(rules, now)
        if day.plan.day > now.date() and day.seats_left > 0
    ][:limit]


def _seats_taken(day: date) -> dict[time, int]:
    """Seats taken per slot start; a blocked slot counts as full."""
    rows = db.session.execute(
        select(Slot.start_time, Slot.booked, Slot.blocked).where(Slot.day == day)
    )
    return {row.start_time: 10**6 if row.blocked else row.booked for row in rows}
