"""The audit trail (``clinic.audit``): every change to a youth's data, the schedule and staff
accounts recorded at flush with field names and never values, in the same transaction; views
recorded at one statement a page; the admin screen and its CSV; and the table refusing UPDATE
and DELETE on both databases."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from time import perf_counter

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from clinic import audit
from clinic.database import begin_write, write_transaction
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AuditEvent,
    ClinicDay,
    Intake,
    StaffRole,
    StaffUser,
    Youth,
)
from tests.conftest import LA, NEXT_DAY, PASSWORD, intake_data, intake_url, sign_in
from tests.support.querycount import count_statements

EN = {"Accept-Language": "en"}
SENTINEL = "Zebraquartz"  # a value that must never reach the trail
NOTE = "Sentinel note zebraquartz 42"


def events(fresh: bool = True, **where) -> list[AuditEvent]:
    if fresh:
        db.session.rollback()  # a fresh snapshot: events may have been written elsewhere
    statement = select(AuditEvent).order_by(AuditEvent.id)
    for name, value in where.items():
        statement = statement.where(getattr(AuditEvent, name) == value)
    return list(db.session.scalars(statement))


def raw_trail() -> str:
    """The whole table as the database holds it, as text."""
    rows = db.session.execute(text("SELECT * FROM audit_event")).all()
    return "\n".join(str(tuple(row)) for row in rows)


def book(client, **overrides) -> Appointment:
    n = db.session.scalar(select(func.count()).select_from(Appointment))
    data = intake_data(submission_key=f"key{n:03d}" + "k" * 26, **overrides)
    response = client.post(intake_url(), data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return db.session.scalars(select(Appointment).order_by(Appointment.id.desc())).first()


@pytest.fixture
def booked(app, client):
    """A youth booked online, with a note and a surname that must not reach the trail."""
    appointment = book(client, last_name=SENTINEL, tattoo_notes=NOTE)
    return {"appointment": appointment.id, "youth": appointment.youth_id}


@pytest.fixture
def admin(make_staff):
    return make_staff(StaffRole.ADMIN)


def signed_in(app, user: StaffUser):
    client = app.test_client()
    response = sign_in(client, user.email, PASSWORD)
    assert response.status_code == 303
    return client


# --- Changes --------------------------------------------------------------------------------


def test_a_booking_records_the_youth_appointment_and_intake_by_field_name(booked):
    youth_id = booked["youth"]
    created = {event.object_type: event for event in events(action="create")}
    assert {"youth", "appointment", "intake"} <= set(created)
    for event in created.values():
        if event.object_type in ("youth", "appointment", "intake"):
            assert event.youth_id == youth_id, event.object_type
            assert event.actor == "youth"
            assert event.staff_id is None and event.address is None
    assert {"first_name", "last_name", "date_of_birth"} <= set(created["youth"].fields)
    assert "tattoo_notes" in created["intake"].fields
    assert created["appointment"].object_id == booked["appointment"]
    # Names of fields only: the values are nowhere in the table.
    trail = raw_trail()
    assert SENTINEL not in trail and SENTINEL.lower() not in trail.lower()
    assert "zebraquartz" not in trail.lower()
    assert "2007-05-01" not in trail  # the birth date


def test_staff_changes_name_the_staff_member_their_address_and_the_fields(app, booked, make_staff):
    desk = make_staff(StaffRole.FRONT_DESK)
    client = signed_in(app, desk)
    response = client.post(f"/staff/appointments/{booked['appointment']}/cancel")
    assert response.status_code in (302, 303)
    [event] = events(action="update", object_type="appointment")
    assert event.object_id == booked["appointment"]
    assert event.youth_id == booked["youth"]
    assert (event.actor, event.staff_id, event.address) == ("staff", desk.id, "127.0.0.1")
    assert "status" in event.fields


def test_each_audited_model_leaves_an_event_with_its_youth(app, booked):
    youth_id = booked["youth"]
    with write_transaction():
        youth = db.session.get(Youth, youth_id)
        youth.preferred_name = SENTINEL + "x"
        intake = db.session.scalar(
            select(Intake).where(Intake.appointment_id == booked["appointment"])
        )
        intake.tattoo_notes = NOTE + " again"
    updated = {event.object_type: event for event in events(action="update")}
    assert updated["youth"].fields == ["preferred_name"]
    assert updated["intake"].fields == ["tattoo_notes"]
    assert updated["intake"].youth_id == youth_id  # from the appointment, looked up
    assert updated["youth"].actor == "system"  # no request: the command line, a worker
    assert "zebraquartz" not in raw_trail().lower()


def test_a_schedule_change_and_a_deletion_are_recorded(app):
    with write_transaction():
        db.session.add(ClinicDay(day=date(2026, 12, 1), extra=True, seats=3))
    with write_transaction():
        row = db.session.scalar(select(ClinicDay))
        row.seats = 4
    with write_transaction():
        db.session.delete(db.session.scalar(select(ClinicDay)))
    kinds = [(e.action, e.object_type, e.fields) for e in events(object_type="clinic_day")]
    assert kinds[0][0] == "create" and {"day", "extra", "seats"} <= set(kinds[0][2])
    assert kinds[1] == ("update", "clinic_day", ["seats"])
    assert kinds[2] == ("delete", "clinic_day", [])
    assert all(e.youth_id is None for e in events(object_type="clinic_day"))


def test_the_event_is_in_the_same_transaction_as_its_change(app, booked):
    before = len(events())
    youth = db.session.get(Youth, booked["youth"])
    youth.preferred_name = "Someone"
    db.session.flush()  # the change and its event, written but not committed
    assert len(events(fresh=False)) == before + 1
    db.session.rollback()
    assert len(events()) == before  # gone with the change


def test_a_core_update_leaves_its_event_at_commit(app, booked):
    with write_transaction():
        db.session.execute(
            update(Appointment)
            .where(Appointment.id == booked["appointment"])
            .values(station="Laser 9")
        )
        audit.changed("appointment", booked["appointment"], ["station"])
    [event] = events(action="update", object_type="appointment")
    assert event.fields == ["station"] and event.youth_id == booked["youth"]
    # Made and noted, then rolled back: no event.
    db.session.rollback()
    begin_write()
    db.session.execute(
        update(Appointment).where(Appointment.id == booked["appointment"]).values(station="X")
    )
    audit.changed("appointment", booked["appointment"], ["station"])
    db.session.rollback()
    with write_transaction():
        pass
    assert len(events(action="update", object_type="appointment")) == 1


def test_a_staff_account_change_names_the_password_field_never_its_hash(app, make_staff):
    user = make_staff(StaffRole.CLINICIAN)
    with write_transaction():
        user = db.session.get(StaffUser, user.id)
        user.set_password("another long passphrase here")
        new_hash = user.password_hash
    [event] = events(action="update", object_type="staff_user")
    assert "password_hash" in event.fields
    assert new_hash not in raw_trail()
    created = events(action="create", object_type="staff_user")
    assert created and "password_hash" in created[0].fields


YOUTH_DATA = ("youth", "appointment", "intake", "treatment", "list_entry", "seat_offer")


def assert_every_youth_event_names_its_youth() -> None:
    unnamed = [
        (e.action, e.object_type, e.object_id)
        for e in events()
        if e.object_type in YOUTH_DATA and e.youth_id is None
    ]
    assert not unnamed


def test_offers_and_lists_changed_by_core_updates_leave_events(app, clock):
    from clinic.booking import lists, offers
    from clinic.models import ListEntry, SeatOffer
    from tests.support import lists as list_support

    now = clock.now
    list_support.only_next_day(slots=1, seats=1)
    [appointment_id] = list_support.fill(now)
    entry_id = list_support.join_standby(1, now)
    second = list_support.join_standby(2, now)
    assert list_support.cancel(appointment_id, now) == 1
    offer = db.session.scalars(select(SeatOffer)).one()
    offers.decline(offer.id, offer.entry_id, list_support.rules(), now)
    admin = db.session.scalar(select(StaffUser)) or None
    with write_transaction():
        lists._close(second, "removed", admin.id if admin else None, list_support.rules(), now)
    entry_youth = dict(db.session.execute(select(ListEntry.id, ListEntry.youth_id)).all())
    assert events(object_type="seat_offer", action="create", object_id=offer.id)
    [declined] = events(object_type="seat_offer", action="update", object_id=offer.id)
    assert declined.fields == ["answered_at", "status"]
    assert declined.youth_id == entry_youth[entry_id]
    [closed] = events(object_type="list_entry", action="update", object_id=second)
    assert closed.youth_id == entry_youth[second] and "status" in closed.fields
    cancelled = events(object_type="appointment", action="update", object_id=appointment_id)
    assert cancelled and "status" in cancelled[0].fields
    assert_every_youth_event_names_its_youth()


def test_undoing_a_treatment_records_its_deletion(app, booked, make_staff, clock):
    from clinic import clinic_day
    from clinic.settings import current_rules

    clock.set(datetime.combine(NEXT_DAY, time(16, 5), LA))
    desk, clinician = make_staff(StaffRole.FRONT_DESK), make_staff(StaffRole.CLINICIAN)
    rules = current_rules()
    clinic_day.check_in(booked["appointment"], desk, clock.now, rules)
    clinic_day.call(booked["appointment"], clinician, "Laser 1", clock.now, rules)
    record = clinic_day.TreatmentRecord(
        areas=["hands"], session_number=1, skin_type="IV", settings="1064 nm", notes=NOTE
    )
    clinic_day.complete(booked["appointment"], clinician, record, clock.now)
    clinic_day.undo(booked["appointment"], clinician, clock.now, rules)
    [created] = events(object_type="treatment", action="create")
    [deleted] = events(object_type="treatment", action="delete")
    assert deleted.object_id == created.object_id and deleted.youth_id == booked["youth"]
    moves = events(object_type="appointment", action="update")
    assert [e.detail["change"] for e in moves] == ["check_in", "call", "complete", "undo"]
    assert "station" in moves[1].fields and "zebraquartz" not in raw_trail().lower()
    assert_every_youth_event_names_its_youth()


def test_a_merge_records_each_row_moved_to_the_kept_record(app, admin, clock):
    from clinic import records

    kept = book(app.test_client(), first_name="Ana", last_name="Flores")
    other = book(
        app.test_client(),
        first_name="Anna",
        last_name="Flores",
        slot_time="16:20",
        phone="4155550999",
    )
    db.session.execute(
        update(Appointment).where(Appointment.id == other.id).values(status="cancelled")
    )
    db.session.commit()
    kept_youth, other_youth, other_id = kept.youth_id, other.youth_id, other.id
    records.merge(kept_youth, other_youth, admin, clock.now.date())
    [moved] = events(object_type="appointment", action="update", object_id=other_id)
    assert moved.fields == ["youth_id"] and moved.youth_id == kept_youth
    [merged] = events(object_type="youth", action="update", object_id=other_youth)
    assert "merged_into_id" in merged.fields and merged.staff_id is None  # no request: system
    assert_every_youth_event_names_its_youth()


def test_blocking_a_time_records_the_slot_and_not_the_seat_counter(app, booked, admin, clock):
    from clinic import schedule
    from clinic.settings import current_rules

    schedule.block_slot(NEXT_DAY, time(16, 20), admin, clock.now, current_rules())
    [blocked] = events(object_type="slot")
    assert blocked.fields == ["blocked"] and blocked.action == "update"
    assert not [e for e in events(object_type="slot") if "booked" in e.fields]


# --- Views ----------------------------------------------------------------------------------


def test_opening_a_record_is_recorded_with_who_and_from_where(app, booked, make_staff):
    clinician = make_staff(StaffRole.CLINICIAN)
    client = signed_in(app, clinician)
    assert client.get(f"/staff/youth/{booked['youth']}", headers=EN).status_code == 200
    [view] = events(action="view")
    assert (view.object_type, view.object_id, view.youth_id) == (
        "youth",
        booked["youth"],
        booked["youth"],
    )
    assert (view.actor, view.staff_id, view.address) == ("staff", clinician.id, "127.0.0.1")
    assert view.fields == []


def test_the_address_is_the_one_the_rate_limits_see_behind_a_proxy(app, booked, make_staff):
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # as PROXY_FIX_X_FOR=1 sets it up
    user = make_staff(StaffRole.CLINICIAN)
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    assert sign_in(client, user.email, PASSWORD).status_code == 303
    assert client.get(f"/staff/youth/{booked['youth']}").status_code == 200
    [view] = events(action="view")
    assert view.address == "203.0.113.9"


def test_the_day_sheet_and_a_treatment_form_are_recorded(app, booked, make_staff, clock):
    clinician = make_staff(StaffRole.CLINICIAN)
    client = signed_in(app, clinician)
    assert client.get(f"/staff/day/{NEXT_DAY}").status_code == 200
    assert client.get(f"/staff/day/{NEXT_DAY}/live").status_code == 200  # polled: not recorded
    day_views = events(action="view", object_type="day")
    assert len(day_views) == 1
    assert day_views[0].detail == {"day": NEXT_DAY.isoformat()} and day_views[0].youth_id is None
    client.get(f"/staff/appointments/{booked['appointment']}/complete")
    [form_view] = events(action="view", object_type="appointment")
    assert form_view.youth_id == booked["youth"]


def test_a_view_costs_one_statement(app, booked, make_staff, monkeypatch):
    client = signed_in(app, make_staff(StaffRole.CLINICIAN))
    url = f"/staff/youth/{booked['youth']}"
    client.get(url)
    with count_statements() as recorded:
        client.get(url)
    monkeypatch.setattr(audit, "viewed", lambda *args, **kwargs: None)
    with count_statements() as unrecorded:
        client.get(url)
    assert len(recorded) == len(unrecorded) + 1
    assert any(s.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT") for s in recorded)


def test_time_per_view(app, make_staff):
    """The cost of the write itself, printed for the record (not a benchmark: a ceiling)."""
    with app.test_request_context():
        audit.act_as_staff(make_staff(StaffRole.CLINICIAN).id, "127.0.0.1")
        rounds = 50
        started = perf_counter()
        for n in range(rounds):
            audit.viewed("youth", n + 1, n + 1)
        each = (perf_counter() - started) / rounds
    db.session.rollback()  # a fresh snapshot: the views were committed elsewhere
    print(f"\naudit.viewed: {each * 1000:.2f} ms per view ({db.engine.dialect.name})")
    assert len(events(action="view")) == rounds
    assert each < 0.05


def test_time_per_record_page_with_and_without_the_view_event(app, booked, make_staff, monkeypatch):
    """The page's time with its view written, and without: printed for the closing note."""
    client = signed_in(app, make_staff(StaffRole.CLINICIAN))
    url = f"/staff/youth/{booked['youth']}"
    app.config["RATELIMIT_ENABLED"] = False

    def per_page(rounds: int = 40) -> float:
        client.get(url)
        started = perf_counter()
        for _ in range(rounds):
            assert client.get(url).status_code == 200
        return (perf_counter() - started) / rounds * 1000

    with_view = per_page()
    monkeypatch.setattr(audit, "viewed", lambda *args, **kwargs: None)
    without = per_page()
    print(
        f"\nrecord page ({db.engine.dialect.name}): {with_view:.1f} ms with its view event, "
        f"{without:.1f} ms without ({with_view - without:+.1f} ms)"
    )


# --- Append-only ----------------------------------------------------------------------------


def test_the_database_refuses_to_update_or_delete_an_event(app, booked):
    assert events()
    for statement in ("UPDATE audit_event SET action = 'view'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    with pytest.raises(DBAPIError, match="append-only"), write_transaction():
        event = db.session.scalars(select(AuditEvent)).first()
        event.action = "view"
    assert len(events()) > 0


def test_no_route_writes_to_the_trail_but_views(app, admin):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.audit")]
    assert {rule.endpoint for rule in rules} == {"staff.audit_trail", "staff.audit_export"}
    assert all(rule.methods - {"HEAD", "OPTIONS"} == {"GET"} for rule in rules)
    client = signed_in(app, admin)
    for url in ("/staff/audit", "/staff/audit.csv"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.open(url, method=method).status_code == 405, (url, method)
    assert client.delete("/staff/audit/1").status_code == 404


def test_reading_pages_adds_views_and_exports_only(app, admin, booked):
    """The fuzz test leaves the trail out of its "a GET changes nothing" check: this is it."""
    client = signed_in(app, admin)
    before = len(events())
    for url in (
        "/staff/audit",
        "/staff/audit.csv",
        f"/staff/youth/{booked['youth']}",
        f"/staff/day/{NEXT_DAY}",
        f"/staff/day/{NEXT_DAY}/live",
        "/staff/lists",
        f"/staff/lists/{NEXT_DAY}",
        "/staff/lists/program",
        "/staff/messages",
        "/staff/schedule",
        "/staff/accounts",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        response.get_data()
    added = events()[before:]
    assert {e.action for e in added} == {"view", "export"}
    assert {e.object_type for e in added} >= {"youth", "day", "standby", "program", "messages"}


@pytest.mark.parametrize("role", [StaffRole.FRONT_DESK, StaffRole.CLINICIAN])
def test_only_admins_read_the_trail(app, make_staff, role, booked):
    client = signed_in(app, make_staff(role))
    assert client.get("/staff/audit").status_code == 403
    assert client.get("/staff/audit.csv").status_code == 403
    record = client.get(f"/staff/youth/{booked['youth']}", headers=EN).get_data(as_text=True)
    assert "Access history" not in record
    assert "Audit trail" not in record  # nor in the menu


# --- The screen -----------------------------------------------------------------------------


def test_the_admin_browses_and_filters_the_trail(app, admin, booked, make_staff):
    desk = make_staff(StaffRole.FRONT_DESK)
    other = book(app.test_client(), first_name="Bea", last_name="Soto", phone="4155550999")
    signed_in(app, desk).get(f"/staff/youth/{booked['youth']}")
    client = signed_in(app, admin)
    page = client.get("/staff/audit", headers=EN).get_data(as_text=True)
    assert "Audit trail" in page and "<caption>" in page
    assert "Test front_desk" in page and "Viewed" in page and "127.0.0.1" in page
    assert SENTINEL not in page
    assert 'label for="youth"' in page and 'label for="staff"' in page

    by_youth = client.get(f"/staff/audit?youth={other.youth_id}", headers=EN).get_data(True)
    assert f"/staff/youth/{other.youth_id}" in by_youth
    assert f'/staff/youth/{booked["youth"]}"' not in by_youth
    by_staff = client.get(f"/staff/audit?staff={desk.id}", headers=EN).get_data(True)
    assert by_staff.count("<td>Viewed") == 1  # the one view (and the sign-in)
    tomorrow = (datetime.now(LA) + timedelta(days=1)).date()
    later = client.get(f"/staff/audit?since={tomorrow}", headers=EN).get_data(True)
    assert "No events here." in later
    bad = client.get("/staff/audit?since=2026-12-10&until=2026-12-01", headers=EN)
    assert bad.status_code == 422


@pytest.mark.parametrize("youth", ["9" * 300, "-" + "9" * 30, "٣", "0"])
def test_a_record_number_out_of_reach_is_a_clear_refusal(app, admin, youth):
    """A thousand digits once reached NumberRange, which compares through float: a 500."""
    client = signed_in(app, admin)
    page = client.get("/staff/audit", query_string={"youth": youth}, headers=EN)
    assert page.status_code == 422
    assert client.get("/staff/audit.csv", query_string={"youth": youth}).status_code == 400


def test_the_list_pages_newest_first(app, admin):
    rows = [
        {
            "at": datetime(2026, 11, 1) + timedelta(minutes=n),
            "actor": "system",
            "action": "view",
            "object_type": "youth",
            "object_id": n,
            "youth_id": n,
            "fields": [],
        }
        for n in range(1, 151)
    ]
    db.session.execute(insert(AuditEvent), rows)
    db.session.commit()
    client = signed_in(app, admin)
    first = client.get("/staff/audit?youth=150", headers=EN).get_data(True)
    assert "/staff/youth/150" in first
    page = client.get("/staff/audit?until=2026-11-30", headers=EN).get_data(True)
    assert page.count("<tr>") == 101
    assert page.index('/staff/youth/150"') < page.index('/staff/youth/149"')
    link = next(part.split('"')[0] for part in page.split('href="') if "before=" in part)
    second = client.get(link.replace("&amp;", "&"), headers=EN).get_data(True)
    assert second.count("<tr>") == 51 and '/staff/youth/1"' in second


def test_the_list_costs_the_same_with_5_or_500_events(app, admin):
    client = signed_in(app, admin)

    def cost() -> int:
        with count_statements() as statements:
            assert client.get("/staff/audit").status_code == 200
        return len(statements)

    first = cost()
    staff_ids = [make.id for make in db.session.scalars(select(StaffUser))]
    db.session.execute(
        insert(AuditEvent),
        [
            {
                "at": datetime(2026, 11, 1),
                "actor": "staff",
                "staff_id": staff_ids[n % len(staff_ids)],
                "action": "view",
                "fields": [],
            }
            for n in range(500)
        ],
    )
    db.session.commit()
    assert cost() == first


def test_the_csv_export_is_a_streamed_attachment_and_is_itself_recorded(app, admin, booked):
    client = signed_in(app, admin)
    response = client.get(f"/staff/audit.csv?youth={booked['youth']}&since=2026-01-01")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="audit-trail.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows and {row["youth_id"] for row in rows} == {str(booked["youth"])}
    assert {"first_name", "last_name"} <= set(
        next(row for row in rows if row["object_type"] == "youth")["fields"].split()
    )
    assert SENTINEL not in response.get_data(as_text=True)
    [export] = events(action="export")
    assert export.staff_id == admin.id and export.object_type == "audit"
    assert export.detail == {"youth": str(booked["youth"]), "since": "2026-01-01"}


def test_the_record_shows_its_access_history_to_admins(app, admin, booked, make_staff):
    signed_in(app, make_staff(StaffRole.CLINICIAN)).get(f"/staff/youth/{booked['youth']}")
    client = signed_in(app, admin)
    page = client.get(f"/staff/youth/{booked['youth']}", headers=EN).get_data(as_text=True)
    history = page.split("Access history")[1]
    assert "Test clinician" in history and "Viewed" in history
    assert f"/staff/audit?youth={booked['youth']}" in history


def test_spanish_labels(app, admin, booked):
    client = signed_in(app, admin)
    client.post("/language", data={"lang": "es", "next": "/"})
    page = client.get("/staff/audit", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Registro de auditoría" in page


def test_times_are_utc_in_the_export(app, admin):
    db.session.execute(
        insert(AuditEvent),
        [
            {
                "at": datetime(2026, 11, 2, 3, 4, 5),
                "actor": "system",
                "action": "purge",
                "fields": [],
            }
        ],
    )
    db.session.commit()
    body = signed_in(app, admin).get("/staff/audit.csv").get_data(as_text=True)
    assert "2026-11-02T03:04:05" in body
