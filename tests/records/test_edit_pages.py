"""The edit page and the record's "use the new details" button, through the test client: who
may open them, a save, bad input kept and explained, a record changed meanwhile, the history
and the no-shows on the record, and the record's statement budget."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from clinic import records
from clinic.extensions import db
from clinic.models import StaffRole, Youth, YouthChange
from tests.conftest import PASSWORD
from tests.conftest import sign_in as form_sign_in
from tests.records.test_youth_records import (
    GUARDIAN_PHONE,
    PHONE,
    PHONE_SHOWN,
    _Staff,
    add_visit,
    add_youth,
    fill_history,
)
from tests.support.querycount import count_statements

EN = {"Accept-Language": "en"}
NEW_PHONE = "+14155550142"


@pytest.fixture
def users(make_staff):
    return _Staff(make_staff)


@pytest.fixture
def as_role(app, users):
    def sign_in(role: StaffRole):
        client = app.test_client()
        assert form_sign_in(client, users[role].email, PASSWORD).status_code == 303
        return client

    return sign_in


def page(response) -> str:
    return response.get_data(as_text=True)


def drawn(youth_id: int) -> str:
    return records.YouthDetails.of(db.session.get(Youth, youth_id)).fingerprint()


def form_data(youth_id: int, **overrides) -> dict:
    """The edit form as the record holds it, with ``overrides``."""
    details = records.YouthDetails.of(db.session.get(Youth, youth_id))
    data = {name: getattr(details, name) or "" for name in records.EDITABLE_FIELDS}
    data["contact_by"] = details.contact_by or "sms"
    data["drawn"] = details.fingerprint()
    data.update(overrides)
    return data


def count_changes() -> int:
    return db.session.scalar(select(func.count()).select_from(YouthChange))


@pytest.mark.parametrize("role", list(StaffRole))
def test_the_edit_page_is_for_the_front_desk_and_admins(as_role, role):
    youth_id = add_youth()
    client = as_role(role)
    allowed = role in (StaffRole.FRONT_DESK, StaffRole.ADMIN)
    response = client.get(f"/staff/youth/{youth_id}/edit", headers=EN)
    assert response.status_code == (200 if allowed else 403)
    assert response.headers["Cache-Control"] == "no-store"
    post = client.post(f"/staff/youth/{youth_id}/edit", data=form_data(youth_id), headers=EN)
    assert post.status_code == (303 if allowed else 403)
    button = client.post(
        f"/staff/youth/{youth_id}/use-new-details",
        data={"intake_id": "1", "drawn": drawn(youth_id)},
        headers=EN,
    )
    assert button.status_code == (303 if allowed else 403)
    record = page(client.get(f"/staff/youth/{youth_id}", headers=EN))
    assert ("Edit details" in record) is allowed


def test_the_edit_form_opens_filled_in(as_role):
    youth_id = add_youth(preferred="Annie", email="ana@example.org")
    body = page(as_role(StaffRole.FRONT_DESK).get(f"/staff/youth/{youth_id}/edit", headers=EN))
    assert 'value="Annie"' in body and 'value="ana@example.org"' in body
    assert f'value="{PHONE}"' in body
    assert re.search(r'checked[^>]*value="email"', body)  # no channel chosen: e-mail, given


def test_the_front_desk_changes_a_phone_and_the_record_keeps_the_old_one(as_role):
    youth_id = add_youth()
    client = as_role(StaffRole.FRONT_DESK)
    response = client.post(
        f"/staff/youth/{youth_id}/edit",
        data=form_data(youth_id, phone="(415) 555-0142"),
        headers=EN,
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/youth/{youth_id}"
    assert db.session.get(Youth, youth_id).phone == NEW_PHONE  # normalised as the intake does
    body = page(client.get(f"/staff/youth/{youth_id}", headers=EN))
    assert "Details saved: Phone." in body
    assert "(415) 555-0142" in body
    assert "Changes to the details" in body and PHONE_SHOWN in body  # the old value, shown
    clinician = page(as_role(StaffRole.CLINICIAN).get(f"/staff/youth/{youth_id}", headers=EN))
    assert "Changes to the details" in clinician and "Test front_desk" in clinician
    assert "555-0199" not in clinician and "555-0142" not in clinician


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"phone": "12345"}, "Please enter a 10-digit US phone number"),
        ({"email": "not-an-address"}, "Please check this email address."),
        ({"phone": "", "email": ""}, "Please give a phone number or an email"),
        ({"contact_by": "email", "email": ""}, "Please give their email, or choose text"),
        ({"guardian_name": "Rosa Reyes"}, "Please fill this in."),
        ({"preferred_name": "x" * 61}, "Please keep this under 60 characters."),
        ({"preferred_name": "1234"}, "Please write your name with letters."),
        ({"language": "fr"}, "Not a valid choice"),
        ({"drawn": "nope"}, "Please reload the page."),
    ],
)
def test_bad_input_is_explained_with_every_value_kept(as_role, overrides, message):
    youth_id = add_youth()
    data = form_data(youth_id, **{"preferred_name": "Nena", **overrides})
    response = as_role(StaffRole.FRONT_DESK).post(
        f"/staff/youth/{youth_id}/edit", data=data, headers=EN
    )
    assert response.status_code == 422
    body = page(response)
    assert message in body and "There is a problem" in body
    kept = overrides.get("preferred_name", "Nena")
    assert f'value="{kept}"' in body
    assert count_changes() == 0


def test_a_minors_guardian_cannot_be_removed(as_role):
    youth_id = add_youth(
        "Luis", "Reyes", date(2010, 1, 10), guardian=("Marta", "parent", GUARDIAN_PHONE)
    )
    data = form_data(youth_id, guardian_name="", guardian_relationship="", guardian_phone="")
    response = as_role(StaffRole.ADMIN).post(f"/staff/youth/{youth_id}/edit", data=data, headers=EN)
    assert response.status_code == 422
    assert "can be replaced, not removed" in page(response)
    assert count_changes() == 0


def test_a_record_changed_meanwhile_shows_its_details_and_keeps_what_was_typed(as_role):
    youth_id = add_youth()
    client = as_role(StaffRole.FRONT_DESK)
    stale = form_data(youth_id, phone=NEW_PHONE)
    other = client.post(
        f"/staff/youth/{youth_id}/edit",
        data=form_data(youth_id, email="first@example.org"),
        headers=EN,
    )
    assert other.status_code == 303
    response = client.post(f"/staff/youth/{youth_id}/edit", data=stale, headers=EN)
    assert response.status_code == 422
    body = page(response)
    assert "Someone changed this record while you were editing it" in body
    assert "first@example.org" in body  # the record's details now
    assert f'value="{NEW_PHONE}"' in body  # what was typed
    assert db.session.get(Youth, youth_id).phone == PHONE
    # Saving again, from the form as shown, takes the typed values.
    fresh = re.search(r'name="drawn" type="hidden" value="([0-9a-f]+)"', body)
    assert fresh is not None
    again = client.post(
        f"/staff/youth/{youth_id}/edit", data={**stale, "drawn": fresh.group(1)}, headers=EN
    )
    assert again.status_code == 303
    assert db.session.get(Youth, youth_id).phone == NEW_PHONE


def test_unknown_merged_and_erased_records(as_role):
    client = as_role(StaffRole.ADMIN)
    assert client.get("/staff/youth/999/edit").status_code == 404
    kept = add_youth()
    merged = add_youth("Anna", "Flores", date(2007, 5, 1), merged_into=kept)
    response = client.get(f"/staff/youth/{merged}/edit")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/youth/{kept}/edit"
    assert client.post("/staff/youth/999/edit", data=form_data(kept)).status_code == 404


def test_use_the_new_details_in_one_tap(as_role):
    youth_id = add_youth()
    add_visit(
        youth_id,
        date(2026, 12, 22),
        status="booked",
        intake={
            "phone": NEW_PHONE,
            "guardian_name": "Rosa Reyes",
            "guardian_relationship": "legal_guardian",
            "guardian_phone": GUARDIAN_PHONE,
        },
    )
    client = as_role(StaffRole.FRONT_DESK)
    body = page(client.get(f"/staff/youth/{youth_id}", headers=EN))
    assert "Given on the latest booking" in body and "Use the new details" in body
    form = re.search(r'action="/staff/youth/\d+/use-new-details">(.*?)</form>', body, re.S)
    fields = dict(re.findall(r'name="(intake_id|drawn)" value="([^"]+)"', form.group(1)))
    response = client.post(f"/staff/youth/{youth_id}/use-new-details", data=fields, headers=EN)
    assert response.status_code == 303
    youth = db.session.get(Youth, youth_id)
    assert (youth.phone, youth.guardian_name) == (NEW_PHONE, "Rosa Reyes")
    after = page(client.get(f"/staff/youth/{youth_id}", headers=EN))
    assert "Details saved: Phone, Guardian&#39;s name" in after
    assert "Given on the latest booking" not in after
    # The same tap again (a second tab): the record moved on; nothing more is written.
    changes = count_changes()
    again = client.post(f"/staff/youth/{youth_id}/use-new-details", data=fields, headers=EN)
    assert again.status_code == 303
    assert "changed meanwhile" in page(client.get(f"/staff/youth/{youth_id}", headers=EN))
    assert count_changes() == changes


def test_a_broken_use_new_details_post_is_explained_not_a_crash(as_role):
    youth_id = add_youth()
    client = as_role(StaffRole.FRONT_DESK)
    for data in ({}, {"intake_id": "x", "drawn": "y"}, {"intake_id": "9" * 30}):
        response = client.post(f"/staff/youth/{youth_id}/use-new-details", data=data)
        assert response.status_code == 303
    assert (
        client.post(
            "/staff/youth/999/use-new-details", data={"intake_id": "1", "drawn": "0" * 32}
        ).status_code
        == 404
    )


def test_the_record_shows_the_recent_no_shows(as_role):
    youth_id = add_youth()
    add_visit(youth_id, date(2026, 9, 22), status="no_show")
    add_visit(youth_id, date(2026, 10, 27), status="no_show")
    add_visit(youth_id, date(2024, 10, 22), status="no_show")  # too old to count
    body = page(as_role(StaffRole.CLINICIAN).get(f"/staff/youth/{youth_id}", headers=EN))
    assert "2 no-shows in the last 365 days:" in body
    assert "October 27, 2026" in body and "September 22, 2026" in body
    none = add_youth("Bea", "Martinez", date(2001, 1, 1), phone=None, email="b@example.org")
    body = page(as_role(StaffRole.FRONT_DESK).get(f"/staff/youth/{none}", headers=EN))
    assert "None in the last 365 days." in body


def test_spanish_pages_render(as_role):
    youth_id = add_youth()
    client = as_role(StaffRole.FRONT_DESK)
    assert (
        client.get(f"/staff/youth/{youth_id}/edit", headers={"Accept-Language": "es"}).status_code
        == 200
    )


@pytest.mark.parametrize("role", [StaffRole.CLINICIAN, StaffRole.FRONT_DESK])
def test_the_record_with_many_edits_runs_the_same_statements(as_role, users, role):
    client = as_role(role)
    clinician = users[StaffRole.CLINICIAN].id
    short = add_youth("Short", "History", date(2005, 1, 1))
    fill_history(short, clinician, 1)
    long = add_youth("Long", "History", date(2005, 2, 2))
    fill_history(long, clinician, 10)
    desk = as_role(StaffRole.FRONT_DESK)
    for n in range(10):
        data = form_data(long, phone=f"+1415555{n:04d}", preferred_name=f"Name{'a' * n}")
        assert desk.post(f"/staff/youth/{long}/edit", data=data).status_code == 303
    with count_statements() as one:
        assert client.get(f"/staff/youth/{short}").status_code == 200
    with count_statements() as many:
        body = page(client.get(f"/staff/youth/{long}"))
    assert body.count("Test front_desk") >= 20
    # The record's budget as before (test_youth_records): the history rides on the youth's own
    # statement.
    assert len(one) == len(many) <= 9
