"""The pure rules behind messages, in ``clinic.rules.messages``: when reminders go out, how
long a failed message waits, and which way a youth is reached."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic.rules.messages import (
    ReminderKind,
    ReminderPolicy,
    choose_channel,
    reminders_for,
    retry_delay,
)

LA = ZoneInfo("America/Los_Angeles")
DAY = date(2026, 11, 24)  # a Tuesday, after the clocks went back on 1 November
START = time(16, 0)
LONG_AGO = datetime(2026, 10, 1, tzinfo=UTC)


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=LA).astimezone(UTC)


def kinds(reminders) -> list[ReminderKind]:
    return [reminder.kind for reminder in reminders]


def test_two_days_before_at_ten_and_the_morning_of_at_nine_clinic_time():
    reminders = reminders_for(DAY, START, LA, LONG_AGO, LONG_AGO)
    assert [(r.kind, r.send_at) for r in reminders] == [
        (ReminderKind.EARLY, datetime(2026, 11, 22, 18, 0, tzinfo=UTC)),  # 10:00 PST
        (ReminderKind.SAME_DAY, datetime(2026, 11, 24, 17, 0, tzinfo=UTC)),  # 9:00 PST
    ]
    # The early one gives way to the same-day one if still waiting then (a worker was down).
    assert [r.expires_at for r in reminders] == [reminders[1].send_at, at(DAY, START)]


def test_a_daylight_saving_change_between_the_reminders_moves_neither():
    # Clocks go forward on Sunday 14 March 2027. Three days ahead, the early reminder is on
    # Saturday the 13th in PST (UTC-8); the same-day one on Tuesday the 16th in PDT (UTC-7).
    day = date(2027, 3, 16)
    policy = ReminderPolicy(days_before=3)
    early, same_day = reminders_for(day, START, LA, LONG_AGO, LONG_AGO, policy)
    assert early.send_at == datetime(2027, 3, 13, 18, 0, tzinfo=UTC)
    assert same_day.send_at == datetime(2027, 3, 16, 16, 0, tzinfo=UTC)
    assert early.send_at.astimezone(LA).time() == time(10, 0)
    assert same_day.send_at.astimezone(LA).time() == time(9, 0)


def test_booked_after_the_early_reminder_time_gets_only_the_same_day_one():
    booked = at(DAY - timedelta(days=1), time(20, 0))  # Monday evening
    assert kinds(reminders_for(DAY, START, LA, booked, booked)) == [ReminderKind.SAME_DAY]


def test_a_reminder_right_after_booking_is_left_out():
    booked = at(DAY, time(8, 30))  # half an hour before the morning reminder
    assert reminders_for(DAY, START, LA, booked, booked) == []
    booked = at(DAY, time(7, 59))  # more than an hour before it
    assert kinds(reminders_for(DAY, START, LA, booked, booked)) == [ReminderKind.SAME_DAY]


def test_a_late_reminder_still_goes_before_the_appointment_but_never_after():
    # The job did not run at 9:00; at 15:00 the reminder is still worth sending.
    late = at(DAY, time(15, 0))
    assert ReminderKind.SAME_DAY in kinds(reminders_for(DAY, START, LA, LONG_AGO, late))
    assert reminders_for(DAY, START, LA, LONG_AGO, at(DAY, START)) == []


def test_reminders_can_be_turned_off_one_by_one():
    no_early = ReminderPolicy(days_before=0)
    assert kinds(reminders_for(DAY, START, LA, LONG_AGO, LONG_AGO, no_early)) == [
        ReminderKind.SAME_DAY
    ]
    no_morning = ReminderPolicy(same_day_at=None)
    assert kinds(reminders_for(DAY, START, LA, LONG_AGO, LONG_AGO, no_morning)) == [
        ReminderKind.EARLY
    ]
    assert no_early.enabled == {ReminderKind.SAME_DAY}
    assert no_morning.enabled == {ReminderKind.EARLY}
    assert ReminderPolicy(early_at=None, same_day_at=None).enabled == set()
    assert ReminderPolicy().enabled == {ReminderKind.EARLY, ReminderKind.SAME_DAY}


def test_a_same_day_reminder_set_after_the_appointment_time_is_not_sent():
    evening = ReminderPolicy(same_day_at=time(18, 0))
    assert kinds(reminders_for(DAY, START, LA, LONG_AGO, LONG_AGO, evening)) == [ReminderKind.EARLY]


BASE, CAP = timedelta(minutes=1), timedelta(hours=1)


@pytest.mark.parametrize(
    ("attempt", "minutes"),
    [
        (1, 1),
        (2, 2),
        (3, 4),
        (4, 8),
        (5, 16),
        (6, 32),
        (7, 60),
        (8, 60),
        (12, 60),
        (42, 60),
        (10**6, 60),
    ],
)
def test_backoff_doubles_up_to_the_cap(attempt, minutes):
    assert retry_delay(attempt, BASE, CAP, 0.5) == timedelta(minutes=minutes)


def test_jitter_spreads_a_retry_over_80_to_120_percent():
    assert retry_delay(3, BASE, CAP, 0.0) == timedelta(minutes=4) * 0.8
    assert retry_delay(3, BASE, CAP, 1.0) == timedelta(minutes=4) * 1.2
    assert retry_delay(3, BASE, CAP, 7.0) == timedelta(minutes=4) * 1.2  # clamped


@pytest.mark.parametrize(
    ("preference", "phone", "email", "channel"),
    [
        ("sms", "+14155550134", "a@example.org", "sms"),
        ("email", "+14155550134", "a@example.org", "email"),
        (None, "+14155550134", "a@example.org", "email"),
        (None, "+14155550134", None, "sms"),
        ("email", "+14155550134", None, "sms"),  # asked for e-mail, gave none
        ("sms", None, "a@example.org", "email"),  # asked for texts, gave no phone
        (None, None, None, None),
    ],
)
def test_the_youth_is_reached_the_way_they_chose_if_they_can_be(preference, phone, email, channel):
    assert choose_channel(preference, phone, email) == channel
