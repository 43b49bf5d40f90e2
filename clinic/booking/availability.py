"""Reading the schedule: which clinic days and times are open, with how many seats, and the
appointments a youth already holds. Reads only; nothing here writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from clinic.booking.roster import rostered_counts
from clinic.extensions import db
from clinic.models import Appointment, AppointmentStatus, ClinicDay, Slot, Treatment
from clinic.rules.calendar import DayPlan, SlotPlan, clinic_days, day_slots, plan_days
from clinic.rules.eligibility import SlotState, slot_start, slot_state
from clinic.rules.policy import ClinicRules


@dataclass(frozen=True)
class SlotAvailability:
    plan: SlotPlan
    capacity: int
    booked: int
    state: SlotState

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.booked, 0)

    @property
    def bookable(self) -> bool:
        return self.state is SlotState.OPEN


@dataclass(frozen=True)
class DayAvailability:
    plan: DayPlan
    slots: list[SlotAvailability]
    closed: ClassVar[bool] = False  # as ``ClosedDay``: the days page lists both

    @property
    def seats_left(self) -> int:
        """Seats that can still be booked: free seats in slots still open for booking."""
        return sum(s.seats_left for s in self.slots if s.bookable)

    @property
    def bookable(self) -> bool:
        return any(s.bookable for s in self.slots)

    @property
    def full(self) -> bool:
        """No seat can be booked because seats ran out (rather than booking having closed)."""
        return not self.bookable and any(s.state is SlotState.FULL for s in self.slots)


@dataclass(frozen=True)
class ClosedDay:
    """A clinic day staff cancelled, with the reason they gave: the days page shows it, so a
    youth who expected the usual Tuesday learns why it is missing instead of guessing."""

    day: date
    reason: str | None
    closed: ClassVar[bool] = True
    bookable: ClassVar[bool] = False


def _staff_changes(start: date, end: date) -> list[ClinicDay]:
    return list(db.session.scalars(select(ClinicDay).where(ClinicDay.day.between(start, end))))


def day_plans(start: date, end: date, rules: ClinicRules) -> list[DayPlan]:
    """The clinic days from ``start`` to ``end`` as they will run, staff changes applied."""
    exceptions = _staff_changes(start, end)
    return plan_days(
        start,
        end,
        rules.day,
        [row.as_exception() for row in exceptions],
        rostered_counts(start, end),
    )


def _availability(
    plans: Sequence[DayPlan], rules: ClinicRules, now: datetime
) -> list[DayAvailability]:
    """Combine the rule's slots with the seat counters of slots already in the database."""
    if not plans:
        return []
    rows = db.session.scalars(
        select(Slot).where(Slot.day.between(plans[0].day, plans[-1].day))
    ).all()
    by_key = {(row.day, row.start_time): row for row in rows}
    days = []
    for plan in plans:
        slots = []
        for slot_plan in day_slots(plan):
            row = by_key.get((plan.day, slot_plan.start))
            capacity = slot_plan.seats  # the plan, with staff changes, is the truth
            booked = row.booked if row else 0
            starts_at = slot_start(plan.day, slot_plan.start, rules.zone)
            state = slot_state(
                starts_at, capacity - booked, now, rules.window, blocked=bool(row and row.blocked)
            )
            slots.append(SlotAvailability(slot_plan, capacity, booked, state))
        days.append(DayAvailability(plan, slots))
    return days


def upcoming_days(rules: ClinicRules, now: datetime) -> list[DayAvailability]:
    """The clinic days open for booking from today to the end of the booking window."""
    today = now.date()
    plans = day_plans(today, rules.window.last_day(today), rules)
    return [day for day in _availability(plans, rules, now) if day.slots and day.plan.seats > 0]


def days_to_book(rules: ClinicRules, now: datetime) -> list[DayAvailability | ClosedDay]:
    """The days page: ``upcoming_days`` and, in date order among them, the clinic days staff
    closed, with their reason. The same two statements as ``upcoming_days``: the staff changes
    read once serve both the plans and the closed days."""
    today = now.date()
    last = rules.window.last_day(today)
    changes = _staff_changes(today, last)
    exceptions = [row.as_exception() for row in changes]
    plans = plan_days(today, last, rules.day, exceptions, rostered_counts(today, last))
    open_days = [
        day for day in _availability(plans, rules, now) if day.slots and day.plan.seats > 0
    ]
    # Only a day the clinic would have opened: a closed row on any other date announces
    # nothing (the rule's regular days, or an extra day staff added and then closed).
    regular = set(clinic_days(today, last))
    closed = [
        ClosedDay(row.day, row.note)
        for row in changes
        if row.closed and (row.extra or row.day in regular)
    ]
    return sorted([*open_days, *closed], key=_day_of)


def _day_of(entry: DayAvailability | ClosedDay) -> date:
    return entry.day if isinstance(entry, ClosedDay) else entry.plan.day


def day_availability(day: date, rules: ClinicRules, now: datetime) -> DayAvailability | None:
    """One clinic day's slots and seats, or None if the clinic does not open that day."""
    plans = day_plans(day, day, rules)
    found = _availability(plans, rules, now)
    return found[0] if found else None


def next_clinic_day(rules: ClinicRules, today: date) -> date | None:
    """Today if the clinic opens today, else the next clinic day within a year."""
    plans = day_plans(today, today + timedelta(days=366), rules)
    return plans[0].day if plans else None


# An appointment still ahead of the youth: booked, or under way on the day itself.
UPCOMING = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_TREATMENT)


def upcoming_appointment(
    youth_id: int, today: date, exclude_id: int | None = None
) -> Appointment | None:
    """The youth's appointment from ``today`` on that is not over, if any (at most one)."""
    return db.session.scalars(
        select(Appointment)
        .join(Appointment.slot)
        .where(
            Appointment.youth_id == youth_id,
            Appointment.status.in_(UPCOMING),
            Slot.day >= today,
            Appointment.id != (exclude_id or 0),
        )
        .options(joinedload(Appointment.slot))
    ).first()


def last_treatment_day(youth_id: int) -> date | None:
    """The day of the youth's latest treatment, if any."""
    return db.session.scalar(select(func.max(Treatment.day)).where(Treatment.youth_id == youth_id))


def last_treatment(youth_id: int) -> tuple[date, int] | None:
    """The day of the youth's latest treatment and its appointment's id, if any."""
    row = db.session.execute(
        select(Treatment.day, Treatment.appointment_id)
        .where(Treatment.youth_id == youth_id)
        .order_by(Treatment.day.desc(), Treatment.id.desc())
        .limit(1)
    ).first()
    return (row.day, row.appointment_id) if row else None


def find_by_submission(submission_key: str) -> Appointment | None:
    """The appointment a form already made, with what ``is_repeat_of`` compares."""
    return db.session.scalar(
        select(Appointment)
        .where(Appointment.submission_key == submission_key)
        .options(joinedload(Appointment.youth), joinedload(Appointment.slot))
    )


def confirmed_appointment(appointment_id: int) -> Appointment | None:
    """A booked (not cancelled) appointment with its slot and youth, for the confirmation."""
    return db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id, Appointment.status == AppointmentStatus.BOOKED)
        .options(
            selectinload(Appointment.slot),
            selectinload(Appointment.youth),
            selectinload(Appointment.intake),
        )
    )
