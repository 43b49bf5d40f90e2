"""Unit tests for the self-service rules in ``clinic.rules.selfservice`` about lists: how long
an offered seat is held, the waiting list's priority and the expected wait.

No app, no database, no clock: ``now`` is passed in, at the boundaries of each rule, with a
daylight-saving change included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic.rules.eligibility import slot_start
from clinic.rules.selfservice import (
    OfferPolicy,
    expected_wait,
    offer_expiry,
    priority,
    weeks_to_say,
)

LA = ZoneInfo("America/Los_Angeles")
POLICY = OfferPolicy(
    hold=timedelta(hours=12), hold_close=timedelta(hours=2), least=timedelta(minutes=30)
)
CUTOFF = timedelta(hours=2)
# A seat on Tuesday 24 November 2026 at 16:00, clinic time; booking for it closes at 14:00.
SEAT_DAY = date(2026, 11, 24)
STARTS = slot_start(SEAT_DAY, time(16, 0), LA)


def _la(*args: int) -> datetime:
    return datetime(*args, tzinfo=LA)


def expiry(now: datetime, starts: datetime = STARTS, policy: OfferPolicy = POLICY):
    return offer_expiry(now, starts, starts - CUTOFF, policy, LA)


# --- offer_expiry ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Four days ahead: the long hold.
        (_la(2026, 11, 20, 9, 0), _la(2026, 11, 20, 21, 0)),
        # Sunday 23:59 is two days before Tuesday: still the long hold.
        (_la(2026, 11, 22, 23, 59), _la(2026, 11, 23, 11, 59)),
        # Monday 00:00: the seat is tomorrow, the short hold.
        (_la(2026, 11, 23, 0, 0), _la(2026, 11, 23, 2, 0)),
        # On the day itself: the short hold, well before booking closes.
        (_la(2026, 11, 24, 10, 0), _la(2026, 11, 24, 12, 0)),
        # Two hours would pass the cut-off: held until booking closes.
        (_la(2026, 11, 24, 12, 1), _la(2026, 11, 24, 14, 0)),
        # Exactly the least time left to answer: still worth offering.
        (_la(2026, 11, 24, 13, 30), _la(2026, 11, 24, 14, 0)),
    ],
)
def test_offer_hold_by_how_close_the_seat_is(now, expected):
    assert expiry(now) == expected


@pytest.mark.parametrize(
    "now",
    [
        _la(2026, 11, 24, 13, 30, 1),  # a second under the least time to answer
        _la(2026, 11, 24, 14, 0),  # booking closes now
        _la(2026, 11, 24, 15, 0),  # after the cut-off
        _la(2026, 11, 24, 17, 0),  # after the seat's start
    ],
)
def test_no_offer_with_less_than_the_least_time_to_answer(now):
    assert expiry(now) is None


def test_a_long_hold_never_outlasts_booking():
    two_days = OfferPolicy(hold=timedelta(hours=48), hold_close=timedelta(hours=2))
    assert expiry(_la(2026, 11, 22, 20, 0), policy=two_days) == _la(2026, 11, 24, 14, 0)


def test_the_hold_counts_real_hours_across_a_daylight_saving_change():
    """Saturday 31 October 2026, 20:00 PDT: 12 hours later is Sunday 7:00 PST (the clocks
    went back at 2:00), not 8:00."""
    now = _la(2026, 10, 31, 20, 0)
    starts = slot_start(date(2026, 11, 10), time(16, 0), LA)
    expires = expiry(now, starts)
    assert expires - now.astimezone(UTC) == timedelta(hours=12)
    assert expires.astimezone(LA).replace(tzinfo=None) == datetime(2026, 11, 1, 7, 0)


def test_tomorrow_is_the_clinic_calendar_s_tomorrow():
    """23:30 on Monday in the clinic is already Tuesday in UTC: the seat on Tuesday is still
    'tomorrow', and the short hold applies; Tuesday 00:30 UTC is the same instant."""
    now = _la(2026, 11, 23, 23, 30)
    assert expiry(now) == now + timedelta(hours=2)
    assert expiry(now.astimezone(UTC)) == now + timedelta(hours=2)


def test_expiry_needs_aware_times():
    with pytest.raises(ValueError, match="aware"):
        offer_expiry(datetime(2026, 11, 20, 9), STARTS, STARTS - CUTOFF, POLICY, LA)


# --- priority --------------------------------------------------------------------------------

DEFAULT = ("visible", "referral")


@pytest.mark.parametrize(
    ("locations", "referral", "rules", "expected"),
    [
        (["hands"], "self", DEFAULT, 0),
        (["face_neck", "arms"], "friend", DEFAULT, 0),
        (["face_neck"], "probation", DEFAULT, 0),  # the first rule that matches
        (["arms"], "probation", DEFAULT, 1),
        (["legs"], "job_program", DEFAULT, 1),
        (["chest_back"], "reentry", DEFAULT, 1),
        (["legs"], "court", DEFAULT, 2),
        (["chest_back"], "case_manager", DEFAULT, 2),
        (["arms"], "school", DEFAULT, 2),
        (["other"], "self", DEFAULT, 2),
        ([], None, DEFAULT, 2),
        # The clinic's order, reversed.
        (["hands"], "self", ("referral", "visible"), 1),
        (["hands"], "reentry", ("referral", "visible"), 0),
        # One rule only; none at all (joining order alone).
        (["arms"], "probation", ("referral",), 0),
        (["hands"], "self", ("referral",), 1),
        (["hands"], "probation", (), 0),
        (["arms"], "self", (), 0),
        # A rule the clinic misspelled matches nobody, and never raises.
        (["hands"], "self", ("visibel", "visible"), 1),
    ],
)
def test_priority(locations, referral, rules, expected):
    assert priority(locations, referral, rules) == expected


# --- expected_wait ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "invitations", "weeks", "expected"),
    [
        (37, 8, 8, timedelta(weeks=37)),  # one a week: number 37 waits 37 weeks
        (10, 16, 8, timedelta(weeks=5)),  # two a week
        (1, 16, 8, timedelta(days=3, hours=12)),
        (3, 1, 8, timedelta(weeks=24)),
    ],
)
def test_expected_wait_from_the_recent_rate(position, invitations, weeks, expected):
    assert expected_wait(position, invitations, weeks) == expected


@pytest.mark.parametrize(("invitations", "weeks"), [(0, 8), (5, 0)])
def test_no_estimate_without_recent_invitations(invitations, weeks):
    assert expected_wait(5, invitations, weeks) is None


def test_a_place_counts_from_one():
    with pytest.raises(ValueError):
        expected_wait(0, 5, 8)


@pytest.mark.parametrize(
    ("wait", "weeks"),
    [
        (timedelta(weeks=5), 5),
        (timedelta(weeks=4, days=1), 5),  # rounded up: better early than late
        (timedelta(weeks=4, seconds=1), 5),
        (timedelta(days=3), 1),  # at least a week
        (timedelta(0), 1),
    ],
)
def test_the_wait_said_in_whole_weeks(wait, weeks):
    assert weeks_to_say(wait) == weeks
