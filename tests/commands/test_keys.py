"""`flask keys generate` and `flask keys rotate` (and `reindex`), on whichever database the
suite runs (SQLite, or PostgreSQL with TEST_DATABASE_URL): everything ends under the new key,
an interrupted run finishes when run again, a value the clinic changes meanwhile is kept, and
afterwards the old key can go."""

from __future__ import annotations

from datetime import date, time

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, text

from clinic import crypto
from clinic.commands import keys
from clinic.extensions import db
from clinic.models import Intake, StaffRole, Treatment, Youth
from config import TestingConfig
from tests.conftest import intake_data, intake_url
from tests.records.test_youth_records import add_treatment

OLD = TestingConfig.DATA_KEYS
NEW = "G-t1O9wP16pKVgAXKIukdOfBIPvaToyUAQJ987EwaB0="  # tests only  # nosec B105


def raw_tokens() -> dict[tuple[str, str, int], str]:
    """Every encrypted value as stored, by (table, column, id)."""
    found = {}
    for table, column in keys.encrypted_columns():
        rows = db.session.execute(
            text(f"SELECT id, {column.name} FROM {table.name} WHERE {column.name} IS NOT NULL")
        )
        for row_id, token in rows:
            found[(table.name, column.name, row_id)] = token
    db.session.rollback()
    return found


def opens(key: str, token: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


@pytest.fixture
def clinic_data(app, client, make_staff):
    """Three bookings (youth, intakes, messages), a treatment with notes, an admin's TOTP."""
    for n, (first, phone) in enumerate([("Ana", "4155550101"), ("Bo", "4155550102"), ("Cy", "")]):
        data = intake_data(
            first_name=first,
            phone=phone,
            email=f"{first.lower()}@example.org",
            tattoo_notes=f"notes {n}",
            submission_key=f"key{n:03d}" + "k" * 26,
            slot_time="16:00" if n < 2 else "16:20",
        )
        start = "16:00" if n < 2 else "16:20"
        assert (
            client.post(intake_url(start=time.fromisoformat(start)), data=data).status_code == 303
        )
    clinician = make_staff(StaffRole.CLINICIAN)
    make_staff(StaffRole.ADMIN)  # its TOTP secret is encrypted too
    youth_id = db.session.scalars(select(Youth.id).order_by(Youth.id)).first()
    add_treatment(youth_id, clinician.id, date(2026, 1, 6), 1, notes="ok")
    db.session.commit()
    tokens = raw_tokens()
    assert len(tokens) >= 20
    assert all(opens(OLD, token) for token in tokens.values())
    return tokens


def test_generate_prints_a_fernet_key(runner):
    result = runner.invoke(args=["keys", "generate"])
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())  # a valid key
    assert result.output != runner.invoke(args=["keys", "generate"]).output


def test_rotate_puts_everything_under_the_new_key_and_the_old_one_can_go(app, runner, clinic_data):
    app.config["DATA_KEYS"] = f"{NEW},{OLD}"
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert f"Re-encrypted {len(clinic_data)} values; 0 were already" in result.output
    tokens = raw_tokens()
    assert tokens.keys() == clinic_data.keys()
    assert all(opens(NEW, token) and not opens(OLD, token) for token in tokens.values())

    # Idempotent: nothing left to do.
    again = runner.invoke(args=["keys", "rotate"])
    assert f"Re-encrypted 0 values; {len(clinic_data)} were already" in again.output

    # The old key removed, everything still reads.
    app.config["DATA_KEYS"] = NEW
    db.session.expire_all()
    intakes = db.session.scalars(select(Intake).order_by(Intake.id)).all()
    assert [intake.tattoo_notes for intake in intakes][:3] == ["notes 0", "notes 1", "notes 2"]
    assert db.session.scalars(select(Treatment.notes)).one() == "ok"
    # And search by phone, whose index does not depend on the data keys.
    assert (
        db.session.scalar(
            select(Youth.first_name).where(
                Youth.phone_index == crypto.blind_index("phone", "4155550102")
            )
        )
        == "Bo"
    )


def test_an_interrupted_rotation_finishes_when_run_again(app, runner, clinic_data, monkeypatch):
    app.config["DATA_KEYS"] = f"{NEW},{OLD}"
    real = crypto.multi_fernet
    calls = {"n": 0}

    class Interrupting:
        def __init__(self, inner):
            self.inner = inner

        def rotate(self, token):
            calls["n"] += 1
            if calls["n"] > 7:
                raise KeyboardInterrupt  # the operator's Ctrl-C, a crash, a lost connection
            return self.inner.rotate(token)

    monkeypatch.setattr(crypto, "multi_fernet", lambda app=None: Interrupting(real(app)))
    interrupted = runner.invoke(args=["keys", "rotate", "--batch-size", "3"])
    assert interrupted.exit_code != 0
    tokens = raw_tokens()
    done = [token for token in tokens.values() if opens(NEW, token)]
    # The batches before the interruption were committed; the one it hit was rolled back.
    assert 0 < len(done) < len(tokens)
    assert len(done) <= 7

    monkeypatch.setattr(crypto, "multi_fernet", real)
    resumed = runner.invoke(args=["keys", "rotate", "--batch-size", "3"])
    assert resumed.exit_code == 0, resumed.output
    assert f"{len(done)} were already under the first key" in resumed.output
    assert all(opens(NEW, token) for token in raw_tokens().values())


def test_a_value_changed_during_the_rotation_is_kept(app, runner, clinic_data, monkeypatch):
    """The clinic writes between a batch's read and its write (with the new key first, as its
    servers run during a rotation): the compare-and-set leaves that value alone."""
    app.config["DATA_KEYS"] = f"{NEW},{OLD}"
    target = min(
        row_id
        for (table, name, row_id) in clinic_data
        if (table, name) == ("intake", "tattoo_notes")
    )
    written = crypto.encrypt("changed by the clinic")
    real_batches = keys._batches

    def batches_with_a_change(table_name, name, size):
        for connection, rows in real_batches(table_name, name, size):
            if (table_name, name) == ("intake", "tattoo_notes"):
                # The row as this batch read it is now stale: the clinic saved a new note.
                connection.execute(
                    text("UPDATE intake SET tattoo_notes = :new WHERE id = :id"),
                    {"new": written, "id": target},
                )
            yield connection, rows

    monkeypatch.setattr(keys, "_batches", batches_with_a_change)
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "1 changed meanwhile" in result.output
    db.session.expire_all()
    assert db.session.get(Intake, target).tattoo_notes == "changed by the clinic"
    assert raw_tokens()[("intake", "tattoo_notes", target)] == written


def test_a_value_no_key_opens_is_reported(app, runner, clinic_data):
    db.session.execute(text("UPDATE treatment SET notes = 'not a token'"))
    db.session.commit()
    app.config["DATA_KEYS"] = f"{NEW},{OLD}"
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert "treatment.notes (1)" in result.output


def test_reindex_follows_a_new_blind_index_key(app, runner, clinic_data):
    app.config["BLIND_INDEX_KEY"] = "another-test-only-key"
    assert (
        db.session.scalar(
            select(Youth.id).where(Youth.phone_index == crypto.blind_index("phone", "4155550101"))
        )
        is None
    )
    result = runner.invoke(args=["keys", "reindex"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    assert (
        db.session.scalar(
            select(Youth.first_name).where(
                Youth.phone_index == crypto.blind_index("phone", "4155550101")
            )
        )
        == "Ana"
    )


def test_reindex_recomputes_the_referral_index(app, runner, clinic_data):
    """The reports count youth by the referral's blind index: after the key changes, the
    intakes are indexed again under it, and still read their referral."""
    codes = db.session.scalars(select(Intake.referral_source)).all()
    assert codes
    app.config["BLIND_INDEX_KEY"] = "another-test-only-key"
    result = runner.invoke(args=["keys", "reindex"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    rows = db.session.execute(select(Intake.referral_source, Intake.referral_index)).all()
    assert rows and all(index == crypto.referral_index(code) for code, index in rows)
