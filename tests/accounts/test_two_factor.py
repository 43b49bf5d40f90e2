"""Two-step sign-in (TOTP): admins must have it (TWO_FACTOR_ROLES, "admin" here as in every
configuration), set-up with a QR code drawn on the server, the code's window and replay rule,
recovery codes, the throttle, an admin's reset, "all" roles, a front-desk member opting in,
and the secret encrypted at rest."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import func, select, text

from clinic import accounts
from clinic.extensions import db
from clinic.models import RecoveryCode, StaffRole, StaffSession, StaffUser
from tests.conftest import PASSWORD, TOTP_SECRET, next_totp_code, sign_in

STAFF_PAGES = ["/staff/", "/staff/accounts", "/staff/settings", "/staff/schedule"]


def password_step(client, user, password=PASSWORD):
    return client.post("/auth/login", data={"email": user.email, "password": password})


def second_step(client, code):
    return client.post("/auth/two-factor", data={"code": code})


def code_at(secret: str, offset_steps: int = 0) -> str:
    step = accounts.totp_step(time.time()) + offset_steps
    return pyotp.TOTP(secret).generate_otp(step)


def secret_on(page: str) -> str:
    match = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page)
    assert match, page
    return match.group(1).replace(" ", "")


def codes_on(page: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", page)


def signed_in(client) -> bool:
    return client.get("/staff/account/password").status_code == 200


def events(action: str) -> list:
    from clinic.models import AuditEvent

    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- An admin with a second factor -------------------------------------------------------


def test_an_admins_password_alone_reaches_no_staff_page(client, make_staff):
    admin = make_staff(StaffRole.ADMIN)
    response = password_step(client, admin)
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/two-factor"
    for page in STAFF_PAGES:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].startswith("/auth/login"), page
    assert db.session.scalar(select(func.count()).select_from(StaffSession)) == 0


def test_the_code_from_the_app_signs_the_admin_in(client, make_staff):
    admin = make_staff(StaffRole.ADMIN)
    response = client.post(
        "/auth/login?next=/staff/accounts", data={"email": admin.email, "password": PASSWORD}
    )
    page = client.get("/auth/two-factor", headers={"Accept-Language": "en"})
    assert "authenticator app" in page.get_data(as_text=True)
    response = second_step(client, code_at(TOTP_SECRET))
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/accounts"
    assert client.get("/staff/accounts").status_code == 200
    assert [event.staff_id for event in events("sign_in")] == [admin.id]


def test_a_code_from_the_next_or_last_step_is_accepted(client, make_staff):
    """One step of clock drift either way (valid_window=1)."""
    admin = make_staff(StaffRole.ADMIN)
    password_step(client, admin)
    assert second_step(client, code_at(TOTP_SECRET, +1)).status_code == 303
    client.post("/auth/logout")
    password_step(client, admin)
    assert second_step(client, code_at(TOTP_SECRET, +2)).status_code == 401


def test_a_wrong_code_is_refused_in_the_visitors_language_and_audited(client, make_staff):
    admin = make_staff(StaffRole.ADMIN)
    password_step(client, admin)
    wrong = "000000" if code_at(TOTP_SECRET) != "000000" else "111111"
    response = client.post(
        "/auth/two-factor", data={"code": wrong}, headers={"Accept-Language": "es"}
    )
    assert response.status_code == 401
    assert "no coincide" in response.get_data(as_text=True)
    assert not signed_in(client)
    failed = events("sign_in_failed")
    assert [(event.staff_id, event.detail) for event in failed] == [
        (admin.id, {"step": "two_factor"})
    ]


def test_a_code_works_once(client, app, make_staff):
    """Replay: the same code, even within its 30 seconds, signs in only once."""
    admin = make_staff(StaffRole.ADMIN)
    code = code_at(TOTP_SECRET)
    password_step(client, admin)
    assert second_step(client, code).status_code == 303
    other = app.test_client()
    password_step(other, admin)
    assert second_step(other, code).status_code == 401
    assert not signed_in(other)
    # An earlier step than the one used is no good either.
    assert second_step(other, code_at(TOTP_SECRET, -1)).status_code == 401


def test_wrong_codes_are_throttled_like_passwords(client, make_staff):
    admin = make_staff(StaffRole.ADMIN)
    password_step(client, admin)
    wrong = "123456" if code_at(TOTP_SECRET) != "123456" else "654321"
    for _ in range(5):
        assert second_step(client, wrong).status_code == 401
    # Paused: even the right code is not looked at now.
    response = second_step(client, code_at(TOTP_SECRET))
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    assert not signed_in(client)


def test_the_second_step_waits_a_few_minutes_only(app, client, make_staff, monkeypatch):
    admin = make_staff(StaffRole.ADMIN)
    password_step(client, admin)
    later = time.time() + app.config["TWO_FACTOR_PENDING_SECONDS"] + 1
    monkeypatch.setattr("clinic.web.auth.views.time.time", lambda: later)
    response = second_step(client, code_at(TOTP_SECRET))
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/login"
    assert not signed_in(client)


def test_the_second_step_without_a_password_first_goes_back_to_sign_in(client, make_staff):
    make_staff(StaffRole.ADMIN)
    response = second_step(client, code_at(TOTP_SECRET))
    assert response.headers["Location"] == "/auth/login"
    assert client.get("/auth/two-factor/setup").headers["Location"] == "/auth/login"


# --- Recovery codes ------------------------------------------------------------------------


def _set_up(client, user) -> tuple[str, list[str]]:
    """Sign ``user`` in through the set-up step: its secret and recovery codes."""
    response = password_step(client, user)
    assert response.headers["Location"] == "/auth/two-factor/setup"
    page = client.get("/auth/two-factor/setup").get_data(as_text=True)
    secret = secret_on(page)
    response = client.post("/auth/two-factor/setup", data={"code": code_at(secret)})
    assert response.status_code == 200
    codes = codes_on(response.get_data(as_text=True))
    return secret, codes


def test_a_recovery_code_signs_in_once(app, client, make_staff):
    admin = make_staff(StaffRole.ADMIN, two_factor=False)
    _secret, codes = _set_up(client, admin)
    assert len(codes) == accounts.RECOVERY_CODE_COUNT == len(set(codes))
    client.post("/auth/logout")

    password_step(client, admin)
    response = second_step(client, codes[3].upper().replace("-", " "))  # as typed, any case
    assert response.status_code == 303
    assert signed_in(client)
    assert accounts.recovery_codes_left(admin.id) == 9
    assert events("account_change")[-1].fields == ["recovery_code"]
    client.post("/auth/logout")

    password_step(client, admin)
    assert second_step(client, codes[3]).status_code == 401
    assert not signed_in(client)


def test_recovery_codes_are_stored_as_hashes(client, make_staff):
    admin = make_staff(StaffRole.ADMIN, two_factor=False)
    _secret, codes = _set_up(client, admin)
    stored = set(db.session.scalars(select(RecoveryCode.code_hash)))
    assert stored == {accounts.hash_recovery_code(code) for code in codes}
    assert not stored & set(codes)


# --- Setting it up -------------------------------------------------------------------------


def test_an_admin_without_a_second_factor_sets_one_up_at_sign_in(client, make_staff):
    admin = make_staff(StaffRole.ADMIN, two_factor=False)
    response = password_step(client, admin)
    assert response.headers["Location"] == "/auth/two-factor/setup"
    for page in STAFF_PAGES:
        assert client.get(page).status_code == 302
    page = client.get("/auth/two-factor/setup")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    # The QR code is SVG markup in the page: no image request, no data: URL, no script.
    assert re.search(r"<svg [^>]*class=\"segno\"", body)
    assert "data:" not in body and "<img" not in body and "<script" not in body
    secret = secret_on(body)
    # A reload shows the same secret (set-up is pending until confirmed).
    assert secret_on(client.get("/auth/two-factor/setup").get_data(as_text=True)) == secret

    wrong = client.post("/auth/two-factor/setup", data={"code": "000000"})
    if code_at(secret) != "000000":
        assert wrong.status_code == 401
        assert not signed_in(client)

    response = client.post("/auth/two-factor/setup", data={"code": code_at(secret)})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert len(codes_on(response.get_data(as_text=True))) == 10
    assert signed_in(client)
    db.session.expire_all()
    assert db.session.get(StaffUser, admin.id).totp_enabled_at is not None
    assert events("account_change")[-1].fields == ["two_factor"]


def test_the_stored_secret_is_not_in_clear(client, make_staff):
    admin = make_staff(StaffRole.ADMIN, two_factor=False)
    secret, _codes = _set_up(client, admin)
    raw = db.session.execute(
        text("SELECT totp_secret FROM staff_user WHERE id = :id"), {"id": admin.id}
    ).scalar_one()
    assert raw and secret not in raw and secret.lower() not in raw.lower()
    db.session.expire_all()
    assert db.session.get(StaffUser, admin.id).totp_secret == secret


def test_a_session_from_before_the_rule_ends(app, client, make_staff):
    """An admin signed in without a second factor (before the upgrade, or promoted since) is
    signed out at their next request, and sets one up at the next sign-in."""
    desk = make_staff(StaffRole.FRONT_DESK)
    assert sign_in(client, desk.email).status_code == 303
    assert signed_in(client)
    db.session.execute(text("UPDATE staff_user SET role = 'admin' WHERE id = :id"), {"id": desk.id})
    db.session.commit()
    assert client.get("/staff/").status_code == 302


# --- An admin's reset -----------------------------------------------------------------------


def test_an_admin_resets_a_members_second_factor(app, client, make_staff):
    admin = make_staff(StaffRole.ADMIN)
    other = make_staff(StaffRole.ADMIN, email="other@clinic.test")
    other_client = app.test_client()
    assert sign_in(other_client, other.email).status_code == 303
    assert sign_in(client, admin.email).status_code == 303

    page = client.get(f"/staff/accounts/{other.id}").get_data(as_text=True)
    assert "Reset two-step sign-in" in page
    response = client.post(f"/staff/accounts/{other.id}/two-factor/reset")
    assert response.status_code == 303
    db.session.expire_all()
    reset = db.session.get(StaffUser, other.id)
    assert reset.totp_secret is None and reset.totp_enabled_at is None
    assert not db.session.scalar(
        select(func.count()).select_from(RecoveryCode).where(RecoveryCode.staff_id == other.id)
    )
    assert other_client.get("/staff/").status_code == 302  # signed out everywhere
    assert password_step(other_client, other).headers["Location"] == "/auth/two-factor/setup"
    change = events("account_change")[-1]
    assert (change.object_id, change.fields, change.staff_id) == (
        other.id,
        ["two_factor"],
        admin.id,
    )


def test_an_admin_cannot_reset_their_own_second_factor_there(client, make_staff, login):
    admin = make_staff(StaffRole.ADMIN)
    make_staff(StaffRole.ADMIN, email="other@clinic.test")
    login(admin)
    assert client.post(f"/staff/accounts/{admin.id}/two-factor/reset").status_code == 422
    db.session.expire_all()
    assert db.session.get(StaffUser, admin.id).totp_enabled_at is not None


def test_only_admins_reset_a_second_factor(client, make_staff, login):
    make_staff(StaffRole.ADMIN)
    desk = make_staff(StaffRole.FRONT_DESK)
    login(desk)
    assert client.post(f"/staff/accounts/{desk.id}/two-factor/reset").status_code == 403


# --- Other roles ------------------------------------------------------------------------------


def test_with_all_roles_every_role_needs_it(app, client, make_staff):
    app.config["TWO_FACTOR_ROLES"] = "all"
    clinician = make_staff(StaffRole.CLINICIAN)
    response = password_step(client, clinician)
    assert response.headers["Location"] == "/auth/two-factor/setup"
    assert client.get("/staff/").status_code == 302


def test_the_setting_reads_roles(app):
    assert accounts.two_factor_roles("admin") == {StaffRole.ADMIN}
    assert accounts.two_factor_roles("all") == set(StaffRole)
    assert accounts.two_factor_roles("front_desk") == {StaffRole.ADMIN, StaffRole.FRONT_DESK}
    with pytest.raises(accounts.UnknownRole):
        accounts.two_factor_roles("root")


def test_a_front_desk_member_signs_in_with_a_password_alone_by_default(client, make_staff):
    desk = make_staff(StaffRole.FRONT_DESK)
    response = password_step(client, desk)
    assert response.status_code == 303 and response.headers["Location"] == "/staff/"


def test_a_front_desk_member_opts_in_and_then_needs_the_code(app, client, make_staff, login):
    desk = make_staff(StaffRole.FRONT_DESK)
    login(desk)
    page = client.get("/staff/account/two-factor", headers={"Accept-Language": "en"})
    assert "Set up two-step sign-in" in page.get_data(as_text=True)
    not_started = client.get("/staff/account/two-factor/setup")  # nothing drawn by a GET
    assert not_started.status_code == 200 and "segno" not in not_started.get_data(as_text=True)
    response = client.post("/staff/account/two-factor/start")
    assert response.headers["Location"] == "/staff/account/two-factor/setup"
    setup = client.get("/staff/account/two-factor/setup").get_data(as_text=True)
    secret = secret_on(setup)
    response = client.post("/staff/account/two-factor/setup", data={"code": code_at(secret)})
    assert response.status_code == 200
    assert len(codes_on(response.get_data(as_text=True))) == 10
    client.post("/auth/logout")

    response = password_step(client, desk)
    assert response.headers["Location"] == "/auth/two-factor"
    assert not signed_in(client)
    assert second_step(client, code_at(secret, +1)).status_code == 303

    # And turns it off again, with the password.
    assert (
        client.post(
            "/staff/account/two-factor/off", data={"off-current_password": "no"}
        ).status_code
        == 422
    )
    response = client.post("/staff/account/two-factor/off", data={"off-current_password": PASSWORD})
    assert response.status_code == 303
    client.post("/auth/logout")
    assert password_step(client, desk).headers["Location"] == "/staff/"


def test_an_admin_cannot_turn_theirs_off(client, make_staff, login):
    admin = make_staff(StaffRole.ADMIN)
    login(admin)
    response = client.post(
        "/staff/account/two-factor/off",
        data={"off-current_password": PASSWORD},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "required for your role" in response.get_data(as_text=True)


def test_new_recovery_codes_replace_the_old_ones(client, make_staff, login):
    admin = make_staff(StaffRole.ADMIN)
    login(admin)
    response = client.post(
        "/staff/account/two-factor/recovery-codes", data={"codes-current_password": PASSWORD}
    )
    assert response.status_code == 200
    codes = codes_on(response.get_data(as_text=True))
    assert len(codes) == 10 and accounts.recovery_codes_left(admin.id) == 10


def test_the_login_fixture_signs_an_admin_in_twice_within_one_step(client, make_staff, login):
    """The suite's own helper: it never reuses a step (see next_totp_code)."""
    admin = make_staff(StaffRole.ADMIN)
    for _ in range(4):
        assert login(admin).status_code == 303
        assert signed_in(client)
        client.post("/auth/logout")
    assert next_totp_code(admin.email)


# --- The pure rules ---------------------------------------------------------------------------


def test_matching_step_refuses_replays_and_far_steps():
    secret = pyotp.random_base32()
    now = time.time()
    step = accounts.totp_step(now)
    code = accounts.totp_code(secret, step)
    assert accounts.matching_step(secret, code, now, None) == step
    assert accounts.matching_step(secret, code.replace("", " ").strip(), now, None) == step
    assert accounts.matching_step(secret, code, now, step) is None
    assert accounts.matching_step(secret, accounts.totp_code(secret, step - 2), now, None) is None
    assert accounts.matching_step(secret, "12345", now, None) is None


def test_recovery_codes_are_random_and_readable():
    codes = {accounts.new_recovery_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes)
    assert not any(set(code) & set("01ilo") for code in codes)


def test_a_mistyped_setting_stops_the_app_at_start(migrated_db):
    from clinic import create_app

    with pytest.raises(RuntimeError, match="TWO_FACTOR_ROLES"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TWO_FACTOR_ROLES": "admins"})
