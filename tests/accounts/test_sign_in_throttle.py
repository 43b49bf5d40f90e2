"""Sign-in throttling that slows guessing without ever locking the owner out: the device
cookie, the limits per account and address, per device and per account from new devices
(a pause that grows with the failures), the 429 page, the admin's unlock, and the counts
shared by gunicorn workers through Redis."""

from __future__ import annotations

import re
import time
from datetime import UTC

import limits.storage.memory
import pytest
from flask import Flask

import clinic.web.auth.views
from clinic import accounts, formats
from clinic.models import StaffRole
from clinic.web.auth import devices
from tests.conftest import PASSWORD, next_totp_code
from tests.conftest import sign_in as form_sign_in

WRONG = "not the password at all"
EN = {"Accept-Language": "en"}
CLINIC = "10.0.0.7"  # where the owner signs in from
STRANGER = "198.51.100.66"


def attempt(client, email, password, address=CLINIC, **kwargs):
    return client.post(
        "/auth/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        **kwargs,
    )


def sign_out(client):
    return client.post("/auth/logout")


def known_device(app: Flask, user, address=CLINIC):
    """The owner's own browser: they signed in on it before (and out again), so it holds the
    device cookie for their account."""
    browser = app.test_client()
    response = attempt(browser, user.email, PASSWORD, address=address)
    assert response.status_code == 303
    if response.headers["Location"] == "/auth/two-factor":  # an admin: the second step too
        code = {"code": next_totp_code(user.email)}
        response = browser.post(
            "/auth/two-factor", data=code, environ_base={"REMOTE_ADDR": address}
        )
        assert response.status_code == 303
    assert browser.get_cookie("device") is not None
    assert sign_out(browser).status_code == 303
    return browser


def text(response) -> str:
    return response.get_data(as_text=True)


def pause(app, user) -> accounts.SignInPause:
    return accounts.sign_in_pause(accounts.SignInLimits.from_config(app.config), user.email)


class LimiterClock:
    """The in-memory limiter's clock, moved by tests (its windows run on real time)."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def limiter_clock(monkeypatch):
    clock = LimiterClock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    return clock


# --- Refused before the password is checked -------------------------------------------------


def test_sixth_failure_for_one_account_is_refused_even_with_the_right_password(client, make_staff):
    user = make_staff()
    for _ in range(5):
        assert attempt(client, user.email, WRONG).status_code == 401
    response = attempt(client, user.email, PASSWORD, headers=EN)
    assert response.status_code == 429
    assert "Too many tries" in text(response)
    assert client.get("/staff/").status_code == 302  # not signed in


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


def test_the_refusal_says_when_to_try_again_and_keeps_the_email(app, client, make_staff):
    user = make_staff()
    for _ in range(5):
        attempt(client, user.email, WRONG)
    response = attempt(client, user.email.upper(), WRONG, headers=EN)
    assert response.status_code == 429
    page = text(response)
    until = accounts.sign_in_paused_until(
        accounts.SignInLimits.from_config(app.config),
        accounts.SignInAttempt(accounts.sign_in_account(user.email), CLINIC),
    )
    with app.test_request_context(headers=EN):
        shown = formats.clock_at(until)
    assert f"Please try again at {shown}" in page
    assert "ask an admin to unlock" in page
    # Five failures from this address: fifteen minutes (LOGIN_FAILURES_PER_ACCOUNT_ADDRESS).
    assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60
    assert f'value="{user.email.upper()}"' in page  # the e-mail as typed, ready to resend
    assert WRONG not in page  # never the password


def test_the_refusal_page_is_in_the_visitors_language(client, make_staff):
    user = make_staff()
    for _ in range(5):
        attempt(client, user.email, WRONG)
    response = attempt(client, user.email, WRONG, headers={"Accept-Language": "es"})
    assert response.status_code == 429
    assert '<html lang="es">' in text(response)
    assert "Demasiados intentos" in text(response)


def test_the_account_limit_ignores_the_case_of_the_email(client, make_staff):
    user = make_staff()
    for variant in ["front_desk@clinic.test", "Front_Desk@Clinic.test", " FRONT_DESK@CLINIC.TEST"]:
        attempt(client, variant, WRONG)
    attempt(client, user.email, WRONG)
    attempt(client, user.email.upper(), WRONG)
    assert attempt(client, user.email, PASSWORD).status_code == 429


def test_an_unknown_email_is_counted_like_an_account(client, make_staff):
    """The answers never tell whether an account exists: 401 five times, then 429."""
    codes = [attempt(client, "nobody@clinic.test", WRONG).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_another_account_still_signs_in_from_the_same_address(client, make_staff):
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
        client.delete_cookie("device")  # still a new device: counted as one
    # Four failures counted, not seven attempts: a fifth wrong password is still heard.
    assert attempt(client, user.email, WRONG).status_code == 401
    assert attempt(client, user.email, PASSWORD).status_code == 429


def test_looking_at_the_sign_in_page_is_never_counted(client, make_staff):
    user = make_staff()
    for _ in range(30):
        assert client.get("/auth/login").status_code == 200
    assert attempt(client, user.email, PASSWORD).status_code == 303


def test_an_empty_form_is_not_counted(client, make_staff):
    user = make_staff()
    for _ in range(10):
        assert attempt(client, user.email, "").status_code == 401
    assert attempt(client, user.email, PASSWORD).status_code == 303


# --- The owner is never locked out ------------------------------------------------------------


def test_the_owner_signs_in_from_a_known_device_while_a_stranger_is_refused(app, make_staff):
    """Behind the TLS proxy with PROXY_FIX_X_FOR=0 every request has the proxy's address: a
    stranger's failures exhaust that address's count and the account's count for new devices.
    The admin's own computer is not paused by any of it."""
    admin = make_staff(StaffRole.ADMIN)
    own = known_device(app, admin, address="127.0.0.1")
    stranger = app.test_client()
    codes = [
        attempt(stranger, admin.email, WRONG, address="127.0.0.1").status_code for _ in range(8)
    ]
    assert codes == [401] * 5 + [429] * 3
    assert attempt(stranger, admin.email, PASSWORD, address="127.0.0.1").status_code == 429
    assert pause(app, admin).paused_until is not None  # new devices are paused...

    response = form_sign_in(own, admin.email)  # from 127.0.0.1, the second step too
    assert response.status_code == 303  # ...the admin's own computer is not
    assert own.get("/staff/accounts").status_code == 200


def test_a_known_device_gets_in_after_every_limit_on_new_devices_is_full(
    app, make_staff, limiter_clock
):
    """Fifty failures in a day from fifty addresses (the longest limit on new devices is
    full, so they wait a day); the owner's phone signs in all the same."""
    user = make_staff()
    phone = known_device(app, user)
    stranger = app.test_client()
    failures = 0
    while failures < 50:
        response = attempt(stranger, user.email, WRONG, address=f"203.0.113.{failures}")
        if response.status_code == 429:
            limiter_clock.advance(int(response.headers["Retry-After"]) + 1)
            continue
        assert response.status_code == 401
        failures += 1
    state = pause(app, user)
    assert state.failures == 50 and state.paused_until is not None
    assert attempt(stranger, user.email, PASSWORD, address="203.0.113.200").status_code == 429
    assert attempt(phone, user.email, PASSWORD).status_code == 303


def test_a_device_cookie_for_another_account_is_no_pass(app, client, make_staff):
    owner, target = make_staff(StaffRole.CLINICIAN), make_staff(StaffRole.ADMIN)
    browser = known_device(app, owner)
    for _ in range(5):
        attempt(client, target.email, WRONG)
    assert attempt(browser, target.email, PASSWORD).status_code == 429


def test_a_shared_computer_is_known_for_each_account_that_signed_in_on_it(app, make_staff):
    desk, nurse = make_staff(StaffRole.FRONT_DESK), make_staff(StaffRole.CLINICIAN)
    shared = known_device(app, desk)
    assert attempt(shared, nurse.email, PASSWORD).status_code == 303
    sign_out(shared)
    stranger = app.test_client()
    for user in (desk, nurse):
        for _ in range(5):
            attempt(stranger, user.email, WRONG)
    for user in (desk, nurse):
        assert attempt(shared, user.email, PASSWORD).status_code == 303
        sign_out(shared)


def test_a_tampered_device_cookie_counts_as_a_new_device(app, client, make_staff):
    user = make_staff()
    browser = known_device(app, user)
    value = browser.get_cookie("device").value
    browser.set_cookie("device", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    for _ in range(5):
        attempt(client, user.email, WRONG)
    assert attempt(browser, user.email, PASSWORD).status_code == 429


def test_a_device_is_forgotten_after_the_configured_days(app, client, make_staff):
    user = make_staff()
    browser = known_device(app, user)
    with app.test_request_context(
        headers={"Cookie": f"device={browser.get_cookie('device').value}"}
    ):
        ((account, nonce, issued),) = devices._entries()
        aged = devices._serializer().dumps([[account, nonce, issued - 181 * 24 * 3600]])
    browser.set_cookie("device", aged)
    for _ in range(5):
        attempt(client, user.email, WRONG)
    assert attempt(browser, user.email, PASSWORD).status_code == 429


def test_a_known_device_has_its_own_limit(app, make_staff):
    """A device that guesses on (a stolen laptop) is paused by its own failures; the owner's
    other devices are not."""
    user = make_staff()
    laptop, phone = known_device(app, user), known_device(app, user)
    codes = [attempt(laptop, user.email, WRONG).status_code for _ in range(11)]
    assert codes == [401] * 10 + [429]  # LOGIN_FAILURES_PER_DEVICE: 10 in 15 minutes
    assert attempt(laptop, user.email, PASSWORD).status_code == 429
    assert attempt(phone, user.email, PASSWORD).status_code == 303


def test_a_known_devices_failures_do_not_pause_new_devices(app, client, make_staff):
    user = make_staff()
    laptop = known_device(app, user)
    for _ in range(10):
        attempt(laptop, user.email, WRONG)
    assert attempt(client, user.email, PASSWORD).status_code == 303


def test_the_device_cookie_is_http_only_strict_and_long_lived(app, client, make_staff):
    user = make_staff()
    assert attempt(client, user.email, WRONG).status_code == 401
    assert client.get_cookie("device") is None  # only a success makes a device known
    response = attempt(client, user.email, PASSWORD)
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("device=")]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "SameSite=Strict" in cookie and "Path=/;" in cookie
    assert f"Max-Age={180 * 24 * 3600}" in cookie
    assert "secure" not in attributes  # tests run over plain http
    assert user.email not in cookie and "front_desk" not in cookie


def test_in_production_the_device_cookie_is_host_prefixed_and_secure(app, make_staff, monkeypatch):
    from clinic import create_app
    from config import ProductionConfig

    user = make_staff()
    monkeypatch.setenv("CLINIC_ENV", "production")
    for name, value in {
        "SECRET_KEY": "a production key",
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "RATELIMIT_SINGLE_PROCESS": True,
        # The same data keys as the test app's, which wrote the account.
        "DATA_KEYS": app.config["DATA_KEYS"],
        "BLIND_INDEX_KEY": app.config["BLIND_INDEX_KEY"],
    }.items():
        monkeypatch.setattr(ProductionConfig, name, value, raising=False)
    production = create_app()
    browser = production.test_client()
    page = text(browser.get("/auth/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = browser.post(
        "/auth/login",
        data={"csrf_token": token, "email": user.email, "password": PASSWORD},
    )
    assert response.status_code == 303
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if "device=" in c]
    assert cookie.startswith("__Host-device=")
    assert "Secure" in cookie and "Path=/;" in cookie and "Domain" not in cookie
    with production.app_context():
        from clinic.extensions import db

        db.engine.dispose()


# --- Guessing is slowed more and more ------------------------------------------------------


def test_new_devices_wait_longer_the_more_they_fail(app, make_staff, limiter_clock):
    """5 failures: a minute; 10: five minutes; 20: fifteen; 50: a day (each from the first
    failure counted), by the default LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT. Failures from many
    addresses, so that only the account's count for new devices is at play."""
    user = make_staff()
    limits_ = accounts.SignInLimits.from_config(app.config)
    account = accounts.sign_in_account(user.email)
    start = limiter_clock.now
    addresses = (f"203.0.113.{n}" for n in range(200))

    def fail(times: int) -> None:
        for _ in range(times):
            one = accounts.SignInAttempt(account, next(addresses))
            assert accounts.sign_in_paused_until(limits_, one) is None
            accounts.count_failed_sign_in(limits_, one)

    def paused_for() -> float:
        """Seconds from the first failure to the end of the pause."""
        until = pause(app, user).paused_until
        assert until is not None
        return until.replace(tzinfo=UTC).timestamp() - start

    fail(5)
    assert paused_for() == pytest.approx(60)
    limiter_clock.advance(61)
    fail(5)
    assert paused_for() == pytest.approx(5 * 60)
    limiter_clock.advance(5 * 60 - 61 + 1)
    fail(5)
    limiter_clock.advance(61)
    fail(5)
    assert pause(app, user).failures == 20
    assert paused_for() == pytest.approx(15 * 60)
    while pause(app, user).failures < 50:
        if pause(app, user).paused_until is not None:
            limiter_clock.advance(paused_for() - (limiter_clock.now - start) + 1)
        fail(1)
    assert paused_for() == pytest.approx(24 * 3600)


def test_the_limits_are_the_configured_ones(app, client, make_staff):
    app.config["LOGIN_FAILURES_PER_ACCOUNT_ADDRESS"] = "2 per 15 minutes"
    user = make_staff()
    attempt(client, user.email, WRONG)
    attempt(client, user.email, WRONG)
    assert attempt(client, user.email, PASSWORD).status_code == 429


def test_the_limit_on_new_devices_is_the_configured_one(app, client, make_staff):
    app.config["LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT"] = "3 per hour"
    user = make_staff()
    for n in range(3):
        assert attempt(client, user.email, WRONG, address=f"10.0.1.{n}").status_code == 401
    assert attempt(client, user.email, PASSWORD, address="10.0.2.1").status_code == 429


def test_the_limit_per_device_is_the_configured_one(app, make_staff):
    app.config["LOGIN_FAILURES_PER_DEVICE"] = "2 per hour"
    user = make_staff()
    laptop = known_device(app, user)
    attempt(laptop, user.email, WRONG)
    attempt(laptop, user.email, WRONG)
    assert attempt(laptop, user.email, PASSWORD).status_code == 429


def test_one_account_cannot_be_guessed_from_many_addresses(client, make_staff):
    user = make_staff()
    for n in range(5):
        assert attempt(client, user.email, WRONG, address=f"10.0.1.{n}").status_code == 401
    assert attempt(client, user.email, PASSWORD, address="10.0.2.1").status_code == 429


def test_one_address_trying_many_accounts_does_not_shut_the_clinic_out(client, make_staff):
    """No limit per address over all accounts: with PROXY_FIX_X_FOR=0 that address is every
    visitor's. Each guessed account is paused on its own."""
    user = make_staff()
    for n in range(30):
        assert attempt(client, f"guess{n}@clinic.test", WRONG).status_code == 401
    assert attempt(client, user.email, PASSWORD).status_code == 303


def test_behind_a_proxy_the_limit_counts_the_real_addresses(app, make_staff):
    """Behind the TLS proxy every request comes from the proxy's address; with
    PROXY_FIX_X_FOR=1 the forwarded address is the one counted, so a guesser's failures
    pause that address only (the limit on new devices set loose to show it)."""
    from clinic import create_app

    user = make_staff()
    proxied = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "PROXY_FIX_X_FOR": 1,
            "LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT": "50 per hour",
        }
    )
    client = proxied.test_client()

    def through_proxy(email, password, address):
        return client.post(
            "/auth/login",
            data={"email": email, "password": password},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
            headers={"X-Forwarded-For": address},
        )

    for _ in range(5):
        assert through_proxy(user.email, WRONG, "203.0.113.9").status_code == 401
    assert through_proxy(user.email, PASSWORD, "203.0.113.9").status_code == 429
    assert through_proxy(user.email, PASSWORD, "198.51.100.7").status_code == 303
    with proxied.app_context():
        from clinic.extensions import db

        db.engine.dispose()


def test_with_the_store_down_sign_in_goes_on_unthrottled_and_says_so(
    app, client, make_staff, monkeypatch, caplog
):
    """RATELIMIT_SWALLOW_ERRORS (on by default): a Redis outage must not shut every staff
    member out; it is logged, without the e-mail."""
    from clinic.extensions import limiter

    user = make_staff()

    def down(*args, **kwargs):
        raise ValueError("the store is down")  # the memory store's kind of error

    monkeypatch.setattr(limiter.storage, "get", down)
    assert attempt(client, user.email, WRONG).status_code == 401
    assert attempt(client, user.email, PASSWORD).status_code == 303
    assert "sign-in throttle store unavailable" in caplog.text
    assert user.email not in caplog.text


def test_with_the_store_down_and_errors_not_swallowed_sign_in_fails(
    app, client, make_staff, monkeypatch
):
    from clinic.extensions import limiter

    app.config["RATELIMIT_SWALLOW_ERRORS"] = False
    user = make_staff()

    def down(*args, **kwargs):
        raise ValueError("the store is down")

    monkeypatch.setattr(limiter.storage, "get", down)
    with pytest.raises(ValueError, match="the store is down"):
        attempt(client, user.email, PASSWORD)


# --- The admin's unlock ----------------------------------------------------------------------


@pytest.fixture
def admin_client(app, make_staff):
    admin = make_staff(StaffRole.ADMIN)
    browser = app.test_client()
    # From the test client's own address, which its later requests come from (Flask-Login's
    # strong session protection signs a session out when its address changes).
    assert form_sign_in(browser, admin.email).status_code == 303
    return browser


def test_the_admin_sees_a_paused_account_and_unlocks_it(app, admin_client, make_staff):
    clerk = make_staff(StaffRole.FRONT_DESK)
    stranger, new_phone = app.test_client(), app.test_client()
    for _ in range(5):
        attempt(stranger, clerk.email, WRONG, address=STRANGER)
    assert attempt(new_phone, clerk.email, PASSWORD, address="10.0.0.9").status_code == 429

    listing = text(admin_client.get("/staff/accounts", headers=EN))
    assert listing.count("Sign-in from new devices paused") == 1
    page = text(admin_client.get(f"/staff/accounts/{clerk.id}", headers=EN))
    assert "5 failed sign-ins from new devices in the last 24 hours." in page
    assert "Sign-in from new devices is paused until" in page
    assert f'action="/staff/accounts/{clerk.id}/unlock"' in page

    response = admin_client.post(f"/staff/accounts/{clerk.id}/unlock")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/accounts/{clerk.id}"
    page = text(admin_client.get(response.headers["Location"], headers=EN))
    assert "Sign-in is unlocked" in page
    assert "failed sign-ins from new devices" not in page
    assert pause(app, clerk).failures == 0
    assert attempt(new_phone, clerk.email, PASSWORD, address="10.0.0.9").status_code == 303


def test_unlocking_clears_the_address_and_device_counts_too(app, admin_client, make_staff):
    """Everyone behind one proxy address: the stranger's failures paused that address for the
    account; after the unlock a new device there signs in, and a known device's own count is
    cleared as well."""
    clerk = make_staff(StaffRole.FRONT_DESK)
    laptop = known_device(app, clerk, address="127.0.0.1")
    for _ in range(10):
        attempt(laptop, clerk.email, WRONG, address="127.0.0.1")
    stranger = app.test_client()
    for _ in range(5):
        attempt(stranger, clerk.email, WRONG, address="127.0.0.1")
    assert attempt(laptop, clerk.email, PASSWORD, address="127.0.0.1").status_code == 429
    assert attempt(stranger, clerk.email, PASSWORD, address="127.0.0.1").status_code == 429

    assert admin_client.post(f"/staff/accounts/{clerk.id}/unlock").status_code == 303
    assert attempt(laptop, clerk.email, PASSWORD, address="127.0.0.1").status_code == 303
    new_device = app.test_client()
    assert attempt(new_device, clerk.email, PASSWORD, address="127.0.0.1").status_code == 303


def test_an_unlock_leaves_other_accounts_counted(app, admin_client, make_staff):
    clerk, nurse = make_staff(StaffRole.FRONT_DESK), make_staff(StaffRole.CLINICIAN)
    stranger = app.test_client()
    for user in (clerk, nurse):
        for _ in range(5):
            attempt(stranger, user.email, WRONG, address=STRANGER)
    admin_client.post(f"/staff/accounts/{clerk.id}/unlock")
    assert pause(app, clerk).failures == 0
    assert pause(app, nurse).failures == 5


def test_an_account_without_failures_shows_no_unlock(app, admin_client, make_staff):
    clerk = make_staff(StaffRole.FRONT_DESK)
    page = text(admin_client.get(f"/staff/accounts/{clerk.id}", headers=EN))
    assert "/unlock" not in page and "failed sign-in" not in page


def test_the_unlock_page_is_translated(app, admin_client, make_staff):
    clerk = make_staff(StaffRole.FRONT_DESK)
    for _ in range(5):
        attempt(app.test_client(), clerk.email, WRONG, address=STRANGER)
    page = text(admin_client.get(f"/staff/accounts/{clerk.id}", headers={"Accept-Language": "es"}))
    assert '<html lang="es">' in page
    assert "Desbloquear" in page and "dispositivos nuevos" in page


def test_the_front_desk_cannot_unlock(app, make_staff):
    desk = make_staff(StaffRole.FRONT_DESK)
    nurse = make_staff(StaffRole.CLINICIAN)
    for _ in range(5):
        attempt(app.test_client(), nurse.email, WRONG, address=STRANGER)
    browser = app.test_client()
    assert attempt(browser, desk.email, PASSWORD, address="127.0.0.1").status_code == 303
    assert browser.post(f"/staff/accounts/{nurse.id}/unlock").status_code == 403
    assert pause(app, nurse).failures == 5
    with pytest.raises(accounts.NotAllowed):
        accounts.unlock_sign_in(desk, nurse.id, accounts.SignInLimits.from_config(app.config))
    assert pause(app, nurse).failures == 5


def test_the_unlock_needs_the_forms_csrf_token(app, admin_client, make_staff):
    clerk = make_staff(StaffRole.FRONT_DESK)
    for _ in range(5):
        attempt(app.test_client(), clerk.email, WRONG, address=STRANGER)
    app.config["WTF_CSRF_ENABLED"] = True
    assert admin_client.post(f"/staff/accounts/{clerk.id}/unlock").status_code == 400
    assert pause(app, clerk).failures == 5


def test_unlocking_an_unknown_account_is_404(admin_client):
    assert admin_client.post("/staff/accounts/999/unlock").status_code == 404


# --- Counted in Redis, shared by gunicorn's workers ---------------------------------------------


def _respawned(server, killed: set[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = set(server.worker_pids())
        if len(pids) == server.workers and not pids & killed:
            server.wait_until_ready()
            return
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not replace its workers:\n{server.log()}")


@pytest.mark.slow
def test_two_gunicorn_workers_sharing_redis_hold_the_configured_number(app, make_staff, tmp_path):
    """Under gunicorn with two workers and the production configuration: the sixth failure is
    refused whichever worker answers, and still after both workers are killed and replaced
    (new processes, empty memory): the count lives in Redis. The owner's known browser gets
    in all along."""
    from tests.support.live import Browser, Server, assert_clean_log, follow, hidden_value
    from tests.support.shared_store import redis_or_skip, shared_limits

    redis = redis_or_skip()
    limits_in_redis = shared_limits()  # a key prefix of this test's own: no flushdb
    prefix = limits_in_redis["RATELIMIT_KEY_PREFIX"]
    # Not an admin: their second step is beside the point here (tests/accounts/test_two_factor.py).
    owner, other = make_staff(StaffRole.FRONT_DESK), make_staff(StaffRole.CLINICIAN)
    server = Server(
        app.config["SQLALCHEMY_DATABASE_URI"],
        tmp_path,
        workers=2,
        RATELIMIT_ENABLED="1",
        **limits_in_redis,
    )

    def sign_in(browser, email, password):
        page = browser.get("/auth/login")
        assert page.status == 200, "already signed in: an attempt that should be paused got in"
        form = {"csrf_token": hidden_value(page.body, "csrf_token")}
        return browser.post("/auth/login", {**form, "email": email, "password": password})

    try:
        server.start()
        own = Browser(server)
        assert sign_in(own, owner.email, PASSWORD).status == 303
        assert "__Host-device" in own.cookies
        staff_page = follow(own, own.get("/staff/"))
        signed_out = own.post(
            "/auth/logout", {"csrf_token": hidden_value(staff_page.body, "csrf_token")}
        )
        assert signed_out.status == 303, signed_out.body[:300]

        stranger = Browser(server)  # same address as everyone: 127.0.0.1
        codes = [sign_in(stranger, owner.email, WRONG).status for _ in range(5)]
        assert codes == [401] * 5
        assert [sign_in(stranger, owner.email, PASSWORD).status for _ in range(4)] == [429] * 4
        assert redis.keys(f"LIMITS:LIMITER/{prefix}/*"), "counted in Redis"

        killed = set(server.worker_pids())
        for pid in killed:
            server.kill_a_worker(pid)
        _respawned(server, killed)
        assert [sign_in(stranger, owner.email, PASSWORD).status for _ in range(4)] == [429] * 4
        # The owner's browser, and another account, are not held back by any of it.
        assert sign_in(own, owner.email, PASSWORD).status == 303
        assert sign_in(Browser(server), other.email, PASSWORD).status == 303
    finally:
        server.stop()
        for key in redis.scan_iter(f"LIMITS:LIMITER/{prefix}/*"):
            redis.delete(key)
    assert_clean_log(server)
