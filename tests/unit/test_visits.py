"""The clinic day's pure rules in ``clinic.rules.visits``: visit moves, seats, lateness,
queue order, walk-in seats, session numbers and the healing interval. No app, no database."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic.rules.calendar import SlotPlan
from clinic.rules.visits import (
    SEAT_HOLDING,
    InvalidTransition,
    QueuePlace,
    VisitAction,
    VisitStatus,
    Waiting,
    awaiting_consent,
    call_order,
    earliest_follow_up,
    is_late,
    missing_treatment_details,
    next_session_number,
    next_status,
    queue_order,
    seat_change,
    sources_of,
    walk_in_slot,
)

LA = ZoneInfo("America/Los_Angeles")
B, W, T, D, N, X = (
    VisitStatus.BOOKED,
    VisitStatus.CHECKED_IN,
    VisitStatus.IN_TREATMENT,
    VisitStatus.COMPLETED,
    VisitStatus.NO_SHOW,
    VisitStatus.CANCELLED,
)
A = VisitAction

ALLOWED = {
    (B, A.CHECK_IN): W,
    (B, A.NO_SHOW): N,
    (B, A.CANCEL): X,
    (W, A.CALL): T,
    (W, A.CANCEL): X,
    (T, A.COMPLETE): D,
}


@pytest.mark.parametrize("status", list(VisitStatus))
@pytest.mark.parametrize("action", list(VisitAction))
def test_only_the_listed_moves_exist(status, action):
    if (status, action) in ALLOWED:
        assert next_status(status, action) is ALLOWED[(status, action)]
    else:
        with pytest.raises(InvalidTransition):
            next_status(status, action)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (N, A.COMPLETE),  # completing a no-show
        (X, A.CHECK_IN),  # checking in a cancelled appointment
        (T, A.CALL),  # calling someone already in treatment
        (D, A.CANCEL),  # cancelling a visit that happened
        (B, A.CALL),  # calling someone who has not arrived
        (W, A.NO_SHOW),  # a youth who is here is not a no-show
    ],
)
def test_the_refusals_the_issue_names(status, action):
    with pytest.raises(InvalidTransition) as refused:
        next_status(status, action)
    assert (refused.value.status, refused.value.action) == (status, action)


def test_sources_of_each_action():
    assert sources_of(A.CANCEL) == {B, W}
    assert sources_of(A.CALL) == {W}
    assert sources_of(A.COMPLETE) == {T}


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        (B, W, 0),
        (W, T, 0),
        (T, D, 0),
        (B, N, -1),  # a no-show frees the seat for a walk-in
        (B, X, -1),
        (W, X, -1),
        (N, B, 1),  # undoing takes it back
        (X, W, 1),
        (X, N, 0),
    ],
)
def test_seat_change(old, new, change):
    assert seat_change(old, new) == change
    assert (old in SEAT_HOLDING) - (new in SEAT_HOLDING) == -change


@pytest.mark.parametrize(
    ("now", "late"),
    [
        (datetime(2026, 11, 24, 16, 14, 59, tzinfo=LA), False),
        (datetime(2026, 11, 24, 16, 15, tzinfo=LA), False),  # exactly the grace: not yet
        (datetime(2026, 11, 24, 16, 15, 1, tzinfo=LA), True),
        (datetime(2026, 11, 25, 0, 16, tzinfo=ZoneInfo("UTC")), True),  # same instant in UTC
    ],
)
def test_lateness_after_the_grace_period(now, late):
    starts = datetime(2026, 11, 24, 16, 0, tzinfo=LA)
    assert is_late(starts, now, timedelta(minutes=15)) is late


def test_lateness_across_a_daylight_saving_change():
    # 1 Nov 2026, 01:30 happens twice in Los Angeles; the grace is counted in real minutes.
    starts = datetime(2026, 11, 1, 1, 30, tzinfo=LA, fold=0)
    assert is_late(starts, datetime(2026, 11, 1, 1, 40, tzinfo=LA, fold=1), timedelta(minutes=15))


def test_queue_order_is_appointment_time_then_arrival_then_ticket():
    arrived = datetime(2026, 11, 25, 0, 0)
    early_booking_late_arrival = QueuePlace(time(16, 0), arrived + timedelta(minutes=30), 5)
    later_booking_early_arrival = QueuePlace(time(16, 20), arrived, 1)
    same_time_earlier_arrival = QueuePlace(time(16, 0), arrived + timedelta(minutes=10), 3)
    tie_lower_ticket = QueuePlace(time(16, 0), arrived + timedelta(minutes=10), 2)
    assert queue_order(
        [
            later_booking_early_arrival,
            early_booking_late_arrival,
            same_time_earlier_arrival,
            tie_lower_ticket,
        ]
    ) == [
        tie_lower_ticket,
        same_time_earlier_arrival,
        early_booking_late_arrival,
        later_booking_early_arrival,
    ]


DAY = date(2026, 11, 24)
SLOTS = [
    SlotPlan(DAY, time(16, 0), time(16, 20), 2),
    SlotPlan(DAY, time(16, 20), time(16, 40), 2),
    SlotPlan(DAY, time(16, 40), time(17, 0), 2),
]


@pytest.mark.parametrize(
    ("booked", "now", "expected"),
    [
        ({}, time(15, 0), time(16, 0)),  # before opening: the first slot
        ({time(16, 0): 2}, time(15, 0), time(16, 20)),  # full: the next one
        ({time(16, 0): 1}, time(16, 19), time(16, 0)),  # the current slot still has a seat
        ({}, time(16, 20), time(16, 20)),  # a slot that has ended is not offered
        ({time(16, 20): 2, time(16, 40): 2}, time(16, 25), None),  # nothing left today
        ({}, time(17, 0), None),  # the day is over
    ],
)
def test_walk_ins_take_the_earliest_free_seat_not_yet_over(booked, now, expected):
    chosen = walk_in_slot(SLOTS, booked, now)
    assert (chosen.start if chosen else None) == expected


def test_session_numbers_count_on():
    assert next_session_number(0) == 1
    assert next_session_number(7) == 8
    with pytest.raises(ValueError):
        next_session_number(-1)


@pytest.mark.parametrize(
    ("last", "weeks", "expected"),
    [
        (None, 6, None),  # never treated: no wait
        (date(2026, 10, 27), 6, date(2026, 12, 8)),
        (date(2026, 12, 29), 6, date(2027, 2, 9)),  # across the year
        (date(2024, 1, 16), 8, date(2024, 3, 12)),  # across a leap February
    ],
)
def test_earliest_follow_up(last, weeks, expected):
    assert earliest_follow_up(last, timedelta(weeks=weeks)) == expected


def test_call_order_is_the_queue_order_passing_over_minors_awaiting_consent():
    arrived = datetime(2026, 11, 25, 0, 0)
    first_arrival_later_time = Waiting(QueuePlace(time(16, 20), arrived, 1), 11)
    minor_no_consent = Waiting(QueuePlace(time(16, 0), arrived, 4), 14, awaiting_consent=True)
    on_time = Waiting(QueuePlace(time(16, 0), arrived + timedelta(minutes=5), 6), 16)
    walk_in = Waiting(QueuePlace(time(16, 0), arrived + timedelta(minutes=9), 7), 17)
    order = call_order([first_arrival_later_time, minor_no_consent, walk_in, on_time])
    assert [w.appointment_id for w in order] == [16, 17, 11]


def test_call_order_of_nobody_callable_is_empty():
    arrived = datetime(2026, 11, 25, 0, 0)
    assert call_order([Waiting(QueuePlace(time(16), arrived, 1), 1, awaiting_consent=True)]) == []


@pytest.mark.parametrize(
    ("minor", "consent_given", "waits"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_only_a_minor_without_consent_waits_for_it(minor, consent_given, waits):
    assert awaiting_consent(minor, consent_given) is waits


@pytest.mark.parametrize(
    ("areas", "skin_type", "settings", "missing"),
    [
        (["hands"], "IV", "1064 nm, 3 J/cm2", []),
        ([], "IV", "1064 nm", ["areas"]),
        ([""], "IV", "1064 nm", ["areas"]),
        (["arms"], None, "1064 nm", ["skin_type"]),
        (["arms"], "VII", "1064 nm", ["skin_type"]),
        (["arms"], "II", "   ", ["settings"]),
        ([], "", None, ["areas", "skin_type", "settings"]),
    ],
)
def test_a_treatment_records_area_skin_type_and_settings(areas, skin_type, settings, missing):
    assert missing_treatment_details(areas, skin_type, settings) == missing
