"""The flask commands: create-staff, seed-demo (small and large), backup and restore."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from clinic.commands import demo_large
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AppointmentStatus,
    Intake,
    OutboxMessage,
    Slot,
    StaffUser,
    Treatment,
    Youth,
)
from clinic.rules.eligibility import Eligibility, eligibility
from clinic.rules.visits import SEAT_HOLDING
from tests.conftest import NOW


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_create_staff_makes_an_account_that_can_sign_in(runner, client):
    result = runner.invoke(
        args=[
            "create-staff",
            "Nurse@Clinic.test",
            "--name",
            "Nia",
            "--role",
            "clinician",
            "--password",
            "long enough password",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(StaffUser)).one()
    assert user.email == "nurse@clinic.test" and user.role == "clinician"
    assert user.password_hash != "long enough password"
    response = client.post(
        "/auth/login", data={"email": "nurse@clinic.test", "password": "long enough password"}
    )
    assert response.status_code == 303


def test_create_staff_prompts_for_a_hidden_password(runner):
    result = runner.invoke(
        args=["create-staff", "desk@clinic.test", "--name", "Dee", "--role", "front_desk"],
        input="a secret phrase\na secret phrase\n",
    )
    assert result.exit_code == 0, result.output
    assert "a secret phrase" not in result.output


def test_create_staff_refuses_a_short_password_and_a_bad_role(runner):
    short = runner.invoke(
        args=[
            "create-staff",
            "x@clinic.test",
            "--name",
            "X",
            "--role",
            "admin",
            "--password",
            "123",
        ]
    )
    assert short.exit_code != 0 and "at least 12" in short.output
    bad_role = runner.invoke(
        args=[
            "create-staff",
            "x@clinic.test",
            "--name",
            "X",
            "--role",
            "boss",
            "--password",
            "long enough password",
        ]
    )
    assert bad_role.exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 0


def test_create_staff_resets_an_existing_account(runner):
    args = ["create-staff", "a@clinic.test", "--name", "A", "--role", "front_desk", "--password"]
    runner.invoke(args=[*args, "first password"])
    runner.invoke(args=[*args[:-2], "admin", "--password", "second password"])
    user = db.session.scalars(select(StaffUser)).one()
    assert user.role == "admin" and user.check_password("second password")


def snapshot():
    youth = db.session.execute(
        select(Youth.first_name, Youth.last_name, Youth.date_of_birth).order_by(Youth.id)
    ).all()
    codes = db.session.scalars(select(Appointment.code).order_by(Appointment.id)).all()
    return youth, codes


def test_seed_demo_is_realistic_consistent_and_runs_once(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Demo clinic loaded" in result.output
    youth, codes = snapshot()
    assert len(youth) > 50 and len(codes) >= len(youth)  # some youth come back
    assert len(set(codes)) == len(codes)
    # Every seat counter equals its seat-holding appointments and stays within capacity.
    for slot in db.session.scalars(select(Slot).options(selectinload(Slot.appointments))):
        assert 0 <= slot.booked <= slot.capacity
        assert slot.booked == sum(a.status in SEAT_HOLDING for a in slot.appointments)
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 3
    # Past visits happened: most were treated, sessions numbered along each youth's course.
    by_status = select(Appointment.status, func.count()).group_by(Appointment.status)
    statuses = {status: count for status, count in db.session.execute(by_status)}
    assert statuses["completed"] > 5 * statuses["no_show"] > 0
    assert statuses["booked"] > 0  # and the coming days are booked
    assert db.session.scalar(select(func.count()).select_from(Treatment)) == statuses["completed"]
    assert db.session.scalar(select(func.max(Treatment.session_number))) >= 2

    again = runner.invoke(args=["seed-demo"])
    assert "already has data" in again.output
    assert snapshot() == (youth, codes)


def test_seed_demo_is_deterministic(app, runner, tmp_path):
    from clinic import create_app
    from tests.support import databases

    runner.invoke(args=["seed-demo"])
    first = snapshot()
    other = databases.new_database("other", tmp_path)
    try:
        databases.migrate(other)
        second_app = create_app({"SQLALCHEMY_DATABASE_URI": other})
        with second_app.app_context():
            second_app.test_cli_runner().invoke(args=["seed-demo"])
            second = snapshot()
            db.session.remove()
            db.engine.dispose()
    finally:
        databases.drop_database(other)
    assert first == second


def test_seed_demo_refuses_to_run_in_production(app, runner):
    app.config["CLINIC_ENV"] = "production"
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "development" in result.output
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 0


def test_backup_then_restore_brings_a_booking_back(app, runner, tmp_path):
    from tests.conftest import intake_data, intake_url

    client = app.test_client()
    assert client.post(intake_url(), data=intake_data()).status_code == 303
    backup = tmp_path / "clinic.backup"
    made = runner.invoke(args=["backup", str(backup)])
    assert made.exit_code == 0, made.output
    assert "Backup written" in made.output and backup.stat().st_size > 0

    db.session.execute(OutboxMessage.__table__.delete())
    db.session.execute(Intake.__table__.delete())
    db.session.execute(Appointment.__table__.delete())
    db.session.commit()
    db.session.remove()  # PostgreSQL: pg_restore must not wait on this session's locks

    restored = runner.invoke(args=["restore", str(backup), "--yes"])

    assert restored.exit_code == 0, restored.output
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1
    assert db.session.scalar(select(Slot.booked)) == 1
    assert "The database as it was is kept in" in restored.output
    assert "flask db upgrade" not in restored.output  # same schema revision
    kept = restored.output.split("kept in ", 1)[1].split()[0].rstrip(".")
    assert Path(kept).stat().st_size > 0


def test_an_empty_or_foreign_file_never_replaces_the_database(app, runner, tmp_path):
    from tests.support import databases

    empty = tmp_path / ("empty.dump" if databases.on_postgres() else "empty.sqlite3")
    if databases.on_postgres():
        other = databases.new_database("empty", tmp_path)
        try:
            subprocess_dump(other, empty)
        finally:
            databases.drop_database(other)
    else:
        empty.touch()  # SQLite opens an empty file as an empty, healthy database
    refused = runner.invoke(args=["restore", str(empty), "--yes"])
    assert refused.exit_code == 1
    assert "is not a backup of this clinic's database" in refused.output
    assert "alembic_version" in refused.output


def subprocess_dump(url: str, path) -> None:
    import subprocess

    from sqlalchemy import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["pg_dump", "--format=custom", f"--file={path}", plain], check=True)


def test_restoring_an_older_backup_says_to_upgrade(app, runner, tmp_path):
    import flask_migrate

    db.session.remove()
    flask_migrate.downgrade(revision="308d53186a6a")
    backup = tmp_path / "old.backup"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    flask_migrate.upgrade()
    restored = runner.invoke(args=["restore", str(backup), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "revision 308d53186a6a" in restored.output
    assert "Run `flask db upgrade`" in restored.output
    flask_migrate.upgrade()


def test_restore_asks_before_replacing_the_database(app, runner, tmp_path):
    runner.invoke(args=["backup", str(tmp_path / "b")])
    answered_no = runner.invoke(args=["restore", str(tmp_path / "b")], input="n\n")
    assert answered_no.exit_code == 1
    assert "Aborted" in answered_no.output


def test_a_damaged_backup_is_refused(app, runner, tmp_path):
    from tests.support import databases

    if databases.on_postgres():
        damaged = tmp_path / "damaged.dump"
        damaged.write_bytes(b"PGDMP" + b"\0" * 100)
        refused = runner.invoke(args=["restore", str(damaged), "--yes"])
        assert refused.exit_code == 1
        assert "pg_restore failed" in refused.output
        return
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"not a database at all" * 100)
    refused = runner.invoke(args=["restore", str(damaged), "--yes"])
    assert refused.exit_code == 1
    assert "not a usable SQLite database" in refused.output
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 0


def test_seed_demo_large_is_a_consistent_two_year_clinic(runner, monkeypatch):
    monkeypatch.setattr(demo_large, "LARGE_YOUTH", 2_000)  # the real 20,000 only makes it slower
    result = runner.invoke(args=["seed-demo", "--scale", "large"])
    assert result.exit_code == 0, result.output
    assert "Demo clinic loaded: 2000 youth" in result.output
    assert count(Youth) == 2_000 and count(StaffUser) == 3
    assert count(Intake) == count(Appointment) > 1_000  # one intake per booking

    # Every seat counter equals its BOOKED appointments; cancelled ones hold no seat.
    booked = dict(
        db.session.execute(
            select(Appointment.slot_id, func.count())
            .where(Appointment.status == AppointmentStatus.BOOKED)
            .group_by(Appointment.slot_id)
        ).all()
    )
    slots = db.session.scalars(select(Slot)).all()
    for slot in slots:
        assert 0 <= slot.booked <= slot.capacity
        assert slot.booked == booked.get(slot.id, 0)

    # Two years back to two months ahead; past days (nearly) full, later ones partly.
    today = NOW.date()
    days = {slot.day for slot in slots}
    assert min(days) <= today - timedelta(days=700) and max(days) > today + timedelta(days=30)
    past = [s for s in slots if s.day < today]
    seats = 12 * 2 * len({s.day for s in past})
    assert sum(s.booked for s in past) >= 0.9 * seats
    upcoming = [s for s in slots if s.day >= today]
    assert 0 < sum(s.booked for s in upcoming) < 0.9 * 12 * 2 * len({s.day for s in upcoming})

    rows = db.session.execute(
        select(Appointment.youth_id, Appointment.status, Appointment.cancelled_at, Slot.day)
        .join(Appointment.slot)
        .order_by(Appointment.youth_id, Slot.day)
    ).all()
    # Youth come back for a course of sessions, six weeks or more apart.
    visits: dict[int, list] = {}
    for youth_id, status, cancelled_at, day in rows:
        assert (status == AppointmentStatus.CANCELLED) == (cancelled_at is not None)
        if status == AppointmentStatus.BOOKED:
            visits.setdefault(youth_id, []).append(day)
    assert sum(len(days) >= 6 for days in visits.values()) >= 20
    for days in visits.values():
        assert all(b - a >= timedelta(weeks=6) for a, b in pairwise(days))
        assert sum(day >= today for day in days) <= 1  # one upcoming appointment at most

    # Everyone treated was eligible on the day.
    births = dict(db.session.execute(select(Youth.id, Youth.date_of_birth)).all())
    for youth_id, days in visits.items():
        for day in days:
            assert eligibility(births[youth_id], day) is Eligibility.ELIGIBLE


def test_seed_demo_large_is_deterministic(app, runner, tmp_path, monkeypatch):
    from clinic import create_app
    from tests.support import databases

    monkeypatch.setattr(demo_large, "LARGE_YOUTH", 500)
    runner.invoke(args=["seed-demo", "--scale", "large"])
    first = large_snapshot()
    other = databases.new_database("other", tmp_path)
    try:
        databases.migrate(other)
        second_app = create_app({"SQLALCHEMY_DATABASE_URI": other})
        with second_app.app_context():
            second_app.test_cli_runner().invoke(args=["seed-demo", "--scale", "large"])
            second = large_snapshot()
            db.session.remove()
            db.engine.dispose()
    finally:
        databases.drop_database(other)
    assert first == second and len(first[1]) > 1_000


def large_snapshot():
    youth = db.session.execute(
        select(Youth.identity_key, Youth.date_of_birth).order_by(Youth.id)
    ).all()
    appointments = db.session.execute(
        select(Appointment.code, Appointment.status, Slot.day, Slot.start_time)
        .join(Appointment.slot)
        .order_by(Appointment.id)
    ).all()
    return youth, appointments


def test_seed_demo_large_refuses_to_run_in_production(app, runner):
    app.config["CLINIC_ENV"] = "production"
    result = runner.invoke(args=["seed-demo", "--scale", "large"])
    assert result.exit_code != 0 and "development" in result.output
    assert count(Youth) == 0


@pytest.mark.parametrize("damage", ["torn pages", "not a database any more"])
def test_restore_brings_back_a_damaged_sqlite_database(app, runner, tmp_path, damage):
    """Restoring is what one does when the database is damaged: it must not need to read it."""
    from tests.support import databases

    if databases.on_postgres():
        pytest.skip("SQLite files; PostgreSQL guards its own pages")
    from tests.conftest import intake_data, intake_url

    assert app.test_client().post(intake_url(), data=intake_data()).status_code == 303
    backup = tmp_path / "clinic.backup"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    db.session.remove()
    db.engine.dispose()
    live = Path(db.engine.url.database)
    with live.open("r+b") as file:
        if damage == "torn pages":
            file.seek(4096 * 2)
            file.write(b"\xff" * 8192)
        else:
            file.write(b"garbage" * 100)

    restored = runner.invoke(args=["restore", str(backup), "--yes"])

    assert restored.exit_code == 0, restored.output
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1
    kept = next(live.parent.glob(f"{live.name}.pre-restore-*"))
    assert kept.stat().st_size > 0  # the damaged file is kept too, for whoever investigates
