"""The public pages as a youth reads them: times in their locale's way (US Spanish writes
"4:00 p.m."), the clinic's phone a link a phone can call, the address plain text, who runs
the clinic on every page, and a clinic day staff closed shown as closed with their reason."""

from __future__ import annotations

from datetime import date

import pytest
from flask import render_template_string
from markupsafe import Markup

from clinic.extensions import db
from clinic.formats import merge_periods
from clinic.models import ClinicDay
from tests.conftest import NEXT_DAY
from tests.support.querycount import count_statements

LATER_DAY = date(2026, 12, 22)  # the second-to-last Tuesday of December, in the window


def page(client, url: str, language: str = "en") -> str:
    client.post("/language", data={"lang": language, "next": "/"})
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("language", "times", "day"),
    [
        ("en", "4:00\u202fPM – 8:00\u202fPM", "Tuesday, November 24, 2026"),
        ("es", "4:00\u202fp.m. – 8:00\u202fp.m.", "martes, 24 de noviembre de 2026"),
    ],
)
def test_days_and_times_read_as_in_the_visitors_locale(client, language, times, day):
    days = page(client, "/book", language)
    assert times in days and day in days
    assert "16:00" not in days  # es_US, not Spain's 24-hour clock
    slots = page(client, f"/book/{NEXT_DAY}", language)
    assert (">4:20\u202fp.m.<" if language == "es" else ">4:20\u202fPM<") in slots


def test_a_time_that_ends_a_sentence_has_one_period():
    assert merge_periods("tu cita es el martes a las 4:20\u202fp.m..") == (
        "tu cita es el martes a las 4:20\u202fp.m."
    )
    assert merge_periods("a las 4:20 p. m.. Trae") == "a las 4:20 p. m. Trae"
    assert merge_periods("at 4:20 PM.") == "at 4:20 PM."


def test_pages_merge_the_periods_of_whatever_they_show(app):
    """A flash or a translated sentence is one ``{{ }}`` output: the page tidies it (Jinja's
    finalize), escaped text and Markup alike."""
    template = "{{ text }}|{{ markup }}|{{ 3 }}"
    with app.test_request_context():
        shown = render_template_string(
            template, text="a las 4:20 p.m..", markup=Markup("<b>4:20 p.m.</b> a las 5 p.m..")
        )
    assert shown == "a las 4:20 p.m.|<b>4:20 p.m.</b> a las 5 p.m.|3"


@pytest.mark.parametrize("url", ["/", "/book", f"/book/{NEXT_DAY}", "/my/lost"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_page_names_who_runs_it_and_the_phone_calls(client, app, url, language):
    html = page(client, url, language)
    assert app.config["CLINIC_ORGANISATION"] in html
    assert (
        f"<address>{app.config['CLINIC_ADDRESS']}<br>"
        '<a class="tel" href="tel:+14155550134">(415) 555-0134</a></address>'
    ) in html


def test_the_phone_in_a_sentence_is_a_link_too(client):
    html = page(client, "/my/lost")
    assert 'Or call us at <a class="tel" href="tel:+14155550134">(415) 555-0134</a>.' in html


def test_a_closed_day_shows_as_closed_with_the_reason(client):
    db.session.add(ClinicDay(day=LATER_DAY, closed=True, note="Laser under repair"))
    db.session.commit()
    html = page(client, "/book")
    closed = html.split('datetime="2026-12-22"', 1)[1].split("</li>", 1)[0]
    assert "Closed: no clinic this day." in closed and "Laser under repair" in closed
    assert f'href="/book/{LATER_DAY}"' not in html  # not a link: nothing to book
    # In date order among the open days.
    assert html.index("2026-11-24") < html.index("2026-12-22") < html.index("2026-12-29")
    spanish = page(client, "/book", "es")
    assert "Cerrado: no hay clínica este día." in spanish and "Laser under repair" in spanish


def test_a_closed_day_without_a_reason_and_one_outside_the_schedule(client):
    db.session.add(ClinicDay(day=LATER_DAY, closed=True))
    db.session.add(ClinicDay(day=date(2026, 12, 23), closed=True, note="not a clinic day"))
    db.session.commit()
    html = page(client, "/book")
    assert "Closed: no clinic this day." in html and "Reason:" not in html
    assert "not a clinic day" not in html


def test_closed_days_cost_no_extra_statement(client):
    page(client, "/book")  # warm: the session, the language
    with count_statements() as plain:
        client.get("/book")
    db.session.add(ClinicDay(day=LATER_DAY, closed=True, note="Laser under repair"))
    db.session.add(ClinicDay(day=date(2026, 12, 29), closed=True, note="Holiday"))
    db.session.commit()
    with count_statements() as closed:
        assert "Holiday" in client.get("/book").get_data(as_text=True)
    assert len(closed) == len(plain) <= 3  # the changes, the roster, the slots
