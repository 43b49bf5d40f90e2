"""Changing a clinic day that already has bookings: which bookings a new plan leaves without
a seat.

Pure: no Flask, no SQLAlchemy, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

from clinic.rules.calendar import DayPlan, day_slots

# --- Changing a day that has bookings ----------------------------------------------------


@dataclass(frozen=True)
class Stranded:
    """Bookings a schedule change would leave without a seat: ``count`` of the slot at
    ``start`` (all of them when the slot goes, the surplus when its seats shrink)."""

    start: time
    count: int


def stranded_bookings(
    booked: dict[time, int],
    new_plan: DayPlan | None,
    blocked: Iterable[time] = (),
) -> list[Stranded]:
    """Return the booked seats a new plan for a day would strand.

    Rule: a booking is stranded when its slot is no longer in the plan (the day closed, the
    hours or slot length changed), when its slot is blocked, or, for the bookings beyond
    the new number of seats, when the seats shrink. A change is never applied silently
    while this is not empty: staff choose what happens to these bookings.
    """
    offered = {slot.start: slot.seats for slot in (day_slots(new_plan) if new_plan else [])}
    shut = set(blocked)
    result = []
    for start in sorted(booked):
        taken = booked[start]
        if taken <= 0:
            continue
        if start not in offered or start in shut:
            result.append(Stranded(start, taken))
        elif taken > offered[start]:
            result.append(Stranded(start, taken - offered[start]))
    return result
