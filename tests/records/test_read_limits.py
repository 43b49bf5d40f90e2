"""Staff record reads are limited per account: a stolen session, or a curious colleague, cannot
copy the records out page by page. Searches and records share one count; another account is
not affected; a limited reader gets the translated 429 page with Retry-After."""

from __future__ import annotations

from datetime import date

from clinic.extensions import db
from clinic.models import StaffRole, Youth
from tests.conftest import sign_in as form_sign_in

EN = {"Accept-Language": "en"}


def add_youth(n: int) -> int:
    birth = date(2007, 5, 1)
    youth = Youth(
        identity_key=Youth.make_identity_key(f"Reader{n}", "Limit", birth),
        first_name=f"Reader{n}",
        last_name="Limit",
        search_name=Youth.make_search_name(f"Reader{n}", "Limit", None),
        date_of_birth=birth,
        language="en",
    )
    db.session.add(youth)
    db.session.commit()
    return youth.id


def test_record_pages_and_searches_share_one_count_per_account(app, make_staff, login, client):
    app.config["STAFF_RECORD_READS_PER_ACCOUNT"] = "4 per minute"
    ids = [add_youth(n) for n in range(6)]
    desk = make_staff(StaffRole.FRONT_DESK)
    login(desk)
    statuses = [client.get(f"/staff/youth/{ids[n]}", headers=EN).status_code for n in range(3)]
    statuses.append(client.post("/staff/youth", data={"q": "reader"}, headers=EN).status_code)
    assert statuses == [200] * 4
    limited = client.get(f"/staff/youth/{ids[5]}", headers=EN)
    assert limited.status_code == 429
    assert "Too many tries" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) == 60
    # The empty search box is not a read; another account has its own count.
    assert client.get("/staff/youth", headers=EN).status_code == 200
    other = app.test_client()
    admin = make_staff(StaffRole.ADMIN)
    form_sign_in(other, admin.email, "correct horse battery")
    assert other.get(f"/staff/youth/{ids[5]}", headers=EN).status_code == 200
