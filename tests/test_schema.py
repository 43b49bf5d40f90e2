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
    from tests import databases

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
