"""Unit tests for the calendar rules in ``clinic.rules.calendar``: which dates are clinic
days, each date's plan (closed, extra, other hours) and its slots.

No app, no database: every rule is a function over plain values, tested with tables.
Expected clinic days are written out by hand from a printed calendar, never recomputed
with ``rrule``.
"""

from __future__ import annotations

import calendar
import itertools
from datetime import date, time

import pytest

from clinic.rules.calendar import (
    DayDefaults,
    DayException,
    DayPlan,
    SlotPlan,
    clinic_days,
    day_slots,
    day_stations,
    find_slot,
    plan_days,
    roster_seats,
)

D = date  # short alias for the tables below


# --- clinic_days -------------------------------------------------------------------------
#
# Tuesdays used below (from a calendar):
#   Dec 2025: 2 9 16 23 30      Jan 2026: 6 13 20 27        Feb 2026: 3 10 17 24
#   Mar 2026: 3 10 17 24 31     Apr 2026: 7 14 21 28        Jun 2026: 2 9 16 23 30
#   Sep 2026: 1 8 15 22 29      Nov 2026: 3 10 17 24        Dec 2026: 1 8 15 22 29
#   Jan 2027: 5 12 19 26        Feb 2027: 2 9 16 23         Feb 2028: 1 8 15 22 29


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(D(2026, 1, 1), D(2026, 1, 31), [D(2026, 1, 20), D(2026, 1, 27)], id="jan-4"),
        pytest.param(D(2026, 2, 1), D(2026, 2, 28), [D(2026, 2, 17), D(2026, 2, 24)], id="feb-4"),
        pytest.param(
            D(2026, 11, 1), D(2026, 11, 30), [D(2026, 11, 17), D(2026, 11, 24)], id="nov-4"
        ),
        pytest.param(D(2026, 3, 1), D(2026, 3, 31), [D(2026, 3, 24), D(2026, 3, 31)], id="mar-5"),
        pytest.param(D(2026, 6, 1), D(2026, 6, 30), [D(2026, 6, 23), D(2026, 6, 30)], id="jun-5"),
        pytest.param(D(2026, 9, 1), D(2026, 9, 30), [D(2026, 9, 22), D(2026, 9, 29)], id="sep-5"),
        pytest.param(
            D(2028, 2, 1), D(2028, 2, 29), [D(2028, 2, 22), D(2028, 2, 29)], id="leap-feb-2028"
        ),
        pytest.param(
            D(2027, 2, 1), D(2027, 2, 28), [D(2027, 2, 16), D(2027, 2, 23)], id="common-feb-2027"
        ),
    ],
)
def test_clinic_days_one_month(start, end, expected):
    assert clinic_days(start, end) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(
            D(2025, 12, 1),
            D(2026, 1, 31),
            [D(2025, 12, 23), D(2025, 12, 30), D(2026, 1, 20), D(2026, 1, 27)],
            id="dec-2025-to-jan-2026",
        ),
        pytest.param(
            D(2026, 12, 15),
            D(2027, 1, 31),
            [D(2026, 12, 22), D(2026, 12, 29), D(2027, 1, 19), D(2027, 1, 26)],
            id="dec-2026-to-jan-2027",
        ),
        pytest.param(
            D(2026, 12, 30), D(2027, 1, 19), [D(2027, 1, 19)], id="starts-after-last-dec-day"
        ),
        pytest.param(
            D(2026, 12, 29), D(2027, 1, 18), [D(2026, 12, 29)], id="ends-before-first-jan-day"
        ),
        pytest.param(
            D(2026, 3, 25),
            D(2026, 4, 30),
            [D(2026, 3, 31), D(2026, 4, 21), D(2026, 4, 28)],
            id="starts-mid-month",
        ),
    ],
)
def test_clinic_days_across_months_and_year_end(start, end, expected):
    assert clinic_days(start, end) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(
            D(2026, 3, 24), D(2026, 3, 31), [D(2026, 3, 24), D(2026, 3, 31)], id="both-bounds"
        ),
        pytest.param(D(2026, 3, 24), D(2026, 3, 24), [D(2026, 3, 24)], id="single-day-2nd-last"),
        pytest.param(D(2026, 3, 31), D(2026, 3, 31), [D(2026, 3, 31)], id="single-day-last"),
        pytest.param(D(2026, 3, 10), D(2026, 3, 24), [D(2026, 3, 24)], id="end-on-clinic-day"),
        pytest.param(D(2026, 3, 31), D(2026, 4, 20), [D(2026, 3, 31)], id="start-on-clinic-day"),
    ],
)
def test_clinic_days_bounds_are_inclusive(start, end, expected):
    assert clinic_days(start, end) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(D(2026, 3, 25), D(2026, 3, 30), id="between-the-two-days"),
        pytest.param(D(2026, 3, 1), D(2026, 3, 23), id="early-tuesdays-only"),
        pytest.param(D(2026, 3, 17), D(2026, 3, 17), id="a-tuesday-that-is-not-a-clinic-day"),
        pytest.param(D(2026, 3, 25), D(2026, 3, 25), id="single-non-clinic-day"),
        pytest.param(D(2026, 3, 31), D(2026, 3, 24), id="end-before-start"),
        pytest.param(D(2027, 1, 1), D(2026, 1, 1), id="end-a-year-before-start"),
    ],
)
def test_clinic_days_empty(start, end):
    assert clinic_days(start, end) == []


def _last_two_tuesdays(year: int, month: int) -> list[date]:
    """An independent implementation of the rule with the ``calendar`` module."""
    tuesdays = [
        week[calendar.TUESDAY]
        for week in calendar.monthcalendar(year, month)
        if week[calendar.TUESDAY]
    ]
    return [date(year, month, day) for day in tuesdays[-2:]]


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2028, 2029])
def test_clinic_days_whole_year_matches_calendar(year):
    expected = [day for month in range(1, 13) for day in _last_two_tuesdays(year, month)]
    result = clinic_days(date(year, 1, 1), date(year, 12, 31))
    assert result == expected
    assert len(result) == 24
    assert all(day.weekday() == calendar.TUESDAY for day in result)


# --- plan_days ---------------------------------------------------------------------------

DEFAULTS = DayDefaults()
MARCH = (D(2026, 3, 1), D(2026, 3, 31))  # clinic days: 24 and 31 March 2026


def _default_plan(day: date, extra: bool = False) -> DayPlan:
    return DayPlan(day, time(16, 0), time(20, 0), 20, 2, extra=extra)


def test_day_defaults_are_the_clinic_settings():
    assert (DEFAULTS.start, DEFAULTS.end) == (time(16, 0), time(20, 0))
    assert (DEFAULTS.slot_minutes, DEFAULTS.seats) == (20, 2)


@pytest.mark.parametrize(
    ("exceptions", "expected"),
    [
        pytest.param(
            [], [_default_plan(D(2026, 3, 24)), _default_plan(D(2026, 3, 31))], id="no-exceptions"
        ),
        pytest.param(
            [DayException(D(2026, 3, 24), closed=True)],
            [_default_plan(D(2026, 3, 31))],
            id="closed-removes-day",
        ),
        pytest.param(
            [DayException(D(2026, 3, 24), closed=True), DayException(D(2026, 3, 31), closed=True)],
            [],
            id="both-closed",
        ),
        pytest.param(
            [DayException(D(2026, 3, 12), extra=True)],  # a Thursday
            [
                _default_plan(D(2026, 3, 12), extra=True),
                _default_plan(D(2026, 3, 24)),
                _default_plan(D(2026, 3, 31)),
            ],
            id="extra-adds-thursday",
        ),
        pytest.param(
            [DayException(D(2026, 3, 17), extra=True)],  # a Tuesday the rule skips
            [
                _default_plan(D(2026, 3, 17), extra=True),
                _default_plan(D(2026, 3, 24)),
                _default_plan(D(2026, 3, 31)),
            ],
            id="extra-adds-skipped-tuesday",
        ),
        pytest.param(
            [DayException(D(2026, 3, 12), extra=True, start=time(9, 0), end=time(12, 0))],
            [
                DayPlan(D(2026, 3, 12), time(9, 0), time(12, 0), 20, 2, extra=True),
                _default_plan(D(2026, 3, 24)),
                _default_plan(D(2026, 3, 31)),
            ],
            id="extra-with-own-hours",
        ),
        pytest.param(
            [DayException(D(2026, 3, 12), extra=True, closed=True)],
            [_default_plan(D(2026, 3, 24)), _default_plan(D(2026, 3, 31))],
            id="extra-but-closed",
        ),
        pytest.param(
            [DayException(D(2026, 3, 24), extra=True)],
            [_default_plan(D(2026, 3, 24)), _default_plan(D(2026, 3, 31))],
            id="extra-on-regular-day-not-flagged",
        ),
        pytest.param(
            [DayException(D(2026, 3, 18), start=time(10, 0))],  # not extra: no new day
            [_default_plan(D(2026, 3, 24)), _default_plan(D(2026, 3, 31))],
            id="override-on-non-clinic-day-adds-nothing",
        ),
    ],
)
def test_plan_days_closed_and_extra(exceptions, expected):
    assert plan_days(*MARCH, DEFAULTS, exceptions) == expected


@pytest.mark.parametrize(
    ("exception", "expected_24"),
    [
        pytest.param(
            DayException(
                D(2026, 3, 24), start=time(10, 0), end=time(13, 0), slot_minutes=30, seats=3
            ),
            DayPlan(D(2026, 3, 24), time(10, 0), time(13, 0), 30, 3),
            id="all-fields",
        ),
        pytest.param(
            DayException(D(2026, 3, 24), start=time(17, 0)),
            DayPlan(D(2026, 3, 24), time(17, 0), time(20, 0), 20, 2),
            id="start-only",
        ),
        pytest.param(
            DayException(D(2026, 3, 24), end=time(18, 30)),
            DayPlan(D(2026, 3, 24), time(16, 0), time(18, 30), 20, 2),
            id="end-only",
        ),
        pytest.param(
            DayException(D(2026, 3, 24), slot_minutes=15),
            DayPlan(D(2026, 3, 24), time(16, 0), time(20, 0), 15, 2),
            id="slot-minutes-only",
        ),
        pytest.param(
            DayException(D(2026, 3, 24), seats=4),
            DayPlan(D(2026, 3, 24), time(16, 0), time(20, 0), 20, 4),
            id="seats-only",
        ),
        pytest.param(
            DayException(D(2026, 3, 24), seats=0),
            DayPlan(D(2026, 3, 24), time(16, 0), time(20, 0), 20, 0),
            id="seats-zero-kept",
        ),
        pytest.param(
            DayException(D(2026, 3, 24), start=time(0, 0), end=time(2, 0)),
            DayPlan(D(2026, 3, 24), time(0, 0), time(2, 0), 20, 2),
            id="midnight-start-kept",
        ),
    ],
)
def test_plan_days_override_applies_to_one_date_only(exception, expected_24):
    plans = plan_days(*MARCH, DEFAULTS, [exception])
    assert plans == [expected_24, _default_plan(D(2026, 3, 31))]
    assert plans[0].extra is False


def test_plan_days_uses_given_defaults():
    defaults = DayDefaults(start=time(15, 0), end=time(19, 0), slot_minutes=30, seats=1)
    plans = plan_days(*MARCH, defaults)
    assert plans == [
        DayPlan(D(2026, 3, 24), time(15, 0), time(19, 0), 30, 1),
        DayPlan(D(2026, 3, 31), time(15, 0), time(19, 0), 30, 1),
    ]


@pytest.mark.parametrize(
    "exception",
    [
        pytest.param(DayException(D(2026, 4, 2), extra=True), id="extra-after-range"),
        pytest.param(DayException(D(2026, 2, 26), extra=True), id="extra-before-range"),
        pytest.param(DayException(D(2026, 4, 28), closed=True), id="closed-after-range"),
        pytest.param(DayException(D(2026, 2, 24), closed=True), id="closed-before-range"),
        pytest.param(DayException(D(2026, 4, 21), seats=9), id="override-after-range"),
    ],
)
def test_plan_days_ignores_exceptions_outside_range(exception):
    assert plan_days(*MARCH, DEFAULTS, [exception]) == [
        _default_plan(D(2026, 3, 24)),
        _default_plan(D(2026, 3, 31)),
    ]


@pytest.mark.parametrize(
    ("start", "end", "exceptions", "expected"),
    [
        pytest.param(
            D(2026, 3, 12),
            D(2026, 3, 12),
            [DayException(D(2026, 3, 12), extra=True)],
            [_default_plan(D(2026, 3, 12), extra=True)],
            id="extra-on-both-bounds",
        ),
        pytest.param(
            D(2026, 3, 24),
            D(2026, 3, 24),
            [],
            [_default_plan(D(2026, 3, 24))],
            id="regular-on-both-bounds",
        ),
        pytest.param(
            D(2026, 3, 31),
            D(2026, 3, 24),
            [DayException(D(2026, 3, 26), extra=True)],
            [],
            id="end-before-start",
        ),
    ],
)
def test_plan_days_bounds(start, end, exceptions, expected):
    assert plan_days(start, end, DEFAULTS, exceptions) == expected


def test_plan_days_accepts_a_generator_of_exceptions():
    exceptions = (exc for exc in [DayException(D(2026, 3, 24), closed=True)])
    assert plan_days(*MARCH, DEFAULTS, exceptions) == [_default_plan(D(2026, 3, 31))]


# --- day_slots / find_slot ---------------------------------------------------------------

DAY = D(2026, 3, 24)
PLAN = _default_plan(DAY)


def test_day_slots_defaults():
    slots = day_slots(PLAN)
    assert len(slots) == 12
    assert slots[0] == SlotPlan(DAY, time(16, 0), time(16, 20), 2)
    assert slots[-1] == SlotPlan(DAY, time(19, 40), time(20, 0), 2)
    assert all(slot.day == DAY and slot.seats == 2 for slot in slots)
    # back to back: each slot starts where the previous one ends
    assert all(prev.end == nxt.start for prev, nxt in itertools.pairwise(slots))


@pytest.mark.parametrize(
    ("start", "end", "minutes", "count", "last"),
    [
        pytest.param(time(16, 0), time(20, 0), 25, 9, (time(19, 20), time(19, 45)), id="25-min"),
        pytest.param(time(16, 0), time(20, 0), 60, 4, (time(19, 0), time(20, 0)), id="60-min"),
        pytest.param(time(16, 0), time(20, 0), 240, 1, (time(16, 0), time(20, 0)), id="whole-day"),
        pytest.param(time(16, 0), time(20, 0), 241, 0, None, id="longer-than-day"),
        pytest.param(time(16, 0), time(17, 0), 45, 1, (time(16, 0), time(16, 45)), id="45-in-60"),
        pytest.param(time(16, 0), time(16, 0), 20, 0, None, id="zero-length-day"),
        pytest.param(time(20, 0), time(16, 0), 20, 0, None, id="end-before-start"),
    ],
)
def test_day_slots_lengths(start, end, minutes, count, last):
    slots = day_slots(DayPlan(DAY, start, end, minutes, 3))
    assert len(slots) == count
    if last is not None:
        assert (slots[-1].start, slots[-1].end) == last
        assert slots[0].start == start
        assert all(slot.seats == 3 for slot in slots)
        # no slot runs past the end of the day
        assert all(slot.end <= end for slot in slots)


@pytest.mark.parametrize("minutes", [0, -1, -20])
def test_day_slots_rejects_non_positive_length(minutes):
    with pytest.raises(ValueError, match="slot_minutes"):
        day_slots(DayPlan(DAY, time(16, 0), time(20, 0), minutes, 2))


@pytest.mark.parametrize(
    ("plan", "start", "expected"),
    [
        pytest.param(PLAN, time(16, 0), SlotPlan(DAY, time(16, 0), time(16, 20), 2), id="first"),
        pytest.param(PLAN, time(17, 0), SlotPlan(DAY, time(17, 0), time(17, 20), 2), id="middle"),
        pytest.param(PLAN, time(19, 40), SlotPlan(DAY, time(19, 40), time(20, 0), 2), id="last"),
        pytest.param(PLAN, time(17, 10), None, id="miss-between-slots"),
        pytest.param(PLAN, time(20, 0), None, id="miss-closing-time"),
        pytest.param(PLAN, time(15, 40), None, id="miss-before-opening"),
        pytest.param(
            DayPlan(DAY, time(16, 0), time(20, 0), 25, 2), time(19, 45), None, id="miss-partial"
        ),
        pytest.param(
            DayPlan(DAY, time(16, 0), time(20, 0), 25, 2),
            time(16, 25),
            SlotPlan(DAY, time(16, 25), time(16, 50), 2),
            id="hit-25-min",
        ),
    ],
)
def test_find_slot(plan, start, expected):
    assert find_slot(plan, start) == expected


# --- The clinician roster ------------------------------------------------------------------

TWO_PER_CLINICIAN = DayDefaults(seats=2, seats_per_clinician=2)


@pytest.mark.parametrize(
    ("clinicians", "defaults", "seats"),
    [
        (0, DEFAULTS, 2),  # no roster: the ordinary day's seats
        (-1, DEFAULTS, 2),
        (1, DEFAULTS, 1),  # one volunteer short: fewer seats
        (2, DEFAULTS, 2),
        (3, DEFAULTS, 3),
        (1, TWO_PER_CLINICIAN, 2),
        (2, TWO_PER_CLINICIAN, 4),
    ],
)
def test_roster_seats(clinicians, defaults, seats):
    assert roster_seats(clinicians, defaults) == seats


@pytest.mark.parametrize(
    ("exceptions", "rostered", "seats", "clinicians"),
    [
        ((), {}, 2, 0),
        ((), {D(2026, 3, 24): 1}, 2, 1),  # 1 x 2 seats per clinician
        ((), {D(2026, 3, 24): 3}, 6, 3),
        # Seats set for the date win over the roster.
        ((DayException(D(2026, 3, 24), seats=5),), {D(2026, 3, 24): 1}, 5, 1),
        ((DayException(D(2026, 3, 24), seats=0),), {D(2026, 3, 24): 2}, 0, 2),
        # Other hours keep the roster's seats.
        ((DayException(D(2026, 3, 24), end=time(18, 0)),), {D(2026, 3, 24): 1}, 2, 1),
    ],
)
def test_a_rostered_day_takes_its_seats_from_the_roster(exceptions, rostered, seats, clinicians):
    plans = plan_days(*MARCH, TWO_PER_CLINICIAN, exceptions, rostered)
    tuesday = next(plan for plan in plans if plan.day == D(2026, 3, 24))
    assert (tuesday.seats, tuesday.clinicians) == (seats, clinicians)
    assert {slot.seats for slot in day_slots(tuesday)} == {seats}
    # The other day keeps the defaults.
    other = next(plan for plan in plans if plan.day == D(2026, 3, 31))
    assert (other.seats, other.clinicians) == (2, 0)


def test_a_roster_opens_no_day_and_keeps_a_closed_one_closed():
    closed = DayException(D(2026, 3, 24), closed=True)
    rostered = {D(2026, 3, 24): 2, D(2026, 3, 25): 2}  # a Wednesday: not a clinic day
    plans = plan_days(*MARCH, DEFAULTS, [closed], rostered)
    assert [plan.day for plan in plans] == [D(2026, 3, 31)]


def test_an_extra_day_can_be_rostered():
    extra = DayException(D(2026, 3, 12), extra=True)
    (plan, _tuesday, _last) = plan_days(*MARCH, DEFAULTS, [extra], {D(2026, 3, 12): 3})
    assert (plan.day, plan.extra, plan.seats, plan.clinicians) == (D(2026, 3, 12), True, 3, 3)


STATIONS = ("Laser 1", "Laser 2", "Laser 3")


@pytest.mark.parametrize(
    ("clinicians", "stations"),
    [
        (0, STATIONS),  # no roster: every station
        (1, ("Laser 1",)),
        (2, ("Laser 1", "Laser 2")),
        (3, STATIONS),
        (5, STATIONS),  # more clinicians than lasers: still the lasers there are
    ],
)
def test_a_rostered_day_opens_the_first_stations(clinicians, stations):
    plan = DayPlan(D(2026, 3, 24), time(16, 0), time(20, 0), 20, 2, clinicians=clinicians)
    assert day_stations(STATIONS, plan) == stations


def test_a_day_without_a_plan_has_every_station():
    assert day_stations(list(STATIONS), None) == STATIONS
