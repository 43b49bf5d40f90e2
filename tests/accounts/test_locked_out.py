"""Locked-out staff shown where the admin works: the staff accounts list names each active
account whose sign-in from new devices is paused, with an Unlock button that comes back to
the page it was pressed on."""

from __future__ import annotations

import pytest

from clinic.extensions import db
from clinic.models import StaffRole
from tests.accounts.test_sign_in_throttle import STRANGER, WRONG, attempt, pause, text
from tests.conftest import PASSWORD
from tests.conftest import sign_in as form_sign_in

EN = {"Accept-Language": "en"}


@pytest.fixture
def admin_client(app, make_staff):
    admin = make_staff(StaffRole.ADMIN)
    browser = app.test_client()
    assert form_sign_in(browser, admin.email).status_code == 303
    return browser


def lock_out(app, user) -> None:
    for _ in range(5):
        attempt(app.test_client(), user.email, WRONG, address=STRANGER)
    assert pause(app, user).paused_until is not None


def test_the_list_names_the_locked_out_with_an_unlock_button(app, admin_client, make_staff):
    maria = make_staff(StaffRole.FRONT_DESK)
    maria.name = "Maria"
    nurse = make_staff(StaffRole.CLINICIAN)
    db.session.commit()
    lock_out(app, maria)

    page = text(admin_client.get("/staff/accounts", headers=EN))
    assert "1 account is locked out" in page
    assert "Maria (Front desk) is locked out:" in page
    assert f'action="/staff/accounts/{maria.id}/unlock"' in page
    assert f'action="/staff/accounts/{nurse.id}/unlock"' not in page

    response = admin_client.post(
        f"/staff/accounts/{maria.id}/unlock", data={"next": "/staff/accounts"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/accounts"
    page = text(admin_client.get("/staff/accounts", headers=EN))
    assert "Sign-in is unlocked" in page
    assert "locked out" not in page
    assert pause(app, maria).failures == 0
    assert attempt(app.test_client(), maria.email, PASSWORD, address="10.0.0.9").status_code == 303


def test_nobody_locked_out_shows_no_notice(app, admin_client, make_staff):
    make_staff(StaffRole.FRONT_DESK)
    page = text(admin_client.get("/staff/accounts", headers=EN))
    assert "locked out" not in page and "/unlock" not in page


def test_a_deactivated_account_is_not_offered_an_unlock(app, admin_client, make_staff):
    gone = make_staff(StaffRole.FRONT_DESK, active=False)
    lock_out(app, gone)
    page = text(admin_client.get("/staff/accounts", headers=EN))
    assert "is locked out" not in page


def test_the_unlock_comes_back_to_the_day_page(app, admin_client, make_staff):
    clerk = make_staff(StaffRole.FRONT_DESK)
    lock_out(app, clerk)
    response = admin_client.post(
        f"/staff/accounts/{clerk.id}/unlock", data={"next": "/staff/day/2026-11-24"}
    )
    assert response.headers["Location"] == "/staff/day/2026-11-24"


def test_the_unlock_never_leaves_the_site(app, admin_client, make_staff):
    clerk = make_staff(StaffRole.FRONT_DESK)
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "x"):
        response = admin_client.post(f"/staff/accounts/{clerk.id}/unlock", data={"next": target})
        assert response.status_code == 303
        assert response.headers["Location"] == f"/staff/accounts/{clerk.id}"
