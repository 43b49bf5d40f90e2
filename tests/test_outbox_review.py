"""Review of issue 5 (the outbox): each test here showed one defect found in review, now
fixed.

Bookings go through the booking use case at the frozen clinic clock (``tests.outboxkit``);
workers run in this process at an explicit instant, with senders that record what they would
send (the ``sent`` fixture)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import gc
import json
import re
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from icalendar import Calendar
from sqlalchemy import update
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from clinic import clinic_day, schedule, settings
from clinic.extensions import db, mail
from clinic.messaging import transports, worker
from clinic.models import MessageStatus, OutboxMessage, StaffRole
from clinic.rules.messages import Kind
from clinic.schedule import Hours, Resolution
from tests.conftest import LA, NEXT_DAY, NOW, intake_data, intake_url
from tests.live import free_port
from tests.outboxkit import book_at, messages, run_at

EARLY_AT = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # Sunday 10:00 in San Francisco
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=LA)  # the day after the early reminder went


class _Inbox:
    """An aiosmtpd handler keeping (envelope sender, recipients, raw message)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, _server, _session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[bytes]:
        return [raw for _sender, rcpts, raw in self.received if address in rcpts]


def _use_smtp(app, port: int, **settings) -> None:
    app.config.update(
        {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_USE_TLS": False,
            "MAIL_USE_SSL": False,
            "MAIL_USERNAME": None,
            "MAIL_PASSWORD": None,
            "MAIL_TIMEOUT": 2,
            "MAIL_DEFAULT_SENDER": "clinic@clinic.test",
            **settings,
        }
    )
    mail.init_app(app)  # Flask-Mailman copies its settings when initialised


@pytest.fixture
def smtp(app):
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    _use_smtp(app, controller.port)
    yield inbox
    controller.stop()


# --- 1. One bad message stops the worker --------------------------------------------------


def test_an_address_the_form_accepts_but_smtp_cannot_encode_does_not_stop_the_others(client, smtp):
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
    assert len(smtp.to("bea@example.org")) == 1
    confirmations = [m for m in messages() if m.kind == Kind.CONFIRMATION]
    assert MessageStatus.SENDING not in {m.status for m in confirmations}


def test_a_mail_setting_mistake_does_not_stop_text_messages(app, monkeypatch):
    texts = []
    monkeypatch.setattr(transports, "configured_channels", lambda: ("email", "sms"))
    monkeypatch.setattr(transports, "send_sms", lambda to, body: texts.append(to) or "SM1")
    # README: MAIL_USE_SSL is "TLS from the first byte (port 465)"; MAIL_USE_TLS defaults to 1.
    _use_smtp(app, free_port(), MAIL_USE_TLS=True, MAIL_USE_SSL=True)
    app.config.update(REMINDER_EARLY_AT="", REMINDER_SAME_DAY_AT="")
    book_at(0, email="ana@example.org", contact_by="email")
    book_at(1)
    with contextlib.suppress(ValueError):
        run_at(NOW)
    assert texts == ["+14155550001"]


# --- 2. Messages for a visit that is no longer ahead ---------------------------------------


def test_a_confirmation_not_yet_sent_is_not_sent_after_the_booking_is_cancelled(app, sent, staff):
    appointment = book_at(0)
    clinic_day.cancel(appointment, staff[StaffRole.FRONT_DESK], NOW)
    run_at(NOW + timedelta(seconds=1))
    assert [body for _c, _to, body in sent if "you are booked" in body] == []
    assert len(sent) == 1 and "is cancelled" in sent[0][2]
    by_kind = {m.kind: m.status for m in messages(appointment)}
    assert by_kind[Kind.CONFIRMATION] == MessageStatus.CANCELLED
    assert by_kind[Kind.CANCELLED] == MessageStatus.SENT


# --- 3. A move repeats reminders already sent --------------------------------------------


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


# --- 4. A lost claim is still sent ----------------------------------------------------------


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


# --- 5. A transaction stays open while the provider is slow --------------------------------


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


# --- 6. Account-wide refusals kill every message at once -----------------------------------


def _twilio_refusing_credentials():
    body = json.dumps({"code": 20003, "message": "Authenticate", "more_info": "", "status": 401})

    def wsgi(environ, start_response):
        response = Response(body, status=401, content_type="application/json")
        return response(environ, start_response)

    port = free_port()
    server = make_server("127.0.0.1", port, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{port}"


def test_a_wrong_twilio_token_is_retried_not_dead(app):
    server, thread, url = _twilio_refusing_credentials()
    try:
        app.config.update(
            TWILIO_ACCOUNT_SID="AC" + "0" * 32,
            TWILIO_AUTH_TOKEN="rotated-yesterday",
            TWILIO_FROM="+14155550100",
            TWILIO_API_URL=url,
            TWILIO_TIMEOUT=2,
        )
        appointment = book_at(0)
        run_at(NOW)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    confirmation = messages(appointment)[0]
    assert (confirmation.kind, confirmation.attempts) == (Kind.CONFIRMATION, 1)
    assert confirmation.status == MessageStatus.QUEUED


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_wrong_smtp_password_is_retried_not_dead(app):
    controller = Controller(
        _Inbox(),
        hostname="127.0.0.1",
        port=free_port(),
        auth_require_tls=False,
        authenticator=lambda *_args: AuthResult(success=False, handled=False),
    )
    controller.start()
    try:
        _use_smtp(app, controller.port, MAIL_USERNAME="clinic", MAIL_PASSWORD="rotated")
        appointment = book_at(0, email="ana@example.org", contact_by="email")
        run_at(NOW)
    finally:
        controller.stop()
        gc.collect()  # Flask-Mailman leaves the refused connection's socket to the collector
    confirmation = messages(appointment)[0]
    assert confirmation.last_error.startswith("SMTP 535")
    assert confirmation.status == MessageStatus.QUEUED


# --- 7. A display name in MAIL_DEFAULT_SENDER -----------------------------------------------


def test_a_sender_with_a_display_name_gives_a_valid_message_id_and_calendar_uid(app, smtp):
    app.config["MAIL_DEFAULT_SENDER"] = "Mission Youth Clinic <clinic@example.org>"
    mail.init_app(app)
    app.config.update(REMINDER_EARLY_AT="", REMINDER_SAME_DAY_AT="")
    book_at(0, email="ana@example.org", contact_by="email")
    run_at(NOW)
    (raw,) = smtp.to("ana@example.org")
    header = re.search(rb"^Message-ID: (.*)$", raw, re.MULTILINE | re.IGNORECASE).group(1)
    assert re.fullmatch(rb"<[^<>@\s]+@[^<>@\s]+>", header.strip()), header
    message = email.message_from_bytes(raw, policy=email.policy.default)
    (attachment,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    (event,) = Calendar.from_ical(attachment.get_content()).walk("VEVENT")
    assert str(event["UID"]).endswith("@example.org"), str(event["UID"])


# --- 8. The staff page on odd input ---------------------------------------------------------


def test_a_huge_page_number_is_not_a_server_error(client, staff, login):
    login(staff[StaffRole.FRONT_DESK])
    try:
        status = client.get("/staff/messages?page=1000000000000000000").status_code
    except Exception as error:  # the test client re-raises what would be a 500
        status = f"500 ({type(error).__name__})"
    assert status in (200, 404)


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
