"""The admin's staff accounts, each person's own password, and the settings page: every route
as each role, bad input, and the refusals that keep the clinic with an admin."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from clinic import accounts
from clinic.extensions import db
from clinic.models import StaffRole, StaffSession, StaffUser, utcnow
from clinic.permissions import NotAllowed
from tests.conftest import PASSWORD, TOTP_SECRET, sign_in

NEW_PASSWORD = "a fresh long phrase"


@pytest.fixture
def admin(make_staff):
    return make_staff(StaffRole.ADMIN)


@pytest.fixture
def clerk(make_staff):
    return make_staff(StaffRole.FRONT_DESK)


def count_accounts() -> int:
    return db.session.scalar(select(func.count()).select_from(StaffUser))


def reload(user: StaffUser) -> StaffUser:
    db.session.expire_all()
    return db.session.get(StaffUser, user.id)


def text(response) -> str:
    return response.get_data(as_text=True)


def sessions(user: StaffUser) -> list[str]:
    """The token hashes of the account's live sessions."""
    db.session.expire_all()
    return sorted(
        db.session.scalars(select(StaffSession.token_hash).where(StaffSession.staff_id == user.id))
    )


EN = {"Accept-Language": "en"}


# --- The role matrix ------------------------------------------------------------------------

# (method, url with {id} for another account, form data, what an admin gets)
ADMIN_ROUTES = [
    ("GET", "/staff/accounts", None, 200),
    ("GET", "/staff/accounts/new", None, 200),
    (
        "POST",
        "/staff/accounts",
        {"name": "Nia", "email": "nia@clinic.test", "role": "clinician", "password": NEW_PASSWORD},
        303,
    ),
    ("GET", "/staff/accounts/{id}", None, 200),
    ("POST", "/staff/accounts/{id}/deactivate", {}, 303),
    ("POST", "/staff/accounts/{id}/reactivate", {}, 303),
    ("POST", "/staff/accounts/{id}/password", {"password": NEW_PASSWORD}, 303),
    ("POST", "/staff/accounts/{id}/role", {"role": "clinician"}, 303),
    ("POST", "/staff/accounts/{id}/unlock", {}, 303),
    ("GET", "/staff/settings", None, 200),
]
OWN_PASSWORD = {
    "current_password": PASSWORD,
    "new_password": NEW_PASSWORD,
    "confirm": NEW_PASSWORD,
}


@pytest.mark.parametrize(("method", "url", "data", "expected"), ADMIN_ROUTES)
@pytest.mark.parametrize("role", list(StaffRole))
def test_admin_routes_by_role(client, make_staff, login, role, method, url, data, expected):
    other = make_staff(StaffRole.FRONT_DESK, email="other@clinic.test")
    login(make_staff(role))
    before = count_accounts()
    response = client.open(url.format(id=other.id), method=method, data=data)
    if role is StaffRole.ADMIN:
        assert response.status_code == expected
    else:
        assert response.status_code == 403
        assert count_accounts() == before
        assert reload(other).check_password(PASSWORD) and reload(other).active


@pytest.mark.parametrize(("method", "url", "data", "expected"), ADMIN_ROUTES)
def test_admin_routes_send_anonymous_visitors_to_sign_in(
    client, make_staff, method, url, data, expected
):
    other = make_staff()
    response = client.open(url.format(id=other.id), method=method, data=data)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


@pytest.mark.parametrize("role", list(StaffRole))
def test_everyone_changes_their_own_password(client, make_staff, login, role):
    user = make_staff(role)
    login(user)
    assert client.get("/staff/account/password").status_code == 200
    assert client.post("/staff/account/password", data=OWN_PASSWORD).status_code == 303
    assert reload(user).check_password(NEW_PASSWORD)


def test_own_password_sends_anonymous_visitors_to_sign_in(client):
    for method in ("GET", "POST"):
        response = client.open("/staff/account/password", method=method, data=OWN_PASSWORD)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login")


@pytest.mark.parametrize(
    "url",
    [
        "/staff/accounts/999",
        "/staff/accounts/999/deactivate",
        "/staff/accounts/999/reactivate",
        "/staff/accounts/999/password",
        "/staff/accounts/999/role",
        "/staff/accounts/999/unlock",
    ],
)
def test_an_unknown_account_is_404(client, admin, login, url):
    login(admin)
    method = "GET" if url.endswith("999") else "POST"
    data = {"password": NEW_PASSWORD, "role": "admin"}
    assert client.open(url, method=method, data=data).status_code == 404


def test_the_menu_offers_accounts_and_settings_to_the_admin_only(client, make_staff, login, admin):
    login(admin)
    page = text(client.get("/staff/account/password"))
    assert 'href="/staff/accounts"' in page and 'href="/staff/settings"' in page
    client.post("/auth/logout")
    login(make_staff(StaffRole.CLINICIAN))
    page = text(client.get("/staff/account/password"))
    assert 'href="/staff/accounts"' not in page and 'href="/staff/settings"' not in page
    assert 'href="/staff/account/password"' in page


# --- The list and a new account ---------------------------------------------------------------


def test_the_list_shows_each_account(client, admin, clerk, login):
    login(admin)
    db.session.get(StaffUser, clerk.id).active = False
    db.session.commit()
    page = text(client.get("/staff/accounts", headers=EN))
    for shown in ["Test admin", "admin@clinic.test", "Test front_desk", "front_desk@clinic.test"]:
        assert shown in page
    assert "Front desk" in page and "Admin" in page
    assert "Deactivated" in page and "Never" in page  # the clerk never signed in
    assert page.index("Test admin") < page.index("Test front_desk")  # active ones first


def test_an_admin_adds_an_account_that_can_sign_in(client, admin, login):
    login(admin)
    response = client.post(
        "/staff/accounts",
        data={
            "name": "  Nia   Ortiz ",
            "email": "Nia@Clinic.Test",
            "role": "clinician",
            "password": "temporary phrase",
        },
    )
    assert response.status_code == 303
    nia = db.session.scalar(select(StaffUser).where(StaffUser.email == "nia@clinic.test"))
    assert response.headers["Location"] == f"/staff/accounts/{nia.id}"
    assert (nia.name, nia.role, nia.active) == ("Nia Ortiz", "clinician", True)
    assert nia.password_hash != "temporary phrase"
    page = text(client.get(response.headers["Location"], headers=EN))
    assert "Account created" in page and "Nia Ortiz" in page
    client.post("/auth/logout")
    again = client.post(
        "/auth/login", data={"email": "nia@clinic.test", "password": "temporary phrase"}
    )
    assert again.status_code == 303


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"password": "short"}, "password", "at least 12 characters"),
        ({"email": "not an address"}, "email", "Please check this email address."),
        ({"email": "ADMIN@clinic.test"}, "email", "already an account with this email"),
        ({"name": "   "}, "name", "Please fill this in."),
        ({"role": "boss"}, "role", "Not a valid choice"),
        ({"name": "n" * 101}, "name", "under 100 characters"),
    ],
)
def test_a_bad_new_account_is_refused_next_to_its_field(client, admin, login, data, field, message):
    login(admin)
    form = {
        "name": "Nia",
        "email": "nia@clinic.test",
        "role": "clinician",
        "password": NEW_PASSWORD,
    }
    response = client.post("/staff/accounts", data={**form, **data}, headers=EN)
    assert response.status_code == 422
    page = text(response)
    assert f'id="{field}-error"' in page
    assert message in page
    assert count_accounts() == 1


def test_the_email_is_unique_whatever_its_case_in_the_service_too(admin):
    with pytest.raises(accounts.EmailTaken):
        accounts.create_account(
            admin, email=" Admin@Clinic.TEST", name="Again", role="admin", password=NEW_PASSWORD
        )
    assert count_accounts() == 1


def test_only_an_admin_may_create_in_the_service(clerk):
    with pytest.raises(NotAllowed):
        accounts.create_account(
            clerk, email="x@clinic.test", name="X", role="admin", password=NEW_PASSWORD
        )
    assert count_accounts() == 1


# --- Deactivate, reactivate -------------------------------------------------------------------


def test_deactivate_and_reactivate(client, admin, clerk, login):
    login(admin)
    response = client.post(f"/staff/accounts/{clerk.id}/deactivate")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/accounts/{clerk.id}"
    assert reload(clerk).active is False
    page = text(client.get(response.headers["Location"], headers=EN))
    assert "deactivated and signed out everywhere" in page
    assert "Reactivate this account" in page

    assert client.post(f"/staff/accounts/{clerk.id}/reactivate").status_code == 303
    assert reload(clerk).active is True
    client.post("/auth/logout")
    assert (
        client.post("/auth/login", data={"email": clerk.email, "password": PASSWORD}).status_code
        == 303
    )


def test_an_admin_cannot_deactivate_themself(client, admin, login):
    login(admin)
    response = client.post(f"/staff/accounts/{admin.id}/deactivate", headers=EN)
    assert response.status_code == 422
    assert "cannot do this to your own account" in text(response)
    assert reload(admin).active is True
    assert client.get("/staff/accounts").status_code == 200  # still signed in


def test_an_admin_can_deactivate_another_admin(client, admin, make_staff, login):
    second = make_staff(StaffRole.ADMIN, email="second@clinic.test")
    login(admin)
    assert client.post(f"/staff/accounts/{second.id}/deactivate").status_code == 303
    assert reload(second).active is False


# --- Roles ------------------------------------------------------------------------------------


def test_a_new_role_applies_at_the_accounts_next_request(app, client, admin, clerk, login):
    # With two-step sign-in on: one without it is signed out when made admin instead
    # (tests/accounts/test_two_factor.py).
    clerk.totp_secret, clerk.totp_enabled_at = TOTP_SECRET, utcnow()
    db.session.commit()
    desk = app.test_client()
    sign_in(desk, clerk.email)
    assert desk.get("/staff/accounts").status_code == 403

    login(admin)
    response = client.post(f"/staff/accounts/{clerk.id}/role", data={"role": "admin"})
    assert response.status_code == 303
    assert reload(clerk).role == "admin"
    assert desk.get("/staff/accounts").status_code == 200  # without signing in again


def test_an_admin_cannot_demote_themself(client, admin, login):
    login(admin)
    response = client.post(
        f"/staff/accounts/{admin.id}/role", data={"role": "front_desk"}, headers=EN
    )
    assert response.status_code == 422
    assert "cannot do this to your own account" in text(response)
    assert reload(admin).role == "admin"


def test_a_bad_role_is_refused(client, admin, clerk, login):
    login(admin)
    response = client.post(f"/staff/accounts/{clerk.id}/role", data={"role": "boss"})
    assert response.status_code == 422
    assert 'id="role-error"' in text(response)
    assert reload(clerk).role == "front_desk"


def test_the_service_refuses_an_unknown_role(admin, clerk):
    with pytest.raises(accounts.UnknownRole):
        accounts.change_role(admin, clerk.id, "boss")


# --- Password resets --------------------------------------------------------------------------


def test_an_admin_resets_a_forgotten_password(client, admin, clerk, login):
    login(admin)
    response = client.post(f"/staff/accounts/{clerk.id}/password", data={"password": NEW_PASSWORD})
    assert response.status_code == 303
    assert "signed out everywhere" in text(client.get(response.headers["Location"], headers=EN))
    clerk = reload(clerk)
    assert clerk.check_password(NEW_PASSWORD) and not clerk.check_password(PASSWORD)


def test_a_short_reset_password_is_refused_and_nothing_changes(app, client, admin, clerk, login):
    desk = app.test_client()
    signed_in = desk.post("/auth/login", data={"email": clerk.email, "password": PASSWORD})
    assert signed_in.status_code == 303
    before = sessions(clerk)
    login(admin)
    response = client.post(
        f"/staff/accounts/{clerk.id}/password", data={"password": "short"}, headers=EN
    )
    assert response.status_code == 422
    assert 'id="password-error"' in text(response)
    assert "at least 12 characters" in text(response)
    clerk = reload(clerk)
    assert clerk.check_password(PASSWORD) and sessions(clerk) == before != []
    assert desk.get("/staff/").headers["Location"].startswith("/staff/day/")  # signed in


def test_an_admin_cannot_reset_their_own_password_without_the_current_one(client, admin, login):
    login(admin)
    response = client.post(
        f"/staff/accounts/{admin.id}/password", data={"password": NEW_PASSWORD}, headers=EN
    )
    assert response.status_code == 422
    assert reload(admin).check_password(PASSWORD)


def test_ones_own_account_page_offers_no_self_harm(client, admin, login):
    login(admin)
    page = text(client.get(f"/staff/accounts/{admin.id}", headers=EN))
    assert "Deactivate this account" not in page
    assert f"/staff/accounts/{admin.id}/role" not in page


# --- One's own password -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"current_password": "not my password"}, "current_password", "not your current password"),
        ({"new_password": "short", "confirm": "short"}, "new_password", "at least 12"),
        ({"confirm": "something else entirely"}, "confirm", "not the same"),
        ({"current_password": ""}, "current_password", "Please fill this in."),
    ],
)
def test_a_bad_own_password_change_is_refused(client, clerk, login, data, field, message):
    login(clerk)
    before = sessions(clerk)
    response = client.post("/staff/account/password", data={**OWN_PASSWORD, **data}, headers=EN)
    assert response.status_code == 422
    assert f'id="{field}-error"' in text(response)
    assert message in text(response)
    clerk = reload(clerk)
    assert clerk.check_password(PASSWORD) and sessions(clerk) == before != []


def test_after_changing_it_only_the_new_password_signs_in(client, clerk, login):
    login(clerk)
    response = client.post("/staff/account/password", data=OWN_PASSWORD)
    assert response.status_code == 303
    assert "Your password is changed" in text(client.get(response.headers["Location"], headers=EN))
    client.post("/auth/logout")
    assert login(clerk).status_code == 401
    assert login(clerk, NEW_PASSWORD).status_code == 303


# --- The last admin ---------------------------------------------------------------------------


def test_a_demoted_admin_cannot_act_on_a_stale_page(admin, make_staff):
    """An admin demoted a moment ago, whose request began before, is refused inside the
    transaction rather than by what their request loaded."""
    second = make_staff(StaffRole.ADMIN, email="second@clinic.test")
    # What the request had loaded before the demotion.
    stale = StaffUser(id=admin.id, role=StaffRole.ADMIN)
    accounts.change_role(second, admin.id, "front_desk")
    with pytest.raises(NotAllowed):
        accounts.change_role(stale, second.id, "front_desk")
    assert reload(second).role == "admin"


@pytest.mark.parametrize("move", ["demote", "deactivate"])
def test_two_admins_removing_each_other_at_once_leave_one(app, make_staff, monkeypatch, move):
    """Each reads the admins, waits, then writes: without the lock both would pass the check
    and the clinic would have no admin."""
    first = make_staff(StaffRole.ADMIN, email="first@clinic.test")
    second = make_staff(StaffRole.ADMIN, email="second@clinic.test")
    real = accounts._locked_admin_ids

    def slow_read():
        admins = real()
        time.sleep(0.4)  # the window in which the other transaction runs
        return admins

    monkeypatch.setattr(accounts, "_locked_admin_ids", slow_read)
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def act(actor_id: int, target_id: int) -> None:
        with app.app_context():
            actor = db.session.get(StaffUser, actor_id)
            db.session.rollback()
            barrier.wait()
            try:
                if move == "demote":
                    accounts.change_role(actor, target_id, "front_desk")
                else:
                    accounts.set_active(actor, target_id, False)
                outcomes[actor_id] = "done"
            except (accounts.LastAdmin, NotAllowed) as error:
                outcomes[actor_id] = type(error).__name__
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=act, args=(first.id, second.id)),
        threading.Thread(target=act, args=(second.id, first.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["NotAllowed", "done"], outcomes
    db.session.rollback()
    admins = db.session.scalars(
        select(StaffUser).where(StaffUser.role == "admin", StaffUser.active.is_(True))
    ).all()
    assert len(admins) == 1


def test_the_command_line_cannot_demote_the_last_admin(runner, admin):
    result = runner.invoke(
        args=[
            "create-staff",
            admin.email,
            "--name",
            "A",
            "--role",
            "front_desk",
            "--password",
            NEW_PASSWORD,
        ]
    )
    assert result.exit_code != 0
    assert "last active admin" in result.output
    admin = reload(admin)
    assert admin.role == "admin" and admin.check_password(PASSWORD)


def test_the_service_never_removes_the_last_admin_even_without_an_actor(admin):
    with pytest.raises(accounts.LastAdmin):
        accounts.create_or_reset_from_cli(
            email=admin.email, name="A", role="clinician", password=NEW_PASSWORD
        )


def test_the_command_line_reset_signs_the_account_out(app, client, runner, clerk, login):
    login(clerk)
    result = runner.invoke(
        args=[
            "create-staff",
            clerk.email.upper(),
            "--name",
            "Frankie",
            "--role",
            "front_desk",
            "--password",
            NEW_PASSWORD,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "signed out everywhere" in result.output
    assert client.get("/staff/").status_code == 302
    assert count_accounts() == 1
    assert reload(clerk).name == "Frankie"


def test_the_command_line_brings_back_a_deactivated_account(runner, clerk):
    db.session.get(StaffUser, clerk.id).active = False
    db.session.commit()
    args = ["create-staff", clerk.email, "--name", "F", "--role", "front_desk"]
    result = runner.invoke(args=[*args, "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert reload(clerk).active is True


def test_the_command_line_refuses_a_bad_email(runner):
    args = ["create-staff", "not-an-email", "--name", "X", "--role", "admin"]
    result = runner.invoke(args=[*args, "--password", NEW_PASSWORD])
    assert result.exit_code != 0 and "not an email address" in result.output
    assert count_accounts() == 0


# --- Settings ---------------------------------------------------------------------------------


def test_settings_show_the_configuration_and_where_it_comes_from(app, client, admin, login):
    app.config["RATELIMIT_STORAGE_URI"] = "redis://:s3cret-pass@cache.internal:6379/0"
    app.config["SEATS_PER_SLOT"] = 3
    app.config["BOOKING_LIMIT_PER_ADDRESS"] = "5 per hour;10 per day"
    login(admin)
    response = client.get("/staff/settings", headers=EN)
    assert response.status_code == 200
    page = text(response)
    for variable in [
        "CLINIC_NAME",
        "CLINIC_ADDRESS",
        "CLINIC_PHONE",
        "CLINIC_TZ",
        "CLINIC_DAY_START",
        "CLINIC_DAY_END",
        "SLOT_MINUTES",
        "SEATS_PER_SLOT",
        "STATIONS",
        "BOOKING_HORIZON_DAYS",
        "BOOKING_CUTOFF_HOURS",
        "MIN_AGE",
        "MAX_AGE",
        "GUARDIAN_AGE",
        "NO_SHOW_GRACE_MINUTES",
        "FOLLOW_UP_MIN_WEEKS",
        "STAFF_IDLE_MINUTES",
        "STAFF_SESSION_HOURS",
        "LOGIN_FAILURES_PER_ACCOUNT_ADDRESS",
        "LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT",
        "LOGIN_FAILURES_PER_DEVICE",
        "DEVICE_COOKIE_DAYS",
        "MESSAGES_PER_DESTINATION",
        "BOOKING_LIMIT_PER_ADDRESS",
        "BOOKING_LIMIT_PER_CONTACT",
        "AVAILABILITY_LIMIT_PER_ADDRESS",
        "STAFF_RECORD_READS_PER_ACCOUNT",
        "RATELIMIT_STORAGE_URI",
        "DATABASE_URL",
    ]:
        assert f"<code>{variable}</code>" in page
    assert "America/Los_Angeles" in page
    assert "4:00\u202fPM" in page or "4:00 PM" in page
    assert "20 minutes" in page and "60 days" in page and "30 minutes" in page
    assert "12 hours" in page and "180 days" in page
    assert "5 in 15 minutes" in page
    assert "5 in 1 minute, 10 in 5 minutes, 20 in 15 minutes, 50 in 1 day" in page
    assert "10 in 15 minutes, 50 in 1 day" in page
    assert "5 in 1 hour, 10 in 1 day" in page  # online booking requests from one address
    assert "<td>3</td>" in page  # what the server runs with, not the default
    assert "Laser 1, Laser 2" in page
    assert "<td>redis</td>" in page
    assert "s3cret" not in page and "cache.internal" not in page
    assert "whoever runs the server" in page
    assert "<form" not in page.split("<main", 1)[1].split("</main>")[0]  # read-only


def test_settings_are_translated(client, admin, login):
    login(admin)
    page = text(client.get("/staff/settings", headers={"Accept-Language": "es"}))
    assert '<html lang="es">' in page
    assert "4:00\u202fp.m." in page  # the clinic's hours as US Spanish writes them (es_US)


# --- Password hashing: cheap in tests only -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "strong"),
    [
        ("scrypt", True),
        ("scrypt:32768:8:1", True),
        ("scrypt:1024:8:1", False),
        ("pbkdf2", True),
        ("pbkdf2:sha256", True),
        ("pbkdf2:sha256:600000", True),
        ("pbkdf2:sha256:1", False),
        ("pbkdf2:sha256:many", False),
        ("plain", False),
    ],
)
def test_only_a_costly_hash_method_counts_as_strong(method, strong):
    assert accounts.strong_hash_method(method) is strong


def test_production_and_development_hash_passwords_with_scrypt(monkeypatch):
    from clinic import create_app
    from config import DevelopmentConfig, ProductionConfig, TestingConfig

    for config in (ProductionConfig, DevelopmentConfig):
        assert config.PASSWORD_HASH_METHOD == "scrypt"
    monkeypatch.setenv("CLINIC_ENV", "production")
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "a production key")
    monkeypatch.setattr(ProductionConfig, "DATA_KEYS", TestingConfig.DATA_KEYS)
    monkeypatch.setattr(ProductionConfig, "BLIND_INDEX_KEY", TestingConfig.BLIND_INDEX_KEY)
    monkeypatch.setattr(ProductionConfig, "SQLALCHEMY_DATABASE_URI", "sqlite://")
    monkeypatch.setattr(ProductionConfig, "RATELIMIT_SINGLE_PROCESS", True)  # not the point here
    with create_app().app_context():
        user = StaffUser(email="x@clinic.test", name="X", role=StaffRole.ADMIN)
        user.set_password(NEW_PASSWORD)
        assert user.password_hash.startswith("scrypt:")
        assert user.check_password(NEW_PASSWORD)


def test_tests_hash_cheaply(app):
    user = StaffUser(email="x@clinic.test", name="X", role=StaffRole.ADMIN)
    user.set_password(NEW_PASSWORD)
    assert user.password_hash.startswith("pbkdf2:sha256:1$")


def test_a_weak_hash_method_stops_the_app_outside_tests(monkeypatch):
    from clinic import create_app
    from config import DevelopmentConfig

    monkeypatch.setenv("CLINIC_ENV", "development")
    monkeypatch.setattr(DevelopmentConfig, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:1")
    with pytest.raises(RuntimeError, match="PASSWORD_HASH_METHOD"):
        create_app()


def test_control_characters_never_reach_an_account(client, admin, login):
    """Regression: a NUL in a new account's name or e-mail reached PostgreSQL, which refuses
    it in text (a 500). Text answers drop control characters, as the intake does."""
    login(admin)
    response = client.post(
        "/staff/accounts",
        data={
            "name": "Ni\x00a",
            "email": "nia\x00@clinic.test",
            "role": "clinician",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == "nia@clinic.test"))
    assert user.name == "Nia"


@pytest.mark.parametrize("password", ["long enough\x00phrase", "long enough phrase\x07"])
def test_a_password_with_control_characters_is_refused(client, admin, clerk, login, password):
    """A password is kept exactly as typed, so a control character in it is refused, not
    dropped: the sign-in form would otherwise never match what the person types."""
    login(admin)
    response = client.post(
        f"/staff/accounts/{clerk.id}/password", data={"password": password}, headers=EN
    )
    assert response.status_code == 422
    assert "Please remove the invisible characters from this." in text(response)
    assert reload(clerk).check_password(PASSWORD)
