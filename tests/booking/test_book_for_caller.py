"""The desk books a youth who phones in (issue 16): a new youth with the intake's essentials,
or one on file found by the search; the duplicate warning before saving; the online booking's
rules; the confirmation with the youth's own link to the contact just given."""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from sqlalchemy import select

from clinic import booking, settings
from clinic.extensions import db
from clinic.models import Appointment, Intake, StaffRole, Youth
from clinic.permissions import NotAllowed
from tests.conftest import NOW, PASSWORD
from tests.conftest import sign_in as form_sign_in
from tests.support.outbox import run_at
from tests.support.querycount import count_statements
from tests.support.youth_links import EN, book, counters

PATH = "/staff/call"


@pytest.fixture
def desk(app, staff):
    client = app.test_client()
    assert form_sign_in(client, staff[StaffRole.FRONT_DESK].email, PASSWORD).status_code == 303
    return client


def caller(**overrides) -> dict:
    data = {
        "slot": "2026-12-22T17:00",
        "submission_key": "c" * 32,
        "first_name": "Marisol",
        "last_name": "Reyes",
        "date_of_birth": "2004-06-15",
        "phone": "(415) 555-0161",
        "email": "",
        "contact_by": "sms",
        "language": "es",
        "referral_source": "friend",
        "tattoo_locations": ["arms"],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def booked(key: str = "c" * 32) -> Appointment | None:
    db.session.rollback()
    return db.session.scalar(select(Appointment).where(Appointment.submission_key == key))


def test_a_new_caller_is_booked_and_gets_a_confirmation_with_their_link(app, desk, sent):
    page = desk.get(PATH, headers=EN)
    assert page.status_code == 200
    assert 'value="2026-12-22T17:00"' in page.get_data(as_text=True)

    response = desk.post(PATH, data=caller(), headers=EN)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    appointment = booked()
    youth = db.session.get(Youth, appointment.youth_id)
    assert (youth.first_name, youth.phone, youth.language) == ("Marisol", "+14155550161", "es")
    intake = db.session.scalar(select(Intake).where(Intake.appointment_id == appointment.id))
    assert intake.phone == "+14155550161" and intake.referral_source == "friend"
    assert "Booked: Marisol R." in desk.get(response.headers["Location"], headers=EN).get_data(
        as_text=True
    )
    # The confirmation goes like any booking's: to the contact given, with a manage link.
    run_at(NOW)
    (text,) = [body for channel, to, body in sent if channel == "sms" and to == "+14155550161"]
    assert "/my/" in text
    # A repeated POST (a double tap) finds the same booking.
    assert desk.post(PATH, data=caller(), headers=EN).status_code == 303
    assert counters()[(date(2026, 12, 22), time(17, 0))] == 1


def test_a_possible_duplicate_is_shown_before_saving(app, desk):
    book(7, first_name="Marisol", last_name="Reyes-Diaz", date_of_birth=date(2004, 6, 15))
    warned = desk.post(PATH, data=caller(submission_key="d" * 32), headers=EN)
    body = warned.get_data(as_text=True)
    assert warned.status_code == 422
    assert "Is this someone we already know?" in body
    assert 'name="duplicates_seen" type="hidden" value="yes"' in body
    assert booked("d" * 32) is None
    again = desk.post(PATH, data=caller(submission_key="d" * 32, duplicates_seen="yes"), headers=EN)
    assert again.status_code == 303
    assert booked("d" * 32) is not None


def test_a_minor_needs_a_guardian_and_the_answers_are_kept(app, desk):
    minor = caller(date_of_birth="2011-01-10")  # 15 on the day
    response = desk.post(PATH, data=minor, headers=EN)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Marisol"' in body and "guardian" in body.lower()
    assert booked() is None
    with_guardian = caller(
        date_of_birth="2011-01-10",
        guardian_name="Rosa Reyes",
        guardian_relationship="parent",
        guardian_phone="(415) 555-0162",
    )
    assert desk.post(PATH, data=with_guardian, headers=EN).status_code == 303


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"date_of_birth": "1999-01-01"}, "up to age 25"),
        ({"date_of_birth": "2015-01-01"}, "from age 13"),
        ({"phone": "", "email": ""}, "Please give a phone number or an email"),
        ({"slot": "2026-11-25T16:00"}, "Please choose one of the times listed."),
        ({"first_name": ""}, "Please fill this in."),
    ],
)
def test_refusals_are_explained_with_the_values_kept(app, desk, overrides, words):
    response = desk.post(PATH, data=caller(**overrides), headers=EN)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert words in body, re.findall(r"class=\"error[^>]*>([^<]*)", body)
    assert 'value="Reyes"' in body
    assert booked() is None


def test_a_youth_with_an_upcoming_appointment_is_offered_the_move(app, desk):
    existing = book(8, first_name="Marisol", last_name="Reyes", date_of_birth=date(2004, 6, 15))
    response = desk.post(PATH, data=caller(duplicates_seen="yes"), headers=EN)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "already has an upcoming appointment" in body
    assert f"/staff/appointments/{existing}/move" in body


def test_a_full_slot_is_explained(app, desk):
    book(2, start=time(17, 0), day=date(2026, 12, 22))
    book(3, start=time(17, 0), day=date(2026, 12, 22))
    response = desk.post(PATH, data=caller(), headers=EN)
    assert response.status_code == 422
    assert "This time just filled up" in response.get_data(as_text=True)


def test_the_search_finds_a_caller_on_file_and_links_their_booking(app, desk):
    youth_id = db.session.get(Appointment, book(9)).youth_id
    response = desk.post("/staff/call/find", data={"q": "Youth9"}, headers=EN)
    assert response.status_code == 200
    assert f"/staff/youth/{youth_id}/book" in response.get_data(as_text=True)
    assert "Youth9" not in response.request.url
    assert desk.post("/staff/call/find", data={"q": ""}).status_code == 422


def test_only_the_desk_and_admins_book_for_callers(app, staff):
    request = booking.BookingRequest(
        day=date(2026, 12, 22),
        start=time(17, 0),
        submission_key="e" * 32,
        first_name="A",
        last_name="B",
        date_of_birth=date(2004, 1, 1),
        phone="+14155550100",
    )
    with pytest.raises(NotAllowed):
        booking.book_for_caller(request, staff[StaffRole.CLINICIAN], settings.current_rules(), NOW)
    client = app.test_client()
    form_sign_in(client, staff[StaffRole.CLINICIAN].email, PASSWORD)
    assert client.get(PATH).status_code == 403
    assert client.post(PATH, data=caller()).status_code == 403


def test_the_caller_page_takes_the_same_statements_however_many_bookings(app, desk):
    desk.get(PATH)
    with count_statements() as first:
        assert desk.get(PATH).status_code == 200
    for n in range(2, 8):
        book(n, day=date(2026, 12, 22), start=time(16 + n // 3, n % 3 * 20))
    with count_statements() as later:
        assert desk.get(PATH).status_code == 200
    assert len(later) == len(first)


def test_both_pages_in_spanish(app, desk):
    appointment_id = book()
    es = {"Accept-Language": "es"}
    assert desk.get(PATH, headers=es).status_code == 200
    assert desk.get(f"/staff/appointments/{appointment_id}/move", headers=es).status_code == 200
