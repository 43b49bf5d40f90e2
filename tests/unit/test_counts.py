"""The clinic day's numbers, defined once (clinic/rules/counts.py)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from clinic.rules.counts import NoShowPolicy, SlotSeats, day_counts, seats_left

DAY = date(2026, 11, 24)
SLOTS = [
    SlotSeats(time(16, 0), time(16, 20), 2, 2),  # full
    SlotSeats(time(16, 20), time(16, 40), 2, 1),  # one free
    SlotSeats(time(16, 40), time(17, 0), 2, 0, blocked=True),  # blocked: none
    SlotSeats(time(17, 0), time(17, 20), 2, 0),  # two free
    SlotSeats(time(17, 20), time(17, 40), 0, 1),  # outside the plan, still holding someone
    SlotSeats(time(17, 40), time(18, 0), 2, 3),  # over-full (seats cut after booking): none
]


@pytest.mark.parametrize(
    ("now", "left"),
    [
        (datetime(2026, 11, 20, 9, 0), 3),  # a coming day: every open slot
        (datetime(2026, 11, 24, 9, 0), 3),  # the morning of the day: all still ahead
        (datetime(2026, 11, 24, 16, 30), 3),  # 16:20-16:40 is under way: still takes a walk-in
        (datetime(2026, 11, 24, 16, 40), 2),  # it ended
        (datetime(2026, 11, 24, 17, 20), 0),  # the last free slot ended
        (datetime(2026, 11, 25, 9, 0), 0),  # a past day
    ],
)
def test_seats_left_are_the_free_seats_of_the_slots_not_over(now, left):
    assert seats_left(DAY, SLOTS, now) == left


def test_every_appointment_is_expected_arrived_or_a_no_show():
    statuses = ["booked"] * 4 + ["checked_in"] * 2 + ["in_treatment", "completed", "completed"]
    counts = day_counts([*statuses, "no_show"], seats=5)
    assert counts.appointments == 10
    assert (counts.expected, counts.arrived, counts.no_show) == (4, 5, 1)
    assert (counts.waiting, counts.in_treatment, counts.done) == (2, 1, 2)
    assert counts.appointments == counts.expected + counts.arrived + counts.no_show
    assert counts.seats_left == 5


def test_cancelled_appointments_are_not_counted():
    assert day_counts(["booked", "cancelled"], seats=0).appointments == 1


def test_no_show_flag_from_the_setting():
    policy = NoShowPolicy(flag_count=2, recent_days=365)
    assert policy.since(DAY) == date(2025, 11, 24)
    assert not policy.flagged(1)
    assert policy.flagged(2) and policy.flagged(5)
    assert not NoShowPolicy(flag_count=0).flagged(9)  # 0 turns the marker off
