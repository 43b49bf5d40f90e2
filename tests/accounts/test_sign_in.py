"""Staff sign-in: the form (where it leads, wrong credentials, inactive accounts, signing out),
one session per sign-in (two devices, sign-out of one, a token only the browser holds, the
absolute lifetime), idle expiry, and accounts whose sessions must stop working (deactivated,
password changed or reset). Throttling is in test_sign_in_throttle.py."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import clinic.web.staff
from clinic import accounts
from clinic.extensions import db
from clinic.models import StaffRole, StaffSession, StaffUser, hash_session_token, utcnow
from tests.conftest import NEXT_DAY, PASSWORD, sign_in

WRONG = "not the password at all"
DAY_PAGE = f"/staff/day/{NEXT_DAY}"


def attempt(client, email, password, address="10.0.0.1", **kwargs):
    return client.post(
        "/auth/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        **kwargs,
    )


def sign_out(client):
    return client.post("/auth/logout")


# --- The sign-in form ----------------------------------------------------------------------


def test_sign_in_goes_to_the_requested_page(client, make_staff, login):
    user = make_staff()
    response = client.post(
        f"/auth/login?next=/staff/day/{NEXT_DAY}",
        data={"email": user.email.upper(), "password": "correct horse battery"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/day/{NEXT_DAY}"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "/%09/evil.example", "/%5Cevil.example"]
)
def test_sign_in_is_not_an_open_redirect(client, make_staff, target):
    user = make_staff()
    response = client.post(
        f"/auth/login?next={target}",
        data={"email": user.email, "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/staff/"


@pytest.mark.parametrize(
    ("email", "password"),
    [("front_desk@clinic.test", "wrong password"), ("nobody@clinic.test", "correct horse battery")],
)
def test_wrong_credentials_are_refused_with_one_message(client, make_staff, email, password):
    make_staff()
    response = client.post(
        "/auth/login",
        data={"email": email, "password": password},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 401
    assert "do not match an active account" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def test_inactive_staff_cannot_sign_in(client, make_staff, login):
    response = login(make_staff(active=False))
    assert response.status_code == 401
    assert client.get("/staff/").status_code == 302


def test_empty_sign_in_form_is_explained(client):
    response = client.post("/auth/login", data={}, headers={"Accept-Language": "en"})
    assert response.status_code == 401
    assert "Please fill this in." in response.get_data(as_text=True)


def test_sign_out_really_ends_the_session(client, make_staff, login):
    login(make_staff())
    assert client.get("/staff/", follow_redirects=True).status_code == 200
    assert client.post("/auth/logout").status_code == 303
    assert client.get("/staff/").status_code == 302


def test_sign_out_needs_a_post(client, make_staff, login):
    login(make_staff())
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/staff/", follow_redirects=True).status_code == 200


# --- Sign-out -----------------------------------------------------------------------------


def test_signing_out_makes_every_copy_of_the_cookie_worthless(app, client, make_staff, login):
    user = make_staff()
    assert login(user).status_code == 303
    stolen = client.get_cookie("session").value

    before = app.test_client()
    before.set_cookie("session", stolen)
    assert before.get(f"/staff/day/{NEXT_DAY}").status_code == 200  # the copy works...

    assert sign_out(client).status_code == 303
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get(f"/staff/day/{NEXT_DAY}")
    assert response.status_code == 302  # ...until its owner signs out
    assert response.headers["Location"].startswith("/auth/login")
    # And the account can sign in again as usual.
    assert login(user).status_code == 303


def test_signing_out_says_so(client, make_staff, login):
    login(make_staff())
    response = client.post("/auth/logout", follow_redirects=True, headers={"Accept-Language": "en"})
    assert "You are signed out." in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def test_signing_out_when_not_signed_in_is_harmless(client):
    assert client.post("/auth/logout").status_code == 303


def test_signing_in_records_the_time_and_a_failure_does_not(client, make_staff, login):
    user = make_staff()
    login(user, WRONG)
    db.session.refresh(user)
    assert user.last_login_at is None
    login(user)
    db.session.refresh(user)
    assert user.last_login_at is not None
    assert abs((utcnow() - user.last_login_at).total_seconds()) < 60  # naive UTC


# --- One session per sign-in ---------------------------------------------------------------


def device(app, user):
    """Another browser of ``user``'s (a phone, a laptop), signed in. From the test client's
    own address: Flask-Login's strong session protection signs a session out when its address
    changes."""
    browser = app.test_client()
    response = browser.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    return browser


def session_token(client) -> str:
    """What the browser's session cookie carries to sign it in."""
    with client.session_transaction() as session:
        return session["_user_id"]


def sessions_of(user) -> list[StaffSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(StaffSession).where(StaffSession.staff_id == user.id)))


def signed_in(client) -> bool:
    response = client.get(DAY_PAGE)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_two_devices_have_two_sessions_and_signing_out_of_one_leaves_the_other(app, make_staff):
    user = make_staff()
    phone, laptop = device(app, user), device(app, user)
    assert len(sessions_of(user)) == 2
    assert session_token(phone) != session_token(laptop)

    assert sign_out(phone).status_code == 303
    assert not signed_in(phone)
    assert signed_in(laptop)
    assert len(sessions_of(user)) == 1


def test_the_session_token_changes_at_every_sign_in(app, client, make_staff, login):
    user = make_staff()
    tokens = []
    for _ in range(3):
        assert login(user).status_code == 303
        tokens.append(session_token(client))
        sign_out(client)
    assert len(set(tokens)) == 3
    assert sessions_of(user) == []  # each sign-out deleted its own


def test_the_database_keeps_only_a_hash_of_the_token(client, make_staff, login):
    user = make_staff()
    login(user)
    token = session_token(client)
    (row,) = sessions_of(user)
    assert row.token_hash == hash_session_token(token) != token
    assert token not in row.token_hash


def test_a_made_up_token_signs_nobody_in(app, make_staff):
    make_staff()
    forged = app.test_client()
    with forged.session_transaction() as session:
        session["_user_id"] = "a-token-nobody-was-given"
        session["_fresh"] = True
    assert not signed_in(forged)


class SessionClock:
    """The clock staff sessions are measured by (``accounts.session_clock``), moved by tests."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def session_clock(monkeypatch):
    clock = SessionClock()
    monkeypatch.setattr(accounts, "session_clock", clock)
    return clock


def test_a_session_ends_after_its_hours_however_active(client, make_staff, login, session_clock):
    login(make_staff())
    session_clock.advance(hours=11, minutes=59)
    assert signed_in(client)  # busy all day: still signed in...
    session_clock.advance(minutes=2)
    response = client.get(DAY_PAGE)
    assert response.status_code == 302  # ...until twelve hours after signing in
    assert response.headers["Location"].startswith("/auth/login")


def test_the_session_lifetime_is_the_configured_one(app, client, make_staff, login, session_clock):
    app.config["STAFF_SESSION_HOURS"] = 2
    user = make_staff()
    login(user)
    (row,) = sessions_of(user)
    assert row.expires_at - row.created_at == timedelta(hours=2)
    session_clock.advance(hours=2, seconds=1)
    assert not signed_in(client)
    assert login(user).status_code == 303  # a new sign-in starts a new lifetime
    assert signed_in(client)


def test_expired_sessions_are_deleted_at_the_next_sign_in(app, make_staff, session_clock):
    user, other = make_staff(StaffRole.FRONT_DESK), make_staff(StaffRole.CLINICIAN)
    device(app, user), device(app, other)
    session_clock.advance(hours=13)
    device(app, other)
    # Every expired row went, the other account's too; only the new sign-in is left.
    assert sessions_of(user) == []
    assert len(sessions_of(other)) == 1
    assert db.session.scalar(select(func.count()).select_from(StaffSession)) == 1


# --- Idle expiry --------------------------------------------------------------------------


def _last_seen(client, seconds_ago: int) -> None:
    with client.session_transaction() as session:
        session[clinic.web.staff.SEEN_KEY] = int(time.time()) - seconds_ago


def _seen(client) -> int:
    with client.session_transaction() as session:
        return session[clinic.web.staff.SEEN_KEY]


def test_an_idle_session_is_signed_out(client, make_staff, login):
    login(make_staff())
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 200
    _last_seen(client, 31 * 60)
    response = client.get(f"/staff/day/{NEXT_DAY}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=/staff/day/")
    page = client.get(response.headers["Location"], headers={"Accept-Language": "en"})
    assert "signed out after a while without activity" in page.get_data(as_text=True)
    # Signed out for good, not only redirected once.
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 302


def test_the_idle_message_is_in_the_staff_members_language(client, make_staff, login):
    login(make_staff())
    client.get("/staff/")
    _last_seen(client, 31 * 60)
    response = client.get("/staff/", follow_redirects=True, headers={"Accept-Language": "es"})
    assert '<html lang="es">' in response.get_data(as_text=True)


def test_an_active_session_stays_and_each_page_counts_as_activity(client, make_staff, login):
    login(make_staff())
    client.get("/staff/")
    _last_seen(client, 29 * 60)
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 200
    assert int(time.time()) - _seen(client) < 5


def test_the_idle_limit_is_the_configured_one(app, client, make_staff, login):
    app.config["STAFF_IDLE_MINUTES"] = 5
    login(make_staff())
    client.get("/staff/")
    _last_seen(client, 6 * 60)
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 302


def test_a_polling_endpoint_does_not_keep_the_session_alive(client, make_staff, login, monkeypatch):
    """The guard's rule, shown with the day view standing in for the queue's refresh."""
    monkeypatch.setattr(clinic.web.staff, "IDLE_ENDPOINTS", {"staff.day"})
    login(make_staff())
    client.get("/staff/")
    _last_seen(client, 20 * 60)
    before = _seen(client)
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 200
    assert _seen(client) == before
    _last_seen(client, 31 * 60)
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 302


def test_the_queue_refresh_does_not_keep_the_session_alive(app, client, make_staff, login):
    if "staff.queue_fragment" not in app.view_functions:
        pytest.skip("staff.queue_fragment is not built yet; the guard's rule is tested above")
    from flask import url_for

    with app.test_request_context():
        url = url_for("staff.queue_fragment", day=NEXT_DAY)
    login(make_staff())
    client.get("/staff/")
    _last_seen(client, 20 * 60)
    before = _seen(client)
    assert client.get(url).status_code == 200
    assert _seen(client) == before
    _last_seen(client, 31 * 60)
    assert client.get(url).status_code == 302


# --- Sessions that must stop ---------------------------------------------------------------


def test_a_deactivated_account_is_signed_out_everywhere_at_its_next_request(
    app, client, make_staff, login
):
    clerk = make_staff(StaffRole.FRONT_DESK)
    admin = make_staff(StaffRole.ADMIN)
    login(clerk)
    tablet = device(app, clerk)
    assert signed_in(client) and signed_in(tablet)

    admin_client = app.test_client()
    sign_in(admin_client, admin.email)
    assert admin_client.post(f"/staff/accounts/{clerk.id}/deactivate").status_code == 303

    response = client.get(DAY_PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    assert not signed_in(tablet)
    assert sessions_of(clerk) == []  # in the same transaction as the deactivation
    refused = login(clerk)
    assert refused.status_code == 401


def test_an_inactive_account_is_refused_even_with_a_live_session(app, client, make_staff, login):
    """Belt and braces: should a session row outlive a deactivation (a manual change in the
    database), the account's inactivity alone still signs it out."""
    clerk = make_staff(StaffRole.FRONT_DESK)
    login(clerk)
    db.session.get(StaffUser, clerk.id).active = False
    db.session.commit()
    assert len(sessions_of(clerk)) == 1
    assert not signed_in(client)


def test_changing_ones_password_signs_out_other_devices_only(app, client, make_staff, login):
    user = make_staff(StaffRole.CLINICIAN)
    login(user)
    kept = session_token(client)
    laptop, phone = device(app, user), device(app, user)
    assert signed_in(laptop) and signed_in(phone)

    response = client.post(
        "/staff/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new phrase",
            "confirm": "a brand new phrase",
        },
    )
    assert response.status_code == 303
    assert signed_in(client)  # this device stays, with the same session
    assert session_token(client) == kept
    assert not signed_in(laptop) and not signed_in(phone)  # the others are out
    (row,) = sessions_of(user)
    assert row.token_hash == hash_session_token(kept)


def test_an_admin_reset_signs_the_account_out_everywhere(app, client, make_staff, login):
    clerk = make_staff(StaffRole.FRONT_DESK)
    admin = make_staff(StaffRole.ADMIN)
    login(clerk)
    tablet = device(app, clerk)
    accounts.reset_password(admin, clerk.id, "temporary phrase 1")
    assert not signed_in(client) and not signed_in(tablet)
    assert sessions_of(clerk) == []
    assert login(clerk).status_code == 401
    assert login(clerk, "temporary phrase 1").status_code == 303


def test_sign_in_finds_the_account_whatever_the_case(client, make_staff):
    make_staff(email="mixed@clinic.test")
    assert attempt(client, "  MIXED@Clinic.Test ", PASSWORD).status_code == 303
    assert db.session.scalar(select(StaffUser.last_login_at)) is not None
