"""What messages say, in English and in Spanish: every kind of message in both languages,
times as the clinic's with the weekday, what to bring, names escaped, no English left in a
Spanish e-mail or text as it arrives, and a calendar event that does not name the
treatment."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from html import unescape

import pytest
from icalendar import Calendar

from clinic.messaging.texts import Facts, compose
from clinic.rules.messages import Kind
from tests.conftest import LA, NEXT_DAY, NOW
from tests.support.delivery import at, book_by_email, book_by_sms, code_of_booking, parts, run
from tests.support.outbox import book_at, run_at

# As long as a production link: https, a real host name, a 43-character token.
LINK = "https://clinic.example.org/my/" + "Ab3_" * 10 + "xY9"
FACTS = Facts(
    code="QX7K2M",
    day=NEXT_DAY,
    start=time(16, 20),
    name="Luis",
    minor=True,
    old_start=time(16, 0),
    next_session_from=date(2027, 1, 5),
    link=LINK,
)
# A list entry's: no code; the offered seat's time and its deadline.
ENTRY_FACTS = replace(FACTS, code="", minor=False, deadline=datetime(2026, 11, 23, 21, tzinfo=LA))


@pytest.mark.parametrize("kind", list(Kind))
def test_every_message_is_written_in_english_and_in_spanish(app, kind):
    facts = ENTRY_FACTS if kind.about_an_entry else FACTS
    english, spanish = compose(kind, facts, "en"), compose(kind, facts, "es")
    for written, weekday in ((english, "Tuesday"), (spanish, "martes")):
        letter = written.letter
        assert letter.subject and letter.sms and written.text and written.html
        assert "Luis" in written.text
        assert app.config["CLINIC_PHONE"] in written.text
        if kind is not Kind.AFTERCARE:
            assert weekday in written.text.lower() or weekday in written.text
        if not kind.about_an_entry and kind not in (Kind.AFTERCARE, Kind.TOO_SOON):
            # (those two are about a visit that is over)
            assert "QX7K2M" in letter.sms and "QX7K2M" in written.text
        # Every message carries the youth's link: in both bodies and in the text message,
        # where it stands last or before a space (no punctuation sticks to it).
        assert f"{LINK}\n" in written.text or f"{LINK} " in written.text
        assert f'href="{LINK}"' in written.html
        assert letter.sms.endswith(LINK) or f"{LINK} " in letter.sms
        # And the phone, a tap-to-call link in HTML.
        assert 'href="tel:+14155550134"' in written.html
        assert len(letter.sms) <= 320, len(letter.sms)
        assert "tattoo" not in letter.sms.lower() and "tatuaje" not in letter.sms.lower()
    assert english.letter.subject != spanish.letter.subject
    assert english.text != spanish.text
    assert english.letter.sms != spanish.letter.sms


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_link_comes_before_the_phone_and_says_what_it_does(app, language):
    """The confirmation used to say "call us to cancel"; now the link comes first."""
    confirmation = compose(Kind.CONFIRMATION, FACTS, language)
    change = {"en": "Change or cancel: ", "es": "Cambiar o cancelar: "}[language]
    text = confirmation.text
    assert f"{change}{LINK}" in text and f"{change}{LINK}" in confirmation.letter.sms
    assert text.index(LINK) < text.index("(415) 555-0134")
    sms = confirmation.letter.sms
    assert sms.index(LINK) < sms.index("(415) 555-0134")
    expected = {
        Kind.AFTERCARE: {"en": "Book your next session: ", "es": "Reserva tu próxima sesión: "},
        Kind.TOO_SOON: {"en": "Book your next session: ", "es": "Reserva tu próxima sesión: "},
        Kind.ALREADY_BOOKED: {"en": "Change or cancel: ", "es": "Cambiar o cancelar: "},
    }
    for kind, words in expected.items():
        assert f"{words[language]}{LINK}" in compose(kind, FACTS, language).text, kind


@pytest.mark.parametrize(
    ("language", "held"),
    [("en", "Take this seat: {link} (held until Mon, Nov 23, 9:00"), ("es", "guardado hasta")],
)
def test_an_offered_seat_gives_its_time_and_its_deadline_with_the_weekday(app, language, held):
    written = compose(Kind.SEAT_OFFERED, ENTRY_FACTS, language)
    assert held.format(link=LINK) in written.text.replace("\u202f", " ")
    assert held.format(link=LINK) in written.letter.sms.replace("\u202f", " ")
    if language == "es":
        assert "lun, 23 de nov, 9:00\u202fp.m." in written.letter.sms


def test_a_standby_list_gives_its_day_and_times_and_the_waiting_list_none(app):
    standby = replace(ENTRY_FACTS, start=None, earliest=time(16), latest=time(18))
    text = compose(Kind.LIST_JOINED, standby, "en").text.replace("\u202f", " ")
    assert "standby list for Tuesday, November 24, 2026, between 4:00 PM and 6:00 PM" in text
    program = replace(ENTRY_FACTS, day=None, start=None)
    written = compose(Kind.LIST_JOINED, program, "es")
    assert "lista de espera de la clínica" in written.text and LINK in written.letter.sms


@pytest.mark.parametrize("kind", [Kind.ALREADY_BOOKED, Kind.TOO_SOON])
def test_a_declined_request_to_join_a_list_says_which_list_not_a_time(app, kind):
    """A request to join a list asked for no time: never "at 12:00 AM"."""
    asked = datetime(2026, 11, 24, 0, 0)
    program = compose(kind, replace(FACTS, requested=asked, joining="program"), "en").text
    assert "a place on the clinic's waiting list" in program and "12:00" not in program
    standby = compose(kind, replace(FACTS, requested=asked, joining="standby"), "es").text
    assert "un lugar en la lista de espera del martes, 24 de noviembre" in standby
    assert "12:00" not in standby and "0:00" not in standby


def test_a_youths_own_cancel_and_move_say_they_did_it(app):
    cancelled = compose(Kind.YOUTH_CANCELLED, FACTS, "en")
    assert "You cancelled your appointment" in cancelled.text and cancelled.letter.cancelled
    moved = compose(Kind.RESCHEDULED, replace(FACTS, old_day=date(2026, 11, 10)), "en")
    assert "It was Tue, Nov 10, 4:00" in moved.text.replace("\u202f", " ")
    assert "(was Tue, Nov 10, 4:00 PM)" in moved.letter.sms.replace("\u202f", " ")
    assert moved.letter.calendar


def test_a_name_or_a_link_cannot_inject_html(app):
    facts = replace(FACTS, link='https://x.test/my/"><script>', name="<i>Luis</i>")
    html = compose(Kind.CONFIRMATION, facts, "en").html
    assert "<script>" not in html and "<i>" not in html and "&#34;&gt;&lt;script&gt;" in html


def test_times_are_the_clinics_with_the_weekday_in_each_language(app):
    assert "Tuesday, November 24, 2026 at 4:20" in compose(Kind.CONFIRMATION, FACTS, "en").text
    spanish = compose(Kind.CONFIRMATION, FACTS, "es").text
    # US Spanish (es_US): 12-hour times, as Spanish speakers in San Francisco read them; the
    # sentence's own period merges into the "p.m." that ends it.
    assert "martes, 24 de noviembre de 2026 a las 4:20\u202fp.m.\n" in spanish
    assert "16:20" not in spanish and "p.m.." not in spanish


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


# --- As they arrive, through real servers on loopback -------------------------------------


@pytest.mark.usefixtures("messages_only")
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


@pytest.mark.usefixtures("messages_only")
def test_english_sms_is_in_english(app, client, twilio):
    message = book_by_sms(client, language="en")
    run(at(message.send_after, 1))
    body = twilio.requests[0].form["Body"]
    assert "Tue, Nov 24" in body
    # A plain space before PM: Babel's narrow one would make it a costlier UCS-2 text.
    assert "4:00 PM" in body and "\u202f" not in body
    assert code_of_booking() in body


# Found in review: the calendar event's LOCATION was CLINIC_NAME ("... Tattoo Removal
# Clinic"), and calendars are seen by others.
def test_the_calendar_event_does_not_name_the_treatment(app, sent):
    book_at(0, email="ana@example.org", contact_by="email")
    run_at(NOW)
    (attachment,) = [a for a in sent.attachments if a is not None]
    (event,) = Calendar.from_ical(attachment[1]).walk("VEVENT")
    shown = " ".join(str(event.get(name, "")) for name in ("SUMMARY", "LOCATION", "DESCRIPTION"))
    assert "tattoo" not in shown.lower(), shown
