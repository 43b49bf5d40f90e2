"""A staff member who chose Spanish keeps it through sign-in, the second step and sign-out:
each empties the session (nothing else survives), but the language is a preference of the
person at the screen, not part of anyone's sign-in."""

from __future__ import annotations

from clinic.models import StaffRole
from tests.conftest import sign_in


def choose(client, language: str, page: str = "/auth/login") -> None:
    response = client.post("/language", data={"lang": language, "next": page})
    assert response.status_code == 303


def html_lang(client, url: str) -> str:
    page = client.get(url, follow_redirects=True).get_data(as_text=True)
    return page.split('<html lang="', 1)[1].split('"', 1)[0]


def test_spanish_chosen_before_sign_in_stays_after_it(client, make_staff):
    user = make_staff(StaffRole.FRONT_DESK)
    choose(client, "es")
    assert sign_in(client, user.email).status_code == 303
    assert html_lang(client, "/staff/") == "es"


def test_spanish_chosen_while_signed_in_stays_through_sign_out_and_the_next_sign_in(
    client, make_staff
):
    user = make_staff(StaffRole.FRONT_DESK)
    sign_in(client, user.email)
    assert html_lang(client, "/staff/") == "en"
    choose(client, "es", "/staff/")
    client.post("/auth/logout")
    assert html_lang(client, "/auth/login") == "es"
    sign_in(client, user.email)
    assert html_lang(client, "/staff/") == "es"


def test_the_language_survives_the_second_step_and_nothing_else_does(client, make_staff):
    admin = make_staff(StaffRole.ADMIN)  # two-step sign-in
    choose(client, "es")
    with client.session_transaction() as session:
        session["left_over"] = "from before sign-in"
    assert sign_in(client, admin.email).status_code == 303
    with client.session_transaction() as session:
        assert session["lang"] == "es"
        assert "left_over" not in session and "two_factor_pending" not in session
    assert html_lang(client, "/staff/") == "es"


def test_a_language_not_offered_is_not_carried(client, make_staff, app):
    user = make_staff(StaffRole.FRONT_DESK)
    with client.session_transaction() as session:
        session["lang"] = "xx"
    sign_in(client, user.email)
    with client.session_transaction() as session:
        assert "lang" not in session
