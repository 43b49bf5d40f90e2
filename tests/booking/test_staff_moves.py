"""The desk moves one booking (issue 16): the youth's own move, one service, recorded as the
staff member's; the page's choose-confirm steps and its refusals, the choice kept."""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from sqlalchemy import select

from clinic import booking, settings
from clinic.booking import manage
from clinic.extensions import db
from clinic.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    OutboxMessage,
    StaffRole,
)
from clinic.permissions import NotAllowed
from tests.conftest import NEXT_DAY, NOW, PASSWORD
from tests.conftest import sign_in as form_sign_in
from tests.support.outbox import run_at
from tests.support.querycount import count_statements
from tests.support.youth_links import EN, book, changes, counters, kinds, slot_of

LATER_DAY = date(2026, 12, 22)


@pytest.fixture
def desk(app, staff):
    client = app.test_client()
    assert form_sign_in(client, staff[StaffRole.FRONT_DESK].email, PASSWORD).status_code == 303
    return client


def moved_messages(appointment_id: int) -> list[OutboxMessage]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.appointment_id == appointment_id,
                OutboxMessage.kind == "rescheduled",
            )
        )
    )


def test_staff_move_is_the_youths_move_recorded_as_the_staff_members(app, staff, sent):
    appointment_id = book()
    run_at(NOW)  # the confirmation went
    desk = staff[StaffRole.FRONT_DESK]
    move = booking.move_by_staff(
        appointment_id, LATER_DAY, time(17, 0), desk, settings.current_rules(), NOW
    )
    assert (move.old.date(), move.new.date()) == (NEXT_DAY, LATER_DAY)
    assert slot_of(appointment_id) == (LATER_DAY, time(17, 0), AppointmentStatus.BOOKED)
    seats = counters()
    assert seats[(NEXT_DAY, time(16, 0))] == 0 and seats[(LATER_DAY, time(17, 0))] == 1
    (change,) = changes(appointment_id)
    assert change.action == "reschedule" and change.actor == Actor.STAFF
    assert change.staff_id == desk.id
    assert change.detail == {"from": "2026-11-24T16:00", "to": "2026-12-22T17:00"}
    # Exactly one "moved" message, the template the youth's own move sends.
    (message,) = moved_messages(appointment_id)
    assert message.context == {"old": "2026-11-24T16:00"}
    assert message.created_by_id == desk.id  # the messages page says who moved it


def test_a_clinician_may_not_move_a_booking(app, staff):
    appointment_id = book()
    with pytest.raises(NotAllowed):
        booking.move_by_staff(
            appointment_id,
            LATER_DAY,
            time(17, 0),
            staff[StaffRole.CLINICIAN],
            settings.current_rules(),
            NOW,
        )
    assert slot_of(appointment_id)[:2] == (NEXT_DAY, time(16, 0))


def test_youth_and_staff_moves_share_one_message_and_the_youth_page_says_who(app, staff, sent):
    appointment_id = book()
    run_at(NOW)
    rules = settings.current_rules()
    manage.reschedule_by_youth(appointment_id, LATER_DAY, time(16, 0), rules, NOW)
    booking.move_by_staff(
        appointment_id, LATER_DAY, time(17, 0), staff[StaffRole.FRONT_DESK], rules, NOW
    )
    # Neither went yet: one notice, from the visit the youth last heard of.
    (message,) = [m for m in moved_messages(appointment_id) if m.status == "queued"]
    assert message.context == {"old": "2026-11-24T16:00"}
    # The youth's page no longer says "You moved this appointment": the clinic moved it last.
    assert manage.last_move(manage.appointment_for_page(appointment_id)) is None


def test_the_move_page_chooses_confirms_and_moves(app, desk, staff, sent):
    appointment_id = book()
    run_at(NOW)  # the confirmation went: the move is told in a message of its own
    path = f"/staff/appointments/{appointment_id}/move"
    response = desk.get(path, headers=EN)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="2026-12-22T17:00"' in body and 'value="2026-11-24T16:00"' not in body

    confirm = desk.post(path, data={"slot": "2026-12-22T17:00"}, headers=EN)
    assert confirm.status_code == 200
    assert "Move from" in confirm.get_data(as_text=True)
    assert slot_of(appointment_id)[:2] == (NEXT_DAY, time(16, 0))  # not yet

    done = desk.post(path, data={"slot": "2026-12-22T17:00", "confirmed": "yes"}, headers=EN)
    assert done.status_code == 303
    assert slot_of(appointment_id)[:2] == (LATER_DAY, time(17, 0))
    record = desk.get(done.headers["Location"], headers=EN).get_data(as_text=True)
    assert "Moved: Youth1 L. is now on Tuesday, December 22, 2026" in record
    assert "by Test front_desk" in record
    assert kinds(appointment_id).count("rescheduled") == 1


def test_a_move_into_a_full_slot_is_explained_with_the_choice_kept(app, desk):
    appointment_id = book()
    book(2, day=LATER_DAY)
    book(3, day=LATER_DAY)  # 22 Dec 16:00 is full now
    before = counters()
    response = desk.post(
        f"/staff/appointments/{appointment_id}/move",
        data={"slot": "2026-12-22T16:00", "confirmed": "yes"},
        headers=EN,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This time just filled up" in body
    (option,) = re.findall(r'<option[^>]*value="2026-12-22T16:00"[^>]*>', body)
    assert "selected" in option  # the choice is kept
    assert counters() == before and changes(appointment_id) == []


def test_a_move_refused_for_age_or_healing_says_why(app, desk):
    # 25 on 24 November, 26 from 1 December.
    appointment_id = book(date_of_birth=date(2000, 12, 1))
    response = desk.post(
        f"/staff/appointments/{appointment_id}/move",
        data={"slot": "2026-12-22T17:00", "confirmed": "yes"},
        headers=EN,
    )
    assert response.status_code == 422
    assert "up to age 25 on the day of the appointment" in response.get_data(as_text=True)
    assert slot_of(appointment_id)[:2] == (NEXT_DAY, time(16, 0))


def test_a_cancelled_booking_cannot_be_moved_and_bad_input_is_a_422(app, desk):
    appointment_id = book()
    path = f"/staff/appointments/{appointment_id}/move"
    for slot in ("", "nonsense", "2026-11-25T16:00", "2026-11-24T16:00"):
        assert desk.post(path, data={"slot": slot, "confirmed": "yes"}).status_code == 422
    assert desk.get("/staff/appointments/999999/move").status_code == 404
    db.session.get(Appointment, appointment_id).status = AppointmentStatus.CANCELLED
    db.session.commit()
    assert desk.get(path).status_code == 200
    assert desk.post(path, data={"slot": "2026-12-22T17:00", "confirmed": "yes"}).status_code == 409


@pytest.mark.parametrize(
    ("role", "status"),
    [(StaffRole.FRONT_DESK, 200), (StaffRole.ADMIN, 200), (StaffRole.CLINICIAN, 403)],
)
def test_who_may_open_the_move_page(app, staff, role, status):
    appointment_id = book()
    client = app.test_client()
    form_sign_in(client, staff[role].email, PASSWORD)
    assert client.get(f"/staff/appointments/{appointment_id}/move").status_code == status


def test_the_move_page_takes_the_same_statements_however_many_bookings(app, desk):
    appointment_id = book()
    path = f"/staff/appointments/{appointment_id}/move"
    desk.get(path)  # warm: the session's first request loads the account
    with count_statements() as first:
        assert desk.get(path).status_code == 200
    for n in range(2, 8):
        book(n, day=LATER_DAY, start=time(16 + n // 3, n % 3 * 20))
    with count_statements() as later:
        assert desk.get(path).status_code == 200
    assert len(later) == len(first)
