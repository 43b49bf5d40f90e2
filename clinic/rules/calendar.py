"""Clinic days and their slots: which dates the clinic opens, as staff changed them, and the
appointment times of each.

Pure: the standard library and dateutil only, no Flask, no SQLAlchemy, no clock. Dates and
times are the clinic's wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.rrule import MONTHLY, TU, rrule

# --- Clinic days -------------------------------------------------------------------------


def clinic_days(start: date, end: date) -> list[date]:
    """Return the regular clinic days from ``start`` to ``end``, both inclusive.

    Rule: the clinic opens on the second-to-last and the last Tuesday of every month,
    whether the month has four Tuesdays or five.
    """
    if end < start:
        return []
    recurrence = rrule(
        MONTHLY,
        byweekday=(TU(-2), TU(-1)),
        dtstart=datetime.combine(start, time()),
        until=datetime.combine(end, time()),
    )
    return [occurrence.date() for occurrence in recurrence]


@dataclass(frozen=True)
class DayDefaults:
    """The shape of an ordinary clinic day (settings)."""

    start: time = time(16, 0)
    end: time = time(20, 0)
    slot_minutes: int = 20
    seats: int = 2
    # A day with a clinician roster opens this many seats per slot for each clinician on it.
    seats_per_clinician: int = 1


@dataclass(frozen=True)
class DayException:
    """A per-date change to the regular schedule, as stored by staff.

    ``closed`` cancels the day; ``extra`` adds a day the rule does not generate; any other
    field left as None keeps the default for that date.
    """

    day: date
    closed: bool = False
    extra: bool = False
    start: time | None = None
    end: time | None = None
    slot_minutes: int | None = None
    seats: int | None = None


@dataclass(frozen=True)
class DayPlan:
    """One clinic day as it will actually run, after exceptions are applied."""

    day: date
    start: time
    end: time
    slot_minutes: int
    seats: int
    extra: bool = False
    # Clinicians on the day's roster; 0: no roster, the day runs on the defaults.
    clinicians: int = 0


def roster_seats(clinicians: int, defaults: DayDefaults) -> int:
    """The seats per slot of a day with ``clinicians`` on its roster.

    Rule: each rostered clinician brings ``seats_per_clinician`` seats; a day with nobody on
    its roster has not been rostered at all, and keeps the ordinary day's seats.
    """
    if clinicians <= 0:
        return defaults.seats
    return clinicians * defaults.seats_per_clinician


def day_stations(stations: Sequence[str], plan: DayPlan | None) -> tuple[str, ...]:
    """The treatment stations open on a day: one per rostered clinician, the first ones of
    ``stations`` in their order; every station on a day without a roster (or more clinicians
    than stations: a station takes one youth at a time whoever works it)."""
    return stations_for(stations, plan.clinicians if plan is not None else 0)


def stations_for(stations: Sequence[str], clinicians: int) -> tuple[str, ...]:
    """The first ``clinicians`` of ``stations``; all of them for none rostered."""
    return tuple(stations[:clinicians]) if clinicians > 0 else tuple(stations)


def plan_days(
    start: date,
    end: date,
    defaults: DayDefaults,
    exceptions: Iterable[DayException] = (),
    rostered: Mapping[date, int] | None = None,
) -> list[DayPlan]:
    """Return the clinic days from ``start`` to ``end`` (inclusive) as they will run.

    Rule: the regular days (``clinic_days``) minus the closed ones, plus extra days, with each
    date's own hours, slot length and seats where staff changed them. ``rostered`` counts the
    clinicians on each date's roster: a rostered day's seats follow from it
    (``roster_seats``), unless staff set that date's seats, which win.
    """
    by_day = {exc.day: exc for exc in exceptions if start <= exc.day <= end}
    rostered = rostered or {}
    regular = set(clinic_days(start, end))
    extra = {day for day, exc in by_day.items() if exc.extra}
    plans = []
    for day in sorted(regular | extra):
        exc = by_day.get(day) or DayException(day)
        if exc.closed:
            continue
        clinicians = max(rostered.get(day, 0), 0)
        plans.append(
            DayPlan(
                day=day,
                start=exc.start or defaults.start,
                end=exc.end or defaults.end,
                slot_minutes=exc.slot_minutes or defaults.slot_minutes,
                seats=roster_seats(clinicians, defaults) if exc.seats is None else exc.seats,
                extra=day not in regular,
                clinicians=clinicians,
            )
        )
    return plans


# --- Slots -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotPlan:
    """One appointment time of a clinic day and how many youth it can take."""

    day: date
    start: time
    end: time
    seats: int


def day_slots(plan: DayPlan) -> list[SlotPlan]:
    """Return the appointment slots of a clinic day.

    Rule: back-to-back slots of ``slot_minutes`` from the day's start; a slot that would run
    past the day's end is not offered. Each slot has the day's number of seats.
    """
    if plan.slot_minutes <= 0:
        raise ValueError("slot_minutes must be positive")
    length = timedelta(minutes=plan.slot_minutes)
    cursor = datetime.combine(plan.day, plan.start)
    closing = datetime.combine(plan.day, plan.end)
    slots = []
    while cursor + length <= closing:
        slots.append(SlotPlan(plan.day, cursor.time(), (cursor + length).time(), plan.seats))
        cursor += length
    return slots


def find_slot(plan: DayPlan, start: time) -> SlotPlan | None:
    """Return the slot of ``plan`` that starts at ``start``, or None if there is none."""
    return next((slot for slot in day_slots(plan) if slot.start == start), None)
