"""The schedule's pure rule in ``clinic.rules.schedule``: which bookings a new plan for a
day (other hours, slot length or seats, a blocked time, or no clinic at all) leaves without a
seat. No app, no database."""

from __future__ import annotations

from datetime import date, time

import pytest

from clinic.rules.calendar import DayPlan
from clinic.rules.schedule import Stranded, stranded_bookings

DAY = date(2026, 11, 24)
PLAN = DayPlan(DAY, time(16, 0), time(17, 0), 20, 2)


@pytest.mark.parametrize(
    ("booked", "plan", "blocked", "expected"),
    [
        ({time(16, 0): 2}, PLAN, (), []),  # nothing changes
        (
            {time(16, 0): 2, time(16, 40): 1},
            None,
            (),
            [Stranded(time(16), 2), Stranded(time(16, 40), 1)],
        ),
        (
            {time(16, 0): 2, time(16, 40): 1},
            DayPlan(DAY, time(16, 0), time(16, 40), 20, 2),  # closes 20 minutes earlier
            (),
            [Stranded(time(16, 40), 1)],
        ),
        (
            {time(16, 0): 2},
            DayPlan(DAY, time(16, 0), time(17, 0), 20, 1),
            (),
            [Stranded(time(16), 1)],
        ),
        ({time(16, 20): 1}, PLAN, (time(16, 20),), [Stranded(time(16, 20), 1)]),  # blocked
        ({time(16, 0): 1}, DayPlan(DAY, time(16, 0), time(17, 0), 30, 2), (), []),  # 16:00 stays
        (
            {time(16, 20): 1},
            DayPlan(DAY, time(16, 0), time(17, 0), 30, 2),
            (),
            [Stranded(time(16, 20), 1)],
        ),
        ({time(16, 0): 0}, None, (), []),  # an empty slot strands nobody
    ],
)
def test_stranded_bookings(booked, plan, blocked, expected):
    assert stranded_bookings(booked, plan, blocked) == expected
