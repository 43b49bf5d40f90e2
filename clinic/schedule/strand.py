"""The bookings a schedule change strands, and the admin's choice for them: cancel them (staff
call them), move them to the nearest free time the same day, or keep them where the slot
keeps its length. Called inside the change's transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, time

from sqlalchemy import update

from clinic import audit, booking
from clinic.extensions import db
from clinic.messaging import outbox
from clinic.models import Appointment, Slot, StaffUser, StatusChange, naive_utc
from clinic.rules.calendar import (
    DayPlan,
    SlotPlan,
    day_slots,
)
from clinic.rules.messages import Kind
from clinic.rules.policy import ClinicRules
from clinic.rules.schedule import stranded_bookings
from clinic.rules.visits import SEAT_HOLDING, VisitAction, VisitStatus, next_status, seat_change
from clinic.schedule.days import (
    ACTIVE,
    SCHEDULE_CANCEL,
    Affected,
    DayState,
    Resolution,
    affected_booking,
    minutes_of,
)
from clinic.schedule.errors import (
    ChangedMeanwhile,
)


def stranded_by(
    current: DayState,
    new_plan: DayPlan | None,
    new_blocked: Iterable[time],
    rules: ClinicRules,
    day: date,
) -> list[Affected]:
    """The bookings still ahead that the new plan leaves without a seat.

    Per slot, ``stranded_bookings`` says how many seats are stranded: all of them
    when the time goes, the surplus when its seats shrink. Of a surplus, the newest bookings
    not yet arrived go first; history (completed, in treatment) is never touched.
    """
    holding = {
        slot.start_time: [a for a in slot.appointments if a.status in SEAT_HOLDING]
        for slot in current.slots
    }
    counts = {start: len(held) for start, held in holding.items()}
    affected = []
    for stranded in stranded_bookings(counts, new_plan, new_blocked):
        active = [a for a in holding[stranded.start] if a.status in ACTIVE]
        active.sort(key=lambda a: (a.status == VisitStatus.CHECKED_IN, -a.id))
        affected += [
            affected_booking(a, stranded.start, day, rules) for a in active[: stranded.count]
        ]
    return sorted(affected, key=lambda a: (a.start, a.id))


def options_for(
    old_plan: DayPlan | None, new_plan: DayPlan | None, keep_allowed: bool
) -> tuple[Resolution, ...]:
    """The choices a change offers for the bookings it strands: with no clinic left that
    day, only cancelling; keeping them only where their slot keeps its length (fewer seats,
    shorter hours), so the day sheet still lists them at their own time."""
    if new_plan is None:
        return (Resolution.CANCEL,)
    if keep_allowed and old_plan is not None and new_plan.slot_minutes == old_plan.slot_minutes:
        return (Resolution.CANCEL, Resolution.MOVE, Resolution.KEEP)
    return (Resolution.CANCEL, Resolution.MOVE)


def placements_for(
    affected: list[Affected],
    current: DayState,
    new_plan: DayPlan | None,
    new_blocked: frozenset[time],
    now: datetime,
) -> list[tuple[Affected, SlotPlan]] | None:
    """Where each stranded booking goes: the nearest time the same day (the earlier one on a
    tie) with a free seat in the new plan, not blocked and not started yet. None if not all
    of them fit."""
    if new_plan is None:
        return None
    leaving = Counter(a.start for a in affected)
    held = {
        slot.start_time: sum(a.status in SEAT_HOLDING for a in slot.appointments)
        for slot in current.slots
    }
    slots = {
        slot.start: slot
        for slot in day_slots(new_plan)
        if slot.start not in new_blocked and (new_plan.day > now.date() or slot.start > now.time())
    }
    free = {
        start: slot.seats - (held.get(start, 0) - leaving[start]) for start, slot in slots.items()
    }
    placements = []
    for item in affected:
        choices = [start for start, seats in free.items() if seats > 0]
        if not choices:
            return None
        target = min(choices, key=lambda s: (abs(minutes_of(s) - minutes_of(item.start)), s))
        free[target] -= 1
        placements.append((item, slots[target]))
    return placements


def cancel_stranded(affected: list[Affected], actor: StaffUser, now: datetime) -> list[str]:
    """Cancel each booking as last read (conditional on that status), free its seat, and
    record the move as a schedule cancellation."""
    at = naive_utc(now)
    codes = []
    for item in affected:
        old = VisitStatus(item.status)
        new = next_status(old, VisitAction.CANCEL)
        slot_id = db.session.execute(
            update(Appointment)
            .where(Appointment.id == item.id, Appointment.status == old)
            .values(status=new, cancelled_at=at, cancelled_by_id=actor.id)
            .returning(Appointment.slot_id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if slot_id is None:
            raise ChangedMeanwhile()
        if seat_change(old, new) < 0:
            free_seat(slot_id)
        db.session.add(
            StatusChange(
                appointment_id=item.id,
                action=SCHEDULE_CANCEL,
                from_status=old.value,
                to_status=new.value,
                staff_id=actor.id,
                at=at,
            )
        )
        if old is VisitStatus.BOOKED:
            outbox.cancelled(item.id, now, kind=Kind.CLINIC_CANCELLED, staff_id=actor.id)
        codes.append(item.code)
    return codes


def move_stranded(
    placements: list[tuple[Affected, SlotPlan]],
    current: DayState,
    actor: StaffUser,
    now: datetime,
) -> list[tuple[str, time, time]]:
    """Give each booking a seat at its new time (the same conditional UPDATE as a booking),
    then free its old one. The appointment keeps its code and status."""
    old_slot = {a.id: slot.id for slot in current.slots for a in slot.appointments}
    moved = []
    for item, target in placements:
        try:
            slot_id = booking.take_seat(target)
        except booking.SlotUnavailable:
            # Bookings and walk-ins wait for the day's lock; only a desk move that does not
            # take it (an undo) can have taken this seat. Look at the day again.
            raise ChangedMeanwhile() from None
        changed = db.session.execute(
            update(Appointment)
            .where(
                Appointment.id == item.id,
                Appointment.status == item.status,
                Appointment.slot_id == old_slot[item.id],
            )
            .values(slot_id=slot_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            raise ChangedMeanwhile()
        audit.changed("appointment", item.id, ["slot_id"], detail={"change": "schedule_move"})
        free_seat(old_slot[item.id])
        if item.status == VisitStatus.BOOKED and target.start != item.start:
            outbox.moved(item.id, item.start, now, staff_id=actor.id)
        moved.append((item.code, item.start, target.start))
    return moved


def free_seat(slot_id: int) -> None:
    db.session.execute(
        update(Slot)
        .where(Slot.id == slot_id)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )
