"""Throwaway databases for tests: SQLite files, or databases on the PostgreSQL server named by
``TEST_DATABASE_URL`` (each test run makes its own, so two runs on one machine never meet)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import flask_migrate
from sqlalchemy import create_engine, make_url, text

from clinic import create_app
from clinic.extensions import db

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL") or None


def on_postgres() -> bool:
    return POSTGRES_URL is not None


def _admin_engine():
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def new_database(label: str, folder: Path) -> str:
    """A new, empty database's URL: a file in ``folder``, or a fresh PostgreSQL database."""
    if not on_postgres():
        return f"sqlite:///{folder / (label + '.sqlite3')}"
    name = f"clinic_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    engine = _admin_engine()
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Remove a database made by ``new_database`` (files go with pytest's tmp_path)."""
    if not url.startswith("postgresql"):
        return
    name = make_url(url).database
    engine = _admin_engine()
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def migrate(url: str) -> None:
    """Bring a database to the newest schema, the way production does: by the migrations."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


def empty_tables(url: str) -> None:
    """Delete every row but the schema version, and restart the ids (PostgreSQL)."""
    engine = create_engine(url)
    tables = ", ".join(
        f'"{table.name}"' for table in db.metadata.sorted_tables if table.name != "alembic_version"
    )
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
