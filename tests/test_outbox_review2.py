"""Second review of issue 5 (the outbox): each test here showed one defect, now fixed.

Bookings go through the booking use case at the frozen clinic clock (``tests.outboxkit``);
workers run in this process at an explicit instant, with senders that record what they would
send (the ``sent`` fixture)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from icalendar import Calendar
from sqlalchemy import update

from clinic import clinic_day, settings
from clinic.extensions import db
from clinic.messaging import history, outbox, transports
from clinic.models import Appointment, MessageStatus, OutboxMessage, StaffRole, naive_utc
from clinic.rules.messages import Kind
from tests.conftest import LA, NEXT_DAY, NOW
from tests.outboxkit import book_at, messages, run_at

EARLY_AT = datetime(2026, 11, 22, 10, 0, tzinfo=LA)  # Sunday, two days before the visit


# --- 1. "Booked again" lost when the undo comes while the notice is being sent -------------


# Fixed: restored() counts only SENT notices: one being sent at the undo is never followed by
# 'booked again'
def test_undo_while_the_cancellation_is_being_sent_still_tells_the_youth_booked_again(
    app, sent, staff
):
    desk = staff[StaffRole.FRONT_DESK]
    appointment = book_at(0)
    run_at(NOW)  # the confirmation
    clinic_day.cancel(appointment, desk, NOW)

    def undo_mid_send(body: str) -> None:
        # The desk undoes the mis-tap while the worker is talking to Twilio.
        if "is cancelled" in body:
            sent.during_send = None
            clinic_day.undo(appointment, desk, NOW, settings.current_rules())

    sent.during_send = undo_mid_send
    run_at(NOW + timedelta(seconds=1))
    run_at(NOW + timedelta(seconds=2))
    assert len(sent.texts("is cancelled")) == 1  # the youth was told it is cancelled
    assert db.session.get(Appointment, appointment).status == "booked"
    assert len(sent.texts("booked again")) == 1  # ... and must be told it is back on


# --- 2. A second undone cancel says "booked again" for a cancel the youth never heard of --


# Fixed: restored() counts every notice ever sent: a second cancel withdrawn before it went
# still sends another 'booked again'
def test_a_second_mis_tap_undone_at_once_sends_nothing(app, sent, staff):
    desk, rules = staff[StaffRole.FRONT_DESK], settings.current_rules()
    appointment = book_at(0)
    run_at(NOW)  # the confirmation
    clinic_day.cancel(appointment, desk, NOW)
    run_at(NOW + timedelta(seconds=1))  # "is cancelled" reaches the youth
    clinic_day.undo(appointment, desk, NOW + timedelta(seconds=2), rules)
    run_at(NOW + timedelta(seconds=3))  # "booked again" reaches the youth
    assert len(sent.texts("booked again")) == 1
    # Later the same day: another mis-tap, undone before its notice went.
    clinic_day.cancel(appointment, desk, NOW + timedelta(minutes=5))
    clinic_day.undo(appointment, desk, NOW + timedelta(minutes=5), rules)
    run_at(NOW + timedelta(minutes=6))
    assert len(sent.texts("is cancelled")) == 1  # the second notice was withdrawn ...
    assert len(sent.texts("booked again")) == 1  # ... so there is nothing to apologise for


# --- 3. Aftercare twice after a completion is undone and done again ------------------------


# Fixed: treated() queues aftercare again after an undo although the first one was sent
def test_completing_again_after_an_undo_does_not_send_aftercare_twice(app, sent, staff, clock):
    desk, clinician = staff[StaffRole.FRONT_DESK], staff[StaffRole.CLINICIAN]
    rules = settings.current_rules()
    appointment = book_at(0)
    at = datetime.combine(NEXT_DAY, time(16, 5), tzinfo=LA)
    clock.set(at)
    clinic_day.check_in(appointment, desk, at, rules)
    clinic_day.call(appointment, clinician, "Laser 1", at, rules)
    record = clinic_day.TreatmentRecord(areas=["hands"])
    clinic_day.complete(appointment, clinician, record, at)
    run_at(at + timedelta(seconds=5))  # the aftercare goes within seconds
    clinic_day.undo(appointment, clinician, at + timedelta(minutes=1), rules)  # a mis-tap on Done
    clinic_day.complete(appointment, clinician, record, at + timedelta(minutes=2))
    run_at(at + timedelta(minutes=3))
    assert len(sent.texts("thanks for coming")) == 1


# --- 4. A resent cancellation cancels a booking that was restored --------------------------


# Fixed: a cancellation notice is sent (with a CANCEL .ics) for a booking that is booked again:
# resend and the worker never check
def test_resending_an_old_cancellation_does_not_tell_a_booked_youth_they_are_cancelled(
    app, sent, staff
):
    desk = staff[StaffRole.FRONT_DESK]
    appointment = book_at(0)
    run_at(NOW)
    clinic_day.cancel(appointment, desk, NOW)
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


# --- 5. The calendar event names the treatment ----------------------------------------------


# Fixed: the .ics LOCATION is CLINIC_NAME ('... Tattoo Removal Clinic'): calendars are seen by
# others
def test_the_calendar_event_does_not_name_the_treatment(app, sent):
    book_at(0, email="ana@example.org", contact_by="email")
    run_at(NOW)
    (attachment,) = [a for a in sent.attachments if a is not None]
    (event,) = Calendar.from_ical(attachment[1]).walk("VEVENT")
    shown = " ".join(str(event.get(name, "")) for name in ("SUMMARY", "LOCATION", "DESCRIPTION"))
    assert "tattoo" not in shown.lower(), shown


# --- 6. A generous OUTBOX_MAX_ATTEMPTS makes the backoff overflow ----------------------------


# Fixed: retry_delay multiplies before capping: from the 42nd failure timedelta overflows and
# the worker crashes
def test_many_tries_allowed_keep_the_backoff_at_its_cap(app, monkeypatch):
    # Two days of retries through an outage: 50 tries, at most an hour apart.
    app.config.update(OUTBOX_MAX_ATTEMPTS=50, REMINDER_EARLY_AT="", REMINDER_SAME_DAY_AT="")

    def twilio_down(to, body):
        raise transports.TemporaryFailure("Twilio error 20500 (HTTP 500): down")

    monkeypatch.setattr(transports, "configured_channels", lambda: ("sms",))
    monkeypatch.setattr(transports, "send_sms", twilio_down)
    appointment = book_at(0)
    db.session.execute(update(OutboxMessage).values(attempts=41))  # a long outage so far
    db.session.commit()
    crashed = None
    try:
        run_at(NOW)
    except Exception as error:  # the defect: the worker's run dies
        crashed = type(error).__name__
    (confirmation,) = messages(appointment)
    assert crashed is None
    assert (confirmation.status, confirmation.attempts) == (MessageStatus.QUEUED, 42)
    assert confirmation.send_after <= naive_utc(NOW) + timedelta(hours=1.2)


# --- 7. A changed reminder time is not applied by the reminders job --------------------------


# Fixed: schedule_reminders leaves queued reminders at the old time after REMINDER_EARLY_AT changes
def test_the_reminders_job_applies_a_changed_reminder_time(app):
    appointment = book_at(0)
    # The clinic moves its early reminder to the evening and runs the job, which "catches
    # what [bookings] could not (..., a setting changed since)" (outbox.schedule_reminders).
    app.config["REMINDER_EARLY_AT"] = "18:00"
    outbox.schedule_reminders(NOW)
    (early,) = [m for m in messages(appointment) if m.kind == Kind.REMINDER_EARLY]
    assert early.send_after == naive_utc(EARLY_AT.replace(hour=18))


# --- 8. A huge message number in the resend URL ----------------------------------------------


# Fixed: POST /staff/messages/<huge int>/resend is a 500 (integer overflow)
def test_resending_a_huge_message_number_is_not_a_server_error(client, staff, login):
    login(staff[StaffRole.FRONT_DESK])
    try:
        status = client.post("/staff/messages/99999999999999999999/resend").status_code
    except Exception as error:  # the test client re-raises what would be a 500
        status = f"500 ({type(error).__name__})"
    assert status in (303, 404)


# --- 9. A booking restored before the youth heard anything gets no confirmation --------------


def test_a_booking_cancelled_and_restored_before_anything_went_is_confirmed(
    app, sent, staff, monkeypatch
):
    """Cancelled before the worker ran: it drops the confirmation (the visit is off) and the
    notice fails (Twilio down). Undone: the notice is withdrawn, and the youth, who has heard
    nothing, is sent a confirmation."""
    desk = staff[StaffRole.FRONT_DESK]
    appointment = book_at(0)
    clinic_day.cancel(appointment, desk, NOW)

    def twilio_down(to, body):
        raise transports.TemporaryFailure("Twilio error 20500 (HTTP 500): down")

    with monkeypatch.context() as down:
        down.setattr(transports, "send_sms", twilio_down)
        run_at(NOW + timedelta(seconds=1))
    statuses = {m.kind: m.status for m in messages(appointment)}
    assert statuses[Kind.CONFIRMATION] == MessageStatus.CANCELLED  # dropped by the worker
    assert statuses[Kind.CANCELLED] == MessageStatus.QUEUED  # waiting for a retry

    clinic_day.undo(appointment, desk, NOW + timedelta(seconds=2), settings.current_rules())
    db.session.execute(update(OutboxMessage).values(send_after=naive_utc(NOW)))  # retries due
    db.session.commit()
    run_at(NOW + timedelta(minutes=5))
    assert len(sent.texts("you are booked")) == 1
    assert sent.texts("is cancelled") == [] and sent.texts("booked again") == []
