"""clinic.crypto: the encrypted column types, the blind indexes, the keys at start-up and the
file modes."""

from __future__ import annotations

import json
import stat

import pytest
from cryptography.fernet import Fernet
from flask import Flask

import config
from clinic import create_app, crypto
from clinic.models import Intake, Youth
from config import TestingConfig

OTHER = "G-t1O9wP16pKVgAXKIukdOfBIPvaToyUAQJ987EwaB0="  # tests only  # nosec B105


@pytest.fixture
def bare():
    app = Flask("bare")
    app.config.update(DATA_KEYS=TestingConfig.DATA_KEYS, BLIND_INDEX_KEY="k")
    with app.app_context():
        yield app


def test_values_round_trip_and_equal_values_look_different(bare):
    column = crypto.EncryptedText()
    first = column.process_bind_param("+14155550134", None)
    second = column.process_bind_param("+14155550134", None)
    assert first != second and first.startswith(crypto.TOKEN_PREFIX)
    assert "4155550134" not in first
    assert column.process_result_value(first, None) == "+14155550134"
    assert column.process_bind_param(None, None) is None
    as_json = crypto.EncryptedJSON()
    token = as_json.process_bind_param({"screening": ["herpes"], "n": 2}, None)
    assert "herpes" not in token
    assert as_json.process_result_value(token, None) == {"screening": ["herpes"], "n": 2}


def test_the_first_key_encrypts_and_every_key_decrypts(bare):
    old = crypto.encrypt("note")
    bare.config["DATA_KEYS"] = f"{OTHER}, {TestingConfig.DATA_KEYS}"
    assert crypto.decrypt(old) == "note"
    assert not crypto.is_current(old)
    new = crypto.encrypt("note")
    assert crypto.is_current(new)
    Fernet(OTHER.encode()).decrypt(new.encode())  # under the first key
    bare.config["DATA_KEYS"] = OTHER
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(old)


def test_sql_cannot_compare_an_encrypted_column():
    with pytest.raises(TypeError, match="blind index"):
        Youth.phone == "+14155550134"  # noqa: B015
    with pytest.raises(TypeError):
        Intake.referral_source.in_(["court"])
    with pytest.raises(TypeError):
        Intake.tattoo_notes.desc()
    Youth.phone.is_(None)  # still fine


def test_blind_indexes_normalise_and_depend_on_their_key(bare):
    same = {
        crypto.blind_index("phone", text)
        for text in ("(415) 555-0134", "415.555.0134", "+1 415 555 0134", "+14155550134")
    }
    assert len(same) == 1
    index = same.pop()
    assert len(index) == 64 and "4155550134" not in index
    assert crypto.blind_index("email", " Ana@Example.ORG ") == crypto.blind_index(
        "email", "ana@example.org"
    )
    assert crypto.blind_index("email", "4155550134") != crypto.blind_index("phone", "4155550134")
    assert crypto.contact_index("phone", None) is None
    assert crypto.contact_index("email", "  ") is None
    bare.config["BLIND_INDEX_KEY"] = "another"
    assert crypto.blind_index("phone", "+14155550134") != index


@pytest.mark.parametrize("name", ["DATA_KEYS", "BLIND_INDEX_KEY"])
def test_production_refuses_to_start_without_its_keys(monkeypatch, name):
    monkeypatch.delenv("CLINIC_ENV", raising=False)  # unset means production
    for setting, value in {
        "SECRET_KEY": "a production key",
        "DATA_KEYS": TestingConfig.DATA_KEYS,
        "BLIND_INDEX_KEY": TestingConfig.BLIND_INDEX_KEY,
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "RATELIMIT_SINGLE_PROCESS": True,
    }.items():
        monkeypatch.setattr(config.ProductionConfig, setting, value)
    assert create_app().config["CLINIC_ENV"] == "production"
    monkeypatch.setattr(config.ProductionConfig, name, "")
    with pytest.raises(RuntimeError, match=name):
        create_app()


def test_a_malformed_key_stops_the_app_without_showing_it(monkeypatch):
    with pytest.raises(RuntimeError, match="not a Fernet key") as error:
        create_app({"DATA_KEYS": "not-a-real-key-value", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert "not-a-real-key-value" not in str(error.value)


def test_development_generates_its_keys_once_in_the_instance_folder(tmp_path):
    app = Flask("dev", instance_path=str(tmp_path / "instance"))
    app.config.update(CLINIC_ENV="development", DATA_KEYS="", BLIND_INDEX_KEY="")
    crypto.init_app(app)
    path = tmp_path / "instance" / "data_keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text())
    assert app.config["DATA_KEYS"] == keys["DATA_KEYS"]
    again = Flask("dev", instance_path=str(tmp_path / "instance"))
    again.config.update(CLINIC_ENV="development", DATA_KEYS="", BLIND_INDEX_KEY="")
    crypto.init_app(again)  # a restart reads the same data
    assert again.config["DATA_KEYS"] == keys["DATA_KEYS"]
    assert again.config["BLIND_INDEX_KEY"] == keys["BLIND_INDEX_KEY"]


def test_the_sqlite_file_and_the_instance_folder_are_the_owners_alone(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    database = instance / "clinic.sqlite3"
    crypto.protect_files(f"sqlite:///{database}", str(instance))
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    # An existing database made readable by all is closed up, its log too.
    database.chmod(0o644)
    wal = instance / "clinic.sqlite3-wal"
    wal.write_bytes(b"")
    wal.chmod(0o644)
    crypto.protect_files(f"sqlite:///{database}", str(instance))
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_the_app_opens_its_sqlite_database_with_mode_0600(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    from clinic.extensions import db

    with app.app_context():
        with db.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x)")
        for suffix in ("", "-wal", "-shm"):
            path = tmp_path / f"fresh.sqlite3{suffix}"
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        db.engine.dispose()
