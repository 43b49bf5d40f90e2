""" "Lost your link?": a phone or e-mail and a date of birth that match a booking (or a place
on a waiting list) get its link sent again, to that contact. The visitor's answer is the same
page, status and timing whether or not anything matched, and the look-up is rate-limited per
address and per contact."""

from __future__ import annotations

import re
import statistics
import time as clock_time
from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from clinic import settings
from clinic.booking import manage
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AppointmentStatus,
    EntryStatus,
    ListEntry,
    ListKind,
    OutboxMessage,
    Youth,
)
from tests.conftest import LA, NEXT_DAY, NOW
from tests.support.youth_links import EN, ES, book, treat

CSRF = re.compile(r'name="csrf_token"( type="hidden")? value="[^"]*"')
# Youth 1 as ``book`` makes them: this phone (stored as +14155550001), born 4 April 2004.
PHONE = "(415) 555-0001"
BORN = "2004-04-04"


def ask(app, contact: str = PHONE, born: str = BORN, address: str = "10.2.2.2", headers=EN):
    """A fresh browser asks for its link again; returns (the POST's answer, the next page)."""
    client = app.test_client()
    response = client.post(
        "/my/lost",
        data={"contact": contact, "date_of_birth": born},
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )
    following = ""
    if response.status_code == 303:
        following = client.get(response.headers["Location"], headers=headers).get_data(True)
    return response, CSRF.sub("csrf", following)


def links_sent() -> list[OutboxMessage]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "link_again")
            .order_by(OutboxMessage.id)
        )
    )


def test_a_match_a_stranger_and_a_wrong_birth_date_get_the_same_answer(app):
    appointment_id = book(1)
    answers = {
        "match": ask(app),
        "unknown contact": ask(app, contact="(415) 555-0999"),
        "wrong birth date": ask(app, born="2004-04-05"),
        "another's contact": ask(app, contact="(415) 555-0002"),
    }
    first_response, first_page = answers["match"]
    assert first_response.status_code == 303
    assert first_response.headers["Location"] == "/my/lost/sent"
    assert "If these details match a booking" in first_page
    for label, (response, page) in answers.items():
        assert response.status_code == first_response.status_code, label
        assert response.headers["Location"] == first_response.headers["Location"], label
        assert response.get_data() == first_response.get_data(), label
        assert page == first_page, label
    # Only the match queued a message: its link, to the phone the booking has.
    (sent,) = links_sent()
    assert (sent.appointment_id, sent.channel, sent.entry_id) == (appointment_id, "sms", None)


def test_the_phone_is_read_as_the_intake_form_reads_it(app):
    book(1)
    for typed in ("415.555.0001", "+1 415 555 0001", "1-415-555-0001"):
        assert ask(app, contact=typed)[0].status_code == 303
    # One message a day per booking, however often it is asked for.
    assert len(links_sent()) == 1


def test_an_email_matches_whatever_its_case_and_the_link_goes_there(app):
    appointment_id = book(1, email="Ana.Flores@Example.org", contact_by="sms")
    ask(app, contact="  ana.flores@example.ORG ")
    (sent,) = links_sent()
    assert (sent.appointment_id, sent.channel) == (appointment_id, "email")


def test_a_recently_treated_visits_link_is_sent_for_the_next_session(app, clock):
    appointment_id = book(1)
    treat(appointment_id)
    clock.set(datetime(2027, 3, 1, 9, 0, tzinfo=LA))  # 97 days on: its link still works
    ask(app)
    assert [m.appointment_id for m in links_sent()] == [appointment_id]


def test_the_upcoming_visit_is_preferred_to_a_treated_one(app, clock):
    treated = book(1)
    treat(treated)
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=LA))
    upcoming = book(1, day=date(2027, 1, 19), now=clock.now)
    ask(app)
    assert [m.appointment_id for m in links_sent()] == [upcoming]


def test_nothing_is_sent_for_a_cancelled_a_past_or_a_long_ago_visit(app, clock):
    cancelled = book(1)
    manage.cancel_by_youth(cancelled, settings.current_rules(), NOW)
    missed = book(2)
    treated = book(3)
    treat(treated)
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=LA))
    for n in (1, 2):
        assert ask(app, contact=f"(415) 555-000{n}")[0].status_code == 303
    assert links_sent() == []
    assert missed  # booked, never came: its day is over
    clock.set(datetime(2027, 3, 25, 9, 0, tzinfo=LA))  # 121 days after the treatment
    ask(app, contact="(415) 555-0003")
    assert links_sent() == []


def test_a_place_on_a_waiting_list_is_found_too(app):
    youth = Youth(
        identity_key=Youth.make_identity_key("Lia", "Wait", date(2004, 4, 4)),
        first_name="Lia",
        last_name="Wait",
        date_of_birth=date(2004, 4, 4),
        phone="+14155550077",
    )
    db.session.add(youth)
    db.session.flush()
    entry = ListEntry(
        kind=ListKind.PROGRAM,
        youth_id=youth.id,
        status=EntryStatus.WAITING,
        phone="+14155550077",
        language="en",
        contact_by="sms",
        answers={},
    )
    db.session.add(entry)
    db.session.commit()
    ask(app, contact="415 555 0077")
    (sent,) = links_sent()
    assert (sent.entry_id, sent.appointment_id, sent.channel) == (entry.id, None, "sms")


def test_what_cannot_be_read_is_said_on_the_form_and_looks_nothing_up(app):
    book(1)
    for contact, born in (("", BORN), ("not a contact", BORN), (PHONE, ""), (PHONE, "32/13/2004")):
        response, _ = ask(app, contact=contact, born=born)
        assert response.status_code == 422, (contact, born)
    page = response.get_data(as_text=True)
    assert "Please write the day and the year in numbers" in page
    assert links_sent() == []
    refused, _ = ask(app, contact="no", headers=ES)
    assert "un número de EE. UU. de 10 dígitos o un correo" in refused.get_data(as_text=True)


def test_the_lost_link_page_in_both_languages(client):
    english = client.get("/my/lost", headers=EN).get_data(as_text=True)
    assert "Lost your link?" in english and "The mobile phone or email you booked with" in english
    spanish = client.get("/my/lost", headers=ES).get_data(as_text=True)
    assert "¿Perdiste tu enlace?" in spanish and "Enviar mi enlace" in spanish
    for path in ("/", "/my"):
        assert 'href="/my/lost"' in client.get(path, headers=EN).get_data(as_text=True)


@pytest.mark.slow
def test_the_answer_takes_as_long_whether_or_not_anything_matched(app):
    """Medians over interleaved requests, at the production floor (the test configuration
    turns it off)."""
    from config import Config

    app.config["BOOKING_ANSWER_FLOOR_MS"] = Config.BOOKING_ANSWER_FLOOR_MS
    book(1)
    times: dict[str, list[float]] = {"match": [], "stranger": []}
    for n in range(12):
        for who, contact in (("match", PHONE), ("stranger", f"(415) 555-{9000 + n}")):
            began = clock_time.perf_counter()
            response, _ = ask(app, contact=contact)
            times[who].append(clock_time.perf_counter() - began)
            assert response.status_code == 303
    match, stranger = statistics.median(times["match"]), statistics.median(times["stranger"])
    print(f"\nmedian answer: match {match * 1000:.1f} ms, stranger {stranger * 1000:.1f} ms")
    assert abs(match - stranger) < 0.010, (match, stranger)
    assert min(times["match"] + times["stranger"]) >= Config.BOOKING_ANSWER_FLOOR_MS / 1000


def test_the_look_ups_from_one_address_are_limited(app):
    app.config["LOST_LINK_LIMIT_PER_ADDRESS"] = "2 per hour"
    for _ in range(3):  # a typo corrected does not count: only look-ups made do
        assert ask(app, born="nonsense")[0].status_code == 422
    assert ask(app, contact="(415) 555-0101")[0].status_code == 303
    assert ask(app, contact="(415) 555-0102")[0].status_code == 303
    refused, _ = ask(app, contact="(415) 555-0103", headers=ES)
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert 'value="(415) 555-0103"' in page  # what was typed is kept
    assert "Ya recibimos varias solicitudes como esta" in page
    assert 1 <= int(refused.headers["Retry-After"]) <= 3601
    assert refused.headers["Cache-Control"] == "no-store"
    # Another address is not held back.
    assert ask(app, contact="(415) 555-0103", address="10.9.9.9")[0].status_code == 303


def test_the_look_ups_for_one_contact_are_limited_from_any_address(app):
    app.config["LOST_LINK_LIMIT_PER_CONTACT"] = "1 per day"
    book(1)
    assert ask(app, address="10.0.0.1")[0].status_code == 303
    # The same phone written another way, from elsewhere.
    assert ask(app, contact="415.555.0001", address="10.0.0.2")[0].status_code == 429
    assert ask(app, contact="(415) 555-0002", address="10.0.0.2")[0].status_code == 303
    assert len(links_sent()) == 1


def test_nothing_personal_in_the_address_or_the_log(app, caplog):
    book(1)
    response, _ = ask(app)
    assert "555" not in response.headers["Location"] and BORN not in response.headers["Location"]
    assert "555" not in caplog.text and BORN not in caplog.text


def test_a_visit_under_way_today_still_matches(app, clock):
    """Checked in, on its day: its link works until the day ends."""
    appointment_id = book(1)
    db.session.get(Appointment, appointment_id).status = AppointmentStatus.CHECKED_IN
    db.session.commit()
    clock.set(datetime.combine(NEXT_DAY, time(16, 10), tzinfo=LA))
    ask(app)
    assert [m.appointment_id for m in links_sent()] == [appointment_id]
