"""Encryption at rest, proven the way a thief would look: a youth books through the real form
with distinctive values, a clinician records a treatment, and then the raw database file (its
write-ahead log too) and a backup are searched byte by byte. None of the values may be there in
clear, and staff search and the lost-link look-up still find the youth."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from clinic.commands.backup import MAGIC
from clinic.extensions import db
from clinic.models import (
    Appointment,
    Intake,
    OutboxMessage,
    StaffRole,
    StaffUser,
    Treatment,
    Youth,
)
from tests.conftest import LA, NEXT_DAY, intake_data, intake_url
from tests.support import databases

EN = {"Accept-Language": "en"}
PHONE_TYPED = "(415) 555-0199"
BORN = "2010-03-07"  # a minor: the guardian is asked for
SENTINELS = {
    "phone": "4155550199",
    "email": "zebrafinch.sentinel@example.org",
    "guardian name": "Quillonia Sentinelle",
    "guardian phone": "4155550177",
    "tattoo notes": "SENTINEL-TATTOO-NOTE-xyzzy",
    "treatment notes": "SENTINEL-TREATMENT-NOTE-plugh",
    "laser settings": "SENTINEL-SETTINGS-1064nm",
    # Codes, not free text, but nothing else in the database says them.
    "screening": "herpes",
    "screening 2": "chemotherapy",
    "referral": "case_manager",
    "relationship": "foster",
}


def book_with_sentinels(client) -> int:
    data = intake_data(
        first_name="Xiomara",
        last_name="Sentinel",
        date_of_birth=BORN,
        phone=PHONE_TYPED,
        email="ZebraFinch.Sentinel@Example.org",
        guardian_name=SENTINELS["guardian name"],
        guardian_relationship="foster",
        guardian_phone="(415) 555-0177",
        tattoo_notes=SENTINELS["tattoo notes"],
        screening=["herpes", "chemotherapy"],
        referral_source="case_manager",
        language="en",
    )
    response = client.post(intake_url(), data=data, headers=EN)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return db.session.scalars(select(Appointment.id)).one()


def treat_through_the_pages(client, appointment_id, make_staff, login, clock) -> None:
    clock.set(datetime.combine(NEXT_DAY, time(16, 5), LA))
    day = NEXT_DAY.isoformat()
    login(make_staff(StaffRole.FRONT_DESK))
    response = client.post(
        f"/staff/appointments/{appointment_id}/check-in",
        data={"day": day, "consent": "confirmed"},
    )
    assert response.status_code in (302, 303)
    client.post("/auth/logout")
    login(make_staff(StaffRole.CLINICIAN))
    response = client.post(
        f"/staff/appointments/{appointment_id}/call", data={"day": day, "station": "Laser 1"}
    )
    assert response.status_code in (302, 303)
    response = client.post(
        f"/staff/appointments/{appointment_id}/complete",
        data={
            "session_number": "1",
            "areas": ["hands"],
            "skin_type": "IV",
            "settings": SENTINELS["laser settings"],
            "notes": SENTINELS["treatment notes"],
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    client.post("/auth/logout")


def clear_values_in(raw: bytes) -> list[str]:
    lowered = raw.lower()
    return [name for name, value in SENTINELS.items() if value.lower().encode() in lowered]


@pytest.fixture
def booked_and_treated(app, client, make_staff, login, clock):
    appointment_id = book_with_sentinels(client)
    treat_through_the_pages(client, appointment_id, make_staff, login, clock)
    db.session.rollback()
    treatment = db.session.scalars(select(Treatment)).one()
    # The app reads everything back in clear.
    assert treatment.notes == SENTINELS["treatment notes"]
    intake = db.session.scalars(select(Intake)).one()
    assert intake.screening == ["herpes", "chemotherapy"]
    assert intake.email == "ZebraFinch.Sentinel@Example.org"
    return appointment_id


def test_a_stolen_database_file_shows_none_of_it(app, booked_and_treated, runner, tmp_path):
    if databases.on_postgres():
        pytest.skip("the SQLite file; PostgreSQL's columns are checked below")
    path = Path(db.engine.url.database)
    db.session.remove()
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the recent writes are in the log
    assert clear_values_in(wal.read_bytes()) == []
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = path.read_bytes()
    assert b"Xiomara" in raw  # names stay in clear (staff search them): the grep does work
    assert clear_values_in(raw) == []
    # And the file is the owner's alone, its log too.
    for file in (path, wal, path.with_name(path.name + "-shm")):
        if file.exists():
            assert file.stat().st_mode & 0o777 == 0o600, file


def test_a_stolen_backup_shows_none_of_it(app, booked_and_treated, runner, tmp_path):
    backup = tmp_path / "clinic.backup"
    db.session.remove()  # the command closes the pool: no connection of ours left in it
    made = runner.invoke(args=["backup", str(backup)])
    assert made.exit_code == 0, made.output
    raw = backup.read_bytes()
    assert raw.startswith(MAGIC)
    assert b"Xiomara" not in raw  # not even the names: the whole file is encrypted
    assert b"SQLite format" not in raw and b"PGDMP" not in raw
    assert clear_values_in(raw) == []
    assert backup.stat().st_mode & 0o777 == 0o600


def test_the_columns_hold_ciphertext_on_either_database(app, booked_and_treated):
    """Plain SQL, as a reader of the database (or of a PostgreSQL dump) sees the columns."""
    columns = {
        "youth": ["phone", "email", "guardian_name", "guardian_relationship", "guardian_phone"],
        "intake": [
            "phone",
            "email",
            "guardian_name",
            "guardian_relationship",
            "guardian_phone",
            "tattoo_notes",
            "screening",
            "referral_source",
        ],
        "treatment": ["notes", "settings"],
        "outbox_message": ["recipient"],
    }
    checked = 0
    for table, names in columns.items():
        for row in db.session.execute(text(f"SELECT {', '.join(names)} FROM {table}")):
            for name, value in zip(names, row, strict=True):
                if value is None:
                    continue
                assert str(value).startswith("gAAAAA"), (table, name)
                assert clear_values_in(str(value).encode()) == [], (table, name)
                checked += 1
    assert checked >= 15
    # The indexes are keyed hashes, not the numbers.
    index = db.session.execute(text("SELECT phone_index, email_index FROM youth")).one()
    assert all(len(value) == 64 for value in index)
    assert clear_values_in(" ".join(index).encode()) == []


def test_search_still_finds_the_youth(app, booked_and_treated, login, client):
    login(db.session.scalars(select(StaffUser).where(StaffUser.role == StaffRole.FRONT_DESK)).one())
    for query in (PHONE_TYPED, "415-555-0199", "+1 415 555 0199", "sentinel xiomara", BORN):
        page = client.post("/staff/youth", data={"q": query}, headers=EN).get_data(True)
        assert "Xiomara" in page, query
    page = client.post("/staff/youth", data={"q": "(415) 555-0198"}, headers=EN).get_data(True)
    assert "Xiomara" not in page


def test_the_lost_link_look_up_still_finds_the_booking(app, booked_and_treated, clock):
    def ask(contact: str) -> None:
        response = app.test_client().post(
            "/my/lost", data={"contact": contact, "date_of_birth": BORN}, headers=EN
        )
        assert response.status_code == 303

    def sent() -> int:
        db.session.rollback()
        return len(
            db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "link_again"))
            .unique()
            .all()
        )

    ask("415 555 0199")
    assert sent() == 1
    # One link a day per visit: forget it, so the e-mail's look-up can queue it again.
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.kind == "link_again"))
    db.session.commit()
    ask("ZEBRAFINCH.sentinel@example.org")
    assert sent() == 1
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.kind == "link_again"))
    db.session.commit()
    ask("nobody@example.org")
    ask("415 555 0198")
    assert sent() == 0


def test_the_phone_and_email_indexes_follow_every_change(app, booked_and_treated):
    """However the value is written: on the object, by an UPDATE statement, by rows."""
    from clinic.crypto import blind_index

    def indexes() -> tuple[str | None, str | None]:
        db.session.rollback()
        return db.session.execute(select(Youth.phone_index, Youth.email_index)).one()

    youth = db.session.scalars(select(Youth)).one()
    youth.phone = "+14155550100"
    youth.email = None
    db.session.commit()
    assert indexes() == (blind_index("phone", "(415) 555-0100"), None)

    db.session.execute(update(Youth).values(email="new@example.org", phone=None))
    db.session.commit()
    assert indexes() == (None, blind_index("email", "NEW@example.org"))

    db.session.execute(update(Youth), [{"id": youth.id, "phone": "+14155550111"}])
    db.session.commit()
    assert indexes() == (
        blind_index("phone", "4155550111"),
        blind_index("email", "new@example.org"),
    )
