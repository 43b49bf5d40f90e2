"""The youth-facing routes through the Flask test client: every page, and every bad input the
intake form can receive, each answered with a clear message and no partial row."""

from __future__ import annotations

import re
import time as clock_time
from datetime import date, datetime, time

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload

from clinic import booking, settings
from clinic.extensions import db
from clinic.models import Appointment, ClinicDay, Intake, Slot, Youth
from tests import databases
from tests.conftest import LA, NEXT_DAY, intake_data, intake_url

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


def book(client, **overrides):
    return client.post(intake_url(), data=intake_data(**overrides))


# --- Pages -------------------------------------------------------------------------------


def test_home_leads_to_booking(client):
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'href="/book"' in page
    assert "13 to 25" in page


def test_days_lists_coming_clinic_days_with_seats(client):
    page = client.get("/book", headers={"Accept-Language": "en"}).get_data(as_text=True)
    # Tuesday 24 Nov, 22 and 29 Dec, 19 Jan: 12 slots x 2 seats each.
    for label in (
        "Tuesday, November 24, 2026",
        "Tuesday, December 22, 2026",
        "Tuesday, January 19, 2027",
    ):
        assert label in page
    assert "Tuesday, November 17, 2026" not in page  # already past
    assert page.count("24 seats left") == 4


def test_days_hides_closed_day_and_shows_extra_day(client):
    db.session.add(ClinicDay(day=NEXT_DAY, closed=True, note="Laser repair"))
    db.session.add(ClinicDay(day=date(2026, 12, 3), extra=True, seats=1))
    db.session.commit()
    page = client.get("/book", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "November 24" not in page
    assert "Thursday, December 3, 2026" in page
    assert "12 seats left" in page


def test_times_shows_full_and_closed_slots_instead_of_hiding_them(client, clock):
    db.session.add(
        Slot(day=NEXT_DAY, start_time=time(16, 20), end_time=time(16, 40), capacity=2, booked=2)
    )
    db.session.commit()
    clock.set(datetime(2026, 11, 24, 14, 30, tzinfo=LA))  # 16:00 and 16:20 now past cut-off
    page = client.get(f"/book/{NEXT_DAY}", headers={"Accept-Language": "en"}).get_data(True)
    assert page.count("Closed for booking") == 2
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=LA))
    page = client.get(f"/book/{NEXT_DAY}", headers={"Accept-Language": "en"}).get_data(True)
    assert "Full" in page
    assert page.count('class="time unavailable"') == 1
    assert 'datetime="2026-11-24T16:20"' in page  # the full time is still listed
    assert page.count('class="time"') == 11


@pytest.mark.parametrize(
    "url",
    [
        "/book/2026-11-25",  # a Wednesday
        "/book/2026-11-17",  # a clinic day already past
        "/book/2027-01-26",  # a clinic day beyond the 60-day window
        "/book/2026-02-30",  # not a date
        "/book/2026-11-24/16:10",  # not a slot start
        "/book/2026-11-24/25:00",  # not a time
        "/book/2026-11-25/16:00",
    ],
)
def test_days_and_times_that_do_not_exist_are_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "See the open clinic days" in response.get_data(True) or "abiertos" in response.get_data(
        True
    )


def test_closed_day_is_404(client):
    db.session.add(ClinicDay(day=NEXT_DAY, closed=True))
    db.session.commit()
    assert client.get(f"/book/{NEXT_DAY}").status_code == 404
    assert client.get(intake_url()).status_code == 404


def test_intake_form_has_the_named_fields(client):
    page = client.get(intake_url()).get_data(as_text=True)
    for name in (
        "first_name",
        "last_name",
        "preferred_name",
        "date_of_birth",
        "phone",
        "email",
        "language",
        "guardian_name",
        "guardian_relationship",
        "guardian_phone",
        "tattoo_count",
        "tattoo_locations",
        "tattoo_size",
        "tattoo_colors",
        "tattoo_kind",
        "screening",
        "referral_source",
        "consent",
        "csrf_token",
        "submission_key",
    ):
        assert f'name="{name}"' in page, name
    assert re.search(r'<input[^>]*id="date_of_birth"[^>]*type="date"', page) or re.search(
        r'<input[^>]*type="date"[^>]*id="date_of_birth"', page
    )
    assert 'value="16:00" selected' in page or 'selected value="16:00"' in page


# --- A successful booking ---------------------------------------------------------------


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
    assert appointment.code in page
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
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "already an upcoming appointment" in page or "Ya hay una cita" in page
    assert "24" not in page.split('id="form-problems"')[1].split("</div>")[0]  # no date given
    assert count(Appointment) == 1


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


def english(client):
    client.post("/language", data={"lang": "en", "next": "/"})


@pytest.mark.parametrize(
    ("dob", "fragment"),
    [
        ("2027-01-01", "after the appointment"),
        ("2010-13-45", "month, day and year"),
        ("yesterday", "month, day and year"),
        ("1850-01-01", "month, day and year"),
    ],
)
def test_unusable_date_of_birth(client, dob, fragment):
    english(client)
    page = assert_refused(book(client, date_of_birth=dob), "date_of_birth", fragment)
    assert f'value="{dob}"' in page  # kept as typed
    assert 'value="Ana"' in page


def test_twelve_on_the_day_is_refused_kindly(client):
    english(client)
    # Turns 13 the day after the appointment.
    page = assert_refused(
        book(client, date_of_birth="2013-11-25"),
        "date_of_birth",
        "from age 13",
        "Wednesday, November 25, 2026",
    )
    assert "call us" in page


def test_thirteen_on_the_day_itself_is_welcome(client):
    response = book(
        client,
        date_of_birth="2013-11-24",
        guardian_name="Rosa Flores",
        guardian_relationship="parent",
        guardian_phone="4155550199",
    )
    assert response.status_code == 303


def test_twenty_six_on_the_day_is_refused_with_somewhere_else_to_go(client):
    english(client)
    page = assert_refused(
        book(client, date_of_birth="2000-11-24"), "date_of_birth", "up to age 25", "26"
    )
    assert "Other places can still help" in page
    assert "311" in page


def test_twenty_five_the_day_before_turning_26_is_welcome(client):
    assert book(client, date_of_birth="2000-11-25").status_code == 303


def test_minor_without_guardian_gets_an_error_on_each_missing_field(client):
    english(client)
    response = book(client, date_of_birth="2010-06-01", guardian_name="Rosa Flores")
    page = assert_refused(response, "guardian_phone", "under 18", "November 24")
    assert field_error(page, "guardian_relationship")
    assert not field_error(page, "guardian_name")  # that one was given
    assert 'value="Rosa Flores"' in page


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
    response = book(client, first_name="", date_of_birth="2015-01-01", phone="12")
    page = response.get_data(as_text=True)
    assert field_error(page, "first_name")
    assert field_error(page, "date_of_birth")
    assert field_error(page, "phone")


def test_expired_csrf_token_keeps_the_answers(app):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    english(client)
    response = client.post(intake_url(), data=intake_data(csrf_token="forged"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "press Book again: your answers are kept" in page
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


# --- Language --------------------------------------------------------------------------


def test_browser_language_is_the_first_guess(client):
    page = client.get("/book", headers={"Accept-Language": "es-MX,es;q=0.9"}).get_data(True)
    assert '<html lang="es">' in page
    assert "martes, 24 de noviembre de 2026" in page


def test_language_switch_is_remembered(client):
    response = client.post("/language", data={"lang": "es", "next": "/book"})
    assert response.status_code == 303 and response.headers["Location"] == "/book"
    page = client.get("/book", headers={"Accept-Language": "en"}).get_data(True)
    assert "Elige" in page
    client.post("/language", data={"lang": "en", "next": "/book"})
    assert "Choose a clinic day" in client.get("/book").get_data(True)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "javascript:x",
        "/\\evil.example",
        "/\t/evil.example",
    ],
)
def test_language_switch_is_not_an_open_redirect(client, target):
    response = client.post("/language", data={"lang": "es", "next": target})
    assert response.headers["Location"] == "/"


def test_errors_are_translated(client):
    client.post("/language", data={"lang": "es", "next": "/"})
    page = book(client, last_name="", date_of_birth="2000-01-01").get_data(as_text=True)
    assert "Por favor" in field_error(page, "last_name")
    assert "25" in field_error(page, "date_of_birth")


# --- The availability API ---------------------------------------------------------------


def test_availability_api_lists_open_days_and_slots(client):
    data = client.get("/api/availability").get_json()
    assert data["timezone"] == "America/Los_Angeles"
    assert [d["date"] for d in data["days"]] == [
        "2026-11-24",
        "2026-12-22",
        "2026-12-29",
        "2027-01-19",
    ]
    assert len(data["days"][0]["slots"]) == 12
    assert data["days"][0]["slots"][-1]["start"] == "19:40"


def test_availability_api_shows_no_personal_data(client):
    book(client)
    text = client.get("/api/availability").get_data(as_text=True)
    assert "Ana" not in text and "Flores" not in text and "555" not in text


# --- Privacy ------------------------------------------------------------------------------


def test_no_personal_data_in_urls_or_logs(client, caplog):
    caplog.set_level("DEBUG")
    response = book(client)
    assert "Flores" not in response.headers["Location"]
    assert "Flores" not in caplog.text and "0134" not in caplog.text


def test_pages_send_no_referrer(client):
    assert client.get("/book").headers["Referrer-Policy"] == "no-referrer"


def test_confirmation_without_a_booking_goes_back_to_days(client):
    response = client.get("/book/confirmed")
    assert response.status_code == 302 and response.headers["Location"] == "/book"


def test_an_unexpected_error_is_a_kind_page_and_writes_nothing(app, client, monkeypatch):
    from clinic import booking

    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(booking, "book", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    english(client)
    response = book(client)
    assert response.status_code == 500
    assert "Nothing was booked" in response.get_data(as_text=True)
    assert count(Appointment) == count(Youth) == 0


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


def test_days_page_tells_full_from_closed(client, clock):
    for hour in range(16, 20):
        for minute in (0, 20, 40):
            db.session.add(
                Slot(
                    day=NEXT_DAY,
                    start_time=time(hour, minute),
                    capacity=2,
                    booked=2,
                    end_time=time(hour + (minute + 20) // 60, (minute + 20) % 60),
                )
            )
    db.session.commit()
    english(client)
    page = client.get("/book").get_data(as_text=True)
    first_card = re.split(r'class="card[ "]', page)[1]
    assert "November 24" in first_card and "Full" in first_card
    clock.set(datetime(2026, 11, 24, 19, 0, tzinfo=LA))
    db.session.execute(Slot.__table__.delete())
    db.session.commit()
    first_card = re.split(r'class="card[ "]', client.get("/book").get_data(as_text=True))[1]
    assert "November 24" in first_card and "Closed for booking" in first_card


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


@pytest.mark.parametrize(
    ("lang", "typed", "expected"),
    [
        ("en", "05/01/2007", date(2007, 5, 1)),
        ("es", "05/01/2007", date(2007, 1, 5)),
    ],
)
def test_typed_birth_dates_follow_the_language(client, lang, typed, expected):
    client.post("/language", data={"lang": lang, "next": "/"})
    assert book(client, date_of_birth=typed).status_code == 303
    assert db.session.scalars(select(Youth)).one().date_of_birth == expected


def test_confirmation_is_not_shown_to_the_next_person_on_the_phone(client, monkeypatch):
    import clinic.web.public.views as views

    book(client)
    assert client.get("/book/confirmed").status_code == 200
    later = views.time_module.time() + views.CONFIRMATION_SHOWN_FOR + 1
    monkeypatch.setattr(views.time_module, "time", lambda: later)
    response = client.get("/book/confirmed")
    assert response.status_code == 302 and response.headers["Location"] == "/book"


def test_pages_with_personal_data_are_not_cached(client):
    assert client.get(intake_url()).headers["Cache-Control"] == "no-store"
    book(client)
    assert client.get("/book/confirmed").headers["Cache-Control"] == "no-store"


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


def test_a_database_outage_is_a_translated_503_not_a_crash(client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def unreachable(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("down"))

    monkeypatch.setattr(booking, "upcoming_days", unreachable)
    response = client.get("/book", headers={"Accept-Language": "es"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "Ya volvemos" in response.get_data(as_text=True)


def test_a_connection_lost_before_cleanup_ends_the_request_quietly(app, client, caplog):
    """A restart or failover can drop the connection between the answer and the cleanup; the
    rollback then fails. The request still ends cleanly (no traceback in the log), the broken
    connection is thrown away, and the next request is served."""
    engine = db.engine
    drops = [True]

    def server_gone(_connection):
        if drops and drops.pop():
            raise OperationalError(
                "ROLLBACK",
                {},
                Exception("server closed the connection unexpectedly"),
                connection_invalidated=True,
            )

    event.listen(engine, "rollback", server_gone)
    try:
        assert client.get("/book").status_code == 200
    finally:
        event.remove(engine, "rollback", server_gone)
    assert not drops, "the request's cleanup never rolled back"
    assert "database connection lost, discarded: Exception: server closed" in caplog.text
    assert "Traceback" not in caplog.text
    assert client.get("/book").status_code == 200


def test_the_503_page_survives_a_rollback_on_a_dead_connection(client, monkeypatch, caplog):
    """The outage handler rolls back first; over a dead connection that fails too, and the
    person must still get the translated 'back in a moment' page rather than a crash."""
    engine = db.engine

    def unreachable(*args, **kwargs):
        db.session.execute(text("SELECT 1"))  # the request holds a connection when it breaks
        raise OperationalError("SELECT 1", {}, ConnectionResetError("reset"))

    def server_gone(_connection):
        raise OperationalError("ROLLBACK", {}, ConnectionResetError("reset"), True)

    monkeypatch.setattr(booking, "upcoming_days", unreachable)
    event.listen(engine, "rollback", server_gone)
    try:
        response = client.get("/book", headers={"Accept-Language": "es"})
    finally:
        event.remove(engine, "rollback", server_gone)
    assert response.status_code == 503
    assert "Ya volvemos" in response.get_data(as_text=True)
    assert "database connection lost, discarded" in caplog.text


def test_a_connection_the_server_terminates_is_replaced(app, client, caplog):
    """The real thing: PostgreSQL ends the request's connection (as a restart does) after
    the page is built and before the cleanup; the next request gets a new connection."""
    if not databases.on_postgres():
        pytest.skip("ending a connection from the server side is a PostgreSQL test")
    admin = create_engine(databases.POSTGRES_URL, isolation_level="AUTOCOMMIT")
    ended = []

    @app.after_request
    def terminate_once(response):
        if not ended:
            pid = db.session.scalar(text("SELECT pg_backend_pid()"))
            with admin.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                deadline = clock_time.monotonic() + 10
                alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
                while connection.scalar(alive, {"pid": pid}) and clock_time.monotonic() < deadline:
                    clock_time.sleep(0.02)
            ended.append(pid)
        return response

    try:
        assert client.get("/book").status_code == 200
        assert ended
        assert "database connection lost, discarded: AdminShutdown" in caplog.text
        assert client.get("/book").status_code == 200
    finally:
        admin.dispose()


def test_a_cancelled_booking_is_never_shown_as_booked(client):
    english(client)
    assert book(client).status_code == 303
    appointment = db.session.scalars(select(Appointment)).one()
    booking.cancel(appointment.id, None, settings.clinic_now(settings.current_rules()))

    # The confirmation in the session no longer confirms anything.
    assert client.get("/book/confirmed").headers["Location"] == "/book"
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


def test_a_missing_table_is_an_error_not_a_pause(client, monkeypatch, caplog):
    """On SQLite a missed migration is an OperationalError too: it must not hide behind 503."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: slot"))

    monkeypatch.setattr(booking, "upcoming_days", broken)
    response = client.get("/book")
    assert response.status_code == 500
    assert "no such table: slot" in caplog.text


def test_a_database_error_never_logs_the_row_it_refused(app, client, monkeypatch, caplog):
    from sqlalchemy.exc import IntegrityError

    app.config["PROPAGATE_EXCEPTIONS"] = False  # log and answer 500, as in production

    class NotNullViolation(Exception):
        def __str__(self):
            return (
                'null value in column "tattoo_kind" violates not-null constraint\n'
                "DETAIL:  Failing row contains (7, Ana, Flores, 2007-05-01, +14155550134)."
            )

    def refuse(*args, **kwargs):
        raise IntegrityError("INSERT INTO intake ...", {}, NotNullViolation())

    monkeypatch.setattr(booking, "book", refuse)
    response = book(client)
    assert response.status_code == 500
    assert "violates not-null constraint" in caplog.text  # the problem is logged...
    assert "Flores" not in caplog.text and "4155550134" not in caplog.text  # ...the youth not


def test_the_intake_form_is_all_spanish_in_spanish(client):
    """The form's sections come from templates/_macros, a folder Babel skips by default: its
    headings and hints once reached Spanish speakers in English."""
    page = client.get(intake_url(), headers={"Accept-Language": "es"}).get_data(as_text=True)
    for spanish in ("Sobre ti", "Tu tatuaje", "Preguntas de salud", "Una última cosa"):
        assert spanish in page
    for english in ("About you", "Health questions", "We use it to check the age rule"):
        assert english not in page
