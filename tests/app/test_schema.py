"""The schema is made by migrations only, and they match the models."""

from __future__ import annotations

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from clinic.extensions import db


def test_migrations_match_the_models(app):
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_migrations_go_down_and_up_again(app):
    flask_migrate.downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
    flask_migrate.upgrade()
    assert {"slot", "appointment", "youth", "intake", "clinic_day", "staff_user"} <= set(
        inspect(db.engine).get_table_names()
    )


def test_create_app_does_not_create_tables(tmp_path):
    from clinic import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    with app.app_context():
        assert inspect(db.engine).get_table_names() == []
        db.engine.dispose()


def test_secret_key_is_required_in_production(monkeypatch):
    import pytest

    import config
    from clinic import create_app

    monkeypatch.delenv("CLINIC_ENV", raising=False)  # unset means production
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_the_suite_runs_on_the_database_it_was_given(app):
    """`make test` runs the suite twice; this guards against the second pass quietly using
    SQLite."""
    from tests.support import databases

    expected = "postgresql" if databases.on_postgres() else "sqlite"
    assert db.engine.dialect.name == expected


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app):
    import pytest

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_upgrading_from_the_previous_revision_keeps_every_booking(app):
    """Production upgrades a database full of bookings, not an empty one."""
    from sqlalchemy import text

    flask_migrate.downgrade(revision="308d53186a6a")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO slot (id, day, start_time, end_time, capacity, booked) "
                "VALUES (1, '2026-11-24', '16:00:00', '16:20:00', 2, 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO youth (id, identity_key, first_name, last_name, date_of_birth, "
                "language, created_at, updated_at) VALUES (1, :key, 'Ana', 'Flores', "
                "'2007-05-01', 'es', '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
            ),
            {"key": "a" * 64},
        )
        connection.execute(
            text(
                "INSERT INTO appointment (id, code, youth_id, slot_id, status, created_at) "
                "VALUES (1, 'ABC234', 1, 1, 'booked', '2026-11-01 10:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO intake (id, appointment_id, language, tattoo_count, "
                "tattoo_locations, tattoo_size, tattoo_colors, tattoo_kind, previous_removal, "
                "screening, referral_source, created_at) VALUES (1, 1, 'es', 1, '[]', 'small', "
                "'black', 'amateur', false, '[]', 'self', '2026-11-01 10:00:00')"
            )
        )

    flask_migrate.upgrade()

    with db.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT a.code, a.status, a.cancelled_at, a.cancelled_by_id, i.tattoo_kind "
                "FROM appointment a JOIN intake i ON i.appointment_id = a.id"
            )
        ).one()
    assert tuple(row) == ("ABC234", "booked", None, None, "amateur")
    # Encrypted in place by 14b2e2c00002 (clinic/crypto.py), and read back in clear.
    from clinic.models import Intake

    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT referral_source FROM intake")).scalar()
    assert stored.startswith("gAAAAA")
    intake = db.session.get(Intake, 1)
    assert (intake.referral_source, intake.screening) == ("self", [])
    db.session.remove()

    flask_migrate.downgrade(revision="308d53186a6a")
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM intake")).scalar() == 1
    flask_migrate.upgrade()
