"""Retention and the youth's rights (``clinic.records.privacy``): who is due for erasure at the
boundaries, what an erasure clears (read raw from the database) and keeps, the reports' counts
unchanged by a purge, idempotence, the export, and the erase page with its permissions and
audit events."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from clinic import settings
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AuditEvent,
    Intake,
    ListEntry,
    OutboxMessage,
    Slot,
    StaffRole,
    Treatment,
    Youth,
    YouthLink,
)
from clinic.permissions import NotAllowed
from clinic.records import privacy
from clinic.rules.visits import SEAT_HOLDING
from tests.conftest import NEXT_DAY, NOW, sign_in
from tests.support import lists
from tests.support.querycount import count_statements

EN = {"Accept-Language": "en"}
TODAY = NOW.date()  # Friday 20 November 2026
CUTOFF = date(2023, 11, 20)  # three years back
LONG_AGO = datetime(2019, 6, 1, 12, 0)
PHONE, EMAIL, GUARDIAN_PHONE = "+14155550199", "ana@example.org", "+14155550177"
_n = itertools.count(1)


# --- Building a small clinic -------------------------------------------------------------


def add_youth(
    first: str = "Ana",
    dob: date = date(2007, 5, 1),
    *,
    created: datetime = LONG_AGO,
    merged_into: int | None = None,
    language: str = "es",
) -> int:
    n = next(_n)
    last = f"Flores{n}"
    youth = Youth(
        identity_key=Youth.make_identity_key(first, last, dob),
        first_name=first,
        last_name=last,
        preferred_name="Annie",
        date_of_birth=dob,
        search_name=Youth.make_search_name(first, last, "Annie"),
        phone=PHONE,
        email=EMAIL,
        contact_by="sms",
        language=language,
        guardian_name="Marta Flores",
        guardian_relationship="parent",
        guardian_phone=GUARDIAN_PHONE,
        merged_into_id=merged_into,
        created_at=created,
    )
    db.session.add(youth)
    db.session.commit()
    return youth.id


def add_visit(
    youth_id: int,
    day: date,
    status: str = "completed",
    *,
    start: time = time(16, 0),
    referral: str = "court",
    consent: str | None = None,
) -> int:
    """An appointment with its intake (full of personal answers), a sent message with its
    address, a reminder still queued and a link: what a real visit leaves."""
    slot = db.session.scalar(select(Slot).where(Slot.day == day, Slot.start_time == start))
    if slot is None:
        end = (datetime.combine(day, start) + timedelta(minutes=20)).time()
        slot = Slot(day=day, start_time=start, end_time=end, capacity=20, booked=0)
        db.session.add(slot)
        db.session.flush()
    if status in SEAT_HOLDING:
        slot.booked += 1
    appointment = Appointment(
        code=f"P{next(_n):05d}", youth_id=youth_id, slot_id=slot.id, status=status, consent=consent
    )
    appointment.intake = Intake(
        phone=PHONE,
        email=EMAIL,
        contact_by="email",
        language="es",
        guardian_name="Marta Flores",
        guardian_relationship="parent",
        guardian_phone=GUARDIAN_PHONE,
        tattoo_count=2,
        tattoo_locations=["hands", "arms"],
        tattoo_size="medium",
        tattoo_colors="black",
        tattoo_kind="amateur",
        tattoo_age_years=3,
        tattoo_notes="Gang name on the left hand",
        screening=["pregnant", "herpes"],
        referral_source=referral,
    )
    db.session.add(appointment)
    db.session.flush()
    db.session.add_all(
        [
            OutboxMessage(
                kind="confirmation",
                channel="email",
                appointment_id=appointment.id,
                status="sent",
                recipient=EMAIL,
                sent_at=datetime(day.year, day.month, day.day) - timedelta(days=3),
                context={"old_start": "16:00"},
            ),
            OutboxMessage(
                kind="reminder",
                channel="sms",
                appointment_id=appointment.id,
                status="queued",
                context={"old_start": "16:20"},
            ),
            YouthLink(token_hash=f"{next(_n):064x}", appointment_id=appointment.id),
        ]
    )
    db.session.commit()
    return appointment.id


def add_treatment(youth_id: int, clinician_id: int, day: date, session: int = 1) -> int:
    appointment_id = add_visit(youth_id, day, consent="confirmed")
    db.session.add(
        Treatment(
            appointment_id=appointment_id,
            youth_id=youth_id,
            day=day,
            session_number=session,
            areas=["hands"],
            skin_type="IV",
            settings="1064 nm, 3.5 J/cm2",
            notes="Blistering after the last session",
            clinician_id=clinician_id,
        )
    )
    db.session.commit()
    return appointment_id


def add_entry(youth_id: int, status: str = "waiting", joined: datetime = LONG_AGO) -> int:
    entry = ListEntry(
        kind="program",
        youth_id=youth_id,
        status=status,
        phone=PHONE,
        email=EMAIL,
        language="es",
        guardian_name="Marta Flores",
        guardian_phone=GUARDIAN_PHONE,
        answers={"screening": ["pregnant"], "tattoo_notes": "a name"},
        joined_at=joined,
        closed_at=None if status == "waiting" else joined + timedelta(days=30),
    )
    db.session.add(entry)
    db.session.flush()
    db.session.add(YouthLink(token_hash=f"{next(_n):064x}", entry_id=entry.id))
    db.session.commit()
    return entry.id


@pytest.fixture
def clinician(make_staff):
    return make_staff(StaffRole.CLINICIAN)


def now():
    return settings.clinic_now(settings.current_rules())


def purge():
    return privacy.purge(privacy.retention_cutoff(TODAY, 3), now())


def purged(youth_id: int) -> bool:
    return db.session.scalar(select(Youth.purged_at).where(Youth.id == youth_id)) is not None


# --- Who is due ---------------------------------------------------------------------------


def test_the_cutoff_is_three_years_back():
    assert privacy.retention_cutoff(TODAY, 3) == CUTOFF
    assert privacy.retention_cutoff(date(2028, 2, 29), 3) == date(2025, 2, 28)


def test_retention_boundaries(app, clinician):
    recent = add_youth()  # last visit 2 years 11 months ago: kept
    add_treatment(recent, clinician.id, date(2023, 12, 19))
    on_cutoff = add_youth()  # a visit exactly 3 years ago: kept
    add_visit(on_cutoff, CUTOFF, "no_show")
    old = add_youth()  # 3 years and a day: erased
    add_treatment(old, clinician.id, date(2023, 11, 19))
    coming_back = add_youth()  # old visits, but booked again: kept
    add_visit(coming_back, date(2021, 3, 2))
    add_visit(coming_back, NEXT_DAY, "booked")
    waiting = add_youth()  # old visits, waiting on the list: kept
    add_visit(waiting, date(2021, 3, 2), "cancelled")
    add_entry(waiting)
    left_list = add_youth()  # old visit and an old, closed list place: erased
    add_visit(left_list, date(2021, 3, 2))
    add_entry(left_list, "left")
    asked_lately = add_youth()  # old visit, but joined a list a year ago: kept
    add_visit(asked_lately, date(2021, 3, 2))
    add_entry(asked_lately, "left", joined=datetime(2025, 11, 1, 10))
    never_came = add_youth()  # no visit at all, record 3 years old: erased
    new_record = add_youth(created=datetime(2024, 1, 10))  # no visit, but a new record: kept
    alias_of_old = add_youth(merged_into=old)  # follows the record it was merged into
    alias_of_recent = add_youth(merged_into=recent)

    due = privacy.due_youth(CUTOFF)
    assert due == sorted([old, left_list, never_came])
    report = purge()
    assert report.due == 3
    assert report.done.youth == 4  # the merged-away record went with its record
    erased = {old, left_list, never_came, alias_of_old}
    for youth_id in (recent, on_cutoff, coming_back, waiting, asked_lately, new_record):
        assert not purged(youth_id)
    assert not purged(alias_of_recent)
    for youth_id in erased:
        assert purged(youth_id)


def test_an_upcoming_booking_keeps_even_an_old_record(app):
    youth_id = add_youth()
    add_visit(youth_id, date(2020, 1, 7))
    assert youth_id in privacy.due_youth(CUTOFF)
    add_visit(youth_id, date(2026, 12, 22), "booked")
    assert privacy.due_youth(CUTOFF) == []


def test_a_youth_who_books_while_the_purge_runs_is_kept(app):
    """Each batch reads again, under the rows' locks, who is still due."""
    first, second = add_youth(), add_youth()
    add_visit(first, date(2021, 5, 25))
    add_visit(second, date(2021, 5, 25))
    listed = privacy.due_youth(CUTOFF)
    assert listed == [first, second]
    add_visit(second, NEXT_DAY, "booked")  # booked after the purge listed them
    report = privacy.purge(CUTOFF, now(), due=listed, batch_size=1)
    assert (report.due, report.done.youth) == (2, 1)
    assert purged(first) and not purged(second)


# --- What an erasure clears and keeps ------------------------------------------------------


def raw(sql: str, **params) -> list[tuple]:
    """Rows as the database holds them, past the models' types."""
    return [tuple(row) for row in db.session.execute(text(sql), params)]


def test_erasing_clears_every_personal_field_and_keeps_the_anonymous_ones(app, clinician):
    youth_id = add_youth(dob=date(2008, 7, 15))
    visit_id = add_treatment(youth_id, clinician.id, date(2022, 6, 14))
    entry_id = add_entry(youth_id, "booked")
    add_youth(merged_into=youth_id)
    bystander = add_youth(created=datetime(2025, 1, 1))
    add_visit(bystander, date(2025, 2, 25))
    links_before = db.session.scalar(select(func.count()).select_from(YouthLink))

    report = purge()

    assert report.done.youth == 2
    assert report.done.appointments == 1
    assert report.done.messages == 2
    assert report.done.links == 2
    assert db.session.scalar(select(func.count()).select_from(YouthLink)) == links_before - 2

    (row,) = raw(
        "SELECT first_name, last_name, preferred_name, search_name, identity_key, phone, email,"
        " contact_by, guardian_name, guardian_relationship, guardian_phone, language, purged_at,"
        " phone_index, email_index FROM youth WHERE id = :id",
        id=youth_id,
    )
    assert row[0] == privacy.ERASED_FIRST_NAME and row[1] == f"#{youth_id}"
    assert row[2] is None and row[3] == ""
    assert len(row[4]) == 64 and row[4] != Youth.make_identity_key("Ana", "x", date(2008, 7, 15))
    assert row[5:11] == (None,) * 6
    assert row[11] == "es" and row[12] is not None
    assert row[13:] == (None, None)  # the blind indexes of phone and e-mail follow them
    youth = db.session.get(Youth, youth_id)
    assert youth.date_of_birth == date(2008, 1, 1)
    with app.test_request_context(headers=EN):
        assert youth.display_name == f"Erased record #{youth_id}"

    (intake,) = raw(
        "SELECT phone, email, contact_by, guardian_name, guardian_relationship, guardian_phone,"
        " tattoo_notes FROM intake WHERE appointment_id = :id",
        id=visit_id,
    )
    assert intake == (None,) * 7
    kept = db.session.scalar(select(Intake).where(Intake.appointment_id == visit_id))
    assert kept.screening == []
    assert (kept.referral_source, kept.tattoo_kind, kept.tattoo_size, kept.tattoo_count) == (
        "court",
        "amateur",
        "medium",
        2,
    )
    assert kept.language == "es" and kept.tattoo_locations == ["hands", "arms"]

    (treatment,) = raw("SELECT notes, settings, skin_type FROM treatment")
    assert treatment == (None, None, None)
    kept_treatment = db.session.scalar(select(Treatment))
    assert (kept_treatment.day, kept_treatment.session_number, kept_treatment.areas) == (
        date(2022, 6, 14),
        1,
        ["hands"],
    )

    (entry,) = raw(
        "SELECT phone, email, guardian_name, guardian_phone FROM list_entry WHERE id = :id",
        id=entry_id,
    )
    assert entry == (None,) * 4
    assert db.session.get(ListEntry, entry_id).answers == {}

    messages = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.appointment_id == visit_id)
    ).all()
    assert sorted((m.kind, m.status, m.recipient, m.context) for m in messages) == [
        ("confirmation", "sent", None, {}),
        ("reminder", "cancelled", None, {}),
    ]
    appointment = db.session.get(Appointment, visit_id)
    assert (appointment.status, appointment.consent, appointment.age_at_visit) == (
        "completed",
        "confirmed",
        13,
    )
    # The bystander is untouched.
    assert db.session.get(Youth, bystander).phone == PHONE

    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).all()
    assert len(events) == 2
    assert {e.youth_id for e in events} == {youth_id, youth_id + 1}
    assert "youth.first_name" in events[0].fields and "intake.screening" in events[0].fields


def test_a_later_booking_in_the_same_name_starts_a_new_record(app):
    youth_id = add_youth("Lupe", date(2004, 2, 2))
    key = db.session.get(Youth, youth_id).identity_key
    purge()
    assert db.session.scalar(select(Youth.id).where(Youth.identity_key == key)) is None


# --- The reports' counts stay the same -----------------------------------------------------


def _age_sql() -> str:
    if db.session.get_bind().dialect.name == "postgresql":
        return "CAST(date_part('year', age(s.day, y.date_of_birth)) AS INTEGER)"
    return (
        "(CAST(strftime('%Y', s.day) AS INTEGER) - CAST(strftime('%Y', y.date_of_birth) AS INTEGER)"
        " - (strftime('%m-%d', s.day) < strftime('%m-%d', y.date_of_birth)))"
    )


def report_counts() -> dict[str, list[tuple]]:
    """What the reports count, each with one aggregate query."""
    age = f"COALESCE(a.age_at_visit, {_age_sql()})"
    visits = "appointment a JOIN slot s ON s.id = a.slot_id JOIN youth y ON y.id = a.youth_id"
    band = (
        f"CASE WHEN {age} BETWEEN 13 AND 15 THEN '13-15' WHEN {age} BETWEEN 16 AND 17 "
        f"THEN '16-17' WHEN {age} BETWEEN 18 AND 21 THEN '18-21' WHEN {age} BETWEEN 22 AND 25 "
        "THEN '22-25' ELSE 'other' END"
    )
    queries = {
        "per_day_status": "SELECT s.day, a.status, COUNT(*) FROM appointment a"
        " JOIN slot s ON s.id = a.slot_id GROUP BY s.day, a.status ORDER BY 1, 2",
        "unique_youth": "SELECT COUNT(DISTINCT youth_id) FROM appointment",
        "treatments": "SELECT COUNT(*), SUM(session_number) FROM treatment",
        "age_bands": f"SELECT {band} AS band, COUNT(*) FROM {visits} GROUP BY 1 ORDER BY 1",
        "language": "SELECT language, COUNT(*) FROM intake GROUP BY 1 ORDER BY 1",
        "youth_language": "SELECT language, COUNT(*) FROM youth GROUP BY 1 ORDER BY 1",
        "minors_with_consent": f"SELECT COUNT(*) FROM {visits} WHERE {age} < 18"
        " AND a.consent IN ('confirmed', 'exempt')",
        "youth": "SELECT COUNT(*) FROM youth",
    }
    counts = {name: raw(sql) for name, sql in queries.items()}
    # Encrypted at rest (each value its own ciphertext): counted as read, not in SQL.
    counts["referral"] = sorted(Counter(db.session.scalars(select(Intake.referral_source))).items())
    return counts


def test_the_reports_counts_stay_the_same(app, clinician):
    # Youth of every band, some turning a year older between visits, some merged.
    births = [date(2009, 12, 31), date(2007, 1, 1), date(2004, 6, 30), date(2000, 2, 29)]
    for i, birth in enumerate(births):
        youth_id = add_youth(f"Y{i}", birth, language="en" if i % 2 else "es")
        add_treatment(youth_id, clinician.id, date(2022, 12, 27), 1)
        add_treatment(youth_id, clinician.id, date(2023, 2, 28), 2)
        add_visit(youth_id, date(2023, 3, 28), "no_show", referral="friend")
        add_youth(f"Y{i}", birth + timedelta(days=1), merged_into=youth_id)
    active = add_youth("Active", date(2006, 3, 3))
    add_treatment(active, clinician.id, date(2022, 12, 27), 1)
    add_visit(active, date(2026, 10, 27), "completed", consent="exempt")
    before = report_counts()

    report = purge()

    assert report.done.youth == 8
    after = report_counts()
    assert after == before
    assert dict(after["age_bands"]) == {"13-15": 3, "16-17": 3, "18-21": 4, "22-25": 3, "other": 1}


# --- The youth's rights on the staff pages -------------------------------------------------


@pytest.fixture
def as_role(app, make_staff):
    made = {}

    def signed_in(role: StaffRole):
        if role not in made:
            made[role] = make_staff(role)
        client = app.test_client()
        response = sign_in(client, made[role].email)
        assert response.status_code == 303
        return client

    return signed_in


def test_only_admins_export_or_erase(app, as_role):
    youth_id = add_youth()
    for role in (StaffRole.FRONT_DESK, StaffRole.CLINICIAN):
        client = as_role(role)
        assert client.get(f"/staff/youth/{youth_id}/export").status_code == 403
        assert client.get(f"/staff/youth/{youth_id}/erase").status_code == 403
        response = client.post(f"/staff/youth/{youth_id}/erase", data={"confirm": "y"})
        assert response.status_code == 403
        assert "Export data" not in client.get(f"/staff/youth/{youth_id}", headers=EN).text
    assert not purged(youth_id)
    desk = SimpleNamespace(id=None, role=StaffRole.FRONT_DESK)
    with pytest.raises(NotAllowed):
        privacy.erase_on_request(youth_id, desk, settings.current_rules(), now())
    with pytest.raises(NotAllowed):
        privacy.export_youth(youth_id, desk, now())


def test_the_export_holds_everything_and_is_audited(app, as_role, clinician):
    youth_id = add_youth()
    add_treatment(youth_id, clinician.id, date(2026, 10, 27))
    add_entry(youth_id, "left")
    admin = as_role(StaffRole.ADMIN)
    record = admin.get(f"/staff/youth/{youth_id}", headers=EN).text
    assert "Export data" in record and "Erase data" in record

    response = admin.get(f"/staff/youth/{youth_id}/export", headers=EN)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    document = json.loads(response.text)
    record = document["Record"]
    assert (record["First name"], record["Date of birth"], record["Phone"]) == (
        "Ana",
        "2007-05-01",
        PHONE,
    )
    assert record["Parent or guardian"]["Phone"] == GUARDIAN_PHONE
    (visit,) = document["Appointments"]
    # Labels in the youth's language (Spanish here).
    assert visit["Intake answers"]["Health questions ticked"][0].startswith("Estoy embarazada")
    assert visit["Intake answers"]["About the tattoo"] == "Gang name on the left hand"
    assert visit["Treatment"]["Notes"] == "Blistering after the last session"
    assert visit["Treatment"]["Clinician"] == clinician.name
    assert document["Standby and waiting lists"][0]["Status"] == "left"
    assert {m["Sent to"] for m in document["Messages"]} == {EMAIL, None}

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export"))
    assert event.youth_id == youth_id and event.staff_id is not None
    assert admin.get("/staff/youth/99999/export").status_code == 404


def test_the_export_takes_a_fixed_number_of_statements(app, make_staff, clinician):
    admin = make_staff(StaffRole.ADMIN)
    short, long = add_youth(), add_youth()
    add_visit(short, date(2026, 10, 27))
    for day in (date(2025, 1, 28), date(2025, 3, 25), date(2025, 5, 27)):
        add_treatment(long, clinician.id, day)
    add_entry(long, "left")
    counts = []
    for youth_id in (short, long):
        with count_statements() as statements:
            privacy.export_youth(youth_id, admin, now())
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 7  # + 1: the details staff changed (youth_change)


def test_erasing_on_request(app, as_role, clinician):
    youth_id = add_youth()
    add_treatment(youth_id, clinician.id, date(2026, 10, 27))
    upcoming = add_visit(youth_id, date(2026, 12, 22), "booked")
    entry_id = add_entry(youth_id)
    slot_id = db.session.get(Appointment, upcoming).slot_id
    admin = as_role(StaffRole.ADMIN)

    page = admin.get(f"/staff/youth/{youth_id}/erase", headers=EN)
    assert page.status_code == 200
    assert "Erase this youth's personal data?" in page.text
    assert "Upcoming appointments are cancelled first" in page.text

    refused = admin.post(f"/staff/youth/{youth_id}/erase", data={}, headers=EN)
    assert refused.status_code == 422
    assert "Please tick the box to confirm." in refused.text
    assert not purged(youth_id)

    done = admin.post(f"/staff/youth/{youth_id}/erase", data={"confirm": "y"}, headers=EN)
    assert done.status_code == 303
    assert purged(youth_id)
    cancelled = db.session.get(Appointment, upcoming)
    assert cancelled.status == "cancelled" and cancelled.cancelled_by_id is not None
    assert db.session.get(Slot, slot_id).booked == 0
    assert db.session.get(ListEntry, entry_id).status == "removed"
    # No message about the cancellation: every message of theirs is cancelled or sent.
    statuses = db.session.scalars(select(OutboxMessage.status)).all()
    assert set(statuses) <= {"sent", "cancelled"}

    record = admin.get(done.headers["Location"], headers=EN).text
    assert f"Erased record #{youth_id}" in record
    assert "personal data was erased" in record
    assert "Born in 2007" in record and "Erase data" not in record
    assert "Ana" not in record and PHONE not in record

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "erase"))
    assert event.youth_id == youth_id and event.staff_id is not None
    assert "youth.phone" in event.fields

    # Again: nothing more to do.
    again = admin.post(f"/staff/youth/{youth_id}/erase", data={"confirm": "y"}, headers=EN)
    assert again.status_code == 303
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "erase")
        )
        == 1
    )


def test_an_erased_record_is_neither_found_nor_booked_for(app, as_role, clinician):
    """It keeps only the birth year, as 1 January: a search by that date would list it among
    strangers born that day, and there is nobody left to book a follow-up for."""
    youth_id = add_youth(dob=date(2007, 5, 1))
    add_treatment(youth_id, clinician.id, date(2026, 10, 27))
    admin = as_role(StaffRole.ADMIN)
    assert admin.post(f"/staff/youth/{youth_id}/erase", data={"confirm": "y"}).status_code == 303

    for query in ("2007-01-01", "01/01/2007", "Erased"):
        found = admin.post("/staff/youth", data={"q": query}, headers=EN)
        assert found.status_code == 200 and "Youth records" in found.text
        assert f'href="/staff/youth/{youth_id}"' not in found.text, query
    assert admin.get(f"/staff/youth/{youth_id}/book", headers=EN).status_code == 404
    assert admin.get(f"/staff/youth/{youth_id}", headers=EN).status_code == 200


def test_erasing_a_youth_offered_a_seat_passes_it_on(app, make_staff):
    """The seat held for them goes to the next on the list; their booking's seat too."""
    lists.only_next_day(slots=1, seats=2)
    booked = lists.book(1, NOW)
    lists.book(2, NOW)
    first = lists.join_standby(3, NOW)
    second = lists.join_standby(4, NOW)
    lists.cancel(booked, NOW)  # a seat frees: offered to the first on standby
    offer = lists.open_offer(first)
    assert offer is not None and lists.counter() == 2
    youth_id = lists.entry(first).youth_id
    admin = make_staff(StaffRole.ADMIN)

    done = privacy.erase_on_request(youth_id, admin, lists.rules(), NOW)

    assert (done.removed, done.cancelled, done.youth) == (1, 0, 1)
    assert lists.entry(first).status == "removed"
    assert lists.open_offer(first) is None
    assert lists.open_offer(second) is not None  # the seat went on
    assert lists.counter() == 2
    lists.seats_hold()


def test_a_youth_in_the_clinic_is_not_erased(app, as_role):
    youth_id = add_youth()
    add_visit(youth_id, TODAY, "checked_in")
    admin = as_role(StaffRole.ADMIN)
    page = admin.get(f"/staff/youth/{youth_id}/erase", headers=EN)
    assert "checked in or being treated today" in page.text
    response = admin.post(f"/staff/youth/{youth_id}/erase", data={"confirm": "y"}, headers=EN)
    assert response.status_code == 409
    assert not purged(youth_id)


def test_a_merged_record_leads_to_the_one_it_was_merged_into(app, as_role):
    kept = add_youth()
    alias = add_youth(merged_into=kept)
    admin = as_role(StaffRole.ADMIN)
    response = admin.get(f"/staff/youth/{alias}/erase")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/staff/youth/{kept}/erase")
    assert admin.get("/staff/youth/99999/erase").status_code == 404
    assert admin.post("/staff/youth/99999/erase", data={"confirm": "y"}).status_code == 404


def test_a_record_decrypts_treatment_notes_only_for_the_role_that_reads_them(
    app, as_role, make_staff, monkeypatch
):
    """Notes and laser settings are encrypted and shown to clinicians only: for the desk, a
    long course must not cost two decryptions a session."""
    from clinic import crypto

    calls = []
    decrypt = crypto.decrypt
    monkeypatch.setattr(crypto, "decrypt", lambda *a, **k: calls.append(1) or decrypt(*a, **k))

    clients = {role: as_role(role) for role in (StaffRole.FRONT_DESK, StaffRole.CLINICIAN)}

    def decryptions(role: StaffRole, youth_id: int) -> int:
        client = clients[role]
        db.session.expire_all()
        calls.clear()
        body = client.get(f"/staff/youth/{youth_id}", headers=EN).get_data(as_text=True)
        assert ("Blistering after the last session" in body) is (role == StaffRole.CLINICIAN)
        return len(calls)

    clinician_id = make_staff(StaffRole.CLINICIAN, email="treating@clinic.example").id
    short, long = add_youth(), add_youth()
    add_treatment(short, clinician_id, date(2026, 10, 27))
    for n in range(6):
        add_treatment(long, clinician_id, date(2025, 1, 7) + timedelta(weeks=8 * n), n + 1)
    assert decryptions(StaffRole.FRONT_DESK, long) == decryptions(StaffRole.FRONT_DESK, short)
    assert decryptions(StaffRole.CLINICIAN, long) == decryptions(StaffRole.CLINICIAN, short) + 10


def test_erasing_a_youth_drops_the_values_staff_replaced_and_the_export_lists_them(app, make_staff):
    from clinic.models import YouthChange

    admin = make_staff(StaffRole.ADMIN)
    youth_id = add_youth()
    db.session.add(
        YouthChange(youth_id=youth_id, staff_id=admin.id, field="phone", old_value="(415) 555-0199")
    )
    db.session.commit()
    document = privacy.export_youth(youth_id, admin, now())
    assert [c["Before"] for c in document["Details changed by staff"]] == ["(415) 555-0199"]
    privacy.erase_on_request(youth_id, admin, settings.current_rules(), now())
    db.session.rollback()
    assert db.session.query(YouthChange).filter_by(youth_id=youth_id).count() == 0
