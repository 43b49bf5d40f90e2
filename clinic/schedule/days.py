"""A date of the schedule as stored and as it will run: its setting (the ``ClinicDay`` row:
closed, extra, other hours or seats), the plan it makes with the clinic's defaults, the state
of its slots, and the bookings a change would leave without a seat, as the admin sees them.
Shared by the overview (reads) and the changes (writes)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, time

from dateutil.relativedelta import relativedelta
from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from clinic.booking.roster import rostered_ids
from clinic.extensions import db
from clinic.models import Appointment, ClinicDay, Slot, StatusChange
from clinic.rules.calendar import (
    DayException,
    DayPlan,
    plan_days,
)
from clinic.rules.eligibility import needs_guardian
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import VisitStatus

# How far ahead the schedule page looks, and how far ahead an extra day may be added (so
# that every extra day is on the page that manages it).
HORIZON = relativedelta(months=6)


MAX_SLOT_MINUTES = 240


MAX_SEATS = 20


NOTE_LENGTH = 200


# The history action of an appointment cancelled because its day or time was taken out of the
# schedule. Not the desk's "cancel": it must not be undone from the day sheet (that would put a
# booking back on a closed day), and the contact list finds these by it.
SCHEDULE_CANCEL = "schedule_cancel"


# Bookings a change may cancel or move: still ahead of the youth. Completed, no-show and
# cancelled ones are history; someone in treatment is already being seen.
ACTIVE = (VisitStatus.BOOKED, VisitStatus.CHECKED_IN)


class Resolution(enum.StrEnum):
    """What the admin chose for the bookings a change would strand."""

    CANCEL = "cancel"  # cancel them; staff contact them
    MOVE = "move"  # to the nearest free time the same day
    KEEP = "keep"  # fewer seats or shorter hours: they stay, listed on the day sheet


@dataclass(frozen=True)
class Affected:
    """A booking a change would strand (or did: the call list), with what the admin needs to
    decide and to call."""

    id: int
    code: str
    start: time
    status: str
    name: str
    phone: str | None
    email: str | None
    language: str
    minor: bool
    guardian_name: str | None
    guardian_phone: str | None


@dataclass(frozen=True)
class Hours:
    """Hours, slot length and seats for one date; None keeps the clinic's default."""

    start: time | None = None
    end: time | None = None
    slot_minutes: int | None = None
    seats: int | None = None


def horizon_end(today: date) -> date:
    return today + HORIZON


@dataclass(frozen=True)
class Setting:
    """What a date's ``ClinicDay`` row says, as a value a change can replace."""

    closed: bool = False
    extra: bool = False
    hours: Hours = Hours()
    note: str | None = None


def setting_of(row: ClinicDay | None) -> Setting | None:
    if row is None:
        return None
    return Setting(row.closed, row.extra, hours_of(row), row.note)


def hours_of(row: ClinicDay | None) -> Hours:
    if row is None:
        return Hours()
    return Hours(row.start_time, row.end_time, row.slot_minutes, row.seats)


def clinic_day_row(day: date) -> ClinicDay | None:
    return db.session.scalar(select(ClinicDay).where(ClinicDay.day == day))


def plan_for(
    day: date, setting: Setting | None, rules: ClinicRules, clinicians: int | None = None
) -> DayPlan | None:
    """The date as it runs with this setting and ``clinicians`` on its roster (None: as many
    as its roster has now, read here)."""
    if clinicians is None:
        clinicians = len(rostered_ids(day))
    exceptions = []
    if setting is not None:
        hours = setting.hours
        exceptions.append(
            DayException(
                day=day,
                closed=setting.closed,
                extra=setting.extra,
                start=hours.start,
                end=hours.end,
                slot_minutes=hours.slot_minutes,
                seats=hours.seats,
            )
        )
    plans = plan_days(day, day, rules.day, exceptions, {day: clinicians})
    return plans[0] if plans else None


def minutes_of(value: time) -> int:
    return value.hour * 60 + value.minute


def is_schedule_cancelled():
    return (Appointment.status == VisitStatus.CANCELLED) & exists().where(
        StatusChange.appointment_id == Appointment.id, StatusChange.action == SCHEDULE_CANCEL
    )


def affected_booking(
    appointment: Appointment, start: time, day: date, rules: ClinicRules
) -> Affected:
    """Plain values (they outlive the transaction), contact from the booking's own intake
    first: contact details belong to a booking."""
    youth = appointment.youth
    intake = appointment.intake
    source = intake if intake is not None else youth
    minor = youth.date_of_birth <= day and needs_guardian(youth.date_of_birth, day, rules.ages)
    return Affected(
        id=appointment.id,
        code=appointment.code,
        start=start,
        status=appointment.status,
        name=youth.display_name,
        phone=source.phone or youth.phone,
        email=source.email or youth.email,
        language=source.language or youth.language,
        minor=minor,
        guardian_name=(source.guardian_name or youth.guardian_name) if minor else None,
        guardian_phone=(source.guardian_phone or youth.guardian_phone) if minor else None,
    )


@dataclass
class DayState:
    """A date as it stands, read under its exclusive lock."""

    row: ClinicDay | None
    plan: DayPlan | None
    slots: list[Slot]
    roster: frozenset[int] = frozenset()  # the clinicians who count on its roster

    @property
    def blocked(self) -> frozenset[time]:
        return frozenset(slot.start_time for slot in self.slots if slot.blocked)


def load_day(day: date, rules: ClinicRules) -> DayState:
    row = clinic_day_row(day)
    slots = db.session.scalars(
        select(Slot)
        .where(Slot.day == day)
        .options(
            selectinload(Slot.appointments).options(
                selectinload(Appointment.youth), selectinload(Appointment.intake)
            )
        )
        .order_by(Slot.start_time)
    ).all()
    roster = rostered_ids(day)
    return DayState(row, plan_for(day, setting_of(row), rules, len(roster)), list(slots), roster)
