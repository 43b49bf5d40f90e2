"""The staff password policy (ASVS 2.1): at least 12 characters, not one of the most common
passwords, and not quick to guess for zxcvbn given the clinic's own words and the member's
name and e-mail; refusals say why, in the visitor's language, wherever a password is set."""

from __future__ import annotations

import pytest

from clinic import accounts
from clinic.models import StaffRole
from tests.conftest import PASSWORD

OWN = accounts.own_words("ana.flores@clinic.test", "Ana Flores", "Mission Youth Clinic")


@pytest.mark.parametrize(
    ("password", "refusal"),
    [
        ("password12", accounts.PasswordTooShort),
        ("aaaaaaaaaa", accounts.PasswordTooShort),
        ("elevenchars", accounts.PasswordTooShort),
        ("aaaaaaaaaaaa", accounts.GuessablePassword),
        ("password1234", accounts.CommonPassword),
        ("Password1234", accounts.CommonPassword),
        ("qwertyuiop12", accounts.CommonPassword),
        ("123456789012", accounts.GuessablePassword),
        ("tattooremoval", accounts.GuessablePassword),
        ("missionclinic", accounts.GuessablePassword),
        ("anaflores2026", accounts.GuessablePassword),
        ("x" * (accounts.MAX_PASSWORD_LENGTH + 1), accounts.PasswordTooShort),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, refusal):
    with pytest.raises(refusal):
        accounts.check_password(password, OWN)


@pytest.mark.parametrize(
    "password", [PASSWORD, "a fresh long phrase", "violet kettle under rain", "Tr0ub4dor&3-xk"]
)
def test_strong_passwords_pass(password):
    accounts.check_password(password, OWN)


def test_the_clinics_name_and_the_members_words_count():
    words = accounts.own_words("r.alvarez@clinic.test", "Rosa Alvarez", "Bayview Hope Clinic")
    assert {"clinic", "laser", "tattoo", "removal", "mission", "bayview", "rosa", "alvarez"} <= set(
        words
    )
    accounts.check_password("bayviewhope2", ())  # alone, not obviously weak...
    with pytest.raises(accounts.GuessablePassword):
        accounts.check_password("bayviewhope2", words)  # ...but made of the clinic's name


def test_an_admin_cannot_create_an_account_with_a_weak_password(client, make_staff, login):
    login(make_staff(StaffRole.ADMIN))
    for password, why in [
        ("password12", "at least 12 characters"),
        ("aaaaaaaaaaaa", "quick to guess"),
        ("password1234", "most common passwords"),
    ]:
        response = client.post(
            "/staff/accounts",
            data={
                "name": "Nia",
                "email": "nia@clinic.test",
                "role": "front_desk",
                "password": password,
            },
            headers={"Accept-Language": "en"},
        )
        assert response.status_code == 422
        assert why in response.get_data(as_text=True)


def test_the_refusal_is_translated(client, make_staff, login):
    login(make_staff(StaffRole.ADMIN))
    response = client.post(
        "/staff/accounts",
        data={
            "name": "Nia",
            "email": "nia@clinic.test",
            "role": "front_desk",
            "password": "aaaaaaaaaaaa",
        },
        headers={"Accept-Language": "es"},
    )
    assert response.status_code == 422
    assert "adivinar" in response.get_data(as_text=True)


def test_a_member_cannot_change_to_a_weak_password(client, make_staff, login):
    desk = make_staff(StaffRole.FRONT_DESK, email="dana.ruiz@clinic.test")
    login(desk)
    response = client.post(
        "/staff/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "danaruiz2026",
            "confirm": "danaruiz2026",
        },
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "quick to guess" in response.get_data(as_text=True)


def test_the_command_line_refuses_a_common_password(runner):
    result = runner.invoke(
        args=[
            "create-staff",
            "a@clinic.test",
            "--name",
            "A",
            "--role",
            "admin",
            "--password",
            "password1234",
        ]
    )
    assert result.exit_code != 0
    assert "most common" in result.output
