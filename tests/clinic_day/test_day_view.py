"""The staff day view, through the Flask test client: who may open it, the day's slots and
booked youth, moving between days, and cancelling a booking from it. Signing in is tested in
tests/accounts/test_sign_in.py."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from clinic.extensions import db
from clinic.models import Appointment, ClinicDay, Slot, StaffRole
from tests.conftest import LA, NEXT_DAY, intake_data, intake_url

STAFF_PAGES = ["/staff/", f"/staff/day/{NEXT_DAY}", "/staff/day?day=2026-12-22"]


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


@pytest.mark.parametrize("role", list(StaffRole))
def test_each_role_sees_the_day_view(client, make_staff, login, role):
    login(make_staff(role))
    for url in STAFF_PAGES:
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store"


def test_index_opens_the_next_clinic_day(client, make_staff, login, clock):
    login(make_staff())
    assert client.get("/staff/").headers["Location"] == f"/staff/day/{NEXT_DAY}"
    clock.set(datetime(2026, 11, 24, 18, 0, tzinfo=LA))  # on the day itself
    assert client.get("/staff/").headers["Location"] == f"/staff/day/{NEXT_DAY}"
    clock.set(datetime(2026, 11, 25, 8, 0, tzinfo=LA))
    assert client.get("/staff/").headers["Location"] == "/staff/day/2026-12-22"


def test_day_view_lists_each_slot_and_booked_youth(client, make_staff, login):
    client.post(intake_url(), data=intake_data(preferred_name="Annie"))
    client.post(
        intake_url(start=time(17, 0)),
        data=intake_data(
            first_name="Luis",
            last_name="Reyes",
            date_of_birth="2010-01-10",
            submission_key="m" * 32,
            slot_time="17:00",
            guardian_name="Marta Reyes",
            guardian_relationship="parent",
            guardian_phone="4155550111",
        ),
    )
    login(make_staff())
    page = client.get(f"/staff/day/{NEXT_DAY}", headers={"Accept-Language": "en"}).get_data(True)
    assert "Tuesday, November 24, 2026" in page
    assert "2 appointments" in page
    assert "Annie Flores" in page and "Luis Reyes" in page
    assert "<td>19</td>" in page and "<td>16</td>" in page
    assert "Minor: Marta Reyes" in page
    assert page.count('class="slot-start"') == 12
    assert "1 seat free" in page
    assert "tan" not in page  # screening answers are not on the front desk's sheet


def test_day_view_of_a_closed_day_says_so(client, make_staff, login):
    db.session.add(ClinicDay(day=NEXT_DAY, closed=True, note="Laser repair"))
    db.session.commit()
    login(make_staff())
    page = client.get(f"/staff/day/{NEXT_DAY}", headers={"Accept-Language": "en"}).get_data(True)
    assert "No clinic on this day." in page and "Laser repair" in page


def test_day_view_navigates_between_clinic_days(client, make_staff, login):
    login(make_staff())
    page = client.get(f"/staff/day/{NEXT_DAY}").get_data(as_text=True)
    assert 'href="/staff/day/2026-11-17" rel="prev"' in page
    assert 'href="/staff/day/2026-12-22" rel="next"' in page


def test_day_picker_with_a_bad_date_goes_back_to_today(client, make_staff, login):
    login(make_staff())
    assert client.get("/staff/day?day=tomorrow").headers["Location"] == "/staff/"
    assert client.get("/staff/day?day=2026-12-22").headers["Location"] == "/staff/day/2026-12-22"


def test_day_view_keeps_bookings_outside_changed_hours(client, make_staff, login):
    """Hours shortened after a booking: the booked slot is still listed for staff."""
    client.post(intake_url(start=time(19, 40)), data=intake_data(slot_time="19:40"))
    db.session.add(ClinicDay(day=NEXT_DAY, end_time=time(19, 0)))
    db.session.commit()
    login(make_staff())
    page = client.get(f"/staff/day/{NEXT_DAY}", headers={"Accept-Language": "en"}).get_data(True)
    assert "Ana Flores" in page and "7:40" in page


def test_day_view_for_a_date_with_no_clinic(client, make_staff, login):
    login(make_staff())
    response = client.get(f"/staff/day/{date(2026, 11, 25)}", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "No clinic on this day." in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/staff/day/0001-02-28", "/staff/day/9999-12-31"])
def test_day_view_outside_sensible_years_is_404(client, make_staff, login, url):
    login(make_staff())
    assert client.get(url).status_code == 404
    assert client.get("/staff/day?day=0001-01-05").headers["Location"] == "/staff/"


def book_one(client) -> Appointment:
    """A youth books the first slot of the next clinic day online, in English."""
    client.post("/language", data={"lang": "en", "next": "/"})
    assert client.post(intake_url(), data=intake_data()).status_code == 303
    return db.session.scalars(select(Appointment)).one()


def test_front_desk_cancels_a_booking_and_the_seat_opens(client, make_staff, login):
    booked = book_one(client)
    code, appointment_id = booked.code, booked.id
    login(make_staff(StaffRole.FRONT_DESK))
    page = client.get(f"/staff/day/{NEXT_DAY}").get_data(as_text=True)
    assert f"/staff/appointments/{appointment_id}/cancel" in page

    response = client.post(
        f"/staff/appointments/{appointment_id}/cancel", data={"day": NEXT_DAY.isoformat()}
    )

    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/day/{NEXT_DAY}#live"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Appointment of Ana F. cancelled" in page and code not in page
    assert "Ana Flores" not in page  # no longer on the day sheet
    assert db.session.scalar(select(Slot.booked)) == 0
    assert db.session.scalar(select(Appointment.status)) == "cancelled"


def test_cancelling_again_explains_instead_of_failing(client, make_staff, login):
    appointment_id = book_one(client).id
    login(make_staff())
    url = f"/staff/appointments/{appointment_id}/cancel"
    client.post(url, data={"day": NEXT_DAY.isoformat()})
    response = client.post(url, data={"day": NEXT_DAY.isoformat()}, follow_redirects=True)
    assert response.status_code == 200
    assert "this appointment is now “Cancelled”" in response.get_data(as_text=True)
    missing = client.post("/staff/appointments/999/cancel", data={"day": "garbage"})
    assert missing.headers["Location"] == "/staff/"
    page = client.get("/staff/", follow_redirects=True).get_data(as_text=True)
    assert "That appointment does not exist." in page


def test_past_days_offer_no_cancel_button(client, make_staff, login, clock):
    book_one(client)
    login(make_staff())
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=LA))
    page = client.get(f"/staff/day/{NEXT_DAY}").get_data(as_text=True)
    assert "Ana Flores" in page
    assert "/cancel" not in page
