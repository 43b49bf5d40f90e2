"""Walk-ins: a youth who came without an appointment takes a free seat of today's remaining
slots, under the same intake and rules as a booking, and joins the queue at once."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select

from clinic import booking
from clinic.clinic_day.current import (
    consent_values,
    next_ticket,
)
from clinic.clinic_day.errors import FormReused, NoClinicToday, NoFreeSeat
from clinic.database import lock_day, retrying_transaction
from clinic.extensions import db
from clinic.models import (
    Appointment,
    Consent,
    Slot,
    StaffUser,
    StatusChange,
    naive_utc,
)
from clinic.permissions import Action, require
from clinic.rules.calendar import day_slots
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
) -> Appointment:
    """Add a youth who came without an appointment: same intake and age rule as booking, a
    free seat of today's remaining slots, checked in at once with a ticket.

    Rule: today only, on a clinic day; the earliest slot not yet over with a free seat
    (``walk_in_slot``), taken with the same conditional UPDATE as a booking. A
    youth who already holds an upcoming appointment is told to check in to that one.
    """
    require(actor.role, Action.CHECK_IN)
    today = now.date()
    request.day = today
    return retrying_transaction(lambda: _walk_in_once(request, actor, now, rules, consent))


def _walk_in_once(request, actor, now, rules, consent) -> Appointment:
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
    booking.check_youth(request.date_of_birth, today, request.has_guardian, rules)
    youth = booking.upsert_youth(request)
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
    needs = needs_guardian(request.date_of_birth, today, rules.ages)
    appointment = Appointment(
        code=booking.new_code(),
        youth_id=youth.id,
        slot_id=slot_id,
        status=VisitStatus.CHECKED_IN,
        submission_key=request.submission_key,
        walk_in=True,
        arrived_at=naive_utc(now),
        ticket=next_ticket(today),
        **(consent_values(consent or Consent.MISSING, actor, now) if needs else {}),
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


def walk_in_seats(rules: ClinicRules, now: datetime) -> int | None:
    """Free seats a walk-in could still take today, or None when there is no clinic today."""
    today = now.date()
    plans = booking.day_plans(today, today, rules)
    if not plans:
        return None
    taken = _seats_taken(today)
    return sum(
        max(slot.seats - taken.get(slot.start, 0), 0)
        for slot in day_slots(plans[0])
        if slot.end > now.time()
    )


def _seats_taken(day: date) -> dict[time, int]:
    """Seats taken per slot start; a blocked slot counts as full."""
    rows = db.session.execute(
        select(Slot.start_time, Slot.booked, Slot.blocked).where(Slot.day == day)
    )
    return {row.start_time: 10**6 if row.blocked else row.booked for row in rows}
