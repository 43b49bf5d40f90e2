"""Staff sign-in: the form (where it leads, wrong credentials, inactive accounts, signing out),
throttling, sign-out that really ends the session, idle expiry, and accounts whose sessions
must stop working (deactivated, password changed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

import clinic.web.auth.views
import clinic.web.staff
from clinic import accounts, create_app
from clinic.extensions import db, limiter
from clinic.models import StaffRole, StaffUser, utcnow
from tests.conftest import NEXT_DAY, PASSWORD

WRONG = "not the password at all"
REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parents[2]


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


# --- Throttling ---------------------------------------------------------------------------


def test_sixth_failure_for_one_account_is_refused_even_with_the_right_password(client, make_staff):
    user = make_staff()
    for _ in range(5):
        assert attempt(client, user.email, WRONG).status_code == 401
    response = attempt(client, user.email, PASSWORD, headers={"Accept-Language": "en"})
    assert response.status_code == 429
    assert "Too many tries" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302  # not signed in


def test_the_refusal_page_is_in_the_visitors_language(client, make_staff):
    user = make_staff()
    for _ in range(5):
        attempt(client, user.email, WRONG)
    response = attempt(client, user.email, WRONG, headers={"Accept-Language": "es"})
    assert response.status_code == 429
    assert '<html lang="es">' in response.get_data(as_text=True)


def test_a_throttled_attempt_never_checks_the_password(client, make_staff, monkeypatch):
    user = make_staff()
    for _ in range(5):
        attempt(client, user.email, WRONG)
    checked = []
    real = clinic.web.auth.views.check_password_hash

    def spy(hash_, password):
        checked.append(password)
        return real(hash_, password)

    monkeypatch.setattr(clinic.web.auth.views, "check_password_hash", spy)
    assert attempt(client, user.email, PASSWORD).status_code == 429
    assert checked == []


def test_the_account_limit_ignores_the_case_of_the_email(client, make_staff):
    user = make_staff()
    for variant in ["front_desk@clinic.test", "Front_Desk@Clinic.test", " FRONT_DESK@CLINIC.TEST"]:
        attempt(client, variant, WRONG)
    attempt(client, user.email, WRONG)
    attempt(client, user.email.upper(), WRONG)
    assert attempt(client, user.email, PASSWORD).status_code == 429


def test_another_account_still_signs_in_from_the_same_address(app, client, make_staff):
    locked = make_staff(StaffRole.FRONT_DESK)
    other = make_staff(StaffRole.CLINICIAN)
    for _ in range(5):
        attempt(client, locked.email, WRONG)
    assert attempt(client, locked.email, PASSWORD).status_code == 429
    assert attempt(client, other.email, PASSWORD).status_code == 303


def test_a_success_does_not_use_up_the_budget(client, make_staff):
    user = make_staff()
    for _ in range(4):
        assert attempt(client, user.email, WRONG).status_code == 401
    for _ in range(3):
        assert attempt(client, user.email, PASSWORD).status_code == 303
        sign_out(client)
    # Four failures counted, not seven attempts: a fifth wrong password is still heard.
    assert attempt(client, user.email, WRONG).status_code == 401
    assert attempt(client, user.email, PASSWORD).status_code == 429


def test_a_stranger_cannot_lock_a_staff_member_out(client, make_staff):
    """Five wrong passwords from one place shut that place out, not the account: the real
    admin signs in from the clinic meanwhile."""
    user = make_staff(StaffRole.ADMIN)
    for _ in range(5):
        assert attempt(client, user.email, WRONG, address="198.51.100.66").status_code == 401
    assert attempt(client, user.email, PASSWORD, address="198.51.100.66").status_code == 429
    assert attempt(client, user.email, PASSWORD, address="10.0.0.7").status_code == 303


def test_one_account_cannot_be_guessed_from_many_addresses(client, make_staff):
    user = make_staff()
    for n in range(50):  # LOGIN_LIMIT_PER_ACCOUNT: 50 failures an hour from anywhere
        assert attempt(client, user.email, WRONG, address=f"10.0.1.{n}").status_code == 401
    assert attempt(client, user.email, PASSWORD, address="10.0.2.1").status_code == 429


def test_one_address_cannot_try_many_accounts(app, client, make_staff):
    user = make_staff()
    for n in range(20):
        response = attempt(client, f"guess{n}@clinic.test", WRONG, address="10.0.3.3")
        assert response.status_code == 401
    assert attempt(client, user.email, PASSWORD, address="10.0.3.3").status_code == 429
    # The address is the limit here, not the account: from elsewhere it signs in.
    assert attempt(client, user.email, PASSWORD, address="10.0.4.4").status_code == 303


def test_looking_at_the_sign_in_page_is_never_counted(client, make_staff):
    user = make_staff()
    for _ in range(30):
        assert client.get("/auth/login").status_code == 200
    assert attempt(client, user.email, PASSWORD).status_code == 303


def test_the_limits_are_the_configured_ones(client, make_staff, app):
    app.config["LOGIN_LIMIT_PER_ACCOUNT_ADDRESS"] = "2 per 15 minutes"
    user = make_staff()
    attempt(client, user.email, WRONG)
    attempt(client, user.email, WRONG)
    assert attempt(client, user.email, PASSWORD).status_code == 429


def _redis_or_skip():
    redis = pytest.importorskip("redis")
    try:
        connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        connection.ping()
    except redis.RedisError as error:
        pytest.skip(f"SKIPPED: no Redis answers at {REDIS_URL} ({error})")
    return connection


# Another worker: its own process and its own app, sharing only the database and Redis.
_OTHER_WORKER = """
import json, sys
from clinic import create_app
config = json.loads(sys.argv[1])
app = create_app(config)
with app.app_context():
    client = app.test_client()
    codes = [
        client.post(
            "/auth/login",
            data={"email": config["_email"], "password": "not the password at all"},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        ).status_code
        for _ in range(5)
    ]
print(json.dumps(codes))
"""


def test_two_workers_sharing_redis_share_one_count(app, make_staff):
    """Five failures in one worker (another process, as gunicorn runs them) leave no sixth try
    in another worker: the count lives in Redis, not in either process."""
    redis = _redis_or_skip()
    redis.flushdb()  # database 15 is the tests' own
    user = make_staff()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    config = {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_STORAGE_URI": REDIS_URL}
    try:
        other = subprocess.run(
            [sys.executable, "-c", _OTHER_WORKER, json.dumps({**config, "_email": user.email})],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert json.loads(other.stdout.strip().splitlines()[-1]) == [401] * 5
        assert redis.keys("LIMITS*"), "the other worker counted in Redis"

        this_worker = create_app(config)
        with this_worker.app_context():
            client = this_worker.test_client()
            # The same guesser, now reaching another worker: still no sixth try.
            blocked = attempt(client, user.email, PASSWORD, address="10.9.9.9")
            assert blocked.status_code == 429
            # A different account is not affected by that account's failures.
            clerk = StaffUser(email="clerk@clinic.test", name="Clerk", role=StaffRole.CLINICIAN)
            clerk.set_password(PASSWORD)
            db.session.add(clerk)
            db.session.commit()
            assert attempt(client, "clerk@clinic.test", PASSWORD).status_code == 303
            db.session.remove()
            db.engine.dispose()
    finally:
        redis.flushdb()
        # Back to the test app's own storage, so later tests do not count in Redis.
        limiter.init_app(app)


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


def test_a_deactivated_account_is_signed_out_at_its_next_request(app, client, make_staff, login):
    clerk = make_staff(StaffRole.FRONT_DESK)
    admin = make_staff(StaffRole.ADMIN)
    login(clerk)
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 200

    admin_client = app.test_client()
    admin_client.post("/auth/login", data={"email": admin.email, "password": PASSWORD})
    assert admin_client.post(f"/staff/accounts/{clerk.id}/deactivate").status_code == 303

    response = client.get(f"/staff/day/{NEXT_DAY}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    refused = login(clerk)
    assert refused.status_code == 401


def test_changing_ones_password_signs_out_other_devices_only(app, client, make_staff, login):
    user = make_staff(StaffRole.CLINICIAN)
    login(user)
    laptop = app.test_client()
    laptop.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert laptop.get(f"/staff/day/{NEXT_DAY}").status_code == 200

    response = client.post(
        "/staff/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new phrase",
            "confirm": "a brand new phrase",
        },
    )
    assert response.status_code == 303
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 200  # this device stays
    assert laptop.get(f"/staff/day/{NEXT_DAY}").status_code == 302  # the other is out


def test_an_admin_reset_signs_the_account_out(app, client, make_staff, login):
    clerk = make_staff(StaffRole.FRONT_DESK)
    admin = make_staff(StaffRole.ADMIN)
    login(clerk)
    accounts.reset_password(admin, clerk.id, "temporary phrase 1")
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 302
    assert login(clerk).status_code == 401
    assert login(clerk, "temporary phrase 1").status_code == 303


def test_sign_in_finds_the_account_whatever_the_case(client, make_staff):
    make_staff(email="mixed@clinic.test")
    assert attempt(client, "  MIXED@Clinic.Test ", PASSWORD).status_code == 303
    assert db.session.scalar(select(StaffUser.last_login_at)) is not None


def test_behind_a_proxy_the_limit_counts_the_real_addresses(app, make_staff):
    """Behind the TLS proxy every request comes from the proxy's address; with
    PROXY_FIX_X_FOR=1 the forwarded address is the one limited, so one guesser cannot lock
    the whole clinic out."""
    from clinic import create_app

    user = make_staff()
    proxied = create_app(
        {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "PROXY_FIX_X_FOR": 1}
    )
    client = proxied.test_client()

    def through_proxy(email, password, address):
        return client.post(
            "/auth/login",
            data={"email": email, "password": password},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
            headers={"X-Forwarded-For": address},
        )

    for n in range(20):
        assert through_proxy(f"guess{n}@clinic.test", WRONG, "203.0.113.9").status_code == 401
    assert through_proxy(user.email, PASSWORD, "203.0.113.9").status_code == 429
    assert through_proxy(user.email, PASSWORD, "198.51.100.7").status_code == 303
    with proxied.app_context():
        from clinic.extensions import db

        db.engine.dispose()
