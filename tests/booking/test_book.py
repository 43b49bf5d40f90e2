"""The booking use case called directly: all or nothing, idempotent, capacity by the database."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from clinic import booking, clinic_day, settings
from clinic.extensions import db
from clinic.models import Appointment, ClinicDay, Intake, Slot, Youth
from tests.conftest import NEXT_DAY, NOW
from tests.support.querycount import count_statements


def request(n: int = 1, **overrides) -> booking.BookingRequest:
    values = dict(
        day=NEXT_DAY,
        start=time(16, 0),
        submission_key=f"key-{n:04d}-{'x' * 20}",
        first_name=f"Youth{n}",
        last_name="Test",
        date_of_birth=date(2005, 3, 3),
        phone="+14155550100",
    )
    values.update(overrides)
    return booking.BookingRequest(**values)


def rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seats_run_out_at_capacity(app):
    rules = settings.current_rules()
    booking.book(request(1), rules, NOW)
    booking.book(request(2), rules, NOW)
    with pytest.raises(booking.SlotUnavailable) as refused:
        booking.book(request(3), rules, NOW)
    assert refused.value.reason == "full"
    slot = db.session.scalars(select(Slot)).one()
    assert slot.booked == slot.capacity == 2
    assert rows(Appointment) == 2 and rows(Youth) == 2


def test_seat_counter_is_checked_by_the_database(app):
    """Even a write that skips the service cannot push the counter past capacity."""
    booking.book(request(1), settings.current_rules(), NOW)
    slot = db.session.scalars(select(Slot)).one()
    slot.booked = 3
    with pytest.raises(IntegrityError, match=r"(?i)check constraint"):
        db.session.commit()
    db.session.rollback()


def test_a_failure_mid_booking_leaves_nothing_behind(app, monkeypatch):
    def broken_intake(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(booking.seats, "Intake", broken_intake)
    with pytest.raises(RuntimeError):
        booking.book(request(1), settings.current_rules(), NOW)
    assert rows(Appointment) == rows(Youth) == rows(Intake) == 0
    assert db.session.scalar(select(func.coalesce(func.sum(Slot.booked), 0))) == 0


def test_same_submission_returns_the_same_appointment(app):
    rules = settings.current_rules()
    first = booking.book(request(1), rules, NOW)
    again = booking.book(request(1), rules, NOW)
    assert first.id == again.id
    assert db.session.scalars(select(Slot)).one().booked == 1


def test_capacity_change_for_one_date_is_used(app):
    db.session.add(ClinicDay(day=NEXT_DAY, seats=1))
    db.session.commit()
    rules = settings.current_rules()
    booking.book(request(1), rules, NOW)
    with pytest.raises(booking.SlotUnavailable):
        booking.book(request(2), rules, NOW)


def test_extra_day_can_be_booked(app):
    extra = date(2026, 12, 3)
    db.session.add(ClinicDay(day=extra, extra=True, start_time=time(10, 0), end_time=time(12, 0)))
    db.session.commit()
    appointment = booking.book(
        request(1, day=extra, start=time(10, 20)), settings.current_rules(), NOW
    )
    assert appointment.slot.day == extra and appointment.slot.end_time == time(10, 40)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"start": time(16, 5)}, booking.SlotUnavailable),
        ({"day": date(2026, 11, 25)}, booking.SlotUnavailable),
        ({"day": date(2027, 1, 26)}, booking.SlotUnavailable),
        ({"date_of_birth": date(2014, 1, 1)}, booking.NotEligible),
        ({"date_of_birth": date(2000, 1, 1)}, booking.NotEligible),
        ({"date_of_birth": date(2010, 1, 1)}, booking.GuardianRequired),
    ],
)
def test_rules_are_enforced_by_the_service_too(app, overrides, error):
    with pytest.raises(error):
        booking.book(request(1, **overrides), settings.current_rules(), NOW)
    assert rows(Appointment) == rows(Youth) == 0


def staff_day_statements() -> int:
    db.session.expire_all()
    with count_statements() as statements:
        sheet = clinic_day.day_sheet(NEXT_DAY, settings.current_rules(), NOW)
        [
            (v.youth.display_name, v.appointment.intake.guardian_name, v.session_number)
            for s in sheet.slots
            for v in s.visits
        ]
    return len(statements)


def test_staff_day_loads_in_a_fixed_number_of_queries(app):
    rules = settings.current_rules()
    booking.book(request(1), rules, NOW)
    few = staff_day_statements()
    for n in range(2, 21):
        booking.book(request(n, start=time(16 + (n - 1) // 6, (n - 1) % 3 * 20)), rules, NOW)
    assert staff_day_statements() == few <= 8


# --- Cancelling ----------------------------------------------------------------------------


def test_cancel_frees_the_seat_for_someone_else(app, make_staff):
    rules = settings.current_rules()
    staff = make_staff()
    first = booking.book(request(1), rules, NOW)
    booking.book(request(2), rules, NOW)
    with pytest.raises(booking.SlotUnavailable):
        booking.book(request(3), rules, NOW)

    done = booking.cancel(first.id, staff.id, NOW)

    assert (done.code, done.day) == (first.code, NEXT_DAY)
    cancelled = db.session.get(Appointment, first.id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_by_id == staff.id and cancelled.cancelled_at is not None
    assert db.session.scalar(select(Slot.booked)) == 1
    booking.book(request(3), rules, NOW)
    assert db.session.scalar(select(Slot.booked)) == 2


def test_cancelling_twice_frees_one_seat(app):
    rules = settings.current_rules()
    appointment = booking.book(request(1), rules, NOW)
    booking.cancel(appointment.id, None, NOW)
    with pytest.raises(booking.NotCancellable):
        booking.cancel(appointment.id, None, NOW)
    assert db.session.scalar(select(Slot.booked)) == 0


def test_a_past_appointment_cannot_be_cancelled(app):
    rules = settings.current_rules()
    appointment = booking.book(request(1), rules, NOW)
    after_the_day = NOW.replace(day=25)
    with pytest.raises(booking.NotCancellable):
        booking.cancel(appointment.id, None, after_the_day)
    assert db.session.scalar(select(Slot.booked)) == 1


def test_a_cancelled_youth_may_book_again(app):
    rules = settings.current_rules()
    appointment = booking.book(request(1), rules, NOW)
    booking.cancel(appointment.id, None, NOW)
    again = booking.book(request(1, submission_key="another-form-key-xxxxxxxxxxx"), rules, NOW)
    assert again.id != appointment.id
    assert rows(Youth) == 1


def test_a_use_case_cannot_silently_drop_flushed_changes(app):
    """begin_write() ends the view's read transaction; it must refuse to end one with writes."""
    from clinic.database import begin_write

    db.session.add(ClinicDay(day=date(2026, 12, 1), extra=True))
    db.session.flush()  # no longer "new", but not committed either
    with pytest.raises(RuntimeError, match="unsaved changes"):
        begin_write()
    db.session.rollback()
    begin_write()  # after the rollback there is nothing to lose
