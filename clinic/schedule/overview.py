"""Reading the schedule: the coming clinic days with their seats, one date as the admin edits
it, and the call list of the youth a schedule change cancelled. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from clinic.booking.roster import rostered_counts
from clinic.extensions import db
from clinic.models import Appointment, ClinicDay, Slot
from clinic.rules.calendar import (
    DayPlan,
    clinic_days,
    day_slots,
    plan_days,
)
from clinic.rules.counts import SlotSeats, seats_left
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import VisitStatus
from clinic.schedule.days import (
    Affected,
    Hours,
    affected_booking,
    clinic_day_row,
    horizon_end,
    hours_of,
    is_schedule_cancelled,
    plan_for,
    setting_of,
)


@dataclass(frozen=True)
class ScheduleDay:
    """One date of the schedule page: a clinic day (regular or extra), or a closed one."""

    day: date
    plan: DayPlan | None  # None: closed
    note: str | None
    changed: bool  # hours, slot length or seats differ from the defaults
    slots: int
    seats: int  # seats of the slots that are not blocked
    booked: int  # seats taken: appointments, walk-ins and offers held
    seats_left: int  # clinic.rules.counts.seats_left: the day page shows the same
    blocked: int
    appointments: int = 0  # not cancelled: the day page's "appointments"

    @property
    def closed(self) -> bool:
        return self.plan is None

    @property
    def extra(self) -> bool:
        return bool(self.plan and self.plan.extra)


def overview(rules: ClinicRules, today: date, now: datetime | None = None) -> list[ScheduleDay]:
    """The clinic days from ``today`` to six months ahead, with the closed ones among them,
    and for each its seats booked and left and its appointments, counted as the day page
    counts them (``clinic.rules.counts``); with ``now``, today's seats left are those of
    the slots not over yet, as on the day page.

    Three queries whatever the number of days or bookings: the staff changes of the range,
    the slot rows of the range that hold a booking or are blocked, and the appointments per
    day.
    """
    now = now or datetime.combine(today, time.min)
    end = horizon_end(today)
    rows = {
        row.day: row
        for row in db.session.scalars(select(ClinicDay).where(ClinicDay.day.between(today, end)))
    }
    plans = plan_days(
        today,
        end,
        rules.day,
        [row.as_exception() for row in rows.values()],
        rostered_counts(today, end),
    )
    booked: dict[date, dict[time, int]] = {}
    blocked: dict[date, set[time]] = {}
    for slot_day, start, taken, is_blocked in db.session.execute(
        select(Slot.day, Slot.start_time, Slot.booked, Slot.blocked).where(
            Slot.day.between(today, end), or_(Slot.booked > 0, Slot.blocked.is_(True))
        )
    ):
        booked.setdefault(slot_day, {})[start] = taken
        if is_blocked:
            blocked.setdefault(slot_day, set()).add(start)

    appointments = dict(
        db.session.execute(
            select(Slot.day, func.count())
            .join(Appointment, Appointment.slot_id == Slot.id)
            .where(Slot.day.between(today, end), Appointment.status != VisitStatus.CANCELLED)
            .group_by(Slot.day)
        ).all()
    )
    days = []
    for plan in plans:
        taken = booked.get(plan.day, {})
        shut = blocked.get(plan.day, set())
        open_slots = [s for s in day_slots(plan) if s.start not in shut]
        seats = [
            SlotSeats(s.start, s.end, s.seats, taken.get(s.start, 0), s.start in shut)
            for s in day_slots(plan)
        ]
        row = rows.get(plan.day)
        days.append(
            ScheduleDay(
                day=plan.day,
                plan=plan,
                note=None,
                changed=row is not None
                and any(
                    value is not None
                    for value in (row.start_time, row.end_time, row.slot_minutes, row.seats)
                ),
                slots=len(day_slots(plan)),
                seats=sum(s.seats for s in open_slots),
                booked=sum(taken.values()),
                seats_left=seats_left(plan.day, seats, now),
                blocked=len(shut),
                appointments=appointments.get(plan.day, 0),
            )
        )
    for row in rows.values():
        if row.closed and (row.extra or clinic_days(row.day, row.day)):
            days.append(
                ScheduleDay(
                    day=row.day,
                    plan=None,
                    note=row.note,
                    changed=False,
                    slots=0,
                    seats=0,
                    booked=sum(booked.get(row.day, {}).values()),
                    seats_left=0,
                    blocked=0,
                    appointments=appointments.get(row.day, 0),
                )
            )
    return sorted(days, key=lambda d: d.day)


@dataclass(frozen=True)
class EditorSlot:
    start: time
    end: time
    seats: int
    booked: int
    blocked: bool
    in_plan: bool  # False: a slot outside the day's hours that still holds bookings

    @property
    def seats_left(self) -> int:
        return 0 if self.blocked else max(self.seats - self.booked, 0)


@dataclass(frozen=True)
class DayEditor:
    """One date as the admin edits it."""

    day: date
    plan: DayPlan | None  # None: closed
    regular: bool  # a day the rule makes (else an extra day)
    closed: bool
    note: str | None
    hours: Hours  # what staff set for this date (None: the default)
    slots: list[EditorSlot]
    cancelled: int  # appointments cancelled by schedule changes: the contact list

    @property
    def extra(self) -> bool:
        return not self.regular

    @property
    def booked(self) -> int:
        return sum(slot.booked for slot in self.slots)


def day_editor(day: date, rules: ClinicRules) -> DayEditor | None:
    """One date with its slots, seats and blocks, or None when it is not a clinic day (on
    the rule or extra) and was not closed either."""
    row = clinic_day_row(day)
    regular = bool(clinic_days(day, day))
    if not regular and not (row and row.extra):
        return None
    plan = plan_for(day, setting_of(row), rules)
    rows = db.session.scalars(select(Slot).where(Slot.day == day).order_by(Slot.start_time)).all()
    by_start = {slot.start_time: slot for slot in rows}
    slots = [
        EditorSlot(
            s.start,
            s.end,
            s.seats,
            by_start[s.start].booked if s.start in by_start else 0,
            bool(s.start in by_start and by_start[s.start].blocked),
            True,
        )
        for s in (day_slots(plan) if plan else [])
    ]
    planned = {slot.start for slot in slots}
    slots += [
        EditorSlot(slot.start_time, slot.end_time, 0, slot.booked, slot.blocked, False)
        for slot in rows
        if slot.start_time not in planned and slot.booked > 0
    ]
    return DayEditor(
        day=day,
        plan=plan,
        regular=regular,
        closed=bool(row and row.closed),
        note=row.note if row and row.closed else None,
        hours=hours_of(row),
        slots=sorted(slots, key=lambda s: s.start),
        cancelled=_count_schedule_cancelled(day),
    )


def _count_schedule_cancelled(day: date) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Appointment)
            .join(Slot, Slot.id == Appointment.slot_id)
            .where(Slot.day == day, is_schedule_cancelled())
        )
        or 0
    )


def cancelled_by_schedule(day: date, rules: ClinicRules) -> list[Affected]:
    """The appointments of ``day`` that a schedule change cancelled, in time order, with the
    contact given on each booking (else the youth's record): the admin's call list."""
    rows = db.session.execute(
        select(Appointment, Slot.start_time)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Slot.day == day, is_schedule_cancelled())
        .options(selectinload(Appointment.youth), selectinload(Appointment.intake))
        .order_by(Slot.start_time, Appointment.id)
    ).all()
    return [affected_booking(appointment, start, day, rules) for appointment, start in rows]
