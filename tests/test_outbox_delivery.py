"""The outbox's worker against real servers on loopback: an SMTP server (aiosmtpd) that can be
stopped and started again, and an HTTP server answering as Twilio's Messages API does.

Bookings go through the public form (the Flask test client); the worker is
``worker.run_once`` in this process, with its clock given explicitly: every run is timed
from the confirmation's own send-after time (``at``), so nothing depends on the real date.
Reminders are turned off here: these tests are about delivery, and a reminder falling due
would be one more message in every count."""

from __future__ import annotations

import logging
import re
import socket
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale, gettext
from icalendar import Calendar
from sqlalchemy import select

from clinic.extensions import db
from clinic.messaging import history, worker
from clinic.models import Appointment, MessageStatus, OutboxMessage
from tests.conftest import NEXT_DAY, NOW, intake_data, intake_url
from tests.mailservers import (
    SMTP_SERVER_LOGGER,
    TWILIO_FROM,
    Reply,
    SmtpServer,
    fake_twilio,
    smtp_server,
    use_smtp,
    use_twilio,
)

LA = ZoneInfo("America/Los_Angeles")
EMAIL = "ana@example.org"
PHONE = "+14155550134"  # intake_data's "(415) 555-0134", as the form stores it
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
ADDRESS = "2500 Mission Street, San Francisco, CA"


@pytest.fixture(autouse=True)
def messages_only(app):
    """Only the confirmations the tests book, and a clinic number that is not the youth's
    (intake_data's phone is the default clinic number: a log check must tell them apart)."""
    app.config.update(
        REMINDER_EARLY_AT="",
        REMINDER_SAME_DAY_AT="",
        CLINIC_PHONE="(415) 555-0111",
        CLINIC_ADDRESS=ADDRESS,
        OUTBOX_RETRY_BASE_SECONDS=60,
        OUTBOX_RETRY_CAP_SECONDS=3600,
    )


@pytest.fixture
def smtp(app):
    with smtp_server() as server:
        use_smtp(app, server)
        yield server


@pytest.fixture
def smtp_down(app):
    """E-mail configured, but its server is not running (its port is kept for it)."""
    with smtp_server(running=False) as server:
        use_smtp(app, server)
        yield server


@pytest.fixture
def twilio(app):
    with fake_twilio() as server:
        use_twilio(app, server)
        yield server


# --- Helpers ----------------------------------------------------------------------------------


def book(client, start: str = "16:00", **overrides):
    """Book Ana (intake_data) through the form on the next clinic day at ``start``; returns
    the response and how long it took."""
    url = intake_url(NEXT_DAY, clock_time.fromisoformat(start))
    started = time.perf_counter()
    response = client.post(url, data=intake_data(slot_time=start, **overrides))
    return response, time.perf_counter() - started


def book_by_email(client, **overrides):
    response, _ = book(client, email=EMAIL, contact_by="email", **overrides)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return confirmation()


def book_by_sms(client, **overrides):
    response, _ = book(client, **overrides)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    message = confirmation()
    assert message.channel == "sms"
    return message


def confirmation() -> OutboxMessage:
    """The newest confirmation in the outbox, as the database has it now."""
    db.session.rollback()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "confirmation")
        .order_by(OutboxMessage.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    ).one()


def fresh(message_id: int) -> OutboxMessage:
    db.session.rollback()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .execution_options(populate_existing=True)
    ).one()


def utc(naive: datetime) -> datetime:
    return naive.replace(tzinfo=UTC)


def at(moment: datetime, seconds: float = 0):
    """A worker clock fixed at ``seconds`` after ``moment`` (a column value, naive UTC)."""
    fixed = utc(moment) + timedelta(seconds=seconds)
    return lambda: fixed


def run(now, rand: float = 0.5) -> worker.RunReport:
    return worker.run_once(now=now, rand=lambda: rand)


def parts(message) -> dict[str, list]:
    """A received message's leaf parts by content type."""
    found: dict[str, list] = {}
    for part in message.walk():
        if not part.is_multipart():
            found.setdefault(part.get_content_type(), []).append(part)
    return found


def code_of_booking() -> str:
    """The newest booking's confirmation code."""
    db.session.rollback()
    return db.session.scalars(select(Appointment.code).order_by(Appointment.id.desc())).first()


# --- E-mail: what arrives ------------------------------------------------------------------


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
        assert "mar, 24 nov" in subject
        for body in (text, html):
            assert "martes, 24 de noviembre de 2026" in body
            assert "16:00" in body
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


def test_spanish_messages_have_no_english_left(app, client, smtp, twilio):
    """Every line of a Spanish confirmation comes from the catalogue, by e-mail and by text."""
    email_message = book_by_email(client, language="es")
    run(at(email_message.send_after, 1))
    [received] = smtp.received
    found = parts(received.message)
    bodies = {
        "subject": received.message["Subject"],
        "text": found["text/plain"][0].get_content(),
        "html": unescape(found["text/html"][0].get_content()),
        "summary": str(
            Calendar.from_ical(found["text/calendar"][0].get_content()).walk("VEVENT")[0]["SUMMARY"]
        ),
    }
    sms_message = book_by_sms(
        client, first_name="Bea", date_of_birth="2005-04-04", submission_key="b" * 32
    )
    run(at(sms_message.send_after, 1))
    bodies["sms"] = twilio.requests[0].form["Body"]
    english = (
        "You are booked",
        "Your confirmation code",
        "What to bring",
        "Where:",
        "Please come",
        "Clinic appointment",
        "Bring an ID",
        "Can't come",
        "Call ",
        "Code ",
    )
    for name, body in bodies.items():
        for phrase in english:
            assert phrase not in body, f"{phrase!r} in the Spanish {name}"
    assert "código" in bodies["text"].lower()
    assert "Qué traer" in bodies["text"]


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
    # Spanish: the day and time as a Spanish speaker writes them.
    assert "mar, 24 nov" in body
    assert "16:00" in body
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


def test_english_sms_is_in_english(app, client, twilio):
    message = book_by_sms(client, language="en")
    run(at(message.send_after, 1))
    body = twilio.requests[0].form["Body"]
    assert "Tue, Nov 24" in body
    # A plain space before PM: Babel's narrow one would make it a costlier UCS-2 text.
    assert "4:00 PM" in body and "\u202f" not in body
    assert code_of_booking() in body


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


# --- No provider ------------------------------------------------------------------------------


def book_one_of_each(client) -> tuple[OutboxMessage, OutboxMessage]:
    """Two youth book: one asks for e-mail, one (Luis) gives only a phone. Their
    confirmations, e-mail first."""
    email_message = book_by_email(client)
    response, _ = book(
        client,
        first_name="Luis",
        last_name="Ortega",
        date_of_birth="2006-02-02",
        phone="(415) 555-0177",
        submission_key="l" * 32,
    )
    assert response.status_code == 303
    db.session.rollback()
    sms_message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.channel == "sms")
    ).one()
    return email_message, sms_message


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


# --- Claims ------------------------------------------------------------------------------------


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
