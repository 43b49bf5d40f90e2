"""`flask backup` writes an encrypted file (a clear header, then Fernet tokens under the first
DATA_KEYS key, mode 0600) and `flask restore` reads it with any configured key, refuses a wrong
key or a cut file with a clear message, and still reads a plain backup from before."""

from __future__ import annotations

import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clinic.commands.backup import MAGIC
from clinic.extensions import db
from clinic.models import Appointment, Intake
from config import TestingConfig
from tests.conftest import intake_data, intake_url
from tests.support import databases

OTHER = "G-t1O9wP16pKVgAXKIukdOfBIPvaToyUAQJ987EwaB0="  # tests only  # nosec B105


@pytest.fixture
def backup(app, runner, tmp_path) -> Path:
    data = intake_data(tattoo_notes="a note to find again")
    assert app.test_client().post(intake_url(), data=data).status_code == 303
    path = tmp_path / "clinic.backup"
    made = runner.invoke(args=["backup", str(path)])
    assert made.exit_code == 0, made.output
    return path


def appointments() -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(Appointment))


def empty_the_clinic() -> None:
    db.session.execute(Intake.__table__.delete())
    db.session.execute(Appointment.__table__.delete().where(Appointment.id > 0))
    db.session.commit()
    db.session.remove()


def test_the_backup_is_encrypted_and_private(backup):
    raw = backup.read_bytes()
    assert raw.startswith(MAGIC)
    assert b"a note to find again" not in raw and b"Flores" not in raw
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600


def test_a_backup_restores_with_its_key_even_after_a_new_one_came_first(app, runner, backup):
    db.session.execute(db.metadata.tables["outbox_message"].delete())
    db.session.commit()
    empty_the_clinic()
    app.config["DATA_KEYS"] = f"{OTHER},{TestingConfig.DATA_KEYS}"
    restored = runner.invoke(args=["restore", str(backup), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert appointments() == 1
    assert db.session.scalars(select(Intake.tattoo_notes)).one() == "a note to find again"


def test_a_wrong_key_is_refused_clearly_and_changes_nothing(app, runner, backup):
    app.config["DATA_KEYS"] = OTHER
    refused = runner.invoke(args=["restore", str(backup), "--yes"])
    assert refused.exit_code == 1
    assert "cannot be decrypted with any key in DATA_KEYS" in refused.output
    app.config["DATA_KEYS"] = TestingConfig.DATA_KEYS
    assert appointments() == 1


def test_a_cut_backup_is_refused(app, runner, backup):
    backup.write_bytes(backup.read_bytes()[: len(MAGIC) + 100])
    refused = runner.invoke(args=["restore", str(backup), "--yes"])
    assert refused.exit_code == 1
    assert "cannot be decrypted" in refused.output or "cut short" in refused.output
    assert appointments() == 1


def test_a_plain_backup_from_before_still_restores(app, runner, tmp_path):
    if databases.on_postgres():
        pytest.skip("an SQLite file copied by hand")
    assert app.test_client().post(intake_url(), data=intake_data()).status_code == 303
    db.session.remove()
    plain = tmp_path / "plain.sqlite3"
    live, copy = sqlite3.connect(db.engine.url.database), sqlite3.connect(plain)
    with closing(live), closing(copy):
        live.backup(copy)
    db.session.execute(db.metadata.tables["outbox_message"].delete())
    db.session.commit()
    empty_the_clinic()
    assert appointments() == 0
    restored = runner.invoke(args=["restore", str(plain), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert appointments() == 1
