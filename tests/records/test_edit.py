"""Editing a youth's details (``clinic.records.edit``) on a real database: what is written, the
old values kept encrypted, the blind indexes following, the refusals, and the record's no-show
history and history of details."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, text

from clinic import records
from clinic.extensions import db
from clinic.models import AuditEvent, StaffRole, Youth, YouthChange, naive_utc
from clinic.permissions import NotAllowed
from clinic.rules.eligibility import AgeLimits
from tests.conftest import NOW
from tests.records.test_youth_records import GUARDIAN_PHONE, PHONE, _Staff, add_visit, add_youth

NEW_PHONE = "+14155550142"
AGES = AgeLimits()
SIX_WEEKS = timedelta(weeks=6)


@pytest.fixture
def users(make_staff):
    return _Staff(make_staff)


def details(youth_id: int) -> records.YouthDetails:
    return records.YouthDetails.of(db.session.get(Youth, youth_id, populate_existing=True))


def edit(youth_id: int, actor, **changes) -> list[str]:
    old = details(youth_id)
    db.session.rollback()  # the use case begins its own write transaction
    return records.edit_youth(
        youth_id, replace(old, **changes), old.fingerprint(), actor, NOW, AGES
    )


def changes_of(youth_id: int) -> list[tuple[str, str | None]]:
    rows = db.session.scalars(
        select(YouthChange).where(YouthChange.youth_id == youth_id).order_by(YouthChange.id)
    )
    return [(row.field, row.old_value) for row in rows]


def test_the_editable_fields_are_the_details_in_the_forms_order():
    assert tuple(f.name for f in fields(records.YouthDetails)) == records.EDITABLE_FIELDS


def test_an_edit_writes_the_new_values_and_keeps_the_old_ones_encrypted(users):
    desk = users[StaffRole.FRONT_DESK]
    youth_id = add_youth(email="old@example.org")
    changed = edit(youth_id, desk, phone=NEW_PHONE, email="new@example.org", language="es")
    assert changed == ["phone", "email", "language"]
    youth = db.session.get(Youth, youth_id)
    assert (youth.phone, youth.email, youth.language) == (NEW_PHONE, "new@example.org", "es")
    assert changes_of(youth_id) == [
        ("phone", PHONE),
        ("email", "old@example.org"),
        ("language", "en"),
    ]
    row = db.session.execute(
        select(YouthChange.staff_id, YouthChange.at).where(YouthChange.field == "phone")
    ).one()
    assert (row.staff_id, row.at) == (desk.id, naive_utc(NOW))
    stored = db.session.execute(text("SELECT old_value FROM youth_change")).scalars().all()
    assert all(value.startswith("gAAAAA") for value in stored)
    assert not any(PHONE in value or "old@example.org" in value for value in stored)


def test_an_edit_is_audited_by_field_names_never_values(users):
    youth_id = add_youth()
    edit(youth_id, users[StaffRole.FRONT_DESK], phone=NEW_PHONE, preferred_name="Annie")
    event = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "youth",
            AuditEvent.object_id == youth_id,
            AuditEvent.action == "update",
        )
    ).one()
    assert {"phone", "preferred_name"} <= set(event.fields)
    assert "555" not in str(event.fields) + str(event.detail)


def test_an_edit_with_nothing_new_writes_nothing(users):
    youth_id = add_youth()
    assert edit(youth_id, users[StaffRole.ADMIN]) == []
    assert changes_of(youth_id) == []


def test_a_staff_phone_search_finds_the_new_number_and_not_the_old(users):
    desk = users[StaffRole.FRONT_DESK]
    youth_id = add_youth()
    edit(youth_id, desk, phone=NEW_PHONE)
    for typed, found in (("(415) 555-0142", True), ("415 555 0199", False)):
        result = records.search(records.parse_query(typed), desk, NOW.date())
        assert [row.id for row in result.rows] == ([youth_id] if found else []), typed


def test_the_name_they_go_by_is_searchable_and_the_old_one_is_not(users):
    desk = users[StaffRole.FRONT_DESK]
    youth_id = add_youth(preferred="Annie")
    edit(youth_id, desk, preferred_name="Nena")
    assert db.session.get(Youth, youth_id).search_name == "ana flores nena"
    for typed, found in (("Nena", True), ("Annie", False), ("Flores", True)):
        result = records.search(records.parse_query(typed), desk, NOW.date())
        assert [row.id for row in result.rows] == ([youth_id] if found else []), typed


def test_an_edit_over_a_record_changed_meanwhile_is_refused(users):
    desk = users[StaffRole.FRONT_DESK]
    youth_id = add_youth()
    stale = details(youth_id)
    edit(youth_id, desk, email="first@example.org")  # another desk, first
    db.session.rollback()
    with pytest.raises(records.EditRefused) as refused:
        records.edit_youth(
            youth_id, replace(stale, phone=NEW_PHONE), stale.fingerprint(), desk, NOW, AGES
        )
    assert refused.value.reason == records.EditRefused.CHANGED_MEANWHILE
    assert details(youth_id).phone == PHONE and details(youth_id).email == "first@example.org"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"phone": None, "email": None}, records.EditRefused.NO_CONTACT),
        ({"contact_by": "email"}, records.EditRefused.NO_EMAIL),
        ({"guardian_name": "Rosa Reyes"}, records.EditRefused.GUARDIAN_HALF),
    ],
)
def test_edits_that_break_a_rule_are_refused_and_write_nothing(users, changes, reason):
    youth_id = add_youth()
    with pytest.raises(records.EditRefused) as refused:
        edit(youth_id, users[StaffRole.FRONT_DESK], **changes)
    assert refused.value.reason == reason
    assert changes_of(youth_id) == [] and details(youth_id).phone == PHONE


def test_a_minors_guardian_can_be_replaced_not_removed(users):
    desk = users[StaffRole.FRONT_DESK]
    minor = add_youth("Luis", "Reyes", date(2010, 1, 10), guardian=("Marta", "parent", PHONE))
    none = {"guardian_name": None, "guardian_relationship": None, "guardian_phone": None}
    with pytest.raises(records.EditRefused) as refused:
        edit(minor, desk, **none)
    assert refused.value.reason == records.EditRefused.GUARDIAN_REQUIRED
    assert edit(minor, desk, guardian_name="Rosa", guardian_phone=GUARDIAN_PHONE) == [
        "guardian_name",
        "guardian_phone",
    ]
    adult = add_youth("Ana", "Adult", date(2001, 1, 1), guardian=("Marta", "parent", PHONE))
    assert len(edit(adult, desk, **none)) == 3


def test_a_record_without_a_channel_keeps_none_when_the_form_showed_the_default(users):
    youth_id = add_youth(email="ana@example.org")
    assert details(youth_id).contact_by is None
    assert edit(youth_id, users[StaffRole.FRONT_DESK], contact_by="email") == []
    assert edit(youth_id, users[StaffRole.FRONT_DESK], contact_by="sms") == ["contact_by"]


def test_only_the_front_desk_and_admins_may_edit(users):
    youth_id = add_youth()
    with pytest.raises(NotAllowed):
        edit(youth_id, users[StaffRole.CLINICIAN], phone=NEW_PHONE)
    with pytest.raises(NotAllowed):
        records.edit_form(youth_id, users[StaffRole.CLINICIAN])
    assert changes_of(youth_id) == []


def test_erased_and_merged_records_are_not_edited(users):
    desk = users[StaffRole.FRONT_DESK]
    kept = add_youth()
    merged = add_youth("Anna", "Flores", date(2007, 5, 1), merged_into=kept)
    assert records.edit_form(merged, desk) == records.Merged(kept)
    with pytest.raises(LookupError):
        edit(merged, desk, phone=NEW_PHONE)
    youth = db.session.get(Youth, kept)
    youth.purged_at = datetime(2026, 11, 1)
    db.session.commit()
    assert records.edit_form(kept, desk) is None
    with pytest.raises(records.EditRefused) as refused:
        edit(kept, desk, phone=NEW_PHONE)
    assert refused.value.reason == records.EditRefused.ERASED


# --- Use the new details -------------------------------------------------------------------


def newer_booking(youth_id: int, **intake) -> int:
    add_visit(youth_id, date(2026, 12, 22), status="booked", intake=intake)
    return records.latest_intake(youth_id).id


def use_new(youth_id: int, actor, intake_id: int, drawn: str | None = None) -> list[str]:
    drawn = drawn or details(youth_id).fingerprint()
    db.session.rollback()
    return records.use_new_details(youth_id, intake_id, drawn, actor, NOW, AGES)


def test_the_new_details_of_the_latest_booking_go_onto_the_record(users):
    desk = users[StaffRole.FRONT_DESK]
    youth_id = add_youth(email="old@example.org")
    intake_id = newer_booking(
        youth_id,
        phone=NEW_PHONE,
        email=None,  # left empty on the booking: the record keeps its e-mail
        language="es",
        guardian_name="Rosa Reyes",
        guardian_relationship="legal_guardian",
        guardian_phone=GUARDIAN_PHONE,
    )
    shown = records.youth_record(youth_id, desk, NOW.date(), SIX_WEEKS)
    assert shown.latest_contact is not None and shown.latest_intake_id == intake_id
    changed = use_new(youth_id, desk, intake_id, shown.details_drawn)
    assert changed == [
        "phone",
        "language",
        "guardian_name",
        "guardian_relationship",
        "guardian_phone",
    ]
    now = details(youth_id)
    assert (now.phone, now.email, now.guardian_name) == (NEW_PHONE, "old@example.org", "Rosa Reyes")
    assert ("phone", PHONE) in changes_of(youth_id)
    # Nothing differs any more: the notice (and its button) is gone.
    after = records.youth_record(youth_id, desk, NOW.date(), SIX_WEEKS)
    assert after.latest_contact is None and after.latest_intake_id is None


def test_new_details_from_a_booking_no_longer_the_latest_are_refused(users):
    desk = users[StaffRole.FRONT_DESK]
    youth_id = add_youth()
    first = newer_booking(youth_id, phone=NEW_PHONE)
    add_visit(youth_id, date(2026, 12, 29), status="booked", intake={"phone": "+14155550111"})
    with pytest.raises(records.EditRefused) as refused:
        use_new(youth_id, desk, first)
    assert refused.value.reason == records.EditRefused.CHANGED_MEANWHILE
    assert changes_of(youth_id) == []


def test_new_details_that_add_nothing_are_refused(users):
    youth_id = add_youth()
    intake_id = newer_booking(youth_id, phone=PHONE)
    with pytest.raises(records.EditRefused) as refused:
        use_new(youth_id, users[StaffRole.ADMIN], intake_id)
    assert refused.value.reason == records.EditRefused.NOTHING_NEW


def test_new_details_are_for_the_front_desk_and_admins(users):
    youth_id = add_youth()
    intake_id = newer_booking(youth_id, phone=NEW_PHONE)
    with pytest.raises(NotAllowed):
        use_new(youth_id, users[StaffRole.CLINICIAN], intake_id)


# --- What the record shows -----------------------------------------------------------------


def test_the_record_lists_the_changes_with_old_values_only_for_contact_roles(users):
    youth_id = add_youth()
    edit(youth_id, users[StaffRole.FRONT_DESK], phone=NEW_PHONE)
    edit(youth_id, users[StaffRole.ADMIN], preferred_name="Nena")
    desk = records.youth_record(youth_id, users[StaffRole.FRONT_DESK], NOW.date(), SIX_WEEKS)
    assert [(c.field, c.old_value, c.staff) for c in desk.detail_changes] == [
        ("preferred_name", None, "Test admin"),  # newest first; it had none
        ("phone", PHONE, "Test front_desk"),
    ]
    clinician = records.youth_record(youth_id, users[StaffRole.CLINICIAN], NOW.date(), SIX_WEEKS)
    assert [(c.field, c.old_value) for c in clinician.detail_changes] == [
        ("preferred_name", None),
        ("phone", None),
    ]


def test_the_record_counts_the_recent_no_shows_with_their_days(users):
    youth_id = add_youth()
    for day, status in (
        (date(2025, 11, 18), "no_show"),  # more than 365 days before 20 Nov 2026
        (date(2025, 11, 25), "no_show"),
        (date(2026, 9, 22), "no_show"),
        (date(2026, 10, 27), "completed"),
        (date(2026, 11, 24), "booked"),
    ):
        add_visit(youth_id, day, status=status)
    record = records.youth_record(youth_id, users[StaffRole.CLINICIAN], NOW.date(), SIX_WEEKS)
    assert record.no_shows == (date(2026, 9, 22), date(2025, 11, 25))
    assert record.no_show_days == 365
    short = records.youth_record(
        youth_id, users[StaffRole.CLINICIAN], NOW.date(), SIX_WEEKS, no_show_days=90
    )
    assert short.no_shows == (date(2026, 9, 22),)


def test_recent_no_shows_is_a_pure_count_over_the_visits():
    def visit(day: date, status: str) -> records.VisitEntry:
        return records.VisitEntry(1, day, time(16), status, False, "T1", None)

    today = date(2026, 11, 20)
    visits = [visit(today, "no_show"), visit(today - timedelta(days=365), "no_show")]
    assert records.recent_no_shows(visits, today, 365) == (today,)
    assert records.recent_no_shows([visit(today, "cancelled")], today, 365) == ()


def test_the_youth_change_table_holds_one_row_per_field(users):
    youth_id = add_youth()
    edit(youth_id, users[StaffRole.FRONT_DESK], phone=NEW_PHONE, email="a@example.org")
    assert db.session.scalar(select(func.count()).select_from(YouthChange)) == 2
