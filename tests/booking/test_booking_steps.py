"""The booking in short steps through the Flask test client, as a browser sends it: each page's
own form (its hidden answers included) with what the youth types on that step, and the button
pressed. Forward checks that step; back loses nothing; the last step checks everything again;
nothing is booked before it."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from clinic.extensions import db
from clinic.models import Appointment, Intake, Youth
from tests.conftest import intake_url
from tests.support.intake import english


class FormReader(HTMLParser):
    """What a browser would send from the page's last POST form: hidden and typed values,
    checked boxes, selected options (the buttons are added by ``press``); every id, and the
    error summary's links."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self._in_form = False
        self._in_summary = False
        self._select: str | None = None
        self._first_option: str | None = None
        self._selected = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href", "").startswith("#") and self._in_summary:
            self.links.append(a["href"][1:])
        if a.get("id") == "form-problems":
            self._in_summary = True
        if tag == "form" and a.get("method") == "post":
            self._in_form, self.fields = True, []
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "y")))
            else:
                self.fields.append((name, a.get("value", "")))
        elif tag == "textarea" and name:
            self.fields.append((name, ""))
        elif tag == "select" and name:
            self._select, self._first_option, self._selected = name, None, False
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self.fields.append((self._select, a.get("value", "")))
                self._selected = True

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            if not self._selected:
                self.fields.append((self._select, self._first_option or ""))
            self._select = None
        if tag == "form":
            self._in_form = False
        if tag == "div":
            self._in_summary = False


def read(page: str) -> FormReader:
    reader = FormReader()
    reader.feed(page)
    return reader


def press(client, url: str, page: str, go: str, **typed):
    """Send the page's form with ``typed`` answers (a list for several boxes) and the button
    ``go`` pressed."""
    fields = [(name, value) for name, value in read(page).fields if name not in typed]
    for name, value in typed.items():
        for one in value if isinstance(value, list) else [value]:
            fields.append((name, one))
    fields.append(("go", go))
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return client.post(url, data=data)


def step_of(page: str) -> str:
    return re.search(r'name="step" value="([a-z]+)"', page).group(1)


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


ABOUT = {
    "first_name": "Ana",
    "last_name": "Flores",
    "date_of_birth-day": "15",
    "date_of_birth-month": "3",
    "date_of_birth-year": "2011",  # 15 on the day: a guardian's step
    "phone": "415 555 0134",
    "contact_by": "sms",
}
GUARDIAN = {
    "guardian_name": "Rosa Flores",
    "guardian_relationship": "parent",
    "guardian_phone": "415 555 0199",
}
TATTOO = {
    "tattoo_count": "1",
    "tattoo_locations": ["hands"],
    "tattoo_size": "small",
    "tattoo_colors": "black",
    "tattoo_kind": "amateur",
    "health_any": "yes",
    "screening": ["tan"],
}
CHECK = {"referral_source": "friend", "consent": "y"}


def walk(client, **about):
    """From the first page to the check page of a 15-year-old; returns each page."""
    url = intake_url()
    pages = [client.get(url).get_data(as_text=True)]
    for answers in ({**ABOUT, **about}, GUARDIAN, TATTOO):
        response = press(client, url, pages[-1], "next", **answers)
        assert response.status_code == 200, read(response.get_data(as_text=True)).links
        pages.append(response.get_data(as_text=True))
    return pages


def test_a_minor_books_in_steps_and_nothing_is_booked_before_the_last(client):
    english(client)
    about, guardian, tattoo, check = walk(client)
    assert [step_of(p) for p in (about, guardian, tattoo, check)] == [
        "about",
        "guardian",
        "tattoo",
        "check",
    ]
    assert "Step 2 of 4" in about and "Step 2 of 4" in guardian
    assert "Step 3 of 4" in tattoo and "Step 4 of 4" in check
    assert guardian.count("a parent or guardian must agree") == 1
    # Read back in words, with the age on the day.
    assert "March 15, 2011 – you will be 15 on the day" in check
    assert "Rosa Flores" in check and "tanned" in check
    for step in ("about", "guardian", "tattoo"):
        assert f'name="go" value="{step}"' in check  # a Change button per section
    assert count(Appointment) == count(Youth) == count(Intake) == 0  # nothing held yet

    response = press(client, intake_url(), check, "book", **CHECK)
    assert response.status_code == 303 and response.headers["Location"] == "/book/confirmed"
    youth = db.session.scalars(select(Youth)).one()
    assert youth.date_of_birth == date(2011, 3, 15)
    assert youth.guardian_name == "Rosa Flores"
    intake = db.session.scalars(select(Intake)).one()
    assert intake.screening == ["tan"] and intake.referral_source == "friend"


def test_the_check_page_reads_back_in_spanish(client):
    client.post("/language", data={"lang": "es", "next": "/"})
    *_, check = walk(client)
    assert "15 de marzo de 2011 – tendrás 15 años ese día" in check
    assert "Paso 4 de 4" in check and "Revisa y reserva" in check


def test_back_keeps_every_answer(client):
    english(client)
    *_, check = walk(client)
    back = press(client, intake_url(), check, "back", **CHECK)
    assert back.status_code == 200 and step_of(back.get_data(as_text=True)) == "tattoo"
    page = back.get_data(as_text=True)
    assert re.search(r'value="small"[^>]*checked|checked[^>]*value="small"', page)
    # and on, back to the first step: every answer there, the others still carried.
    page = press(client, intake_url(), page, "back").get_data(as_text=True)
    assert step_of(page) == "guardian"
    page = press(client, intake_url(), page, "back").get_data(as_text=True)
    assert step_of(page) == "about"
    assert 'name="first_name" type="text" value="Ana"' in page or 'value="Ana"' in page
    assert '<option value="3" selected>March</option>' in page
    assert '<input type="hidden" name="guardian_name" value="Rosa Flores">' in page
    assert '<input type="hidden" name="referral_source" value="friend">' in page
    assert '<input type="hidden" name="screening" value="tan">' in page
    # Forward again to the end, typing nothing: still bookable.
    for _ in range(3):
        page = press(client, intake_url(), page, "next").get_data(as_text=True)
    assert step_of(page) == "check"
    assert press(client, intake_url(), page, "book").status_code == 303


def test_change_from_the_check_page_comes_back_to_it(client):
    english(client)
    *_, check = walk(client)
    page = press(client, intake_url(), check, "tattoo").get_data(as_text=True)
    assert step_of(page) == "tattoo" and 'name="return_to" value="check"' in page
    page = press(client, intake_url(), page, "next", tattoo_size="large").get_data(as_text=True)
    assert step_of(page) == "check" and "Large" in page


def test_becoming_an_adult_on_change_drops_the_guardian_step(client):
    english(client)
    *_, check = walk(client)
    page = press(client, intake_url(), check, "about").get_data(as_text=True)
    page = press(client, intake_url(), page, "next", **{"date_of_birth-year": "2004"})
    page = page.get_data(as_text=True)
    assert step_of(page) == "check"
    assert "Rosa Flores" not in page and "Step 4 of 4" in page
    assert press(client, intake_url(), page, "book", **CHECK).status_code == 303
    assert db.session.scalars(select(Youth)).one().guardian_name is None


def test_a_step_checks_its_own_answers_only(client):
    english(client)
    about = client.get(intake_url()).get_data(as_text=True)
    response = press(client, intake_url(), about, "next", **{**ABOUT, "first_name": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert step_of(page) == "about"
    reader = read(page)
    # One error, one link to it; nothing about the steps not seen yet.
    assert reader.links == ["first_name"]
    assert 'aria-invalid="true"' in page and 'aria-describedby="first_name-error"' in page
    assert "tattoo" not in " ".join(reader.links)


def test_the_error_summary_links_to_fields_that_exist_and_says_each_thing_once(client):
    english(client)
    about = client.get(intake_url()).get_data(as_text=True)
    response = press(
        client,
        intake_url(),
        about,
        "next",
        **{
            **ABOUT,
            "last_name": "",
            "phone": "12",
            "date_of_birth-day": "31",
            "date_of_birth-month": "2",
            "contact_by": "nope",
        },
    )
    page = response.get_data(as_text=True)
    reader = read(page)
    assert 'tabindex="-1" autofocus' in page and "There is a problem" in page
    assert set(reader.links) <= reader.ids, set(reader.links) - reader.ids
    assert "date_of_birth-month" in reader.links  # English: the month comes first
    assert "contact_by-0" in reader.links  # a group: its first input
    # The group and its inputs are marked invalid and point to the message.
    assert re.search(r'<fieldset[^>]*id="contact_by"[^>]*aria-invalid="true"', page)
    assert re.search(
        r'id="contact_by-0"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="contact_by-0"', page
    )
    assert page.count("This date does not exist") == 2  # the summary's link and the field's


def test_health_yes_needs_a_tick_and_no_ignores_ticks(client):
    english(client)
    _, _, tattoo, _ = walk(client)
    response = press(client, intake_url(), tattoo, "next", **{**TATTOO, "screening": []})
    assert response.status_code == 422
    assert "tick at least one" in response.get_data(as_text=True)
    # "No" wins over a tick left from an earlier "Yes" (the list was hidden, not emptied).
    response = press(client, intake_url(), tattoo, "next", **{**TATTOO, "health_any": "no"})
    check = response.get_data(as_text=True)
    assert step_of(check) == "check"
    assert press(client, intake_url(), check, "book", **CHECK).status_code == 303
    db.session.rollback()
    assert db.session.scalars(select(Intake)).one().screening == []


def test_the_health_question_must_be_answered_in_steps(client):
    english(client)
    _, _, tattoo, _ = walk(client)
    response = press(client, intake_url(), tattoo, "next", **{**TATTOO, "health_any": ""})
    assert response.status_code == 422
    assert "health_any-0" in read(response.get_data(as_text=True)).links


def test_the_last_step_checks_everything_again(client):
    """A hidden answer changed in the browser is caught at Book, on its own step."""
    english(client)
    *_, check = walk(client)
    response = press(client, intake_url(), check, "book", tattoo_size="enormous", **CHECK)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert step_of(page) == "tattoo" and "tattoo_size-0" in read(page).links
    # A birth date made 12 in the hidden answers is refused by the age rule.
    response = press(client, intake_url(), check, "book", **{"date_of_birth-year": "2014"}, **CHECK)
    assert response.status_code == 422 and "from age 13" in response.get_data(as_text=True)
    assert count(Appointment) == 0


@pytest.mark.parametrize(
    ("lang", "year", "heading", "fragment"),
    [
        ("en", "2014", "aged 13 to 25", "from age 13"),
        ("es", "2014", "de 13 a 25 años", "desde los 13 años"),
        ("en", "2000", "aged 13 to 25", "Other places can still help"),
        ("es", "2000", "de 13 a 25 años", "otros lugares"),
    ],
)
def test_the_age_rule_refuses_at_the_first_step_as_its_own_page(
    client, lang, year, heading, fragment
):
    client.post("/language", data={"lang": lang, "next": "/"})
    about = client.get(intake_url()).get_data(as_text=True)
    answers = {
        **ABOUT,
        "date_of_birth-day": "1",
        "date_of_birth-month": "1",
        "date_of_birth-year": year,
    }
    response = press(client, intake_url(), about, "next", **answers)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert heading in re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
    assert fragment in page and 'class="error"' not in page
    # A mistyped year is put right from here: back to the first step, answers kept.
    again = press(client, intake_url(), page, "about").get_data(as_text=True)
    assert step_of(again) == "about" and 'value="Flores"' in again
    assert f'name="date_of_birth-year" value="{year}"' in again


def test_the_waiting_list_takes_the_same_steps(app, client):
    from tests.booking.test_lists import NOW, fill, only_next_day

    only_next_day()
    fill(NOW)
    english(client)
    page = client.get("/waiting-list").get_data(as_text=True)
    assert "Step 1 of 3" in page
    for answers in ({**ABOUT, "date_of_birth-year": "2004"}, TATTOO):
        page = press(client, "/waiting-list", page, "next", **answers).get_data(as_text=True)
    assert step_of(page) == "check" and "Join the list" in page and "Check and join" in page
    response = press(client, "/waiting-list", page, "book", **CHECK)
    assert response.status_code == 303 and response.headers["Location"] == "/waiting-list/joined"
