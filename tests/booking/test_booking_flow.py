"""The whole booking flow as a person clicks through it, from the home page to the staff day
view, following only the links and forms the pages themselves offer."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from clinic.extensions import db
from clinic.models import Appointment
from tests.conftest import intake_data


def follow(page: str, pattern: str) -> str:
    match = re.search(pattern, page)
    assert match, f"no link matching {pattern}"
    return match.group(1)


def hidden(page: str, name: str) -> str:
    return follow(page, rf'name="{name}" type="hidden" value="([^"]+)"')


@pytest.mark.parametrize("language", ["en", "es"])
def test_book_then_staff_sees_it(app, make_staff, login, language):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    headers = {"Accept-Language": language}

    home = client.get("/", headers=headers).get_data(as_text=True)
    days = client.get(follow(home, r'href="(/book)"'), headers=headers).get_data(as_text=True)
    times = client.get(follow(days, r'class="card" href="([^"]+)"'), headers=headers)
    times = times.get_data(as_text=True)
    form_url = follow(times, r'class="time" href="([^"]+)"')
    form = client.get(form_url, headers=headers).get_data(as_text=True)

    answers = intake_data(
        csrf_token=hidden(form, "csrf_token"),
        submission_key=hidden(form, "submission_key"),
        slot_time=follow(form, r'name="slot_time" value="([^"]+)"'),
        language=language,
    )
    response = client.post(form_url, data=answers, headers=headers)
    assert response.status_code == 303, response.get_data(as_text=True)
    confirmation = client.get(response.headers["Location"], headers=headers).get_data(True)
    weekday = {"en": "Tuesday", "es": "martes"}[language]
    assert weekday in confirmation
    # The code goes to the youth's phone, not on the page (which is the same for everyone).
    code = db.session.scalars(select(Appointment.code)).one()
    assert code not in confirmation

    staff = make_staff()
    login_page = client.get("/auth/login").get_data(as_text=True)
    client.post(
        "/auth/login",
        data={
            "email": staff.email,
            "password": "correct horse battery",
            "csrf_token": hidden(login_page, "csrf_token"),
        },
    )
    day_view = client.get("/staff/", follow_redirects=True).get_data(as_text=True)
    assert "Ana Flores" in day_view
    assert code in day_view
