"""The public pages kept a few seconds per worker (clinic/web/page_cache.py): the same page is
served again, each visitor still gets their own CSRF token and submission key, and nothing
of a visitor's own (a message after a redirect, a staff sign-in) is ever kept or served."""

from __future__ import annotations

import re

import pytest

from clinic.extensions import db
from clinic.models import Appointment
from clinic.web import page_cache
from tests.conftest import intake_data, intake_url, sign_in


@pytest.fixture
def kept(app, monkeypatch):
    """The cache on (tests run with it off), emptied before and after, with a clock of its
    own that a test moves with ``kept.wait(seconds)``."""

    class Clock:
        at = 1000.0

        def wait(self, seconds: float) -> None:
            self.at += seconds

    clock = Clock()
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: clock.at)
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 2.0
    page_cache.forget_all()
    yield clock
    page_cache.forget_all()


def field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', page
    )
    assert found, f"no {name} on the page"
    return found.group(1)


def text(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


def seats_on_the_days_page(client) -> str:
    page = text(client.get("/book", headers={"Accept-Language": "en"}))
    return re.search(r"(\d+) seats left", page).group(1)


def test_a_booking_shows_on_the_days_page_once_the_kept_copy_expires(app, client, kept):
    other = app.test_client()
    before = seats_on_the_days_page(other)
    assert client.post(intake_url(), data=intake_data()).status_code == 303
    assert db.session.query(Appointment).count() == 1
    assert seats_on_the_days_page(other) == before  # the kept copy, at most 2 seconds old
    # The one who booked has their confirmation in the session: a page of their own.
    assert int(seats_on_the_days_page(client)) == int(before) - 1
    kept.wait(2.5)
    assert int(seats_on_the_days_page(other)) == int(before) - 1


def test_every_visitor_gets_their_own_token_and_submission_key(app, kept):
    app.config["WTF_CSRF_ENABLED"] = True
    first, second = app.test_client(), app.test_client()
    pages = [text(visitor.get(intake_url())) for visitor in (first, second)]
    assert len(page_cache._pages) == 1  # the second visitor was served the kept page
    tokens = [field(page, "csrf_token") for page in pages]
    keys = [field(page, "submission_key") for page in pages]
    assert tokens[0] != tokens[1] and keys[0] != keys[1]
    # Apart from those, the same bytes.
    assert pages[0].replace(tokens[0], "").replace(keys[0], "") == pages[1].replace(
        tokens[1], ""
    ).replace(keys[1], "")

    # The second visitor's token is good for their own session, and books.
    answers = intake_data(csrf_token=tokens[1], submission_key=keys[1])
    assert second.post(intake_url(), data=answers).status_code == 303
    assert db.session.query(Appointment).count() == 1
    # The first visitor's token is not good for the second visitor's session.
    answers = intake_data(csrf_token=tokens[0], submission_key=keys[0], first_name="Other")
    refused = second.post(intake_url(), data=answers)
    assert refused.status_code != 303
    assert db.session.query(Appointment).count() == 1


def test_languages_are_kept_apart(client, kept):
    english = text(client.get("/book", headers={"Accept-Language": "en"}))
    spanish = text(client.get("/book", headers={"Accept-Language": "es"}))
    assert "seats left" in english and "seats left" not in spanish
    assert len(page_cache._pages) == 2


def test_a_staff_member_is_never_served_a_kept_page_nor_kept(app, client, staff, kept):
    from clinic.models import StaffRole

    sign_in(client, staff[StaffRole.FRONT_DESK].email)
    text(client.get("/book"))
    assert page_cache._pages == {}


def test_a_message_after_a_redirect_is_shown_not_kept(app, client, kept):
    # An anonymous page kept first; then a visitor with a message waiting in their session.
    text(app.test_client().get("/"))
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "A message for this visitor only")]
    page = text(client.get("/"))
    assert "A message for this visitor only" in page
    assert "A message for this visitor only" not in text(app.test_client().get("/"))


def test_only_pages_that_exist_are_kept_and_their_number_is_bounded(client, kept, monkeypatch):
    assert client.get("/book/2026-11-25").status_code == 404  # not a clinic day
    assert page_cache._pages == {}
    monkeypatch.setattr(page_cache, "_MOST_PAGES", 2)
    for url in ("/", "/book", "/my/lost", "/waiting-list"):
        text(client.get(url))
    assert len(page_cache._pages) <= 2


def test_a_post_is_never_answered_from_the_cache(client, kept):
    text(client.get(intake_url()))
    answer = client.post(intake_url(), data=intake_data(first_name=""))
    assert answer.status_code == 422  # the form's errors, not the kept first step


def test_a_read_shared_while_moving_between_steps_is_kept_as_long_as_a_page(app, kept):
    reads = []

    def read():
        reads.append(1)
        return len(reads)

    assert page_cache.kept_read(("day", 1), read) == 1
    assert page_cache.kept_read(("day", 1), read) == 1  # kept
    assert page_cache.kept_read(("day", 2), read) == 2  # another key
    kept.wait(2.5)
    assert page_cache.kept_read(("day", 1), read) == 3  # expired: read again
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 0
    assert page_cache.kept_read(("day", 1), read) == 4  # off: read every time
