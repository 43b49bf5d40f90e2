"""The outbox as the use cases write it: which change causes which message, in the change's
own transaction (a booking, a cancel and its undo, a closed day, a move, a treatment), what the
youth and the desk are told about how messages will go, and reminders scheduled once and sent
once. Where a worker runs, it runs in this process at an explicit instant, with senders that
record what they would send (the ``sent`` fixture). What the worker itself does is in
test_worker.py; what messages say, in test_texts.py; delivery to real servers, in
test_transports.py; the staff messages page, in test_history.py."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from clinic import booking, clinic_day, schedule, settings
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import outbox, transports
from clinic.models import (
    Appointment,
    Intake,
    MessageStatus,
    OutboxMessage,
    Slot,
    StaffRole,
    naive_utc,
)
from clinic.rules.messages import Kind
from clinic.schedule import Hours, Resolution
from tests.conftest import LA, NEXT_DAY, NOW, intake_data, intake_url
from tests.support.outbox import (
    EARLY_AT,
    SAME_DAY_AT,
    STARTS,
    book,
    book_at,
    messages,
    run_at,
)

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=LA)  # the day after the early reminder went
EARLY_AT_IN_LA = datetime(2026, 11, 22, 10, 0, tzinfo=LA)  # EARLY_AT, on the clinic's clock


def kinds_and_statuses(appointment_id: int) -> list[tuple[str, str]]:
    return [(m.kind, m.status) for m in messages(appointment_id)]


@pytest.fixture
def rules(app):
    return settings.current_rules()


# --- Written with the change that causes them ---------------------------------------------


def test_a_booking_writes_its_confirmation_and_both_reminders(client):
    appointment = book(client)
    confirmation, early, same_day = messages(appointment.id)
    assert (confirmation.kind, confirmation.channel, confirmation.language) == (
        Kind.CONFIRMATION,
        "sms",
        "es",
    )
    assert confirmation.status == MessageStatus.QUEUED
    assert (early.kind, early.send_after) == (Kind.REMINDER_EARLY, naive_utc(EARLY_AT))
    assert (same_day.kind, same_day.send_after) == (Kind.REMINDER_SAME_DAY, naive_utc(SAME_DAY_AT))
    assert (early.expires_at, same_day.expires_at) == (naive_utc(SAME_DAY_AT), naive_utc(STARTS))


def test_the_youth_chooses_email_and_gets_it(client):
    appointment = book(client, email="ana@example.org", contact_by="email", language="en")
    assert {(m.channel, m.language) for m in messages(appointment.id)} == {("email", "en")}
    assert db.session.scalar(select(Intake.contact_by)) == "email"


def test_choosing_email_without_giving_one_is_a_clear_error(client):
    response = client.post(intake_url(), data=intake_data(contact_by="email", email=""))
    assert response.status_code == 422
    assert "Please give your email, or choose text messages." in response.get_data(as_text=True)
    assert messages() == []


def test_a_booking_and_its_messages_commit_together_or_not_at_all(client, monkeypatch):
    def booked_then_fails(appointment_id, now, **kwargs):
        original(appointment_id, now, **kwargs)
        assert db.session.new or db.session.execute(select(func.count(OutboxMessage.id)))
        raise RuntimeError("the database went away after the messages were written")

    original = outbox.booked
    monkeypatch.setattr(outbox, "booked", booked_then_fails)
    request = booking.BookingRequest(
        day=NEXT_DAY,
        start=time(16, 0),
        submission_key="r" * 32,
        first_name="Rollback",
        last_name="Test",
        date_of_birth=date(2005, 1, 1),
        phone="+14155550100",
    )
    with pytest.raises(RuntimeError):
        booking.book(request, settings.current_rules(), NOW)
    assert db.session.scalar(select(func.count(Appointment.id))) == 0
    assert messages() == []


def test_a_repeated_submission_confirms_once(client):
    book(client)
    book(client)  # the same form sent again
    assert [m.kind for m in messages()].count(Kind.CONFIRMATION) == 1


def test_staff_cancelling_withdraws_the_reminders_and_tells_the_youth(client, staff):
    appointment = book(client)
    clinic_day.cancel(appointment.id, staff[StaffRole.FRONT_DESK], NOW, settings.current_rules())
    assert kinds_and_statuses(appointment.id) == [
        (Kind.CONFIRMATION, MessageStatus.QUEUED),
        (Kind.REMINDER_EARLY, MessageStatus.CANCELLED),
        (Kind.REMINDER_SAME_DAY, MessageStatus.CANCELLED),
        (Kind.CANCELLED, MessageStatus.QUEUED),
    ]
    assert messages(appointment.id)[-1].created_by_id == staff[StaffRole.FRONT_DESK].id


def test_a_youth_who_left_the_waiting_room_gets_no_cancellation(client, staff, rules, clock):
    appointment = book(client)
    at_four = datetime.combine(NEXT_DAY, time(16, 2), tzinfo=LA)
    clock.set(at_four)
    clinic_day.check_in(appointment.id, staff[StaffRole.FRONT_DESK], at_four, rules)
    clinic_day.cancel(
        appointment.id, staff[StaffRole.FRONT_DESK], at_four, settings.current_rules()
    )
    assert Kind.CANCELLED not in [m.kind for m in messages(appointment.id)]


def test_undoing_a_cancel_before_the_notice_went_means_the_youth_never_hears_of_it(
    client, staff, rules
):
    appointment = book(client)
    desk = staff[StaffRole.FRONT_DESK]
    clinic_day.cancel(appointment.id, desk, NOW, settings.current_rules())
    clinic_day.undo(appointment.id, desk, NOW, rules)
    assert kinds_and_statuses(appointment.id) == [
        (Kind.CONFIRMATION, MessageStatus.QUEUED),
        (Kind.REMINDER_EARLY, MessageStatus.QUEUED),  # queued again, under the same key
        (Kind.REMINDER_SAME_DAY, MessageStatus.QUEUED),
        (Kind.CANCELLED, MessageStatus.CANCELLED),
    ]


def test_undoing_a_cancel_after_the_notice_went_says_booked_again(client, staff, rules):
    appointment = book(client)
    desk = staff[StaffRole.FRONT_DESK]
    clinic_day.cancel(appointment.id, desk, NOW, settings.current_rules())
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.kind == Kind.CANCELLED)
        .values(status=MessageStatus.SENT)
    )
    db.session.commit()
    clinic_day.undo(appointment.id, desk, NOW, rules)
    assert [m.kind for m in messages(appointment.id)][-1] == Kind.RESTORED


# Found in review: "booked again" was lost when the undo came while the notice was being
# sent (restored() counted only SENT notices).
def test_undo_while_the_cancellation_is_being_sent_still_tells_the_youth_booked_again(
    app, sent, staff
):
    desk = staff[StaffRole.FRONT_DESK]
    appointment = book_at(0)
    run_at(NOW)  # the confirmation
    clinic_day.cancel(appointment, desk, NOW, settings.current_rules())

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


# Found in review: a second cancel, undone before its notice went, still sent another
# "booked again" (restored() counted every notice ever sent).
def test_a_second_mis_tap_undone_at_once_sends_nothing(app, sent, staff):
    desk, rules = staff[StaffRole.FRONT_DESK], settings.current_rules()
    appointment = book_at(0)
    run_at(NOW)  # the confirmation
    clinic_day.cancel(appointment, desk, NOW, settings.current_rules())
    run_at(NOW + timedelta(seconds=1))  # "is cancelled" reaches the youth
    clinic_day.undo(appointment, desk, NOW + timedelta(seconds=2), rules)
    run_at(NOW + timedelta(seconds=3))  # "booked again" reaches the youth
    assert len(sent.texts("booked again")) == 1
    # Later the same day: another mis-tap, undone before its notice went.
    clinic_day.cancel(appointment, desk, NOW + timedelta(minutes=5), settings.current_rules())
    clinic_day.undo(appointment, desk, NOW + timedelta(minutes=5), rules)
    run_at(NOW + timedelta(minutes=6))
    assert len(sent.texts("is cancelled")) == 1  # the second notice was withdrawn ...
    assert len(sent.texts("booked again")) == 1  # ... so there is nothing to apologise for


# Found in review: a booking restored before the youth heard anything got no confirmation.
def test_a_booking_cancelled_and_restored_before_anything_went_is_confirmed(
    app, sent, staff, monkeypatch
):
    """Cancelled before the worker ran: it drops the confirmation (the visit is off) and the
    notice fails (Twilio down). Undone: the notice is withdrawn, and the youth, who has heard
    nothing, is sent a confirmation."""
    desk = staff[StaffRole.FRONT_DESK]
    appointment = book_at(0)
    clinic_day.cancel(appointment, desk, NOW, settings.current_rules())

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


def test_closing_the_day_tells_every_booked_youth(client, staff, rules):
    first, second = book(client, 0), book(client, 1, language="en")
    schedule.close_day(
        NEXT_DAY,
        "Laser broken",
        staff[StaffRole.ADMIN],
        NOW,
        rules,
        Resolution.CANCEL,
        [first.id, second.id],
    )
    for appointment, language in ((first, "es"), (second, "en")):
        latest = messages(appointment.id)[-1]
        assert (latest.kind, latest.language) == (Kind.CLINIC_CANCELLED, language)
        reminders = [m for m in messages(appointment.id) if Kind(m.kind).is_reminder]
        assert {m.status for m in reminders} == {MessageStatus.CANCELLED}


def test_moving_a_booking_gives_the_new_time_and_new_reminders(client, staff, rules):
    appointment = book(client)
    schedule.change_hours(
        NEXT_DAY,
        Hours(start=time(16, 20)),
        staff[StaffRole.ADMIN],
        NOW,
        rules,
        Resolution.MOVE,
        [appointment.id],
    )
    rows = messages(appointment.id)
    moved = [m for m in rows if m.kind == Kind.MOVED]
    assert len(moved) == 1 and moved[0].context == {"old_start": "16:00:00"}
    # The same two reminders, still to come, now of the new time.
    reminders = [(m.dedup_key, m.status, m.context) for m in rows if Kind(m.kind).is_reminder]
    assert reminders == [
        (f"{kind}:{appointment.id}", MessageStatus.QUEUED, {"starts": "2026-11-24T16:20"})
        for kind in (Kind.REMINDER_EARLY, Kind.REMINDER_SAME_DAY)
    ]
    assert rows[-1].expires_at == naive_utc(STARTS + timedelta(minutes=20))


def test_moved_twice_before_the_notice_went_the_youth_gets_one_notice(client, staff, rules):
    """The youth knew 16:00; two schedule changes move them to 16:20, then 16:40, before the
    worker ran. One notice waits, from the time they know to the time that holds, and the
    confirmation still waiting expires at the new start, not the old one."""
    appointment = book(client)
    for start in (time(16, 20), time(16, 40)):
        schedule.change_hours(
            NEXT_DAY,
            Hours(start=start),
            staff[StaffRole.ADMIN],
            NOW,
            rules,
            Resolution.MOVE,
            [appointment.id],
        )
    rows = messages(appointment.id)
    waiting = [m.context for m in rows if m.kind == Kind.MOVED and m.status == "queued"]
    assert waiting == [{"old_start": "16:00:00"}]
    (confirmation,) = [m for m in rows if m.kind == Kind.CONFIRMATION]
    assert confirmation.expires_at == naive_utc(STARTS + timedelta(minutes=40))


def test_moved_back_to_the_time_the_youth_knows_needs_no_notice(client, staff, rules):
    """Moved away and back before the notice went: it is withdrawn and none replaces it. Once
    a notice has gone, the next one starts from the time it gave."""
    appointment = book(client)  # 16:00, the time the confirmation gives
    schedule.change_hours(
        NEXT_DAY,
        Hours(start=time(16, 20)),
        staff[StaffRole.ADMIN],
        NOW,
        rules,
        Resolution.MOVE,
        [appointment.id],
    )

    def move_back_to_four():
        # As a schedule use case does: the booking changes seat, then the outbox hears of it.
        with write_transaction():
            # The change to 16:20 removed the 16:00 slot; the second move back finds it.
            four = db.session.scalars(
                select(Slot).where(Slot.day == NEXT_DAY, Slot.start_time == time(16))
            ).one_or_none() or Slot(
                day=NEXT_DAY, start_time=time(16), end_time=time(16, 20), capacity=2, booked=1
            )
            db.session.add(four)
            db.session.flush()
            db.session.execute(
                update(Appointment).where(Appointment.id == appointment.id).values(slot_id=four.id)
            )
            outbox.moved(appointment.id, time(16, 20), NOW)
        return [(m.status, m.context) for m in messages(appointment.id) if m.kind == Kind.MOVED]

    assert move_back_to_four() == [(MessageStatus.CANCELLED, {"old_start": "16:00:00"})]

    db.session.execute(update(OutboxMessage).values(status=MessageStatus.SENT))
    db.session.commit()  # now the youth has heard of 16:20
    assert move_back_to_four()[-1] == (MessageStatus.QUEUED, {"old_start": "16:20:00"})


# Found in review: a move repeated the reminders already sent.
def test_moving_a_booking_after_its_early_reminder_does_not_remind_again(app, sent, staff):
    appointment = book_at(0)
    run_at(NOW)  # the confirmation
    run_at(EARLY_AT + timedelta(minutes=1))  # Sunday's reminder
    assert len(sent) == 2
    schedule.change_hours(
        NEXT_DAY,
        Hours(start=time(16, 20)),
        staff[StaffRole.ADMIN],
        MONDAY,
        settings.current_rules(),
        Resolution.MOVE,
        [appointment],
    )
    del sent[:]
    run_at(MONDAY + timedelta(minutes=1))
    assert [body for _c, _to, body in sent if "reminder" in body] == []
    assert len(sent) == 1 and "new time" in sent[0][2]


def test_a_reminder_turned_off_is_withdrawn_by_the_reminders_job(client, app):
    appointment = book(client)
    app.config["REMINDER_SAME_DAY_AT"] = ""
    outbox.schedule_reminders(NOW)
    reminders = {m.kind: m.status for m in messages(appointment.id) if Kind(m.kind).is_reminder}
    assert reminders == {
        Kind.REMINDER_EARLY: MessageStatus.QUEUED,
        Kind.REMINDER_SAME_DAY: MessageStatus.CANCELLED,
    }


def test_a_treatment_sends_aftercare_and_its_undo_withdraws_it(client, staff, rules, clock):
    appointment = book(client)
    desk, clinician = staff[StaffRole.FRONT_DESK], staff[StaffRole.CLINICIAN]
    at = datetime.combine(NEXT_DAY, time(16, 5), tzinfo=LA)
    clock.set(at)
    clinic_day.check_in(appointment.id, desk, at, rules)
    clinic_day.call(appointment.id, clinician, "Laser 1", at, rules)
    record = clinic_day.TreatmentRecord(areas=["hands"], skin_type="IV", settings="1064 nm")
    clinic_day.complete(appointment.id, clinician, record, at)
    assert messages(appointment.id)[-1].kind == Kind.AFTERCARE
    clinic_day.undo(appointment.id, clinician, at, rules)
    assert (messages(appointment.id)[-1].kind, messages(appointment.id)[-1].status) == (
        Kind.AFTERCARE,
        MessageStatus.CANCELLED,
    )


# Found in review: treated() queued aftercare again after an undo although the first one
# was sent.
def test_completing_again_after_an_undo_does_not_send_aftercare_twice(app, sent, staff, clock):
    desk, clinician = staff[StaffRole.FRONT_DESK], staff[StaffRole.CLINICIAN]
    rules = settings.current_rules()
    appointment = book_at(0)
    at = datetime.combine(NEXT_DAY, time(16, 5), tzinfo=LA)
    clock.set(at)
    clinic_day.check_in(appointment, desk, at, rules)
    clinic_day.call(appointment, clinician, "Laser 1", at, rules)
    record = clinic_day.TreatmentRecord(areas=["hands"], skin_type="IV", settings="1064 nm")
    clinic_day.complete(appointment, clinician, record, at)
    run_at(at + timedelta(seconds=5))  # the aftercare goes within seconds
    clinic_day.undo(appointment, clinician, at + timedelta(minutes=1), rules)  # a mis-tap on Done
    clinic_day.complete(appointment, clinician, record, at + timedelta(minutes=2))
    run_at(at + timedelta(minutes=3))
    assert len(sent.texts("thanks for coming")) == 1


# --- How the youth and the desk are told messages will go ---------------------------------


def test_the_confirmation_page_says_how_the_youth_will_hear_from_us(client):
    client.post(intake_url(), data=intake_data(language="en"))
    page = client.get("/book/confirmed").get_data(as_text=True)
    assert "Your confirmation code is on its way by text message to the number you gave" in page

    other = client.application.test_client()
    other.post(
        intake_url(),
        data=intake_data(
            language="en",
            first_name="Bea",
            submission_key="b" * 32,
            email="bea@example.org",
            contact_by="email",
        ),
    )
    page = other.get("/book/confirmed").get_data(as_text=True)
    assert "Your confirmation code is on its way by email to the address you gave" in page


def test_the_walk_in_form_asks_the_desk_about_the_youths_messages(client, staff, login, clock):
    clock.set(datetime.combine(NEXT_DAY, time(16, 5), tzinfo=LA))  # walk-ins: on the day
    login(staff[StaffRole.FRONT_DESK])
    # The channel question is on the walk-in's second step, after the answers that decide a seat.
    first_step = {
        "step": "check",
        "submission_key": "w" * 32,
        "first_name": "Destiny",
        "last_name": "Brown",
        "date_of_birth": "2004-03-03",
    }
    page = client.post("/staff/walk-in", data=first_step).get_data(as_text=True)
    assert "Send the youth's reminders and aftercare by" in page
    assert "Send my confirmation" not in page


# --- Reminders: scheduled once, sent once -------------------------------------------------


def test_the_reminders_job_fills_gaps_and_running_it_twice_adds_nothing(client):
    appointment = book(client)
    # As if booked before reminders existed.
    db.session.execute(OutboxMessage.__table__.delete().where(OutboxMessage.kind.like("reminder%")))
    db.session.commit()
    assert outbox.schedule_reminders(NOW) == 2
    assert outbox.schedule_reminders(NOW) == 0
    assert [m.kind for m in messages(appointment.id)] == [
        Kind.CONFIRMATION,
        Kind.REMINDER_EARLY,
        Kind.REMINDER_SAME_DAY,
    ]


def test_the_reminders_command_is_idempotent(client, runner):
    book(client)
    first = runner.invoke(args=["reminders"])
    second = runner.invoke(args=["reminders"])
    assert first.exit_code == second.exit_code == 0, first.output
    assert second.output.strip() == "0 reminders scheduled."
    assert len(messages()) <= 3  # a confirmation and at most two reminders


def test_a_reminder_goes_out_exactly_once_even_when_every_job_runs_twice(client, sent):
    appointment = book(client)
    code = appointment.code
    outbox.schedule_reminders(NOW)
    run_at(NOW)
    run_at(NOW)
    assert len(sent) == 1  # the confirmation
    for moment in (EARLY_AT, SAME_DAY_AT):
        outbox.schedule_reminders(moment)
        outbox.schedule_reminders(moment)
        run_at(moment + timedelta(minutes=1))
        run_at(moment + timedelta(minutes=2))
    assert len(sent) == 3
    assert all(code in body and to == "+14155550000" for _channel, to, body in sent)
    assert [m.status for m in messages(appointment.id)] == [MessageStatus.SENT] * 3


# Found in review: schedule_reminders left queued reminders at the old time after
# REMINDER_EARLY_AT changed.
def test_the_reminders_job_applies_a_changed_reminder_time(app):
    appointment = book_at(0)
    # The clinic moves its early reminder to the evening and runs the job, which "catches
    # what [bookings] could not (..., a setting changed since)" (outbox.schedule_reminders).
    app.config["REMINDER_EARLY_AT"] = "18:00"
    outbox.schedule_reminders(NOW)
    (early,) = [m for m in messages(appointment) if m.kind == Kind.REMINDER_EARLY]
    assert early.send_after == naive_utc(EARLY_AT_IN_LA.replace(hour=18))
