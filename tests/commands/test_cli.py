"""The flask commands: create-staff, seed-demo, backup and restore (seed-demo --scale large:
test_demo_large.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from clinic.extensions import db
from clinic.models import (
    Appointment,
    Intake,
    OutboxMessage,
    Slot,
    StaffUser,
    Treatment,
    Youth,
)
from clinic.rules.visits import SEAT_HOLDING


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
