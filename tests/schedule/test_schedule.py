"""Schedule management (admin): the coming clinic days, extra days, closing and reopening a
day, other hours, slot length or seats for one date, blocking a time, and what happens to the
bookings such a change would strand. Service, views, the public booking pages and the query
budget; the race of a day closed while youth book it, against real gunicorn workers, is in
tests/concurrency/test_schedule_races.py."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from clinic import booking, schedule, settings
from clinic.extensions import db
from clinic.models import Appointment, ClinicDay, Slot, StaffRole, StatusChange
from clinic.permissions import NotAllowed
from clinic.rules.visits import SEAT_HOLDING, VisitStatus, seat_change
from clinic.schedule import Hours, Resolution
from tests.conftest import FIRST_SLOT, LA, NEXT_DAY, NOW, intake_data, intake_url
from tests.support.querycount import count_statements

# Friday 20 Nov 2026: the regular clinic days ahead are Tue 24 Nov, 22 and 29 Dec, ...
NOT_A_CLINIC_DAY = date(2026, 11, 25)  # a Wednesday
LATER_DAY = date(2026, 12, 22)
PAST_DAY = date(2026, 11, 17)


# --- Helpers -----------------------------------------------------------------------------


@pytest.fixture
def admin(make_staff):
    return make_staff(StaffRole.ADMIN)


@pytest.fixture
def rules(app):
    return settings.current_rules()


@pytest.fixture
def youth_client(app):
    """A youth's phone: books through the public pages, never signed in."""
    return app.test_client()


def book(youth_client, n: int, start: time = FIRST_SLOT, day: date = NEXT_DAY, **extra):
    """Youth ``n`` books ``start`` on ``day`` through the intake form."""
    data = intake_data(
        **{
            "first_name": f"Youth{'abcdefghijklmnopqrstuvwxyz'[n % 26]}{'xyz'[n // 26 % 3]}",
            "submission_key": f"key{n:029d}",
            "slot_time": start.strftime("%H:%M"),
            "phone": f"415555{n:04d}",
            **extra,
        }
    )
    response = youth_client.post(intake_url(day, start), data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return db.session.scalars(
        select(Appointment).where(Appointment.submission_key == data["submission_key"])
    ).one()


def try_booking(youth_client, n: int, start: time = FIRST_SLOT, day: date = NEXT_DAY):
    """Another youth presses Book; the answer, whatever it is."""
    data = intake_data(
        first_name=f"Other{'abcdefghij'[n % 10]}",
        submission_key=f"other{n:027d}",
        slot_time=start.strftime("%H:%M"),
    )
    return youth_client.post(intake_url(day, start), data=data)


def status_of(appointment_id: int) -> str:
    return db.session.scalar(select(Appointment.status).where(Appointment.id == appointment_id))


def start_of(appointment_id: int) -> time:
    return db.session.scalar(
        select(Slot.start_time)
        .join(Appointment, Appointment.slot_id == Slot.id)
        .where(Appointment.id == appointment_id)
    )


def set_status(appointment_id: int, status: VisitStatus) -> None:
    """Move an appointment as the clinic day would have, its seat counter with it."""
    old = VisitStatus(status_of(appointment_id))
    delta = seat_change(old, status)
    slot_id = db.session.scalar(select(Appointment.slot_id).where(Appointment.id == appointment_id))
    db.session.execute(
        update(Appointment).where(Appointment.id == appointment_id).values(status=status)
    )
    db.session.execute(update(Slot).where(Slot.id == slot_id).values(booked=Slot.booked + delta))
    db.session.commit()


def counters_hold() -> None:
    """Every slot's counter equals its seat-holding appointments, within its capacity."""
    holding = [status.value for status in SEAT_HOLDING]
    for slot in db.session.scalars(select(Slot)).all():
        active = db.session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.slot_id == slot.id, Appointment.status.in_(holding))
        )
        assert slot.booked == active, (slot.day, slot.start_time, slot.booked, active)
        assert 0 <= slot.booked <= slot.capacity


def clinic_day(day: date) -> ClinicDay | None:
    return db.session.scalar(select(ClinicDay).where(ClinicDay.day == day))


# --- The overview ------------------------------------------------------------------------


def test_overview_lists_six_months_of_clinic_days_with_seats(app, youth_client, rules):
    book(youth_client, 1)
    book(youth_client, 2, start=time(16, 20))
    days = schedule.overview(rules, NOW.date())
    assert days[0].day == NEXT_DAY
    assert days[-1].day <= NOW.date() + timedelta(days=190)
    assert len(days) == 12  # two Tuesdays a month
    first = days[0]
    assert (first.slots, first.seats, first.booked, first.seats_left) == (12, 24, 2, 22)
    assert not first.closed and not first.extra and not first.changed


def test_overview_shows_closed_extra_changed_and_blocked_days(app, admin, rules, clock):
    schedule.close_day(LATER_DAY, "Laser broken", admin, clock.now, rules)
    schedule.add_extra_day(NOT_A_CLINIC_DAY, Hours(seats=3), admin, clock.now, rules)
    schedule.block_slot(NEXT_DAY, FIRST_SLOT, admin, clock.now, rules)
    by_day = {d.day: d for d in schedule.overview(rules, NOW.date())}
    assert by_day[LATER_DAY].closed and by_day[LATER_DAY].note == "Laser broken"
    extra = by_day[NOT_A_CLINIC_DAY]
    assert extra.extra and extra.changed and extra.seats == 36
    assert by_day[NEXT_DAY].blocked == 1 and by_day[NEXT_DAY].seats_left == 22


# --- Extra days --------------------------------------------------------------------------


def test_an_extra_day_opens_for_booking(app, admin, rules, clock, youth_client):
    schedule.add_extra_day(
        NOT_A_CLINIC_DAY, Hours(time(10), time(12), 30, 1), admin, clock.now, rules
    )
    plan = booking.day_plans(NOT_A_CLINIC_DAY, NOT_A_CLINIC_DAY, rules)[0]
    assert plan.extra and (plan.start, plan.end, plan.slot_minutes, plan.seats) == (
        time(10),
        time(12),
        30,
        1,
    )
    assert f"/book/{NOT_A_CLINIC_DAY}" in youth_client.get("/book").get_data(as_text=True)
    book(youth_client, 1, start=time(11, 30), day=NOT_A_CLINIC_DAY)


@pytest.mark.parametrize(
    ("day", "hours", "refusal"),
    [
        (PAST_DAY - timedelta(days=1), Hours(), schedule.DayPassed),
        (NEXT_DAY, Hours(), schedule.AlreadyAClinicDay),
        (NOW.date() + timedelta(days=200), Hours(), schedule.TooFarAhead),
        (NOT_A_CLINIC_DAY, Hours(time(18), time(17)), schedule.InvalidHours),
        (NOT_A_CLINIC_DAY, Hours(end=time(15)), schedule.InvalidHours),
        (NOT_A_CLINIC_DAY, Hours(slot_minutes=0), schedule.InvalidHours),
        (NOT_A_CLINIC_DAY, Hours(slot_minutes=241), schedule.InvalidHours),
        (NOT_A_CLINIC_DAY, Hours(seats=-1), schedule.InvalidHours),
        (NOT_A_CLINIC_DAY, Hours(seats=21), schedule.InvalidHours),
        (NOT_A_CLINIC_DAY, Hours(time(16), time(16, 10)), schedule.InvalidHours),
    ],
)
def test_an_extra_day_is_refused(app, admin, rules, clock, day, hours, refusal):
    with pytest.raises(refusal):
        schedule.add_extra_day(day, hours, admin, clock.now, rules)
    assert db.session.scalar(select(func.count()).select_from(ClinicDay)) == 0


def test_invalid_hours_name_the_field(rules):
    cases = {
        Hours(time(18), time(17)): ("end", "end_before_start"),
        Hours(start=time(21)): ("start", "end_before_start"),
        Hours(slot_minutes=0): ("slot_minutes", "slot_minutes"),
        Hours(seats=21): ("seats", "seats"),
        Hours(end=time(16, 10)): ("end", "no_slots"),
        Hours(end=time(19), slot_minutes=240): ("slot_minutes", "no_slots"),
    }
    for hours, (field, reason) in cases.items():
        with pytest.raises(schedule.InvalidHours) as refused:
            schedule.check_hours(hours, rules.day)
        assert (refused.value.field, refused.value.reason) == (field, reason), hours
    schedule.check_hours(Hours(time(8), time(20), 240, 0), rules.day)


def test_a_closed_day_is_reopened_not_added(app, admin, rules, clock):
    schedule.close_day(NEXT_DAY, None, admin, clock.now, rules)
    with pytest.raises(schedule.ClosedDay):
        schedule.add_extra_day(NEXT_DAY, Hours(), admin, clock.now, rules)


def test_removing_an_extra_day(app, admin, rules, clock):
    schedule.add_extra_day(NOT_A_CLINIC_DAY, Hours(), admin, clock.now, rules)
    schedule.remove_extra_day(NOT_A_CLINIC_DAY, admin, clock.now, rules)
    assert clinic_day(NOT_A_CLINIC_DAY) is None
    assert booking.day_plans(NOT_A_CLINIC_DAY, NOT_A_CLINIC_DAY, rules) == []
    with pytest.raises(schedule.NotExtra):
        schedule.remove_extra_day(NEXT_DAY, admin, clock.now, rules)


def test_removing_an_extra_day_with_bookings_asks_then_cancels(
    app, admin, rules, clock, youth_client
):
    schedule.add_extra_day(NOT_A_CLINIC_DAY, Hours(), admin, clock.now, rules)
    booked = book(youth_client, 1, day=NOT_A_CLINIC_DAY)
    with pytest.raises(schedule.Stranding) as asked:
        schedule.remove_extra_day(NOT_A_CLINIC_DAY, admin, clock.now, rules)
    assert asked.value.options == (Resolution.CANCEL,)
    assert clinic_day(NOT_A_CLINIC_DAY) is not None
    done = schedule.remove_extra_day(
        NOT_A_CLINIC_DAY, admin, clock.now, rules, Resolution.CANCEL, [booked.id]
    )
    assert done.cancelled == [booked.code]
    assert clinic_day(NOT_A_CLINIC_DAY) is None
    assert [c.code for c in schedule.cancelled_by_schedule(NOT_A_CLINIC_DAY, rules)] == [
        booked.code
    ]
    counters_hold()


# --- Closing and reopening ---------------------------------------------------------------


def test_closing_a_day_without_bookings(app, admin, rules, clock, youth_client):
    schedule.close_day(NEXT_DAY, "Laser broken", admin, clock.now, rules)
    row = clinic_day(NEXT_DAY)
    assert row.closed and row.note == "Laser broken"
    assert booking.day_plans(NEXT_DAY, NEXT_DAY, rules) == []
    with pytest.raises(schedule.NotAClinicDay):
        schedule.close_day(NEXT_DAY, None, admin, clock.now, rules)


def test_closing_a_day_with_bookings_asks_first_and_changes_nothing(
    app, admin, rules, clock, youth_client
):
    minor = book(
        youth_client,
        1,
        date_of_birth="2011-03-03",
        guardian_name="Marta Reyes",
        guardian_relationship="parent",
        guardian_phone="4155550111",
    )
    adult = book(youth_client, 2, start=time(17, 0))
    with pytest.raises(schedule.Stranding) as asked:
        schedule.close_day(NEXT_DAY, "Laser broken", admin, clock.now, rules)
    stranding = asked.value
    assert stranding.options == (Resolution.CANCEL,)
    assert not stranding.changed
    assert [a.code for a in stranding.affected] == [minor.code, adult.code]
    first = stranding.affected[0]
    assert first.minor and first.guardian_phone == "+14155550111"
    assert first.phone == "+14155550001" and first.start == FIRST_SLOT
    assert not stranding.affected[1].minor and stranding.affected[1].guardian_phone is None
    # Nothing was written.
    assert clinic_day(NEXT_DAY) is None
    assert {status_of(minor.id), status_of(adult.id)} == {"booked"}


def test_closing_with_cancel_cancels_records_and_lists_them(app, admin, rules, clock, youth_client):
    first = book(youth_client, 1)
    second = book(youth_client, 2, start=time(17, 0))
    done = schedule.close_day(
        NEXT_DAY, "Laser broken", admin, clock.now, rules, Resolution.CANCEL, [first.id, second.id]
    )
    assert sorted(done.cancelled) == sorted([first.code, second.code])
    assert clinic_day(NEXT_DAY).closed
    for appointment in (first, second):
        db.session.refresh(appointment)
        assert appointment.status == "cancelled"
        assert appointment.cancelled_by_id == admin.id and appointment.cancelled_at is not None
    changes = db.session.scalars(select(StatusChange).order_by(StatusChange.id)).all()
    assert [(c.action, c.from_status, c.to_status, c.staff_id) for c in changes] == [
        (schedule.SCHEDULE_CANCEL, "booked", "cancelled", admin.id)
    ] * 2
    assert db.session.scalar(select(func.sum(Slot.booked))) == 0
    counters_hold()
    contacts = schedule.cancelled_by_schedule(NEXT_DAY, rules)
    assert [(c.code, c.phone, c.language) for c in contacts] == [
        (first.code, "+14155550001", "es"),
        (second.code, "+14155550002", "es"),
    ]


def test_a_booking_the_admin_did_not_see_stops_the_change(app, admin, rules, clock, youth_client):
    seen = book(youth_client, 1)
    unseen = book(youth_client, 2, start=time(18, 0))  # booked while the admin was deciding
    with pytest.raises(schedule.Stranding) as asked:
        schedule.close_day(NEXT_DAY, None, admin, clock.now, rules, Resolution.CANCEL, [seen.id])
    assert asked.value.changed
    assert {a.id for a in asked.value.affected} == {seen.id, unseen.id}
    assert clinic_day(NEXT_DAY) is None
    assert {status_of(seen.id), status_of(unseen.id)} == {"booked"}


def test_closing_offers_no_move_or_keep(app, admin, rules, clock, youth_client):
    booked = book(youth_client, 1)
    for choice in (Resolution.MOVE, Resolution.KEEP):
        with pytest.raises(schedule.Stranding):
            schedule.close_day(NEXT_DAY, None, admin, clock.now, rules, choice, [booked.id])
    assert clinic_day(NEXT_DAY) is None and status_of(booked.id) == "booked"


def test_history_is_never_touched(app, admin, rules, clock, youth_client):
    """On the day itself: completed and no-show visits stay as they are; the one checked in
    and the one not yet arrived are the ones the change affects."""
    done = book(youth_client, 1)
    missed = book(youth_client, 2)
    arrived = book(youth_client, 3, start=time(17, 0))
    waiting = book(youth_client, 4, start=time(17, 20))
    earlier = book(youth_client, 5, start=time(18, 0))
    cancelled = book(youth_client, 6, start=time(18, 0))
    set_status(done.id, VisitStatus.COMPLETED)
    set_status(missed.id, VisitStatus.NO_SHOW)
    set_status(arrived.id, VisitStatus.CHECKED_IN)
    set_status(cancelled.id, VisitStatus.CANCELLED)
    clock.set(datetime(2026, 11, 24, 17, 30, tzinfo=LA))
    with pytest.raises(schedule.Stranding) as asked:
        schedule.close_day(NEXT_DAY, None, admin, clock.now, rules)
    affected = {a.id: a.status for a in asked.value.affected}
    assert affected == {arrived.id: "checked_in", waiting.id: "booked", earlier.id: "booked"}
    schedule.close_day(NEXT_DAY, None, admin, clock.now, rules, Resolution.CANCEL, affected)
    assert status_of(done.id) == "completed" and status_of(missed.id) == "no_show"
    assert {status_of(i) for i in affected} == {"cancelled"}
    change = db.session.scalar(
        select(StatusChange).where(StatusChange.appointment_id == arrived.id)
    )
    assert (change.from_status, change.to_status) == ("checked_in", "cancelled")
    counters_hold()
    # The desk's own cancellation is not on the schedule's call list.
    assert cancelled.code not in {c.code for c in schedule.cancelled_by_schedule(NEXT_DAY, rules)}


def test_reopening_a_closed_day(app, admin, rules, clock, youth_client):
    booked = book(youth_client, 1)
    schedule.close_day(NEXT_DAY, "Staff", admin, clock.now, rules, Resolution.CANCEL, [booked.id])
    schedule.reopen_day(NEXT_DAY, admin, clock.now, rules)
    assert clinic_day(NEXT_DAY) is None  # nothing differs from the rule any more
    assert booking.day_plans(NEXT_DAY, NEXT_DAY, rules)
    assert status_of(booked.id) == "cancelled"  # the youth books again
    with pytest.raises(schedule.NotClosed):
        schedule.reopen_day(NEXT_DAY, admin, clock.now, rules)


def test_reopening_keeps_the_dates_own_hours(app, admin, rules, clock):
    schedule.change_hours(NEXT_DAY, Hours(seats=4), admin, clock.now, rules)
    schedule.close_day(NEXT_DAY, None, admin, clock.now, rules)
    schedule.reopen_day(NEXT_DAY, admin, clock.now, rules)
    assert booking.day_plans(NEXT_DAY, NEXT_DAY, rules)[0].seats == 4


# --- Hours, slot length, seats -----------------------------------------------------------


def test_changing_hours_without_bookings(app, admin, rules, clock):
    schedule.change_hours(NEXT_DAY, Hours(time(17), time(21), 30, 3), admin, clock.now, rules)
    plan = booking.day_plans(NEXT_DAY, NEXT_DAY, rules)[0]
    assert (plan.start, plan.end, plan.slot_minutes, plan.seats) == (time(17), time(21), 30, 3)
    schedule.change_hours(NEXT_DAY, Hours(), admin, clock.now, rules)
    assert clinic_day(NEXT_DAY) is None  # back to the defaults: no row


def test_shorter_hours_offer_cancel_move_or_keep(app, admin, rules, clock, youth_client):
    late = book(youth_client, 1, start=time(19, 40))
    with pytest.raises(schedule.Stranding) as asked:
        schedule.change_hours(NEXT_DAY, Hours(end=time(19)), admin, clock.now, rules)
    assert asked.value.options == (Resolution.CANCEL, Resolution.MOVE, Resolution.KEEP)
    assert asked.value.movable
    assert clinic_day(NEXT_DAY) is None

    kept = schedule.change_hours(
        NEXT_DAY, Hours(end=time(19)), admin, clock.now, rules, Resolution.KEEP, [late.id]
    )
    assert kept.kept == 1 and not kept.cancelled and not kept.moved
    assert clinic_day(NEXT_DAY).end_time == time(19)
    assert status_of(late.id) == "booked" and start_of(late.id) == time(19, 40)
    counters_hold()
    # The day sheet still lists the kept booking.
    sheet = schedule.day_editor(NEXT_DAY, rules)
    assert [(s.start, s.booked, s.in_plan) for s in sheet.slots if not s.in_plan] == [
        (time(19, 40), 1, False)
    ]


def test_moving_to_the_nearest_free_time(app, admin, rules, clock, youth_client):
    late = book(youth_client, 1, start=time(19, 40))
    later = book(youth_client, 2, start=time(19, 40))
    full = [book(youth_client, 10 + n, start=time(18, 40)) for n in range(2)]
    done = schedule.change_hours(
        NEXT_DAY,
        Hours(end=time(19)),
        admin,
        clock.now,
        rules,
        Resolution.MOVE,
        [late.id, later.id],
    )
    # 18:40 is full, so the nearest free time is 18:20, then (its two seats) 18:20 again.
    assert sorted(done.moved) == sorted(
        [(late.code, time(19, 40), time(18, 20)), (later.code, time(19, 40), time(18, 20))]
    )
    assert start_of(late.id) == time(18, 20) and status_of(late.id) == "booked"
    assert db.session.scalar(select(Appointment.code).where(Appointment.id == late.id)) == late.code
    assert all(start_of(a.id) == time(18, 40) for a in full)
    assert not db.session.scalars(select(StatusChange)).all()  # nothing recorded as cancelled
    # The empty 19:40 row is gone: the day sheet shows no empty time outside the hours.
    assert db.session.scalar(select(Slot).where(Slot.start_time == time(19, 40))) is None
    counters_hold()


def test_fewer_seats_strand_only_the_newest(app, admin, rules, clock, youth_client):
    older = book(youth_client, 1)
    newer = book(youth_client, 2)
    with pytest.raises(schedule.Stranding) as asked:
        schedule.change_hours(NEXT_DAY, Hours(seats=1), admin, clock.now, rules)
    assert [a.id for a in asked.value.affected] == [newer.id]
    done = schedule.change_hours(
        NEXT_DAY, Hours(seats=1), admin, clock.now, rules, Resolution.MOVE, [newer.id]
    )
    assert done.moved == [(newer.code, FIRST_SLOT, time(16, 20))]
    assert start_of(older.id) == FIRST_SLOT
    counters_hold()
    assert {s.capacity for s in db.session.scalars(select(Slot))} == {1}


def test_fewer_seats_kept_leave_the_slot_full(app, admin, rules, clock, youth_client):
    first = book(youth_client, 1)
    second = book(youth_client, 2)
    schedule.change_hours(
        NEXT_DAY, Hours(seats=1), admin, clock.now, rules, Resolution.KEEP, [second.id]
    )
    assert {status_of(first.id), status_of(second.id)} == {"booked"}
    slot = db.session.scalar(select(Slot).where(Slot.start_time == FIRST_SLOT))
    assert (slot.booked, slot.capacity) == (2, 2)  # the CHECK holds; no seat to take
    response = try_booking(youth_client, 3)
    assert response.status_code == 422
    counters_hold()


def test_a_new_slot_length_cannot_keep(app, admin, rules, clock, youth_client):
    on_the_twenty = book(youth_client, 1, start=time(16, 20))
    with pytest.raises(schedule.Stranding) as asked:
        schedule.change_hours(NEXT_DAY, Hours(slot_minutes=30), admin, clock.now, rules)
    assert asked.value.options == (Resolution.CANCEL, Resolution.MOVE)
    with pytest.raises(schedule.Stranding):
        schedule.change_hours(
            NEXT_DAY,
            Hours(slot_minutes=30),
            admin,
            clock.now,
            rules,
            Resolution.KEEP,
            [on_the_twenty.id],
        )
    done = schedule.change_hours(
        NEXT_DAY,
        Hours(slot_minutes=30),
        admin,
        clock.now,
        rules,
        Resolution.MOVE,
        [on_the_twenty.id],
    )
    assert done.moved == [(on_the_twenty.code, time(16, 20), time(16, 30))]
    slot = db.session.scalar(select(Slot).where(Slot.start_time == time(16, 30)))
    assert slot.end_time == time(17, 0)
    counters_hold()


def test_moving_is_refused_when_not_all_fit(app, admin, rules, clock, youth_client):
    """Hours shrink to one slot of two seats, which three bookings cannot share."""
    booked = [book(youth_client, n, start=time(16, 20 * n)) for n in range(3)]
    ids = [a.id for a in booked]
    with pytest.raises(schedule.Stranding) as asked:
        schedule.change_hours(NEXT_DAY, Hours(end=time(16, 20)), admin, clock.now, rules)
    assert not asked.value.movable
    with pytest.raises(schedule.CannotMove):
        schedule.change_hours(
            NEXT_DAY, Hours(end=time(16, 20)), admin, clock.now, rules, Resolution.MOVE, ids
        )
    assert clinic_day(NEXT_DAY) is None
    assert [start_of(i) for i in ids] == [time(16), time(16, 20), time(16, 40)]
    counters_hold()


def test_moving_on_the_day_skips_times_already_started(app, admin, rules, clock, youth_client):
    booked = book(youth_client, 1, start=time(17, 0))
    clock.set(datetime(2026, 11, 24, 16, 30, tzinfo=LA))
    done = schedule.block_slot(
        NEXT_DAY, time(17), admin, clock.now, rules, Resolution.MOVE, [booked.id]
    )
    # 16:40 is as near as 17:20, earlier, and not started yet.
    assert done.moved == [(booked.code, time(17), time(16, 40))]
    clock.set(datetime(2026, 11, 24, 16, 50, tzinfo=LA))
    done = schedule.block_slot(
        NEXT_DAY, time(16, 40), admin, clock.now, rules, Resolution.MOVE, [booked.id]
    )
    assert done.moved == [(booked.code, time(16, 40), time(17, 20))]


def test_changing_hours_refuses_bad_hours_and_closed_days(app, admin, rules, clock):
    with pytest.raises(schedule.InvalidHours):
        schedule.change_hours(NEXT_DAY, Hours(time(20), time(16)), admin, clock.now, rules)
    with pytest.raises(schedule.NotAClinicDay):
        schedule.change_hours(NOT_A_CLINIC_DAY, Hours(seats=3), admin, clock.now, rules)
    schedule.close_day(NEXT_DAY, None, admin, clock.now, rules)
    with pytest.raises(schedule.NotAClinicDay):
        schedule.change_hours(NEXT_DAY, Hours(seats=3), admin, clock.now, rules)


# --- Blocking a time ---------------------------------------------------------------------


def test_blocking_a_time_nobody_booked(app, admin, rules, clock, youth_client):
    schedule.block_slot(NEXT_DAY, FIRST_SLOT, admin, clock.now, rules)
    slot = db.session.scalar(select(Slot).where(Slot.start_time == FIRST_SLOT))
    assert slot.blocked and slot.booked == 0
    response = try_booking(youth_client, 1)
    assert response.status_code == 422
    assert "no longer offered" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 0
    book(youth_client, 2, start=time(16, 20))  # the other times still take bookings

    schedule.unblock_slot(NEXT_DAY, FIRST_SLOT, admin, clock.now, rules)
    book(youth_client, 3)
    with pytest.raises(schedule.NoSuchSlot):
        schedule.unblock_slot(NEXT_DAY, FIRST_SLOT, admin, clock.now, rules)
    with pytest.raises(schedule.NoSuchSlot):
        schedule.block_slot(NEXT_DAY, time(16, 5), admin, clock.now, rules)
    with pytest.raises(schedule.NotAClinicDay):
        schedule.block_slot(NOT_A_CLINIC_DAY, FIRST_SLOT, admin, clock.now, rules)


def test_blocking_a_booked_time_asks_then_moves_or_cancels(app, admin, rules, clock, youth_client):
    first = book(youth_client, 1)
    with pytest.raises(schedule.Stranding) as asked:
        schedule.block_slot(NEXT_DAY, FIRST_SLOT, admin, clock.now, rules)
    assert asked.value.options == (Resolution.CANCEL, Resolution.MOVE)
    assert not db.session.scalar(select(Slot.blocked).where(Slot.start_time == FIRST_SLOT))
    done = schedule.block_slot(
        NEXT_DAY, FIRST_SLOT, admin, clock.now, rules, Resolution.MOVE, [first.id]
    )
    assert done.moved == [(first.code, FIRST_SLOT, time(16, 20))]
    assert db.session.scalar(select(Slot.blocked).where(Slot.start_time == FIRST_SLOT))

    second = book(youth_client, 2, start=time(16, 20))
    done = schedule.block_slot(
        NEXT_DAY, time(16, 20), admin, clock.now, rules, Resolution.CANCEL, [first.id, second.id]
    )
    assert sorted(done.cancelled) == sorted([first.code, second.code])
    counters_hold()


# --- Every change: the past, and who may make it -----------------------------------------


def _changes(day: date, actor, rules, now):
    return [
        lambda: schedule.close_day(day, None, actor, now, rules),
        lambda: schedule.reopen_day(day, actor, now, rules),
        lambda: schedule.change_hours(day, Hours(seats=3), actor, now, rules),
        lambda: schedule.remove_extra_day(day, actor, now, rules),
        lambda: schedule.block_slot(day, FIRST_SLOT, actor, now, rules),
        lambda: schedule.unblock_slot(day, FIRST_SLOT, actor, now, rules),
        lambda: schedule.add_extra_day(day, Hours(), actor, now, rules),
    ]


def test_a_past_day_cannot_be_changed(app, admin, rules, clock):
    for change in _changes(PAST_DAY, admin, rules, clock.now):
        with pytest.raises(schedule.DayPassed):
            change()


@pytest.mark.parametrize("role", [StaffRole.FRONT_DESK, StaffRole.CLINICIAN])
def test_only_the_admin_changes_the_schedule(app, make_staff, rules, clock, role):
    actor = make_staff(role)
    for change in _changes(NEXT_DAY, actor, rules, clock.now):
        with pytest.raises(NotAllowed):
            change()
    assert db.session.scalar(select(func.count()).select_from(ClinicDay)) == 0


# --- The pages ---------------------------------------------------------------------------

EN = {"Accept-Language": "en"}


def routes() -> list[tuple[str, str, dict, int]]:
    """(method, url, form, the admin's status) for every schedule route."""
    return [
        ("GET", "/staff/schedule", {}, 200),
        ("POST", "/staff/schedule/extra", {"day": NOT_A_CLINIC_DAY.isoformat()}, 303),
        ("GET", f"/staff/schedule/{NEXT_DAY}", {}, 200),
        ("POST", f"/staff/schedule/{NEXT_DAY}", {"change": "hours", "seats": "3"}, 303),
        ("POST", f"/staff/schedule/{NEXT_DAY}/slots/16:00/block", {}, 303),
        ("POST", f"/staff/schedule/{NEXT_DAY}/slots/16:00/unblock", {}, 303),
        ("GET", f"/staff/schedule/{NEXT_DAY}/cancelled", {}, 200),
    ]


def test_every_schedule_route_declares_its_action(app):
    from clinic.permissions import Action

    rules_ = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("staff.schedule")]
    assert len(rules_) == 6
    for rule in rules_:
        view = app.view_functions[rule.endpoint]
        assert view.required_action is Action.MANAGE_SCHEDULE, rule.endpoint


def test_admin_uses_every_route(client, admin, login):
    login(admin)
    for method, url, form, expected in routes():
        response = client.open(url, method=method, data=form)
        assert response.status_code == expected, (method, url, response.get_data(True)[:2000])
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("role", [StaffRole.FRONT_DESK, StaffRole.CLINICIAN])
def test_other_roles_are_refused(client, make_staff, login, role):
    login(make_staff(role))
    for method, url, form, _expected in routes():
        assert client.open(url, method=method, data=form).status_code == 403, (method, url)
    assert db.session.scalar(select(func.count()).select_from(ClinicDay)) == 0
    assert db.session.scalar(select(func.count()).select_from(Slot)) == 0


def test_anonymous_is_sent_to_sign_in(client):
    for method, url, form, _expected in routes():
        response = client.open(url, method=method, data=form)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/auth/login")


def test_the_menu_shows_the_schedule_to_the_admin_only(client, make_staff, login, admin):
    login(admin)
    page = client.get("/staff/schedule", headers=EN).get_data(as_text=True)
    assert 'href="/staff/schedule" aria-current="page"' in page


def test_overview_page(client, admin, login, youth_client, clock, rules):
    book(youth_client, 1)
    schedule.close_day(LATER_DAY, "Laser broken", admin, clock.now, rules)
    login(admin)
    page = client.get("/staff/schedule", headers=EN).get_data(as_text=True)
    assert "Tuesday, November 24, 2026" in page
    assert f'href="/staff/schedule/{NEXT_DAY}"' in page
    assert f'href="/staff/day/{NEXT_DAY}"' in page
    assert "<td>1</td>" in page and "<td>23</td>" in page  # booked, left
    assert "Laser broken" in page and "Reopen" in page
    assert "Add an extra day" in page
    assert "Youtha" not in page  # the overview names nobody


def test_adding_an_extra_day_through_the_form(client, admin, login, rules):
    login(admin)
    response = client.post(
        "/staff/schedule/extra",
        data={
            "day": "2026-12-02",
            "start": "10:00",
            "end": "13:00",
            "slot_minutes": "30",
            "seats": "1",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/schedule/2026-12-02"
    page = client.get(response.headers["Location"], headers=EN).get_data(as_text=True)
    assert "extra day" in page and "Extra clinic day added." in page
    assert "Remove this extra day" in page
    assert booking.day_plans(date(2026, 12, 2), date(2026, 12, 2), rules)[0].seats == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"day": "2026-11-19"}, "This date has passed."),
        ({"day": NEXT_DAY.isoformat()}, "The clinic already opens on this date."),
        ({"day": "2027-08-01"}, "within the next six months"),
        ({"day": "tomorrow"}, "Please enter a date as year-month-day"),
        ({"day": ""}, "Please fill this in."),
        ({"day": "2026-12-02", "start": "18:00", "end": "17:00"}, "must be after the opening"),
        ({"day": "2026-12-02", "start": "25:00"}, "Please enter a time like 16:00."),
        ({"day": "2026-12-02", "slot_minutes": "0"}, "from 1 to 240 minutes"),
        ({"day": "2026-12-02", "slot_minutes": "241"}, "from 1 to 240 minutes"),
        ({"day": "2026-12-02", "seats": "21"}, "from 0 to 20 seats"),
        ({"day": "2026-12-02", "seats": "-1"}, "Please enter a whole number."),
        ({"day": "2026-12-02", "seats": "two"}, "Please enter a whole number."),
        ({"day": "2026-12-02", "end": "16:10"}, "too short for one appointment"),
    ],
)
def test_a_bad_extra_day_is_explained_next_to_its_field(client, admin, login, form, message):
    login(admin)
    response = client.post("/staff/schedule/extra", data=form, headers=EN)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'class="error"' in page
    assert db.session.scalar(select(func.count()).select_from(ClinicDay)) == 0


def test_the_day_editor_page(client, admin, login, youth_client):
    book(youth_client, 1)
    login(admin)
    page = client.get(f"/staff/schedule/{NEXT_DAY}", headers=EN).get_data(as_text=True)
    assert "Tuesday, November 24, 2026" in page
    assert page.count('/block"') == 12
    assert "Close this day" in page and "Save the hours" in page
    assert "Remove this extra day" not in page
    assert f'href="/staff/day/{NEXT_DAY}"' in page


@pytest.mark.parametrize(
    "url",
    [
        f"/staff/schedule/{NOT_A_CLINIC_DAY}",
        f"/staff/schedule/{NEXT_DAY}/slots/16:05/block",
        f"/staff/schedule/{NOT_A_CLINIC_DAY}/slots/16:00/block",
        f"/staff/schedule/{NEXT_DAY}/slots/25:00/block",
        "/staff/schedule/2026-02-30",
        "/staff/schedule/9999-01-01/cancelled",
    ],
)
def test_dates_and_times_that_do_not_exist_are_404(client, admin, login, url):
    login(admin)
    method = "POST" if url.endswith("block") else "GET"
    assert client.open(url, method=method).status_code == 404


def test_an_unknown_change_is_a_bad_request(client, admin, login):
    login(admin)
    response = client.post(f"/staff/schedule/{NEXT_DAY}", data={"change": "explode"})
    assert response.status_code == 400


def test_closing_through_the_pages(client, admin, login, youth_client):
    minor = book(
        youth_client,
        1,
        first_name="Luis",
        last_name="Reyes",
        date_of_birth="2011-03-03",
        guardian_name="Marta Reyes",
        guardian_relationship="parent",
        guardian_phone="4155550111",
    )
    login(admin)
    url = f"/staff/schedule/{NEXT_DAY}"
    asked = client.post(url, data={"change": "close", "note": "Laser broken"}, headers=EN)
    assert asked.status_code == 422
    page = asked.get_data(as_text=True)
    assert "This change affects 1 booking." in page
    assert minor.code in page and "Luis Reyes" in page
    assert "+14155550001" in page and "+14155550111" in page
    assert "Cancel them (I will contact them)" in page
    assert "Move them" not in page and "Keep them" not in page
    assert "leave the day as it is" in page
    assert f'name="seen" value="{minor.id}"' in page
    assert 'name="note" value="Laser broken"' in page
    assert clinic_day(NEXT_DAY) is None

    done = client.post(
        url,
        data={
            "change": "close",
            "note": "Laser broken",
            "resolution": "cancel",
            "seen": str(minor.id),
        },
    )
    assert done.status_code == 303
    assert done.headers["Location"] == f"/staff/schedule/{NEXT_DAY}/cancelled"
    contact = client.get(done.headers["Location"], headers=EN).get_data(as_text=True)
    assert "1 appointment was cancelled" in contact
    assert "Luis Reyes" in contact and minor.code in contact
    assert "+14155550001" in contact and "+14155550111" in contact and "Español" in contact
    assert status_of(minor.id) == "cancelled"
    # The list stays reachable, and the day's page leads to it.
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "Laser broken" in page and "Reopen this day" in page
    assert f"/staff/schedule/{NEXT_DAY}/cancelled" in page
    assert client.get(f"/staff/schedule/{NEXT_DAY}/cancelled").status_code == 200


def test_a_stale_confirmation_asks_again(client, admin, login, youth_client):
    seen = book(youth_client, 1)
    login(admin)
    url = f"/staff/schedule/{NEXT_DAY}"
    client.post(url, data={"change": "close"})
    unseen = book(youth_client, 2, start=time(17))
    response = client.post(
        url, data={"change": "close", "resolution": "cancel", "seen": str(seen.id)}, headers=EN
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "changed while you were deciding" in page and unseen.code in page
    assert {status_of(seen.id), status_of(unseen.id)} == {"booked"}
    assert clinic_day(NEXT_DAY) is None


@pytest.mark.parametrize("odd", ["²", "٣", "99999999999999999999", str(2**31), "-1"])
def test_seen_ids_that_are_not_row_ids_are_ignored(client, admin, login, youth_client, odd):
    """Regression: '²' passed str.isdigit() and then failed int() (a 500); an id beyond the
    integer column is no id either. Either counts as not seen, so the admin is asked again."""
    booked = book(youth_client, 1)
    login(admin)
    url = f"/staff/schedule/{NEXT_DAY}"
    response = client.post(
        url, data={"change": "close", "resolution": "cancel", "seen": [odd]}, headers=EN
    )
    assert response.status_code == 422
    assert status_of(booked.id) == "booked"
    done = client.post(
        url, data={"change": "close", "resolution": "cancel", "seen": [odd, str(booked.id)]}
    )
    assert done.status_code == 303
    assert status_of(booked.id) == "cancelled"


@pytest.mark.parametrize("seats", ["٣", "²", "３"])
def test_seats_in_other_digits_are_not_a_whole_number(client, admin, login, seats):
    """str.isdigit() says yes to '٣' (which int() reads as 3) and to '²' (which it refuses):
    only the digits 0-9 make a number of seats."""
    login(admin)
    response = client.post(
        "/staff/schedule/extra", data={"day": "2026-12-02", "seats": seats}, headers=EN
    )
    assert response.status_code == 422
    assert "Please enter a whole number." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ClinicDay)) == 0


def test_changing_hours_through_the_pages(client, admin, login, youth_client):
    late = book(youth_client, 1, start=time(19, 40))
    login(admin)
    url = f"/staff/schedule/{NEXT_DAY}"
    asked = client.post(url, data={"change": "hours", "end": "19:00"}, headers=EN)
    assert asked.status_code == 422
    page = asked.get_data(as_text=True)
    for choice in ("Cancel them", "Move them to the nearest free time", "Keep them"):
        assert choice in page
    moved = client.post(
        url, data={"change": "hours", "end": "19:00", "resolution": "move", "seen": str(late.id)}
    )
    assert moved.status_code == 303 and moved.headers["Location"] == url
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert f"{late.code} 7:40" in page and "6:40" in page  # the move, by code
    assert "Youtha" not in page  # names never travel in the flash cookie
    assert start_of(late.id) == time(18, 40)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"end": "15:00"}, "must be after the opening"),
        ({"slot_minutes": "0"}, "from 1 to 240 minutes"),
        ({"seats": "99"}, "from 0 to 20 seats"),
        ({"start": "noon"}, "Please enter a time like 16:00."),
    ],
)
def test_bad_hours_are_explained(client, admin, login, form, message):
    login(admin)
    response = client.post(
        f"/staff/schedule/{NEXT_DAY}", data={"change": "hours", **form}, headers=EN
    )
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert clinic_day(NEXT_DAY) is None


def test_a_note_too_long_is_explained(client, admin, login):
    login(admin)
    response = client.post(
        f"/staff/schedule/{NEXT_DAY}", data={"change": "close", "note": "x" * 201}, headers=EN
    )
    assert response.status_code == 422
    assert "Please keep this under 200 characters." in response.get_data(as_text=True)
    assert clinic_day(NEXT_DAY) is None


def test_reopen_and_remove_through_the_pages(client, admin, login, clock, rules):
    login(admin)
    client.post(f"/staff/schedule/{NEXT_DAY}", data={"change": "close", "note": "Holiday"})
    response = client.post(f"/staff/schedule/{NEXT_DAY}", data={"change": "reopen"})
    assert response.status_code == 303 and clinic_day(NEXT_DAY) is None
    again = client.post(f"/staff/schedule/{NEXT_DAY}", data={"change": "reopen"}, headers=EN)
    assert again.status_code == 422 and "This day is not closed." in again.get_data(True)

    schedule.add_extra_day(NOT_A_CLINIC_DAY, Hours(), admin, clock.now, rules)
    removed = client.post(f"/staff/schedule/{NOT_A_CLINIC_DAY}", data={"change": "remove"})
    assert removed.status_code == 303 and removed.headers["Location"] == "/staff/schedule"
    not_extra = client.post(f"/staff/schedule/{NEXT_DAY}", data={"change": "remove"}, headers=EN)
    assert not_extra.status_code == 422
    assert "Only an extra day can be removed" in not_extra.get_data(as_text=True)


def test_blocking_through_the_pages(client, admin, login, youth_client):
    booked = book(youth_client, 1)
    login(admin)
    block = f"/staff/schedule/{NEXT_DAY}/slots/16:00/block"
    asked = client.post(block, headers=EN)
    assert asked.status_code == 422
    page = asked.get_data(as_text=True)
    assert booked.code in page and f'action="{block}"' in page and "Keep them" not in page
    done = client.post(block, data={"resolution": "cancel", "seen": str(booked.id)})
    assert done.headers["Location"] == f"/staff/schedule/{NEXT_DAY}/cancelled"
    page = client.get(f"/staff/schedule/{NEXT_DAY}", headers=EN).get_data(as_text=True)
    assert "Unblock 4:00" in page
    assert try_booking(youth_client, 2).status_code == 422
    unblock = client.post(f"/staff/schedule/{NEXT_DAY}/slots/16:00/unblock")
    assert unblock.status_code == 303
    assert try_booking(youth_client, 2).status_code == 303


def test_a_past_day_is_shown_but_not_changed(client, admin, login):
    login(admin)
    page = client.get(f"/staff/schedule/{PAST_DAY}", headers=EN).get_data(as_text=True)
    assert "This day has passed" in page and "Close this day" not in page
    response = client.post(f"/staff/schedule/{PAST_DAY}", data={"change": "close"}, headers=EN)
    assert response.status_code == 422
    assert clinic_day(PAST_DAY) is None


def test_a_closed_day_disappears_from_booking(client, admin, login, youth_client):
    login(admin)
    assert f"/book/{NEXT_DAY}" in youth_client.get("/book").get_data(as_text=True)
    client.post(f"/staff/schedule/{NEXT_DAY}", data={"change": "close"})
    assert f"/book/{NEXT_DAY}" not in youth_client.get("/book").get_data(as_text=True)
    assert youth_client.get(f"/book/{NEXT_DAY}").status_code == 404
    assert try_booking(youth_client, 1).status_code == 422


# --- Query budget ------------------------------------------------------------------------

# The signed-in user, the schedule changes of the six months, the slot rows holding a booking,
# the appointments per day (counted as the day page counts them), the clinicians rostered per
# day, then the standby counts per day and the seats held for open offers.
SCHEDULE_BUDGET = 7


def _booked_extra_days(count: int) -> None:
    """``count`` extra days (Wednesdays and Thursdays ahead), each with one booked seat."""
    days = [NOW.date() + timedelta(days=n) for n in range(5, 180)]
    days = [d for d in days if d.weekday() in (2, 3)][:count]
    assert len(days) == count
    db.session.execute(insert(ClinicDay), [{"day": d, "extra": True} for d in days])
    db.session.execute(
        insert(Slot),
        [
            {
                "day": d,
                "start_time": FIRST_SLOT,
                "end_time": time(16, 20),
                "capacity": 2,
                "booked": 1,
            }
            for d in days
        ],
    )
    db.session.commit()


def test_the_schedule_page_stays_within_its_budget(client, admin, login, youth_client):
    book(youth_client, 1)
    login(admin)

    def statements() -> int:
        with count_statements() as seen:
            response = client.get("/staff/schedule")
        assert response.status_code == 200
        return len(seen)

    with_one = statements()
    _booked_extra_days(49)
    with_fifty = statements()
    page = client.get("/staff/schedule").get_data(as_text=True)
    assert page.count('href="/staff/day/') == 12 + 49
    print("\n/staff/schedule statements with 1 and 50 booked days:", with_one, with_fifty)
    assert with_one == with_fifty <= SCHEDULE_BUDGET, (with_one, with_fifty)
