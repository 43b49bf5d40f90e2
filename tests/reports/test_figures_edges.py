"""Report figures at their edges, each on a clinic of its own built with the known-answer
tests' builder: a walk-in who left, two visits of one youth on one day, a youth merged with
two places on the waiting list, a cancelled extra day, and a period reaching past today."""

from __future__ import annotations

from datetime import date, time

import pytest

from clinic.extensions import db
from clinic.models import ClinicDay, ListEntry, ListKind, StaffRole, Youth
from clinic.reports.figures import figures
from clinic.rules.reports import Period, RangeKind
from clinic.rules.visits import VisitStatus
from tests.reports.conftest import Builder, SmallClinic, utc

Q3 = Period(date(2026, 7, 1), date(2026, 9, 30), RangeKind.QUARTER)
AFTER = date(2026, 10, 6)  # the quarter is over
T16, T1620 = time(16, 0), time(16, 20)


@pytest.fixture
def builder(app, make_staff) -> Builder:
    staff = {role: make_staff(role) for role in StaffRole}
    clinic = SmallClinic(
        admin_id=staff[StaffRole.ADMIN].id,
        desk_id=staff[StaffRole.FRONT_DESK].id,
        clinician_id=staff[StaffRole.CLINICIAN].id,
    )
    return Builder(clinic)


def counted(rules, today: date = AFTER, period: Period = Q3):
    db.session.commit()
    return figures(period, rules, today, course_sessions=6)


@pytest.fixture
def rules(app):
    from clinic import settings

    return settings.current_rules()


def test_a_walk_in_who_left_is_neither_a_walk_in_nor_a_cancelled_appointment(builder, rules):
    builder.youth("Ana", date(2004, 3, 10))
    builder.youth("Beto", date(2005, 4, 1))
    booked = builder.visit("Ana", date(2026, 7, 21), T16, VisitStatus.CANCELLED)
    builder.cancel(booked, date(2026, 7, 20), by_staff=builder.clinic.desk_id)
    left = builder.visit("Beto", date(2026, 7, 21), T1620, VisitStatus.CANCELLED, walk_in=True)
    builder.cancel(left, date(2026, 7, 21), by_staff=builder.clinic.desk_id)
    got = counted(rules)
    assert (got.appointments, got.cancelled_by_staff, got.cancelled_by_youth) == (1, 1, 0)
    assert got.walk_ins == 0
    assert got.days[0].booked == 0


def test_two_visits_on_one_day_count_sessions_in_time_order(builder, rules):
    """Her first visit ever is the earlier one that day, whatever their ids: she is new, and
    her profile is read from the 16:00 visit (referral "court"), not the 16:20 one."""
    builder.youth("Ana", date(2004, 3, 10))
    later = builder.visit("Ana", date(2026, 7, 21), T1620, VisitStatus.COMPLETED, referral="self")
    earlier = builder.visit("Ana", date(2026, 7, 21), T16, VisitStatus.COMPLETED, referral="court")
    assert later.id < earlier.id
    got = counted(rules)
    assert (got.youth_served, got.new_youth, got.treatments) == (1, 1, 2)
    assert got.referrals == {"court": 1}


def test_a_youth_merged_with_two_places_on_the_waiting_list_is_counted_once(builder, rules):
    kept = builder.youth("Ana", date(2004, 3, 10))
    merged = builder.youth("Anita", date(2004, 3, 10))
    builder.entry("Ana", ListKind.PROGRAM, utc(date(2026, 7, 2), 10))
    builder.entry("Anita", ListKind.PROGRAM, utc(date(2026, 7, 3), 10))
    db.session.get(Youth, merged).merged_into_id = kept
    got = counted(rules)
    assert got.waitlist_at_end == 1
    assert [month.waiting_list for month in got.months] == [1, 1, 1]
    assert db.session.query(ListEntry).count() == 2  # both places are still there


def test_a_cancelled_extra_day_is_listed_as_cancelled(builder, rules):
    db.session.add(ClinicDay(day=date(2026, 8, 4), extra=True, closed=True))
    got = counted(rules)
    listed = {day.day: day.closed for day in got.days}
    assert listed[date(2026, 8, 4)] is True
    assert got.clinic_days == 6  # the six regular Tuesdays ran; the extra day did not


def test_a_period_reaching_past_today_counts_only_the_days_held(builder, rules):
    """On 19 August, the quarter's four later days are ahead: listed, with their seats, but
    not held, offered or due; the waiting list is counted at the start of the day, and the
    months not over yet have no month-end count."""
    builder.youth("Ana", date(2004, 3, 10))
    builder.visit("Ana", date(2026, 7, 21), T16, VisitStatus.COMPLETED)
    builder.visit("Ana", date(2026, 9, 22), T16, VisitStatus.BOOKED)
    builder.entry("Ana", ListKind.PROGRAM, utc(date(2026, 7, 2), 10))
    got = counted(rules, today=date(2026, 8, 19))
    assert len(got.days) == 6
    assert got.clinic_days == 3  # 21 and 28 July, 18 August
    assert got.seats_offered == sum(day.seats for day in got.days[:3])
    assert got.seats_used == 1
    assert got.due == 1  # the September booking is not due yet
    assert got.days[4].booked == 1  # but it is on its day
    assert [month.waiting_list for month in got.months] == [1, None, None]
    assert got.waitlist_at_end == 1
