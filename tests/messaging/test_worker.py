"""The outbox worker: when a message is due, what it will not send (a visit no longer ahead,
a moment passed), messages without a provider, claims, retries and dead messages, one bad
message never stopping the others, no transaction held while a provider answers, the loop
that outlives a lost database connection, and the worker as production runs it (its own
process, stopped by SIGTERM).

Most runs are ``worker.run_once`` in this process at an explicit instant, with senders that
record what they would send (the ``sent`` fixture) or the loopback servers of
``tests.support.mailservers`` (``messages_only``: reminders off, see
``tests.support.delivery``)."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import threading
import time
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from clinic import booking, clinic_day, create_app, settings
from clinic.extensions import db
from clinic.messaging import history, outbox, transports, worker
from clinic.models import Appointment, MessageStatus, OutboxMessage, StaffRole, naive_utc
from clinic.rules.messages import Kind
from config import TestingConfig
from tests.conftest import NOW, intake_data, intake_url
from tests.support import databases
from tests.support.delivery import at, book_by_email, book_one_of_each, fresh, run, utc
from tests.support.live import free_port
from tests.support.mailservers import smtp_environment, smtp_server, use_smtp_port
from tests.support.outbox import (
    EARLY_AT,
    SAME_DAY_AT,
    STARTS,
    book,
    book_at,
    messages,
    run_at,
)

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(ROOT / ".venv" / "bin" / "flask")


# --- Due, and what the worker will not send -----------------------------------------------


def test_a_message_not_yet_due_is_left_alone(client, sent):
    book(client)
    assert run_at(NOW).sent == 1  # the confirmation only
    assert run_at(EARLY_AT - timedelta(seconds=1)).handled == 0


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


# Found in review: messages went out for a visit no longer ahead.
def test_a_confirmation_not_yet_sent_is_not_sent_after_the_booking_is_cancelled(app, sent, staff):
    appointment = book_at(0)
    clinic_day.cancel(appointment, staff[StaffRole.FRONT_DESK], NOW, settings.current_rules())
    run_at(NOW + timedelta(seconds=1))
    assert [body for _c, _to, body in sent if "you are booked" in body] == []
    assert len(sent) == 1 and "is cancelled" in sent[0][2]
    by_kind = {m.kind: m.status for m in messages(appointment)}
    assert by_kind[Kind.CONFIRMATION] == MessageStatus.CANCELLED
    assert by_kind[Kind.CANCELLED] == MessageStatus.SENT


# --- No provider --------------------------------------------------------------------------


def test_without_a_provider_messages_wait_and_nothing_is_claimed(client):
    book(client)
    assert worker.run_once(now=lambda: SAME_DAY_AT).handled == 0
    assert {m.status for m in messages()} == {MessageStatus.QUEUED}
    assert {m.attempts for m in messages()} == {0}


@pytest.mark.usefixtures("messages_only")
def test_without_providers_messages_stay_queued_and_nothing_is_claimed(app, client):
    messages = book_one_of_each(client)
    assert [m.channel for m in messages] == ["email", "sms"]

    latest = max(m.send_after for m in messages)
    report = run(at(latest, 86400))

    assert report.handled == 0
    for message in messages:
        untouched = fresh(message.id)
        assert untouched.status == MessageStatus.QUEUED
        assert untouched.attempts == 0
        assert untouched.claim_token is None and untouched.claimed_until is None
    waiting = {w.channel: w.count for w in history.waiting_without_provider(NOW)}
    assert waiting == {"email": 1, "sms": 1}


@pytest.mark.usefixtures("messages_only")
def test_only_configured_channel_is_sent(app, client, smtp):
    email_message, sms_message = book_one_of_each(client)

    report = run(at(max(email_message.send_after, sms_message.send_after), 1))

    assert report.sent == 1
    assert fresh(email_message.id).status == MessageStatus.SENT
    waiting = fresh(sms_message.id)
    assert (waiting.status, waiting.attempts, waiting.claim_token) == (
        MessageStatus.QUEUED,
        0,
        None,
    )
    assert [(w.channel, w.count) for w in history.waiting_without_provider(NOW)] == [("sms", 1)]


# --- Claims -------------------------------------------------------------------------------


@pytest.mark.usefixtures("messages_only")
def test_a_claim_that_ran_out_is_taken_over_and_sent(app, client, smtp):
    message = book_by_email(client)
    clock = utc(message.send_after) + timedelta(hours=1)
    dead_worker = "d" * 32
    db.session.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.id == message.id)
        .values(
            status="sending",
            claim_token=dead_worker,
            claimed_until=(clock - timedelta(seconds=1)).replace(tzinfo=None),
        )
    )
    db.session.commit()

    report = run(lambda: clock)

    assert report.sent == 1
    assert len(smtp.received) == 1
    sent = fresh(message.id)
    assert sent.status == MessageStatus.SENT
    assert sent.claim_token is None
    # The worker that died, had it come back, could not overwrite the outcome.
    assert worker._finish(message.id, dead_worker, status=MessageStatus.QUEUED) is False
    assert fresh(message.id).status == MessageStatus.SENT


@pytest.mark.usefixtures("messages_only")
def test_a_live_claim_is_left_alone(app, client, smtp):
    message = book_by_email(client)
    clock = utc(message.send_after) + timedelta(hours=1)
    other_worker = "o" * 32
    db.session.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.id == message.id)
        .values(
            status="sending",
            claim_token=other_worker,
            claimed_until=(clock + timedelta(seconds=1)).replace(tzinfo=None),
        )
    )
    db.session.commit()

    report = run(lambda: clock)

    assert report.handled == 0
    assert smtp.received == []
    busy = fresh(message.id)
    assert (busy.status, busy.claim_token, busy.attempts) == ("sending", other_worker, 0)
    # Once that claim runs out, the message is due again.
    assert run(lambda: clock + timedelta(seconds=2)).sent == 1
    assert len(smtp.received) == 1


# Found in review: a message whose claim ran out before its turn was sent by both workers.
def test_a_message_whose_claim_ran_out_before_its_turn_is_not_sent_by_both_workers(
    app, monkeypatch
):
    app.config.update(OUTBOX_BATCH_SIZE=2, OUTBOX_CLAIM_SECONDS=300)
    monkeypatch.setattr(transports, "configured_channels", lambda: ("sms",))
    book_at(0)
    book_at(1)
    clock = {"now": NOW}
    to: list[str] = []
    lock = threading.Lock()

    def another_worker() -> None:
        with app.app_context():
            worker.run_once(now=lambda: NOW + timedelta(seconds=400), rand=lambda: 0.5)
            db.session.remove()

    def slow_send_sms(number, body):
        with lock:
            to.append(number)
            first = len(to) == 1
        if first:
            # The first text takes longer than the claim; meanwhile cron starts another worker.
            clock["now"] = NOW + timedelta(seconds=400)
            thread = threading.Thread(target=another_worker)
            thread.start()
            thread.join()
        return "SM" + "0" * 32

    monkeypatch.setattr(transports, "send_sms", slow_send_sms)
    worker.run_once(now=lambda: clock["now"], rand=lambda: 0.5)
    # The first worker had not started on the second youth's text when its claim ran out.
    assert to.count("+14155550001") == 1


# --- Retries and dead messages ------------------------------------------------------------


@pytest.mark.usefixtures("messages_only")
def test_email_dies_after_max_attempts_with_growing_backoff(app, client, smtp_down):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    message = book_by_email(client)
    clock = utc(message.send_after)
    delays = []

    for attempt, jitter in enumerate((0.0, 1.0, 0.5), start=1):
        before = fresh(message.id)
        assert before.status == MessageStatus.QUEUED
        clock = utc(before.send_after)
        report = worker.run_once(now=lambda moment=clock: moment, rand=lambda j=jitter: j)
        after = fresh(message.id)
        assert after.attempts == attempt
        if attempt < 3:
            assert report.retried == 1
            delays.append(utc(after.send_after) - clock)
    # 60 s with the least jitter (x0.8), then 120 s with the most (x1.2).
    assert delays == [timedelta(seconds=48), timedelta(seconds=144)]

    assert report.dead == 1
    assert after.status == MessageStatus.DEAD
    assert after.last_error == "SMTP: ConnectionRefusedError"
    assert after.claim_token is None
    assert utc(after.send_after) == clock  # no further try planned
    # Dead stays dead, even once the server is back.
    smtp_down.start()
    assert run(lambda: clock + timedelta(days=1)).handled == 0
    assert smtp_down.received == []
    assert fresh(message.id).status == MessageStatus.DEAD


# Found in review: retry_delay multiplied before capping: from the 42nd failure timedelta
# overflowed and the worker crashed.
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


# --- One message, or one channel, never stops the others ----------------------------------


# Found in review: one bad message stopped the worker.
def test_an_address_the_form_accepts_but_smtp_cannot_encode_does_not_stop_the_others(client, inbox):
    # The intake form (email_validator, IDNA 2008) accepts a right-to-left domain ending in a
    # digit; Python's 'idna' codec (IDNA 2003), which Flask-Mailman uses, raises UnicodeError.
    # Reminders off: the form books at the frozen clock, the worker runs at the real one.
    client.application.config.update(REMINDER_EARLY_AT="", REMINDER_SAME_DAY_AT="")
    odd = client.post(
        intake_url(),
        data=intake_data(email="ana@\u05e9\u05dc\u05d5\u05dd1.com", contact_by="email"),
    )
    assert odd.status_code == 303
    other = client.application.test_client()
    fine = other.post(
        intake_url(),
        data=intake_data(
            first_name="Bea",
            submission_key="b" * 32,
            email="bea@example.org",
            contact_by="email",
        ),
    )
    assert fine.status_code == 303
    created = max(m.created_at for m in messages()).replace(tzinfo=UTC)
    crashed = []
    for later in (timedelta(seconds=1), timedelta(minutes=10)):  # cron, then a later run
        try:
            run_at(created + later)
        except Exception as error:  # the defect: anything escapes
            crashed.append(type(error).__name__)
    gc.collect()  # the crashed send left its SMTP socket to the collector
    assert crashed == []
    assert len(inbox.to("bea@example.org")) == 1
    confirmations = [m for m in messages() if m.kind == Kind.CONFIRMATION]
    assert MessageStatus.SENDING not in {m.status for m in confirmations}


def test_a_mail_setting_mistake_does_not_stop_text_messages(app, monkeypatch):
    texts = []
    monkeypatch.setattr(transports, "configured_channels", lambda: ("email", "sms"))
    monkeypatch.setattr(transports, "send_sms", lambda to, body: texts.append(to) or "SM1")
    # README: MAIL_USE_SSL is "TLS from the first byte (port 465)"; MAIL_USE_TLS defaults to 1.
    use_smtp_port(app, free_port(), MAIL_USE_TLS=True, MAIL_USE_SSL=True)
    app.config.update(REMINDER_EARLY_AT="", REMINDER_SAME_DAY_AT="")
    book_at(0, email="ana@example.org", contact_by="email")
    book_at(1)
    with contextlib.suppress(ValueError):
        run_at(NOW)
    assert texts == ["+14155550001"]


# Found in review: a transaction stayed open while the provider was slow.
def test_no_transaction_is_open_while_a_message_is_sent(app, monkeypatch):
    open_during_send = []

    def send_sms(to, body):
        open_during_send.append(db.session().in_transaction())
        return "SM1"

    monkeypatch.setattr(transports, "configured_channels", lambda: ("sms",))
    monkeypatch.setattr(transports, "send_sms", send_sms)
    book_at(0)
    run_at(NOW)
    assert open_during_send == [False]


# --- The loop and the process -------------------------------------------------------------


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


@pytest.mark.slow
def test_a_running_worker_delivers_a_booking_within_seconds_and_stops_on_sigterm(tmp_path):
    url = databases.new_database("worker", tmp_path)
    databases.migrate(url)
    with smtp_server() as server:
        env = {
            **os.environ,
            "CLINIC_ENV": "production",
            "SECRET_KEY": "worker-test",
            "DATA_KEYS": TestingConfig.DATA_KEYS,  # the keys the test databases were made with
            "BLIND_INDEX_KEY": TestingConfig.BLIND_INDEX_KEY,
            "RATELIMIT_SINGLE_PROCESS": "1",  # one worker process: its own count is the count
            "DATABASE_URL": url,
            "OUTBOX_POLL_SECONDS": "1",
            **smtp_environment(server),
        }
        worker = subprocess.Popen(
            [FLASK, "--app", "wsgi", "outbox", "run", "--loop"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            app = create_app({"SQLALCHEMY_DATABASE_URI": url})
            with app.app_context():
                rules = settings.current_rules()
                now = settings.clinic_now(rules)  # the real clock, as the worker's
                day = next(d for d in booking.upcoming_days(rules, now) if d.bookable)
                slot = next(s for s in day.slots if s.bookable)
                booked_at = time.monotonic()
                appointment = booking.book(
                    booking.BookingRequest(
                        day=day.plan.day,
                        start=slot.plan.start,
                        submission_key="w" * 32,
                        first_name="Worker",
                        last_name="Test",
                        date_of_birth=date(2004, 4, 4),
                        email="worker@example.org",
                        contact_by="email",
                    ),
                    rules,
                    now,
                )
                code = appointment.code
                db.session.remove()
                db.engine.dispose()
            while not server.messages_to("worker@example.org"):
                assert time.monotonic() - booked_at < 15, "no confirmation within 15 s"
                assert worker.poll() is None, worker.stdout.read()
                time.sleep(0.05)
            received = server.messages_to("worker@example.org")
            assert len(received) == 1 and code in received[0].message["Subject"] + str(
                received[0].message.get_body(("plain",)).get_content()
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                output, _ = worker.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                raise
    assert worker.returncode == 0, output
    assert "Outbox worker stopped." in output
    assert "worker@example.org" not in output  # nothing personal in its log
    databases.drop_database(url)
