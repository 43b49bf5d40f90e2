"""The outbox's worker against real servers on loopback: an SMTP server (aiosmtpd) that can be
stopped and started again, and an HTTP server answering as Twilio's Messages API does. What
arrives, by e-mail and by text; the mail server down, then back; how each kind of refusal is
classed (retried, or dead at once) and shown without the youth's details; timeouts; SMTP
sessions ended; and contact details kept out of the logs.

Bookings, runs and settings as in ``tests.support.delivery`` (``messages_only``: reminders
off); claims, retries and dead messages as the worker's rules are in test_worker.py."""

from __future__ import annotations

import email
import email.policy
import gc
import json
import logging
import re
import socket
import threading
import time
from datetime import datetime, timedelta
from html import unescape

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from flask_babel import force_locale, gettext
from icalendar import Calendar
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from clinic.extensions import db, mail
from clinic.models import Appointment, MessageStatus, OutboxMessage
from clinic.rules.messages import Kind
from tests.conftest import LA, NOW
from tests.support.delivery import (
    ADDRESS,
    EMAIL,
    PHONE,
    at,
    book,
    book_by_email,
    book_by_sms,
    code_of_booking,
    confirmation,
    fresh,
    parts,
    run,
    utc,
)
from tests.support.live import free_port
from tests.support.mailservers import (
    SMTP_SERVER_LOGGER,
    TWILIO_FROM,
    Inbox,
    Reply,
    SmtpServer,
    use_smtp,
    use_smtp_port,
)
from tests.support.outbox import book_at, messages, run_at

pytestmark = pytest.mark.usefixtures("messages_only")

# Every way the youth's number could be written in a log line.
PHONE_FORMS = (PHONE, "4155550134", "(415) 555-0134", "415) 555-0134", "415-555-0134", "555-0134")
MINOR = {
    "date_of_birth": "2011-03-01",  # 15 on the appointment day
    "guardian_name": "Rosa Flores",
    "guardian_relationship": "parent",
    "guardian_phone": "(415) 555-0199",
}
GUARDIAN_LINE = (
    "Your parent or guardian, or their phone number so we can reach them: they must agree "
    "before your treatment."
)


# --- E-mail: what arrives -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "minor"),
    [("en", False), ("en", True), ("es", False), ("es", True)],
    ids=["en-adult", "en-minor", "es-adult", "es-minor"],
)
def test_confirmation_email_arrives_complete(app, client, smtp, language, minor):
    message = book_by_email(client, language=language, **(MINOR if minor else {}))
    code = code_of_booking()

    report = run(at(message.send_after, 1))

    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    [received] = smtp.received
    assert received.rcpt_tos == (EMAIL,)
    assert received.mail_from == "clinic@clinic.test"
    mail = received.message
    assert mail["To"] == EMAIL
    subject = mail["Subject"]
    found = parts(mail)
    text = found["text/plain"][0].get_content()
    html = unescape(found["text/html"][0].get_content())

    with force_locale(language):
        guardian_line = gettext(GUARDIAN_LINE)
        bring_heading = gettext("What to bring")
    for body in (text, html):
        assert code in body
        assert ADDRESS in body
        assert bring_heading in body
        assert (guardian_line in body) is minor
    if language == "es":
        assert "mar, 24 de nov" in subject
        for body in (text, html):
            assert "martes, 24 de noviembre de 2026" in body
            assert "4:00\u202fp.m." in body  # es_US: 12-hour
            assert "Tuesday" not in body
        assert '<html lang="es">' in html
    else:
        assert "Tue, Nov 24" in subject
        for body in (text, html):
            assert "Tuesday, November 24, 2026" in body
            assert "4:00\u202fPM" in body
            assert "martes" not in body
        assert '<html lang="en">' in html
    # A subject shows on a lock screen: neither the treatment nor the youth's name.
    assert "Flores" not in subject
    assert "tattoo" not in subject.lower()

    [attachment] = found["text/calendar"]
    assert attachment.get_filename() == "appointment.ics"
    assert attachment.get_param("method") == "PUBLISH"
    calendar = Calendar.from_ical(attachment.get_content())
    [event] = calendar.walk("VEVENT")
    start, end = event["DTSTART"], event["DTEND"]
    assert start.params["TZID"] == "America/Los_Angeles"
    assert start.dt == datetime(2026, 11, 24, 16, 0, tzinfo=LA)
    assert start.dt.utcoffset() == timedelta(hours=-8)
    assert end.dt == datetime(2026, 11, 24, 16, 20, tzinfo=LA)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["America/Los_Angeles"]
    summary = str(event["SUMMARY"])
    assert code in summary
    for private in ("Ana", "Flores", "tattoo", "Tattoo", "laser"):
        assert private not in summary
    assert ADDRESS in str(event["LOCATION"])
    assert str(event["UID"]) == f"appointment-{code}@clinic.test"
    assert str(event["STATUS"]) == "CONFIRMED"

    sent = fresh(message.id)
    assert sent.status == MessageStatus.SENT
    assert sent.attempts == 1
    assert sent.recipient == EMAIL
    assert sent.provider_ref == received.message_id
    assert sent.claim_token is None


# Found in review: a display name in MAIL_DEFAULT_SENDER broke the Message-ID and the
# calendar event's UID.
def test_a_sender_with_a_display_name_gives_a_valid_message_id_and_calendar_uid(app, inbox):
    app.config["MAIL_DEFAULT_SENDER"] = "Mission Youth Clinic <clinic@example.org>"
    mail.init_app(app)
    app.config.update(REMINDER_EARLY_AT="", REMINDER_SAME_DAY_AT="")
    book_at(0, email="ana@example.org", contact_by="email")
    run_at(NOW)
    (raw,) = inbox.to("ana@example.org")
    header = re.search(rb"^Message-ID: (.*)$", raw, re.MULTILINE | re.IGNORECASE).group(1)
    assert re.fullmatch(rb"<[^<>@\s]+@[^<>@\s]+>", header.strip()), header
    message = email.message_from_bytes(raw, policy=email.policy.default)
    (attachment,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    (event,) = Calendar.from_ical(attachment.get_content()).walk("VEVENT")
    assert str(event["UID"]).endswith("@example.org"), str(event["UID"])


# --- E-mail: the server down, then back (the first "done when") ------------------


def test_booking_while_smtp_down_succeeds_at_once_and_the_email_arrives_later(
    app, client, smtp_down
):
    response, seconds = book(client, email=EMAIL, contact_by="email")

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/book/confirmed")
    assert seconds < 2, f"booking took {seconds:.2f}s with the mail server down"
    db.session.rollback()
    appointment = db.session.scalars(select(Appointment)).one()
    assert appointment.status == "booked"
    message = confirmation()
    assert (message.status, message.attempts, message.appointment_id) == (
        MessageStatus.QUEUED,
        0,
        appointment.id,
    )
    booked_at = message.send_after

    report = run(at(booked_at, 1), rand=0.5)

    assert (report.sent, report.retried, report.dead) == (0, 1, 0)
    waiting = fresh(message.id)
    assert waiting.status == MessageStatus.QUEUED
    assert waiting.attempts == 1
    assert waiting.last_error == "SMTP: ConnectionRefusedError"
    # First retry after the base delay (60 s), at the middle of the jitter.
    assert utc(waiting.send_after) == utc(booked_at) + timedelta(seconds=61)
    assert waiting.claim_token is None and waiting.claimed_until is None
    assert waiting.recipient is None

    smtp_down.start()
    assert run(at(booked_at, 30)).handled == 0, "retried before its backoff ran out"
    assert smtp_down.received == []

    report = run(at(booked_at, 62))

    assert report.sent == 1
    [received] = smtp_down.received
    assert received.rcpt_tos == (EMAIL,)
    assert appointment.code in parts(received.message)["text/plain"][0].get_content()
    sent = fresh(message.id)
    assert sent.status == MessageStatus.SENT
    assert sent.attempts == 2
    assert sent.recipient == EMAIL
    assert sent.last_error is None
    assert utc(sent.sent_at) == utc(booked_at) + timedelta(seconds=62)
    # Exactly once: later runs find nothing to send.
    assert run(at(booked_at, 3600)).handled == 0
    assert len(smtp_down.received) == 1


def test_booking_to_delivery_on_loopback_is_quick(app, client, smtp):
    """The time from pressing "book" to the server holding the e-mail, the worker running
    right after the booking."""
    started = time.perf_counter()
    response, _ = book(client, email=EMAIL, contact_by="email")
    message = confirmation()
    run(at(message.send_after, 0))
    elapsed = time.perf_counter() - started

    assert response.status_code == 303
    assert len(smtp.received) == 1
    assert elapsed < 2, f"booking to delivery took {elapsed:.2f}s"


# --- E-mail: refusals, timeouts and sessions ----------------------------------------------


def test_recipient_refused_for_good_is_dead_at_once_and_the_error_hides_the_address(
    app, client, smtp
):
    smtp.refuse(EMAIL, f"550 5.1.1 <{EMAIL}>: user unknown")
    message = book_by_email(client)

    report = run(at(message.send_after, 1))

    assert (report.sent, report.retried, report.dead) == (0, 0, 1)
    dead = fresh(message.id)
    assert dead.status == MessageStatus.DEAD
    assert dead.attempts == 1
    assert dead.last_error.startswith("SMTP 550")
    assert EMAIL not in dead.last_error
    assert "ana" not in dead.last_error.lower()
    assert smtp.received == []


def test_message_refused_for_good_at_data_is_dead_and_scrubbed(app, client, smtp):
    smtp.refuse_data = f"554 5.7.1 Message to <{EMAIL}> rejected as spam"
    message = book_by_email(client)

    report = run(at(message.send_after, 1))

    assert report.dead == 1
    dead = fresh(message.id)
    assert dead.status == MessageStatus.DEAD
    assert dead.last_error.startswith("SMTP 554")
    assert "rejected as spam" in dead.last_error
    assert EMAIL not in dead.last_error
    assert "example.org" not in dead.last_error


@pytest.mark.parametrize(
    "refusal",
    ["450 4.2.1 Mailbox busy, try again later", "421 4.7.0 Too many connections"],
    ids=["450-at-rcpt", "421-at-rcpt"],
)
def test_temporary_smtp_refusal_is_retried(app, client, smtp, refusal):
    smtp.refuse(EMAIL, refusal)
    message = book_by_email(client)

    report = run(at(message.send_after, 1))

    assert (report.sent, report.retried, report.dead) == (0, 1, 0)
    waiting = fresh(message.id)
    assert waiting.status == MessageStatus.QUEUED
    assert waiting.attempts == 1
    assert waiting.last_error is not None
    assert EMAIL not in waiting.last_error

    smtp.refuse_recipients.clear()
    assert run(at(waiting.send_after, 1)).sent == 1
    assert len(smtp.received) == 1


# Found in review: an account-wide refusal (a wrong password) killed every message at once.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_wrong_smtp_password_is_retried_not_dead(app):
    controller = Controller(
        Inbox(),
        hostname="127.0.0.1",
        port=free_port(),
        auth_require_tls=False,
        authenticator=lambda *_args: AuthResult(success=False, handled=False),
    )
    controller.start()
    try:
        use_smtp_port(app, controller.port, MAIL_USERNAME="clinic", MAIL_PASSWORD="rotated")
        appointment = book_at(0, email="ana@example.org", contact_by="email")
        run_at(NOW)
    finally:
        controller.stop()
        gc.collect()  # Flask-Mailman leaves the refused connection's socket to the collector
    confirmation = messages(appointment)[0]
    assert confirmation.last_error.startswith("SMTP 535")
    assert confirmation.status == MessageStatus.QUEUED


def test_smtp_session_ends_with_quit_after_delivery(app, client, smtp):
    message = book_by_email(client)
    run(at(message.send_after, 1))
    assert len(smtp.received) == 1
    assert len(smtp.sessions_used) == 1
    assert smtp.sessions_left_open() == 0


@pytest.mark.parametrize(
    "refusal",
    ["550 at RCPT", "450 at RCPT", "554 at DATA"],
)
def test_smtp_session_is_ended_after_a_refusal(app, client, smtp, refusal):
    if refusal.endswith("RCPT"):
        smtp.refuse(EMAIL, f"{refusal[:3]} 5.1.1 <{EMAIL}>: no")
    else:
        smtp.refuse_data = "554 5.7.1 rejected"
    message = book_by_email(client)

    report = run(at(message.send_after, 1))

    assert report.sent == 0
    assert len(smtp.sessions_used) == 1
    assert smtp.sessions_left_open() == 0, "the worker left the SMTP session open"


def test_smtp_server_that_never_answers_is_retried_after_the_timeout(app, client):
    """A server that takes the connection but never greets: the worker gives up after
    MAIL_TIMEOUT instead of hanging, and tries again later."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever answers
        use_smtp(app, SmtpServer(silent.getsockname()[1]), timeout=1)
        message = book_by_email(client)

        started = time.perf_counter()
        report = run(at(message.send_after, 1))
        elapsed = time.perf_counter() - started

    assert report.retried == 1
    assert 0.9 <= elapsed < 5, elapsed
    waiting = fresh(message.id)
    assert waiting.status == MessageStatus.QUEUED
    assert waiting.last_error.startswith("SMTP: ")


# --- Text messages through Twilio ----------------------------------------------------------


def test_sms_confirmation_goes_through_twilio(app, client, twilio):
    message = book_by_sms(client)  # intake_data: a phone, no e-mail, Spanish
    code = code_of_booking()

    report = run(at(message.send_after, 1))

    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    [request] = twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{twilio.sid}/Messages.json"
    assert request.content_type == "application/x-www-form-urlencoded"
    assert (request.username, request.password) == (twilio.sid, twilio.token)
    assert request.form["To"] == PHONE
    assert request.form["From"] == TWILIO_FROM
    body = request.form["Body"]
    assert code in body
    assert len(body) <= 320
    # Spanish: the day and time as a Spanish speaker in the US writes them (es_US), the narrow
    # space a plain one (one GSM-7 segment).
    assert "mar, 24 de nov" in body
    assert "4:00 p.m." in body
    # Whole words: a random code such as "WEWPMZ" holds the letters "PM".
    assert not re.search(r"\b(Tue|PM)\b", body), body
    assert "Ana" not in body and "Flores" not in body
    assert "tattoo" not in body.lower()

    sent = fresh(message.id)
    assert sent.status == MessageStatus.SENT
    assert sent.attempts == 1
    assert sent.recipient == PHONE
    [resource] = twilio.sent
    assert sent.provider_ref == resource["sid"]
    assert resource["sid"].startswith("SM") and len(resource["sid"]) == 34


def test_sms_youth_who_chose_texts_gets_a_text_even_with_an_email(app, client, smtp, twilio):
    message = book_by_sms(client, email=EMAIL, contact_by="sms")
    assert run(at(message.send_after, 1)).sent == 1
    assert len(twilio.requests) == 1
    assert smtp.received == []


def test_invalid_number_is_dead_at_once_and_the_error_hides_the_number(app, client, twilio):
    twilio.answer(Reply.invalid_number())
    message = book_by_sms(client)

    report = run(at(message.send_after, 1))

    assert (report.sent, report.retried, report.dead) == (0, 0, 1)
    dead = fresh(message.id)
    assert dead.status == MessageStatus.DEAD
    assert dead.attempts == 1
    assert dead.last_error.startswith("Twilio")
    assert "not a valid phone number" in dead.last_error
    for form in (*PHONE_FORMS, "0134"):
        assert form not in dead.last_error
    assert dead.recipient is None
    # Twilio did quote the number back: the scrubbing is what kept it out.
    assert PHONE in twilio.requests[0].form["To"]


@pytest.mark.parametrize(
    "reply", [Reply.server_error(), Reply.too_many_requests()], ids=["500", "429"]
)
def test_twilio_server_error_or_rate_limit_is_retried(app, client, twilio, reply):
    twilio.answer(reply)
    message = book_by_sms(client)
    booked_at = message.send_after

    report = run(at(booked_at, 1))

    assert (report.sent, report.retried, report.dead) == (0, 1, 0)
    waiting = fresh(message.id)
    assert waiting.status == MessageStatus.QUEUED
    assert waiting.attempts == 1
    assert waiting.last_error.startswith("Twilio")
    assert utc(waiting.send_after) == utc(booked_at) + timedelta(seconds=61)

    report = run(at(waiting.send_after))  # the fake answers 201 again

    assert report.sent == 1
    sent = fresh(message.id)
    assert sent.status == MessageStatus.SENT
    assert sent.attempts == 2
    assert len(twilio.requests) == 2
    assert sent.provider_ref == twilio.sent[0]["sid"]


@pytest.mark.parametrize(
    "reply",
    [Reply.invalid_number(), Reply.server_error(), Reply.too_many_requests()],
    ids=["400-21211", "500-20500", "429-20429"],
)
def test_twilio_error_keeps_its_status_and_code_for_staff(app, client, twilio, reply):
    twilio.answer(reply)
    message = book_by_sms(client)

    run(at(message.send_after, 1))

    error = fresh(message.id).last_error
    assert f"error {reply.error_code} (HTTP {reply.status})" in error, error
    assert "0134" not in error


def test_twilio_that_stalls_is_given_up_after_the_timeout_and_retried(app, client, twilio):
    assert app.config["TWILIO_TIMEOUT"] == 1
    twilio.answer(Reply.stalled(30))
    message = book_by_sms(client)

    started = time.perf_counter()
    report = run(at(message.send_after, 1))
    elapsed = time.perf_counter() - started

    assert report.retried == 1
    assert 0.9 <= elapsed < 4, f"the run took {elapsed:.1f}s with a 1s timeout"
    waiting = fresh(message.id)
    assert waiting.status == MessageStatus.QUEUED
    assert waiting.attempts == 1
    assert waiting.last_error.startswith("Twilio: ")
    assert "Timeout" in waiting.last_error


def test_wrong_twilio_credentials_are_retried_and_shown_without_the_token(app, client, twilio):
    # The clinic's own mistake (a rotated token) must not kill every message on its first
    # try: it is retried, and staff see why, until someone fixes the setting.
    app.config["TWILIO_AUTH_TOKEN"] = "not-the-token"
    message = book_by_sms(client)

    report = run(at(message.send_after, 1))

    assert report.retried == 1
    waiting = fresh(message.id)
    assert waiting.status == MessageStatus.QUEUED
    assert "Authenticate" in waiting.last_error
    assert "not-the-token" not in waiting.last_error


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


# Found in review: an account-wide refusal (a wrong token) killed every message at once.
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


# --- Contact details never in logs ----------------------------------------------------------


def app_log(caplog) -> str:
    """Everything logged in this process, except the fake SMTP server's own log (it stands
    for a machine outside the clinic, and logs every line it receives)."""
    return "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith(SMTP_SERVER_LOGGER)
    )


def test_contact_details_never_reach_the_logs(app, client, smtp, twilio, caplog):
    caplog.set_level(logging.DEBUG)
    codes = []

    def another(n: int, **contact) -> OutboxMessage:
        """Youth number ``n``, each a different person with the same contact details."""
        response, _ = book(
            client,
            first_name=f"Youth{'ABCD'[n]}",
            date_of_birth=f"200{n + 4}-06-1{n}",
            submission_key=str(n) * 32,
            start=f"16:{20 * n:02d}" if n < 3 else "17:00",  # two seats a slot
            **contact,
        )
        assert response.status_code == 303
        codes.append(code_of_booking())
        return confirmation()

    # Texts: a server error then sent; a number Twilio refuses and quotes back.
    twilio.answer(Reply.server_error())
    texted = another(0)
    run(at(texted.send_after, 1))
    run(at(texted.send_after, 3600))
    refused_number = another(1)
    twilio.answer(Reply.invalid_number())
    run(at(refused_number.send_after, 1))
    # E-mails: an address the server refuses and quotes back; the server down, then sent.
    smtp.refuse(EMAIL, f"550 5.1.1 <{EMAIL}>: user unknown")
    refused_address = another(2, email=EMAIL, contact_by="email")
    run(at(refused_address.send_after, 1))
    smtp.refuse_recipients.clear()
    smtp.stop()
    mailed = another(3, email=EMAIL, contact_by="email")
    run(at(mailed.send_after, 1))
    smtp.start()
    run(at(mailed.send_after, 3600))

    outcomes = [fresh(m.id) for m in (texted, refused_number, refused_address, mailed)]
    assert [(m.channel, m.status, m.attempts) for m in outcomes] == [
        ("sms", "sent", 2),
        ("sms", "dead", 1),
        ("email", "dead", 1),
        ("email", "sent", 2),
    ]
    logged = app_log(caplog)
    # The failures were logged (the check below would prove nothing on an empty log).
    assert logged.count("outbox: message") >= 4, logged
    for secret in (*PHONE_FORMS, EMAIL, "ana@", *codes):
        assert secret not in logged, f"{secret!r} in the log"
