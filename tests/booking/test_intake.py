"""The intake form through the Flask test client: what it asks, a successful booking, the
same form sent twice, and every bad input it can receive, each answered with a clear message
next to its field and no partial row."""

from __future__ import annotations

import re
from datetime import date, datetime, time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from clinic import booking, settings
from clinic.extensions import db
from clinic.models import Appointment, ClinicDay, Intake, Slot, Youth
from tests.conftest import LA, NEXT_DAY, intake_data, intake_url
from tests.support.intake import book, english

# Tests load relationships explicitly too: lazy loading raises in tests (see conftest).
EVERYTHING = (
    selectinload(Appointment.slot),
    selectinload(Appointment.youth),
    selectinload(Appointment.intake),
)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def field_error(html: str, field: str) -> str:
    """The error text shown next to one field ('' if none)."""
    match = re.search(rf'id="{field}-error">(.*?)</p>', html, re.S)
    return match.group(1).strip() if match else ""


# --- The form -----------------------------------------------------------------------------


def test_intake_opens_on_its_first_step_about_you(client):
    english(client)
    page = client.get(intake_url()).get_data(as_text=True)
    for name in (
        "first_name",
        "last_name",
        "preferred_name",
        "date_of_birth-day",
        "date_of_birth-month",
        "date_of_birth-year",
        "phone",
        "email",
        "language",
        "contact_by",
        "csrf_token",
        "submission_key",
    ):
        assert f'name="{name}"' in page, name
    # The other steps' questions wait for their own page.
    for name in ("guardian_name", "tattoo_size", "screening", "referral_source", "consent"):
        assert f'name="{name}"' not in page, name
    assert 'aria-current="step"' in page and "Step 2 of 4" in page
    assert '<input type="hidden" name="slot_time" value="16:00">' in page
    assert 'name="step" value="about"' in page


# --- A successful booking -----------------------------------------------------------------


def test_booking_stores_everything_and_confirms(client):
    response = book(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/book/confirmed"

    appointment = db.session.scalars(select(Appointment).options(*EVERYTHING)).one()
    assert appointment.slot.day == NEXT_DAY and appointment.slot.start_time == time(16, 0)
    assert appointment.slot.booked == 1 and appointment.slot.capacity == 2
    assert appointment.youth.phone == "+14155550134"
    assert appointment.youth.language == "es"
    assert appointment.intake.screening == ["tan"]
    assert sorted(appointment.intake.tattoo_locations) == ["face_neck", "hands"]
    assert appointment.intake.referral_source == "probation"
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{6}", appointment.code)

    page = client.get("/book/confirmed", headers={"Accept-Language": "en"}).get_data(True)
    # The code goes by message: the page shows only what was typed, the same for everyone.
    assert appointment.code not in page
    assert "Thank you, Ana: we have your request" in page
    assert "Tuesday, November 24, 2026" in page
    assert "4:00" in page
    assert "2500 Mission Street" in page
    assert "photo ID" in page
    assert "guardian" not in page.lower()  # 19 years old: no guardian needed


def test_resubmitting_the_same_form_books_once(client):
    first = book(client)
    again = book(client)
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == "/book/confirmed"
    assert count(Appointment) == 1
    assert db.session.scalars(select(Slot)).one().booked == 1


def test_seats_left_drop_after_booking(client):
    book(client)
    data = client.get("/api/availability").get_json()
    first = data["days"][0]
    assert first["date"] == "2026-11-24"
    assert first["seats_left"] == 23
    assert first["slots"][0] == {
        "start": "16:00",
        "end": "16:20",
        "seats_left": 1,
        "bookable": True,
    }


def test_minor_with_guardian_books_and_is_told_to_bring_them(client):
    response = book(
        client,
        date_of_birth="2010-06-01",  # 16 on the day
        guardian_name="Rosa Flores",
        guardian_relationship="parent",
        guardian_phone="415-555-0199",
    )
    assert response.status_code == 303
    youth = db.session.scalars(select(Youth)).one()
    assert youth.guardian_name == "Rosa Flores" and youth.guardian_phone == "+14155550199"
    page = client.get("/book/confirmed", headers={"Accept-Language": "en"}).get_data(True)
    assert "parent or guardian" in page


def test_returning_youth_is_recognised_despite_case_and_accents(client, clock):
    assert book(client, first_name="José", last_name="Núñez").status_code == 303
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=LA))  # after that visit
    response = book(
        client,
        first_name="jose",
        last_name="NUNEZ",
        submission_key="r" * 32,
        slot_time="16:00",
        phone="415 555 0000",
    )
    assert response.status_code == 422  # 24 Nov is now past: the form's day is gone
    response = client.post(
        intake_url(date(2026, 12, 22)),
        data=intake_data(
            first_name="jose", last_name="NUNEZ", submission_key="r" * 32, phone="415 555 0000"
        ),
    )
    assert response.status_code == 303
    assert count(Youth) == 1
    youth = db.session.scalars(
        select(Youth).options(selectinload(Youth.appointments).selectinload(Appointment.intake))
    ).one()
    assert len(youth.appointments) == 2
    # The record keeps the details first given; the new booking carries its own.
    assert youth.phone == "+14155550134"
    latest = max(youth.appointments, key=lambda a: a.id)
    assert latest.intake.phone == "+14155550000"


def test_one_upcoming_appointment_per_youth(client):
    assert book(client).status_code == 303
    response = client.post(
        intake_url(date(2026, 12, 22)),
        data=intake_data(submission_key="x" * 32, first_name="ANA"),
    )
    # Answered like any request (see tests/booking/test_public_answers.py), booked nothing.
    assert response.status_code == 303
    assert count(Appointment) == 1


def test_fewer_seats_for_a_date_apply_to_slots_already_booked(client):
    assert book(client).status_code == 303
    db.session.add(ClinicDay(day=NEXT_DAY, seats=1))
    db.session.commit()
    english(client)
    response = book(client, first_name="Luis", last_name="Reyes", submission_key="z" * 32)
    assert "just filled up" in field_error(response.get_data(as_text=True), "slot_time")
    slot = db.session.scalars(select(Slot)).one()
    assert slot.booked == 1
    data = client.get("/api/availability").get_json()
    assert data["days"][0]["slots"][0]["seats_left"] == 0


def test_more_seats_for_a_date_apply_to_slots_already_booked(client):
    db.session.add(
        Slot(day=NEXT_DAY, start_time=time(16, 0), end_time=time(16, 20), capacity=2, booked=2)
    )
    db.session.add(ClinicDay(day=NEXT_DAY, seats=3))
    db.session.commit()
    assert book(client).status_code == 303
    slot = db.session.scalars(select(Slot)).one()
    assert (slot.booked, slot.capacity) == (3, 3)


# --- The same form again: for someone else, or after its booking was cancelled ------------


def test_a_reused_form_does_not_silently_drop_the_second_youth(client):
    """A shared phone: youth A books, the Back button brings the same form, youth B fills it."""
    english(client)
    assert book(client).status_code == 303
    response = book(client, first_name="Luis", last_name="Reyes", date_of_birth="2006-02-02")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "already used to book for someone else" in page
    assert count(Appointment) == 1
    new_key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    assert new_key != "k" * 32
    again = book(
        client,
        first_name="Luis",
        last_name="Reyes",
        date_of_birth="2006-02-02",
        submission_key=new_key,
    )
    assert again.status_code == 303
    assert count(Appointment) == 2


def test_a_cancelled_booking_is_never_shown_as_booked(client):
    english(client)
    assert book(client).status_code == 303
    appointment = db.session.scalars(select(Appointment)).one()
    booking.cancel(appointment.id, None, settings.clinic_now(settings.current_rules()))

    # The page after the form never says "booked": it shows only what was asked for.
    page = client.get("/book/confirmed").get_data(as_text=True)
    assert appointment.code not in page and "You are booked" not in page
    # The same form sent again (a reload, the Back button) explains and offers a fresh form.
    again = book(client)
    assert again.status_code == 422
    page = again.get_data(as_text=True)
    assert "The booking made with this form was cancelled" in page
    new_key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    assert new_key != "k" * 32
    assert count(Appointment) == 1

    assert book(client, submission_key=new_key).status_code == 303
    assert db.session.scalar(select(func.count()).where(Appointment.status == "booked")) == 1


# --- Bad input: a clear message next to the field, what was typed kept, nothing written ---


def assert_refused(response, field: str, *fragments: str) -> str:
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = field_error(page, field)
    assert error, f"no error shown next to {field}"
    for fragment in fragments:
        assert fragment in error, error
    assert count(Appointment) == count(Youth) == count(Intake) == 0
    assert db.session.scalar(select(func.coalesce(func.sum(Slot.booked), 0))) == 0
    return page


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        (("31", "2", "2010"), "does not exist"),
        (("15", "3", "1850"), "check the year"),
        (("15", "3", "10"), "check the year"),
        (("x", "3", "2010"), "in numbers"),
        (("", "3", "2010"), "the day, the month and the year"),
        (("22", "11", "2026"), "in the future"),  # after today, before the appointment
    ],
)
def test_unusable_date_of_birth(client, parts, fragment):
    english(client)
    day, month, year = parts
    data = intake_data(
        **{"date_of_birth-day": day, "date_of_birth-month": month, "date_of_birth-year": year}
    )
    del data["date_of_birth"]
    page = assert_refused(client.post(intake_url(), data=data), "date_of_birth", fragment)
    assert f'name="date_of_birth-day" value="{day}"' in page  # kept as typed
    assert f'<option value="{month}" selected>' in page
    assert 'value="Ana"' in page


@pytest.mark.parametrize(
    ("dob", "fragment"),
    [("2027-01-01", "in the future"), ("2010-13-45", "does not exist")],
)
def test_unusable_iso_date_of_birth(client, dob, fragment):
    english(client)
    assert_refused(book(client, date_of_birth=dob), "date_of_birth", fragment)


def assert_age_refusal(response, *fragments: str) -> str:
    """The age rule's answer: its own page (not a form error), kind, with a way back."""
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" not in page and 'class="error"' not in page
    heading = re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
    assert "13" in heading and "25" in heading
    for fragment in fragments:
        assert fragment in page, fragment
    # Every answer travels along, to fix a mistyped date of birth.
    assert 'name="go" value="about"' in page
    assert '<input type="hidden" name="last_name" value="Flores">' in page
    assert count(Appointment) == count(Youth) == 0
    return page


@pytest.mark.parametrize(
    ("lang", "fragments"),
    [
        ("en", ("from age 13", "Wednesday, November 25, 2026", "call us")),
        ("es", ("desde los 13 años", "25 de noviembre de 2026", "llamarnos")),
    ],
)
def test_twelve_on_the_day_is_refused_kindly(client, lang, fragments):
    client.post("/language", data={"lang": lang, "next": "/"})
    # Turns 13 the day after the appointment.
    assert_age_refusal(book(client, date_of_birth="2013-11-25"), *fragments)


@pytest.mark.parametrize(
    ("lang", "fragments"),
    [
        ("en", ("up to age 25", "you will be 26", "Other places can still help", "311")),
        ("es", ("de hasta 25 años", "vas a tener 26", "otros lugares", "311")),
    ],
)
def test_twenty_six_on_the_day_is_refused_with_somewhere_else_to_go(client, lang, fragments):
    client.post("/language", data={"lang": lang, "next": "/"})
    assert_age_refusal(book(client, date_of_birth="2000-11-24"), *fragments)


def test_thirteen_on_the_day_itself_is_welcome(client):
    response = book(
        client,
        date_of_birth="2013-11-24",
        guardian_name="Rosa Flores",
        guardian_relationship="parent",
        guardian_phone="4155550199",
    )
    assert response.status_code == 303


def test_twenty_five_the_day_before_turning_26_is_welcome(client):
    assert book(client, date_of_birth="2000-11-25").status_code == 303


def test_minor_without_guardian_is_told_why_once_and_asked_for_each_answer(client):
    english(client)
    response = book(client, date_of_birth="2010-06-01", guardian_name="Rosa Flores")
    page = assert_refused(response, "guardian_phone", "fill this in")
    assert "choose" in field_error(page, "guardian_relationship")
    assert not field_error(page, "guardian_name")  # that one was given
    assert 'value="Rosa Flores"' in page
    # The reason, once, at the top of the guardian's step.
    assert page.count("a parent or guardian must agree") == 1
    assert 'name="step" value="guardian"' in page


def test_full_slot_keeps_the_answers_and_offers_other_times(client):
    english(client)
    db.session.add(
        Slot(day=NEXT_DAY, start_time=time(16, 0), end_time=time(16, 20), capacity=2, booked=2)
    )
    db.session.commit()
    response = book(client)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "just filled up" in field_error(page, "slot_time")
    assert 'value="Flores"' in page
    assert "4:20\u202fPM (2 left)" in page or "4:20 PM (2 left)" in page
    assert count(Appointment) == count(Youth) == 0
    assert db.session.scalars(select(Slot)).one().booked == 2


def test_slot_past_the_cut_off_is_refused(client, clock):
    english(client)
    page_time = client.get(intake_url())  # form rendered while still open
    assert page_time.status_code == 200
    clock.set(datetime(2026, 11, 24, 14, 1, tzinfo=LA))  # 1 h 59 min before 16:00
    assert_refused(book(client), "slot_time")


def test_day_closed_while_the_form_was_open(client):
    english(client)
    db.session.add(ClinicDay(day=NEXT_DAY, closed=True))
    db.session.commit()
    page = assert_refused(book(client), "slot_time", "no longer open")
    assert 'value="Ana"' in page


@pytest.mark.parametrize("slot_time", ["16:07", "03:00", "not-a-time", ""])
def test_tampered_slot_is_refused(client, slot_time):
    english(client)
    assert_refused(book(client, slot_time=slot_time), "slot_time")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("first_name", "A" * 61, "under 60"),
        ("last_name", "", "fill this in"),
        ("phone", "555", "10-digit"),
        ("email", "not-an-email", "email address"),
        ("tattoo_count", "0", "1 to 30"),
        ("tattoo_count", "many", ""),
        ("tattoo_notes", "x" * 501, "under 500"),
        ("tattoo_size", "enormous", ""),
        ("referral_source", "", "choose"),
        ("language", "fr", ""),
    ],
)
def test_bad_field_values(client, field, value, fragment):
    english(client)
    assert_refused(book(client, **{field: value}), field, fragment)


def test_phone_or_email_is_required(client):
    english(client)
    assert_refused(book(client, phone="", email=""), "phone", "phone number or an email")


def test_email_alone_is_enough(client):
    assert book(client, phone="", email="ana@example.org").status_code == 303


def test_consent_is_required(client):
    english(client)
    data = intake_data()
    del data["consent"]
    assert_refused(client.post(intake_url(), data=data), "consent", "tick this box")


def test_missing_submission_key_is_refused(client):
    response = book(client, submission_key="")
    assert response.status_code == 422
    assert count(Appointment) == 0


def test_every_problem_is_shown_at_once(client):
    english(client)
    response = book(client, first_name="", date_of_birth="2015-02-31", phone="12")
    page = response.get_data(as_text=True)
    assert field_error(page, "first_name")
    assert field_error(page, "date_of_birth")
    assert field_error(page, "phone")


def test_errors_are_translated(client):
    client.post("/language", data={"lang": "es", "next": "/"})
    page = book(client, last_name="", date_of_birth="2011-02-31").get_data(as_text=True)
    assert "Por favor" in field_error(page, "last_name")
    assert "no existe" in field_error(page, "date_of_birth")
    assert "Hay un problema" in page


def test_expired_csrf_token_keeps_the_answers(app):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    english(client)
    response = client.post(intake_url(), data=intake_data(csrf_token="forged"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "press the button again: your answers are kept" in page
    assert 'value="Flores"' in page
    assert count(Appointment) == 0


def test_full_booking_with_csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = client.get(intake_url()).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(intake_url(), data=intake_data(csrf_token=token, submission_key=key))
    assert response.status_code == 303
    assert count(Appointment) == 1


def test_posting_garbage_never_crashes(client):
    garbage = {
        "slot_time": ["16:00", "17:00"],
        "tattoo_count": "1e9",
        "screening": "rm -rf",
        "date_of_birth": "\x00",
        "first_name": "\u202e" * 10,
        "consent": "maybe",
    }
    response = client.post(intake_url(), data=garbage)
    assert response.status_code == 422
    assert count(Appointment) == 0


def test_a_far_away_date_with_an_odd_birth_date_is_not_a_crash(client):
    response = client.post("/book/2199-12-30/16:00", data=intake_data(date_of_birth="2190-01-01"))
    assert response.status_code == 422
    response = client.post("/book/9999-12-28/16:00", data=intake_data(date_of_birth="9990-01-01"))
    assert response.status_code == 404
    assert count(Appointment) == 0


def test_control_characters_are_dropped(client):
    assert (
        book(client, first_name="An\x00a", tattoo_notes="line one\nline\x07 two").status_code == 303
    )
    appointment = db.session.scalars(select(Appointment).options(*EVERYTHING)).one()
    assert appointment.youth.first_name == "Ana"
    assert appointment.intake.tattoo_notes == "line one\nline two"


@pytest.mark.parametrize("name", ["\u200b", "\u0301\u0301", "1234", "---"])
def test_a_name_needs_letters(client, name):
    english(client)
    assert_refused(book(client, first_name=name), "first_name", "letters")


def test_long_unicode_names_fit(client):
    assert book(client, first_name="\ufdfa" * 60, last_name="\ufdfa" * 60).status_code == 303


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_day_first_birth_date_cannot_be_swapped(client, lang):
    """The month is a named list: "5" typed in the day box is the 5th in either language."""
    client.post("/language", data={"lang": lang, "next": "/"})
    page = client.get(intake_url()).get_data(as_text=True)
    day_at = page.index('name="date_of_birth-day"')
    month_at = page.index('name="date_of_birth-month"')
    assert (day_at < month_at) == (lang == "es")  # day first in Spanish, month first in English
    assert {"en": ">January</option>", "es": ">Enero</option>"}[lang] in page
    data = intake_data(
        **{"date_of_birth-day": "05", "date_of_birth-month": "1", "date_of_birth-year": "2007"}
    )
    del data["date_of_birth"]
    assert client.post(intake_url(), data=data).status_code == 303
    assert db.session.scalars(select(Youth)).one().date_of_birth == date(2007, 1, 5)


# --- An unexpected error ------------------------------------------------------------------


def test_an_unexpected_error_is_a_kind_page_and_writes_nothing(app, client, monkeypatch):
    from clinic import booking

    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(booking, "request_online", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    english(client)
    response = book(client)
    assert response.status_code == 500
    assert "Nothing was booked" in response.get_data(as_text=True)
    assert count(Appointment) == count(Youth) == 0


@pytest.mark.parametrize("field", ["tattoo_count", "tattoo_age_years"])
def test_a_number_too_long_for_any_answer_is_explained_not_a_crash(client, field):
    """Regression (found by tests/app/test_fuzz.py): 400 digits reached NumberRange, which
    compares as a float and raised OverflowError (a 500)."""
    english(client)
    response = book(client, **{field: "9" * 400})
    assert response.status_code == 422
    assert "Not a valid integer value." in response.get_data(as_text=True)
    assert count(Appointment) == 0
