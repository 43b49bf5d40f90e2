"""Unit tests for the booking rules in ``clinic.rules.eligibility``: when a slot opens and
closes for booking, ages on a date, the age limits and who needs a guardian.

No app, no database: every rule is a function over plain values, tested with tables,
daylight saving changes included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic.rules.eligibility import (
    AgeLimits,
    BookingWindow,
    Eligibility,
    SlotState,
    age_on,
    birthday_at_age,
    eligibility,
    needs_guardian,
    slot_start,
    slot_state,
)

LA = ZoneInfo("America/Los_Angeles")
D = date  # short alias for the tables below


# --- slot_start / slot_state -------------------------------------------------------------

WINDOW = BookingWindow()


def _la(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=LA, fold=fold)


def test_booking_window_defaults():
    assert WINDOW.horizon_days == 60
    assert WINDOW.cutoff == timedelta(hours=2)
    assert WINDOW.last_day(D(2026, 1, 23)) == D(2026, 3, 24)


@pytest.mark.parametrize(
    ("day", "start", "utc"),
    [
        pytest.param(
            D(2026, 3, 24), time(16, 0), datetime(2026, 3, 24, 23, 0, tzinfo=UTC), id="pdt"
        ),
        pytest.param(
            D(2026, 1, 27), time(16, 0), datetime(2026, 1, 28, 0, 0, tzinfo=UTC), id="pst"
        ),
        pytest.param(
            D(2026, 11, 1), time(3, 0), datetime(2026, 11, 1, 11, 0, tzinfo=UTC), id="fall"
        ),
    ],
)
def test_slot_start_is_aware_local_wall_clock(day, start, utc):
    starts_at = slot_start(day, start, LA)
    assert starts_at.tzinfo is LA
    assert (starts_at.date(), starts_at.time()) == (day, start)
    assert starts_at.astimezone(UTC) == utc


STARTS = slot_start(D(2026, 3, 24), time(16, 0), LA)  # 16:00 PDT = 23:00 UTC


@pytest.mark.parametrize(
    ("now", "seats_left", "expected"),
    [
        pytest.param(_la(2026, 3, 24, 10, 0), 2, SlotState.OPEN, id="open-same-day"),
        pytest.param(_la(2026, 3, 1, 9, 0), 1, SlotState.OPEN, id="open-weeks-ahead"),
        pytest.param(_la(2026, 3, 24, 14, 0), 2, SlotState.OPEN, id="exactly-at-cutoff"),
        pytest.param(_la(2026, 3, 24, 13, 59, 59), 2, SlotState.OPEN, id="second-before-cutoff"),
        pytest.param(_la(2026, 3, 24, 14, 0, 1), 2, SlotState.CLOSED, id="second-after-cutoff"),
        pytest.param(_la(2026, 3, 24, 15, 0), 2, SlotState.CLOSED, id="inside-cutoff"),
        pytest.param(_la(2026, 3, 24, 16, 0), 2, SlotState.CLOSED, id="at-start"),
        pytest.param(_la(2026, 3, 24, 17, 0), 2, SlotState.CLOSED, id="slot-under-way"),
        pytest.param(_la(2026, 3, 25, 9, 0), 2, SlotState.CLOSED, id="past-slot"),
        pytest.param(_la(2026, 3, 24, 10, 0), 0, SlotState.FULL, id="full"),
        pytest.param(_la(2026, 3, 24, 14, 0), 0, SlotState.FULL, id="full-at-cutoff"),
        pytest.param(_la(2026, 3, 24, 15, 0), 0, SlotState.CLOSED, id="full-but-past-cutoff"),
        # the same instants given in UTC: cut-off is 21:00 UTC
        pytest.param(
            datetime(2026, 3, 24, 21, 0, tzinfo=UTC), 2, SlotState.OPEN, id="utc-at-cutoff"
        ),
        pytest.param(
            datetime(2026, 3, 24, 21, 0, 1, tzinfo=UTC), 2, SlotState.CLOSED, id="utc-after"
        ),
    ],
)
def test_slot_state_cutoff_and_seats(now, seats_left, expected):
    assert slot_state(STARTS, seats_left, now, WINDOW) is expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 2026-01-23 + 60 days = 2026-03-24 (8 days left of January + 28 + 24)
        pytest.param(_la(2026, 1, 23, 0, 0), SlotState.OPEN, id="today-plus-60-midnight"),
        pytest.param(_la(2026, 1, 23, 9, 0), SlotState.OPEN, id="today-plus-60"),
        pytest.param(_la(2026, 1, 22, 23, 59, 59), SlotState.TOO_FAR_AHEAD, id="today-plus-61"),
        pytest.param(_la(2026, 1, 1, 12, 0), SlotState.TOO_FAR_AHEAD, id="months-ahead"),
        # the clinic's calendar date decides, not UTC's: 05:00 UTC on the 23rd is still the 22nd
        pytest.param(
            datetime(2026, 1, 23, 5, 0, tzinfo=UTC), SlotState.TOO_FAR_AHEAD, id="utc-still-22nd"
        ),
        pytest.param(
            datetime(2026, 1, 23, 8, 0, tzinfo=UTC), SlotState.OPEN, id="utc-local-midnight-23rd"
        ),
    ],
)
def test_slot_state_horizon(now, expected):
    assert slot_state(STARTS, 2, now, WINDOW) is expected


def test_slot_state_too_far_ahead_even_when_full():
    assert slot_state(STARTS, 0, _la(2026, 1, 1, 12, 0), WINDOW) is SlotState.TOO_FAR_AHEAD


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        pytest.param(
            BookingWindow(horizon_days=7), _la(2026, 3, 17, 8, 0), SlotState.OPEN, id="h7-open"
        ),
        pytest.param(
            BookingWindow(horizon_days=7),
            _la(2026, 3, 16, 8, 0),
            SlotState.TOO_FAR_AHEAD,
            id="h7-too-far",
        ),
        pytest.param(
            BookingWindow(cutoff=timedelta(hours=24)),
            _la(2026, 3, 23, 16, 0),
            SlotState.OPEN,
            id="24h-at-cutoff",
        ),
        pytest.param(
            BookingWindow(cutoff=timedelta(hours=24)),
            _la(2026, 3, 23, 16, 1),
            SlotState.CLOSED,
            id="24h-after-cutoff",
        ),
    ],
)
def test_slot_state_custom_window(window, now, expected):
    assert slot_state(STARTS, 2, now, window) is expected


@pytest.mark.parametrize(
    ("starts_at", "now"),
    [
        pytest.param(datetime(2026, 3, 24, 16, 0), _la(2026, 3, 24, 10, 0), id="naive-start"),
        pytest.param(STARTS, datetime(2026, 3, 24, 10, 0), id="naive-now"),
        pytest.param(datetime(2026, 3, 24, 16, 0), datetime(2026, 3, 24, 10, 0), id="both-naive"),
    ],
)
def test_slot_state_rejects_naive_datetimes(starts_at, now):
    with pytest.raises(ValueError, match="aware"):
        slot_state(starts_at, 2, now, WINDOW)


def _state_by_utc(starts_at: datetime, seats_left: int, now: datetime) -> SlotState:
    """The cut-off rule worked out by hand in UTC (the slots below are all within the horizon)."""
    if now.astimezone(UTC) > starts_at.astimezone(UTC) - timedelta(hours=2):
        return SlotState.CLOSED
    return SlotState.FULL if seats_left <= 0 else SlotState.OPEN


# Fall back: on Sunday 2026-11-01 at 02:00 PDT the clocks go back to 01:00 PST, so 01:00-01:59
# happens twice (fold=0 is PDT, UTC-7; fold=1 is PST, UTC-8). A 03:00 slot is 11:00 UTC.
# Spring forward: on Sunday 2026-03-08 at 02:00 PST the clocks jump to 03:00 PDT.
FALL_SLOT = slot_start(D(2026, 11, 1), time(3, 0), LA)
SPRING_SLOT = slot_start(D(2026, 3, 8), time(3, 30), LA)


@pytest.mark.parametrize(
    ("starts_at", "now", "now_utc", "expected"),
    [
        pytest.param(
            FALL_SLOT,
            _la(2026, 11, 1, 1, 30, fold=0),
            datetime(2026, 11, 1, 8, 30, tzinfo=UTC),
            SlotState.OPEN,  # 2.5 real hours ahead, though the wall clock shows 1.5
            id="fall-0130-pdt",
        ),
        pytest.param(
            FALL_SLOT,
            _la(2026, 11, 1, 1, 0, fold=1),
            datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
            SlotState.OPEN,  # exactly 2 real hours ahead
            id="fall-0100-pst-at-cutoff",
        ),
        pytest.param(
            FALL_SLOT,
            _la(2026, 11, 1, 1, 0, 1, fold=1),
            datetime(2026, 11, 1, 9, 0, 1, tzinfo=UTC),
            SlotState.CLOSED,
            id="fall-0100-pst-second-after",
        ),
        pytest.param(
            FALL_SLOT,
            _la(2026, 11, 1, 1, 30, fold=1),
            datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
            SlotState.CLOSED,  # 1.5 real hours ahead
            id="fall-0130-pst",
        ),
        pytest.param(
            SPRING_SLOT,
            _la(2026, 3, 8, 1, 30),
            datetime(2026, 3, 8, 9, 30, tzinfo=UTC),
            SlotState.CLOSED,  # 1 real hour ahead, though the wall clock shows 2
            id="spring-0130-pst",
        ),
        pytest.param(
            SPRING_SLOT,
            _la(2026, 3, 8, 0, 30),
            datetime(2026, 3, 8, 8, 30, tzinfo=UTC),
            SlotState.OPEN,  # exactly 2 real hours ahead
            id="spring-0030-pst-at-cutoff",
        ),
    ],
)
def test_slot_state_across_dst_uses_real_hours(starts_at, now, now_utc, expected):
    # the test data itself: the local times are the UTC instants claimed
    assert now.astimezone(UTC) == now_utc
    assert slot_state(starts_at, 2, now, WINDOW) is expected
    assert slot_state(starts_at, 2, now, WINDOW) is _state_by_utc(starts_at, 2, now)
    # and the same instant given in UTC gives the same answer
    assert slot_state(starts_at, 2, now_utc, WINDOW) is expected


def test_dst_fixture_offsets():
    assert FALL_SLOT.utcoffset() == timedelta(hours=-8)
    assert FALL_SLOT.astimezone(UTC) == datetime(2026, 11, 1, 11, 0, tzinfo=UTC)
    assert _la(2026, 11, 1, 1, 30, fold=0).utcoffset() == timedelta(hours=-7)
    assert SPRING_SLOT.utcoffset() == timedelta(hours=-7)
    assert SPRING_SLOT.astimezone(UTC) == datetime(2026, 3, 8, 10, 30, tzinfo=UTC)


# --- age_on ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        pytest.param(D(2010, 6, 15), D(2010, 6, 15), 0, id="day-of-birth"),
        pytest.param(D(2010, 6, 15), D(2011, 6, 14), 0, id="day-before-1st-birthday"),
        pytest.param(D(2010, 6, 15), D(2011, 6, 15), 1, id="1st-birthday"),
        pytest.param(D(2010, 6, 15), D(2023, 6, 14), 12, id="day-before-13"),
        pytest.param(D(2010, 6, 15), D(2023, 6, 15), 13, id="13th-birthday"),
        pytest.param(D(2000, 6, 15), D(2026, 6, 14), 25, id="day-before-26"),
        pytest.param(D(2000, 6, 15), D(2026, 6, 15), 26, id="26th-birthday"),
        pytest.param(D(2010, 12, 31), D(2011, 1, 1), 0, id="born-new-years-eve"),
        pytest.param(D(2010, 1, 1), D(2010, 12, 31), 0, id="born-new-years-day"),
        pytest.param(D(2010, 1, 1), D(2011, 1, 1), 1, id="born-new-years-day-1st"),
        # born 29 February (2008 is a leap year; 2021 and 2026 are common, 2028 is leap)
        pytest.param(D(2008, 2, 29), D(2021, 2, 28), 12, id="feb29-common-28feb"),
        pytest.param(D(2008, 2, 29), D(2021, 3, 1), 13, id="feb29-common-1mar"),
        pytest.param(D(2008, 2, 29), D(2028, 2, 28), 19, id="feb29-leap-28feb"),
        pytest.param(D(2008, 2, 29), D(2028, 2, 29), 20, id="feb29-leap-29feb"),
        pytest.param(D(2008, 2, 29), D(2028, 3, 1), 20, id="feb29-leap-1mar"),
        # born 28 February / 1 March: no special case
        pytest.param(D(2008, 2, 28), D(2021, 2, 28), 13, id="feb28-common"),
        pytest.param(D(2008, 3, 1), D(2028, 2, 29), 19, id="mar1-on-leap-day"),
        pytest.param(D(2008, 3, 1), D(2028, 3, 1), 20, id="mar1-birthday"),
    ],
)
def test_age_on(birth, day, age):
    assert age_on(birth, day) == age


@pytest.mark.parametrize(
    ("birth", "day"),
    [
        pytest.param(D(2010, 6, 15), D(2010, 6, 14), id="one-day-before"),
        pytest.param(D(2010, 6, 15), D(2000, 1, 1), id="years-before"),
    ],
)
def test_age_on_rejects_day_before_birth(birth, day):
    with pytest.raises(ValueError, match="before"):
        age_on(birth, day)


# --- eligibility -------------------------------------------------------------------------


def test_age_limit_defaults():
    assert AgeLimits() == AgeLimits(minimum=13, maximum=25, adult=18)


@pytest.mark.parametrize(
    ("birth", "day", "expected"),
    [
        pytest.param(D(2010, 6, 15), D(2023, 6, 14), Eligibility.TOO_YOUNG, id="day-before-13"),
        pytest.param(D(2010, 6, 15), D(2023, 6, 15), Eligibility.ELIGIBLE, id="13th-birthday"),
        pytest.param(D(2010, 6, 15), D(2026, 6, 15), Eligibility.ELIGIBLE, id="aged-16"),
        pytest.param(D(2000, 6, 15), D(2026, 6, 14), Eligibility.ELIGIBLE, id="day-before-26"),
        pytest.param(D(2000, 6, 15), D(2026, 6, 15), Eligibility.TOO_OLD, id="26th-birthday"),
        pytest.param(D(1970, 1, 1), D(2026, 6, 15), Eligibility.TOO_OLD, id="adult"),
        pytest.param(D(2026, 6, 15), D(2026, 6, 15), Eligibility.TOO_YOUNG, id="born-that-day"),
        # 29 February births: both limits fall in common years (2021, 2034)
        pytest.param(D(2008, 2, 29), D(2021, 2, 28), Eligibility.TOO_YOUNG, id="feb29-13-28feb"),
        pytest.param(D(2008, 2, 29), D(2021, 3, 1), Eligibility.ELIGIBLE, id="feb29-13-1mar"),
        pytest.param(D(2008, 2, 29), D(2034, 2, 28), Eligibility.ELIGIBLE, id="feb29-26-28feb"),
        pytest.param(D(2008, 2, 29), D(2034, 3, 1), Eligibility.TOO_OLD, id="feb29-26-1mar"),
        # a date of birth after the appointment
        pytest.param(D(2026, 6, 16), D(2026, 6, 15), Eligibility.NOT_BORN, id="born-next-day"),
        pytest.param(D(2030, 1, 1), D(2026, 6, 15), Eligibility.NOT_BORN, id="born-years-later"),
    ],
)
def test_eligibility_default_limits(birth, day, expected):
    assert eligibility(birth, day) is expected


CUSTOM = AgeLimits(minimum=12, maximum=21, adult=21)


@pytest.mark.parametrize(
    ("birth", "day", "expected"),
    [
        pytest.param(D(2010, 6, 15), D(2022, 6, 14), Eligibility.TOO_YOUNG, id="day-before-12"),
        pytest.param(D(2010, 6, 15), D(2022, 6, 15), Eligibility.ELIGIBLE, id="12th-birthday"),
        pytest.param(D(2010, 6, 15), D(2032, 6, 14), Eligibility.ELIGIBLE, id="day-before-22"),
        pytest.param(D(2010, 6, 15), D(2032, 6, 15), Eligibility.TOO_OLD, id="22nd-birthday"),
        # born 29 Feb 2004, turns 12 on 29 Feb 2016, a leap year
        pytest.param(D(2004, 2, 29), D(2016, 2, 28), Eligibility.TOO_YOUNG, id="feb29-leap-28"),
        pytest.param(D(2004, 2, 29), D(2016, 2, 29), Eligibility.ELIGIBLE, id="feb29-leap-29"),
        pytest.param(D(2026, 6, 16), D(2026, 6, 15), Eligibility.NOT_BORN, id="not-born"),
    ],
)
def test_eligibility_custom_limits(birth, day, expected):
    assert eligibility(birth, day, CUSTOM) is expected


# --- birthday_at_age ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "age", "expected"),
    [
        pytest.param(D(2010, 6, 15), 13, D(2023, 6, 15), id="13th"),
        pytest.param(D(2010, 6, 15), 18, D(2028, 6, 15), id="18th"),
        pytest.param(D(2000, 6, 15), 26, D(2026, 6, 15), id="26th"),
        pytest.param(D(2010, 6, 15), 0, D(2010, 6, 15), id="age-0"),
        pytest.param(D(2010, 12, 31), 18, D(2028, 12, 31), id="new-years-eve"),
        pytest.param(D(2008, 2, 28), 13, D(2021, 2, 28), id="feb28"),
        pytest.param(D(2008, 2, 29), 13, D(2021, 3, 1), id="feb29-common-13"),
        pytest.param(D(2008, 2, 29), 18, D(2026, 3, 1), id="feb29-common-18"),
        pytest.param(D(2008, 2, 29), 26, D(2034, 3, 1), id="feb29-common-26"),
        pytest.param(D(2008, 2, 29), 20, D(2028, 2, 29), id="feb29-leap-20"),
        pytest.param(D(2004, 2, 29), 4, D(2008, 2, 29), id="feb29-leap-4"),
        pytest.param(D(2004, 2, 29), 0, D(2004, 2, 29), id="feb29-age-0"),
        pytest.param(D(1996, 2, 29), 104, D(2100, 3, 1), id="feb29-2100-not-leap"),
    ],
)
def test_birthday_at_age(birth, age, expected):
    assert birthday_at_age(birth, age) == expected


@pytest.mark.parametrize(
    "birth", [D(2010, 6, 15), D(2008, 2, 29), D(2004, 2, 29), D(2010, 12, 31), D(2010, 1, 1)]
)
@pytest.mark.parametrize("age", [1, 13, 18, 26])
def test_birthday_at_age_agrees_with_age_on(birth, age):
    birthday = birthday_at_age(birth, age)
    assert age_on(birth, birthday) == age
    assert age_on(birth, birthday - timedelta(days=1)) == age - 1


# --- needs_guardian ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "day", "expected"),
    [
        pytest.param(D(2010, 6, 15), D(2027, 6, 15), True, id="17th-birthday"),
        pytest.param(D(2010, 6, 15), D(2028, 1, 10), True, id="aged-17"),
        pytest.param(D(2010, 6, 15), D(2028, 6, 14), True, id="day-before-18"),
        pytest.param(D(2010, 6, 15), D(2028, 6, 15), False, id="18th-birthday"),
        pytest.param(D(2010, 6, 15), D(2030, 6, 15), False, id="aged-20"),
        pytest.param(D(2010, 6, 15), D(2023, 6, 15), True, id="aged-13"),
        # born 29 Feb 2008: 18 on 1 March 2026 (a common year)
        pytest.param(D(2008, 2, 29), D(2026, 2, 28), True, id="feb29-28feb"),
        pytest.param(D(2008, 2, 29), D(2026, 3, 1), False, id="feb29-1mar"),
    ],
)
def test_needs_guardian_default(birth, day, expected):
    assert needs_guardian(birth, day) is expected


@pytest.mark.parametrize(
    ("birth", "day", "expected"),
    [
        pytest.param(D(2010, 6, 15), D(2028, 6, 15), True, id="18-under-adult-21"),
        pytest.param(D(2010, 6, 15), D(2031, 6, 14), True, id="day-before-21"),
        pytest.param(D(2010, 6, 15), D(2031, 6, 15), False, id="21st-birthday"),
    ],
)
def test_needs_guardian_custom_adult_age(birth, day, expected):
    assert needs_guardian(birth, day, CUSTOM) is expected


def test_needs_guardian_rejects_day_before_birth():
    with pytest.raises(ValueError, match="before"):
        needs_guardian(D(2010, 6, 15), D(2010, 6, 14))
