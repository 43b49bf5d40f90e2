"""The outbox as the use cases write it: which change causes which message, in the change's own
transaction; reminders scheduled once; what the worker refuses to send; every message in both
languages; and the staff messages page. Delivery over real SMTP and HTTP servers is in
test_outbox_delivery.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from clinic import booking, clinic_day, schedule, settings
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import outbox, worker
from clinic.messaging.texts import Facts, compose
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
from tests.outboxkit import messages, run_at
from tests.querycount import count_statements

EARLY_AT = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # Sunday 10:00 in San Francisco
SAME_DAY_AT = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Tuesday 9:00
STARTS = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # Tuesday 16:00


def book(client, n: int = 0, **overrides) -> Appointment:
    """Youth ``n`` books; two to a slot (its seats), from 16:00 on."""
    start = time(16 + n // 6, n // 2 % 3 * 20)
    data = intake_data(
        first_name=f"Youth{'abcdefghij'[n]}",
        submission_key=f"key{n:029d}",
        phone=f"415555{n:04d}",
        slot_time=start.strftime("%H:%M"),
        **overrides,
    )
    response = client.post(intake_url(NEXT_DAY, start), data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return db.session.scalars(
        select(Appointment).where(Appointment.submission_key == data["submission_key"])
    ).one()


def kinds_and_statuses(appointment_id: int) -> list[tuple[str, str]]:
    return [(m.kind, m.status) for m in messages(appointment_id)]


@pytest.fixture
def rules(app):
    return settings.current_rules()


# --- Written with the change that causes them -------------------------------------------


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
    clinic_day.cancel(appointment.id, staff[StaffRole.FRONT_DESK], NOW)
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
    clinic_day.cancel(appointment.id, staff[StaffRole.FRONT_DESK], at_four)
    assert Kind.CANCELLED not in [m.kind for m in messages(appointment.id)]


def test_undoing_a_cancel_before_the_notice_went_means_the_youth_never_hears_of_it(
    client, staff, rules
):
    appointment = book(client)
    desk = staff[StaffRole.FRONT_DESK]
    clinic_day.cancel(appointment.id, desk, NOW)
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
    clinic_day.cancel(appointment.id, desk, NOW)
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.kind == Kind.CANCELLED)
        .values(status=MessageStatus.SENT)
    )
    db.session.commit()
    clinic_day.undo(appointment.id, desk, NOW, rules)
    assert [m.kind for m in messages(appointment.id)][-1] == Kind.RESTORED


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
    clinic_day.complete(appointment.id, clinician, clinic_day.TreatmentRecord(areas=["hands"]), at)
    assert messages(appointment.id)[-1].kind == Kind.AFTERCARE
    clinic_day.undo(appointment.id, clinician, at, rules)
    assert (messages(appointment.id)[-1].kind, messages(appointment.id)[-1].status) == (
        Kind.AFTERCARE,
        MessageStatus.CANCELLED,
    )


# --- Reminders: scheduled once, sent once -----------------------------------------------


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


def test_a_reminder_is_not_sent_for_a_cancelled_booking_or_after_it_started(client, sent):
    cancelled, late = book(client, 0), book(client, 1)
    db.session.execute(
        update(Appointment)
        .where(Appointment.id == cancelled.id)
        .values(status="cancelled")  # behind the use case's back: the worker checks too
    )
    db.session.commit()
    run_at(STARTS + timedelta(minutes=1))
    statuses = {m.appointment_id: set() for m in messages()}
    for m in messages():
        if Kind(m.kind).is_reminder:
            statuses[m.appointment_id].add(m.status)
    assert statuses[late.id] == {MessageStatus.EXPIRED}
    assert statuses[cancelled.id] <= {MessageStatus.EXPIRED, MessageStatus.CANCELLED}
    assert not any("recordatorio" in body.lower() for _c, _to, body in sent)


def test_a_message_not_yet_due_is_left_alone(client, sent):
    book(client)
    assert run_at(NOW).sent == 1  # the confirmation only
    assert run_at(EARLY_AT - timedelta(seconds=1)).handled == 0


def test_without_a_provider_messages_wait_and_nothing_is_claimed(client):
    book(client)
    assert worker.run_once(now=lambda: SAME_DAY_AT).handled == 0
    assert {m.status for m in messages()} == {MessageStatus.QUEUED}
    assert {m.attempts for m in messages()} == {0}


# --- Every message, in both languages ---------------------------------------------------

FACTS = Facts(
    code="QX7K2M",
    day=NEXT_DAY,
    start=time(16, 20),
    name="Luis",
    minor=True,
    old_start=time(16, 0),
    next_session_from=date(2027, 1, 5),
)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_message_is_written_in_english_and_in_spanish(app, kind):
    english, spanish = compose(kind, FACTS, "en"), compose(kind, FACTS, "es")
    for written, weekday in ((english, "Tuesday"), (spanish, "martes")):
        letter = written.letter
        assert letter.subject and letter.sms and written.text and written.html
        assert "Luis" in written.text
        assert app.config["CLINIC_PHONE"] in written.text
        if kind is not Kind.AFTERCARE:
            assert weekday in written.text.lower() or weekday in written.text
            assert "QX7K2M" in letter.sms and "QX7K2M" in written.text
        assert len(letter.sms) <= 320, len(letter.sms)
        assert "tattoo" not in letter.sms.lower() and "tatuaje" not in letter.sms.lower()
    assert english.letter.subject != spanish.letter.subject
    assert english.text != spanish.text
    assert english.letter.sms != spanish.letter.sms


def test_times_are_the_clinics_with_the_weekday_in_each_language(app):
    assert "Tuesday, November 24, 2026 at 4:20" in compose(Kind.CONFIRMATION, FACTS, "en").text
    spanish = compose(Kind.CONFIRMATION, FACTS, "es").text
    assert "martes, 24 de noviembre de 2026" in spanish and "16:20" in spanish


def test_what_to_bring_asks_for_a_guardian_only_for_a_minor(app):
    minor = compose(Kind.CONFIRMATION, FACTS, "en").text
    adult = compose(Kind.CONFIRMATION, Facts(**{**FACTS.__dict__, "minor": False}), "en").text
    assert "parent or guardian" in minor and "parent or guardian" not in adult
    assert "photo ID" in adult and app.config["CLINIC_ADDRESS"] in adult


def test_a_moved_appointment_gives_both_times_and_aftercare_the_next_session(app):
    moved = compose(Kind.MOVED, FACTS, "en").text
    assert "4:20" in moved and "4:00" in moved
    aftercare = compose(Kind.AFTERCARE, FACTS, "es").text
    assert "5 de enero de 2027" in aftercare and "ampollas" in aftercare


def test_names_are_escaped_in_the_html_body(app):
    facts = Facts(**{**FACTS.__dict__, "name": "<b>Luis</b>"})
    written = compose(Kind.CONFIRMATION, facts, "en")
    assert "<b>Luis</b>" not in written.html and "&lt;b&gt;Luis&lt;/b&gt;" in written.html
    assert "<b>Luis</b>" in written.text  # plain text is not HTML


# --- The staff messages page ------------------------------------------------------------


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


def test_the_walk_in_form_asks_the_desk_about_the_youths_messages(client, staff, login, clock):
    clock.set(datetime.combine(NEXT_DAY, time(16, 5), tzinfo=LA))  # walk-ins: on the day
    login(staff[StaffRole.FRONT_DESK])
    page = client.get("/staff/walk-in").get_data(as_text=True)
    assert "Send the youth's reminders and aftercare by" in page
    assert "Send my confirmation" not in page


def test_the_worker_loop_lives_through_a_lost_database_connection(app, monkeypatch, caplog):
    """`outbox run --loop` meets a database restart: the batch fails, and so does the rollback
    over the dead connection. The loop throws the connection away and tries again."""
    import threading

    from sqlalchemy import event, text
    from sqlalchemy.exc import OperationalError

    app.config["OUTBOX_POLL_SECONDS"] = 0
    stopping = threading.Event()
    calls = []

    def run_once(stopping):
        calls.append(len(calls))
        if len(calls) == 1:
            db.session.execute(text("SELECT 1"))  # holding a connection when the server goes
            raise OperationalError("SELECT", {}, ConnectionResetError("server restarting"))
        stopping.set()
        return worker.RunReport()

    def server_gone(_connection):
        event.remove(db.engine, "rollback", server_gone)
        raise OperationalError("ROLLBACK", {}, ConnectionResetError("server restarting"), True)

    monkeypatch.setattr(worker, "run_once", run_once)
    monkeypatch.setattr(outbox, "schedule_reminders", lambda now: None)
    event.listen(db.engine, "rollback", server_gone)
    worker.run_forever(stopping)
    assert calls == [0, 1]
    assert "database connection lost, discarded" in caplog.text
    assert "outbox: OperationalError; trying again in 0 s" in caplog.text
    assert db.session.scalar(text("SELECT 1")) == 1  # a new connection serves the next batch
