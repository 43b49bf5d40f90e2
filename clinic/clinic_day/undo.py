"""Undoing a mis-tap: the appointment's latest move reverted, once, on the day it was made, by
a role allowed to make it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from clinic import audit, booking
from clinic.clinic_day.current import (
    Current,
    Moved,
    give_seat_back,
    load,
)
from clinic.clinic_day.errors import (
    ChangedMeanwhile,
    NothingToUndo,
    OtherAppointment,
    ScheduleChanged,
    SeatTaken,
    StationBusy,
)
from clinic.database import lock_day, write_transaction
from clinic.extensions import db
from clinic.messaging import outbox
from clinic.models import (
    Actor,
    Appointment,
    Slot,
    StaffUser,
    StatusChange,
    Treatment,
    Youth,
    naive_utc,
)
from clinic.permissions import UNDO_ACTION, can, require
from clinic.rules.calendar import find_slot
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import (
    VisitAction,
    VisitStatus,
    seat_change,
)

# What undoing a move clears, besides the status.
_UNDO_CLEARS: dict[str, dict[str, object]] = {
    VisitAction.CHECK_IN: {"arrived_at": None, "ticket": None},
    VisitAction.CALL: {"station": None, "station_day": None, "called_at": None},
    VisitAction.COMPLETE: {"completed_at": None},
    VisitAction.NO_SHOW: {},
    VisitAction.CANCEL: {"cancelled_at": None, "cancelled_by_id": None},
}


def last_change(appointment_id: int) -> StatusChange | None:
    return db.session.scalar(
        select(StatusChange)
        .where(StatusChange.appointment_id == appointment_id)
        .order_by(StatusChange.id.desc())
        .limit(1)
    )


def undoable(change: StatusChange | None, role: str, today: date, rules: ClinicRules) -> bool:
    """Whether ``change`` can be undone by someone with ``role`` today.

    Rule: only the latest move of an appointment, only once, only on the day it was made,
    and only by a role allowed to make that move; never a youth's own change from their link
    (it was no mis-tap of staff's: if they want the seat back, staff book them again).
    """
    if change is None or change.undone_at is not None or change.action not in UNDO_ACTION:
        return False
    if change.actor != Actor.STAFF:
        return False
    made_on = change.at.replace(tzinfo=UTC).astimezone(rules.zone).date()
    return made_on == today and can(role, UNDO_ACTION[change.action])


def undo(appointment_id: int, actor: StaffUser, now: datetime, rules: ClinicRules) -> Moved:
    """Revert the appointment's latest move (a mis-tap): its status and what it recorded.

    Undoing a completion removes the treatment it recorded; undoing a no-show or a cancel
    takes the seat back if it is still free.
    """
    with write_transaction():
        change = last_change(appointment_id)
        if change is None or not undoable(change, actor.role, now.date(), rules):
            if change is not None and change.action in UNDO_ACTION:
                require(actor.role, UNDO_ACTION[change.action])
            raise NothingToUndo()
        current = load(appointment_id)
        if current.status != change.to_status:
            raise ChangedMeanwhile()
        back = VisitStatus(change.from_status)
        delta = seat_change(current.status, back)
        seats = _seats_to_return_to(current, now, rules) if delta > 0 else 0
        values = dict(_UNDO_CLEARS[change.action])
        if change.action == VisitAction.COMPLETE:
            removed = db.session.scalars(
                delete(Treatment)
                .where(Treatment.appointment_id == current.id)
                .returning(Treatment.id)
            ).all()
            for treatment_id in removed:
                audit.changed(
                    "treatment", treatment_id, youth_id=current.youth_id, action=audit.DELETE
                )
        try:
            with db.session.begin_nested():
                changed = db.session.execute(
                    update(Appointment)
                    .where(Appointment.id == current.id, Appointment.status == current.status)
                    .values(status=back, **values)
                    .execution_options(synchronize_session=False)
                ).rowcount
        except IntegrityError:
            raise StationBusy(current.station or "") from None
        if changed != 1:
            raise ChangedMeanwhile()
        audit.changed(
            "appointment",
            current.id,
            ["status", *values],
            youth_id=current.youth_id,
            detail={"change": "undo", "undone": str(change.action)},
        )
        if delta > 0:
            _retake_seat(current.slot_id, seats)
        else:
            give_seat_back(current.slot_id, delta)
        marked = db.session.execute(
            update(StatusChange)
            .where(StatusChange.id == change.id, StatusChange.undone_at.is_(None))
            .values(undone_at=naive_utc(now), undone_by_id=actor.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if marked != 1:
            raise ChangedMeanwhile()
        if change.action == VisitAction.CANCEL and back is VisitStatus.BOOKED:
            outbox.restored(current.id, now, staff_id=actor.id)
        elif change.action == VisitAction.COMPLETE:
            outbox.untreated(current.id)
    return Moved(current.id, current.code, current.day, current.status, back)


def _seats_to_return_to(current: Current, now: datetime, rules: ClinicRules) -> int:
    """Check that a no-show or cancellation can be undone: its time is still offered and the
    youth holds no other upcoming appointment. Returns the slot's seats under today's plan.

    Taken under the day's lock (shared, as a booking), so a schedule change cannot pass in
    between; the youth's row lock keeps a booking of theirs from slipping in meanwhile.
    """
    lock_day(current.day, exclusive=False)
    plans = booking.day_plans(current.day, current.day, rules)
    slot_plan = find_slot(plans[0], current.start) if plans else None
    if slot_plan is None:
        raise ScheduleChanged()
    db.session.execute(
        update(Youth)
        .where(Youth.id == current.youth_id)
        .values(updated_at=naive_utc(now))
        .execution_options(synchronize_session=False)
    )
    if booking.upcoming_appointment(current.youth_id, now.date(), exclude_id=current.id):
        raise OtherAppointment()
    return slot_plan.seats


def _retake_seat(slot_id: int, seats: int) -> None:
    """Take a seat back on the same terms as a booking: a free seat, the slot not blocked."""
    taken = db.session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked < seats, Slot.blocked.is_(False))
        .values(booked=Slot.booked + 1, capacity=seats)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise SeatTaken()
