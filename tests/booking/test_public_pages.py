"""The youth's pages other than the intake form, through the Flask test client: the home
page, the clinic days and their times, what does not exist, the language, the availability
API, and privacy (no personal data in URLs, logs or caches; the confirmation page shown only
to the one who booked). The intake form is in test_intake.py."""

from __future__ import annotations

import re
from datetime import date, datetime, time

import pytest

from clinic.extensions import db
from clinic.models import ClinicDay, Slot
from tests.conftest import LA, NEXT_DAY, intake_url
from tests.support.intake import book, english

# --- Pages --------------------------------------------------------------------------------


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


def test_days_shows_closed_day_as_closed_and_shows_extra_day(client):
    db.session.add(ClinicDay(day=NEXT_DAY, closed=True, note="Laser repair"))
    db.session.add(ClinicDay(day=date(2026, 12, 3), extra=True, seats=1))
    db.session.commit()
    page = client.get("/book", headers={"Accept-Language": "en"}).get_data(as_text=True)
    # Closed, with the reason staff gave, and nothing to book (tests/booking/test_display.py).
    assert "Reason: Laser repair" in page and f'href="/book/{NEXT_DAY}"' not in page
    assert "Thursday, December 3, 2026" in page
    assert "12 seats left" in page


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


# --- Language -----------------------------------------------------------------------------


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


# --- The availability API -----------------------------------------------------------------


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
