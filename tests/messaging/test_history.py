"""The staff messages page: each message with its youth and why it waits, what failed and
why, send again (once, and never a cancellation to a youth booked again), its query budget,
who may see it, and odd input in its URLs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from clinic import clinic_day, settings
from clinic.extensions import db
from clinic.messaging import history
from clinic.models import Appointment, MessageStatus, OutboxMessage, StaffRole, naive_utc
from clinic.rules.messages import Kind
from tests.conftest import NOW
from tests.support.outbox import book, book_at, messages, run_at
from tests.support.querycount import count_statements


def test_the_desk_sees_each_message_with_its_youth_and_why_it_waits(client, staff, login):
    book(client, 0)
    login(staff[StaffRole.FRONT_DESK])
    page = client.get("/staff/messages").get_data(as_text=True)
    assert "Youtha Flores" in page
    assert "Confirmation" in page and "Reminder (days before)" in page
    assert "(415) 555-0000" in page
    # Due now: the confirmation; the reminders are days away and not yet held up.
    assert "1 text message is waiting: no text message provider is set up" in page


def test_the_page_says_what_failed_and_why(client, staff, login):
    appointment = book(client)
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.appointment_id == appointment.id, OutboxMessage.kind == "confirmation")
        .values(status=MessageStatus.DEAD, attempts=10, last_error="SMTP 550: [recipient] unknown")
    )
    db.session.commit()
    login(staff[StaffRole.FRONT_DESK])
    page = client.get("/staff/messages?status=dead").get_data(as_text=True)
    assert "Failed" in page and "Tried 10 times" in page and "SMTP 550: [recipient] unknown" in page
    assert "Reminder" not in page  # the filter shows only the failed one


def test_the_messages_page_costs_the_same_with_5_or_40_messages(client, staff, login):
    login(staff[StaffRole.ADMIN])

    def statements() -> int:
        with count_statements() as seen:
            assert client.get("/staff/messages").status_code == 200
        return len(seen)

    for n in range(2):
        book(client, n)
    few = statements()
    for n in range(2, 10):
        book(client, n)
    assert len(messages()) > 20
    assert statements() == few <= 5


def test_the_messages_page_shows_clinicians_nothing(client, staff, login):
    book(client)
    login(staff[StaffRole.CLINICIAN])
    assert client.get("/staff/messages").status_code == 403
    assert "Messages" not in client.get("/staff/").get_data(as_text=True).split("<main")[0]


# Found in review: the page failed on odd input.
def test_a_huge_page_number_is_not_a_server_error(client, staff, login):
    login(staff[StaffRole.FRONT_DESK])
    try:
        status = client.get("/staff/messages?page=1000000000000000000").status_code
    except Exception as error:  # the test client re-raises what would be a 500
        status = f"500 ({type(error).__name__})"
    assert status in (200, 404)


# --- Send again ---------------------------------------------------------------------------


def test_resend_queues_a_new_message_and_refuses_one_still_waiting(client, staff, login):
    appointment = book(client)
    confirmation = messages(appointment.id)[0]
    login(staff[StaffRole.FRONT_DESK])
    refused = client.post(f"/staff/messages/{confirmation.id}/resend", follow_redirects=True)
    assert "Only a message that was sent or failed can be sent again." in refused.get_data(
        as_text=True
    )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == confirmation.id)
        .values(status=MessageStatus.DEAD)
    )
    db.session.commit()
    response = client.post(f"/staff/messages/{confirmation.id}/resend")
    assert response.status_code == 303
    again = messages(appointment.id)[-1]
    assert (again.kind, again.status, again.resend_of_id) == (
        Kind.CONFIRMATION,
        MessageStatus.QUEUED,
        confirmation.id,
    )
    assert again.created_by_id == staff[StaffRole.FRONT_DESK].id


# Found in review: "Send again" pressed twice queued two copies.
def test_send_again_pressed_twice_queues_one_copy(client, staff, login):
    appointment = book_at(0)
    original = messages(appointment)[0]
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == original.id)
        .values(status=MessageStatus.DEAD, attempts=10)
    )
    db.session.commit()
    login(staff[StaffRole.FRONT_DESK])
    for _ in range(2):
        assert client.post(f"/staff/messages/{original.id}/resend").status_code == 303
    copies = [m for m in messages(appointment) if m.resend_of_id == original.id]
    assert len(copies) == 1


# Found in review: a cancellation notice was sent again (with a CANCEL .ics) for a booking
# booked again since: neither the resend nor the worker checked.
def test_resending_an_old_cancellation_does_not_tell_a_booked_youth_they_are_cancelled(
    app, sent, staff
):
    desk = staff[StaffRole.FRONT_DESK]
    appointment = book_at(0)
    run_at(NOW)
    clinic_day.cancel(appointment, desk, NOW, settings.current_rules())
    run_at(NOW + timedelta(seconds=1))
    clinic_day.undo(appointment, desk, NOW + timedelta(seconds=2), settings.current_rules())
    run_at(NOW + timedelta(seconds=3))
    assert db.session.get(Appointment, appointment).status == "booked"
    (notice,) = [m for m in messages(appointment) if m.kind == Kind.CANCELLED]
    # The youth says they got nothing; the desk presses "Send again" on the row it sees.
    again = history.resend(notice.id, desk.id).id
    # A resend is queued at the real clock, past the frozen one: put it at the clinic's "now".
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == again)
        .values(send_after=naive_utc(NOW + timedelta(minutes=1)))
    )
    db.session.commit()
    run_at(NOW + timedelta(minutes=2))
    assert len(sent.texts("is cancelled")) == 1


# Found in review: a huge message number in the resend URL was a 500 (integer overflow).
def test_resending_a_huge_message_number_is_not_a_server_error(client, staff, login):
    login(staff[StaffRole.FRONT_DESK])
    try:
        status = client.post("/staff/messages/99999999999999999999/resend").status_code
    except Exception as error:  # the test client re-raises what would be a 500
        status = f"500 ({type(error).__name__})"
    assert status in (303, 404)
