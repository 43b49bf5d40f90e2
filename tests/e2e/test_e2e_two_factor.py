"""Two-step sign-in in a real browser: Chromium under the app's Content-Security-Policy
against gunicorn in the production configuration. An admin's first sign-in sets it up from
the QR code drawn on the server (inline SVG: no image request, no data: URL, no script), and
the next sign-in asks for the app's code; the policy guard fails the test on any violation."""

from __future__ import annotations

import re

import pytest

from tests.support import databases
from tests.support.browsers import sign_in_page
from tests.support.live import STAFF_PASSWORD, ClinicToday, Server, assert_clean_log

pytestmark = pytest.mark.slow

ADMIN = "admin@e2e.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = databases.new_database("e2e2fa", tmp_path_factory.mktemp("e2e2fa"))
    databases.migrate(url)
    clinic = ClinicToday(url)
    clinic.add_staff(ADMIN, "admin", "Alex Admin")
    clinic.close()
    started = Server(url, tmp_path_factory.mktemp("e2e2fa-logs"), workers=2).start()
    try:
        yield started
    finally:
        started.stop()
        databases.drop_database(url)
    assert_clean_log(started)


def test_an_admin_sets_up_two_step_sign_in_and_then_needs_it(guard, server):
    from playwright.sync_api import expect

    context = guard.new_context(base_url=f"http://127.0.0.1:{server.port}", locale="en-US")
    page = context.new_page()
    page.goto("/auth/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/auth/two-factor/setup$"))
    qr = page.locator("div.qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100  # drawn, at a scannable size
    page.goto("/staff/accounts")  # only a password: no staff page
    expect(page).to_have_url(re.compile(r"/auth/login"))
    page.close()

    authenticators: dict = {}
    page = sign_in_page(context, ADMIN, STAFF_PASSWORD, authenticators)
    expect(page).to_have_url(re.compile(r"/staff/"))
    assert ADMIN in authenticators
    page.get_by_role("button", name="Sign out").click()

    page = sign_in_page(context, ADMIN, STAFF_PASSWORD, authenticators)
    page.goto("/staff/accounts")
    expect(page.get_by_role("heading", name="Staff accounts")).to_be_visible()
