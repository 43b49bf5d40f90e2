"""Encryption at rest of the personal data that is never searched by value, and blind indexes
for the parts that are (phone, e-mail).

Columns typed ``EncryptedText`` or ``EncryptedJSON`` hold a Fernet token (AES-128-CBC with an
HMAC-SHA256, from ``cryptography``): a stolen database file or backup shows no screening
answer, note, guardian or contact. The keys come from the app's configuration ``DATA_KEYS``: a
comma-separated list of Fernet keys, the first encrypts, every one decrypts (MultiFernet), so
a new key is put first, ``flask keys rotate`` re-encrypts every row under it, and the old key
can then be dropped. A value is encrypted afresh on every write (a random IV), so equal values
do not look equal: SQL cannot compare them, and this module's types refuse to let it try.

Equality search on a phone or an e-mail goes through a blind index instead: a keyed
HMAC-SHA256 of the normalised value (``blind_index``), stored beside the ciphertext. The key
(``BLIND_INDEX_KEY``) is separate from the data keys and is not rotated by ``keys rotate``:
changing it means recomputing every index (``flask keys reindex``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Text
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeDecorator

from clinic.rules.eligibility import normalize_phone

__all__ = [
    "EncryptedJSON",
    "EncryptedText",
    "InvalidToken",
    "blind_index",
    "contact_index",
    "decrypt",
    "encrypt",
    "init_app",
    "key_list",
]

_EXTENSION = "clinic.crypto"
# Every Fernet token starts with its version byte 0x80, "gA" in URL-safe base64.
TOKEN_PREFIX = "gAAAAA"


def key_list(value: str | Iterable[str] | None) -> list[str]:
    """The keys of a ``DATA_KEYS`` setting: a comma-separated string (the environment's form)
    or a list."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]


def _fernet(app: Flask | None = None) -> MultiFernet:
    """The app's MultiFernet, built once per app and key list (tests change the keys)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    keys = tuple(key_list(app.config.get("DATA_KEYS")))
    cached = app.extensions.get(_EXTENSION)
    if cached is not None and cached[0] == keys:
        return cached[1]
    if not keys:
        raise RuntimeError("DATA_KEYS is not set: the app cannot read or write personal data")
    fernet = MultiFernet([Fernet(key.encode()) for key in keys])
    app.extensions[_EXTENSION] = (keys, fernet)
    return fernet


def multi_fernet(app: Flask | None = None) -> MultiFernet:
    """Every configured key: the first encrypts, all decrypt (what ``keys rotate`` uses)."""
    return _fernet(app)


def first_fernet(app: Flask | None = None) -> Fernet:
    """The key that encrypts (the first of ``DATA_KEYS``), alone: what a rotation writes."""
    return _fernet(app)._fernets[0]


def encrypt(text: str, app: Flask | None = None) -> str:
    return _fernet(app).encrypt(text.encode()).decode("ascii")


def decrypt(token: str, app: Flask | None = None) -> str:
    """The clear text of a token. Raises ``InvalidToken`` when no configured key opens it."""
    return _fernet(app).decrypt(token.encode("ascii")).decode()


def decrypt_bytes(token: bytes, app: Flask | None = None) -> bytes:
    return _fernet(app).decrypt(token)


def is_current(token: str, app: Flask | None = None) -> bool:
    """Whether the first key (the one that encrypts) opens this token: a rotation skips it."""
    try:
        first_fernet(app).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        return False
    return True


class _NoValueComparison(TypeDecorator.Comparator):  # type: ignore[name-defined]
    """Refuses SQL comparisons with a value: the stored tokens differ for equal values, so
    ``col == "x"`` would silently match nothing. ``IS NULL`` still works."""

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        # A value compared would be a plain Python object; the ORM itself compares columns
        # with columns (looking a column up among a mapper's), which must still work.
        with_a_value = not other or not all(
            isinstance(item, ClauseElement) or hasattr(item, "__clause_element__") for item in other
        )
        if with_a_value and op.__name__ not in ("is_", "is_not", "isnot"):
            raise TypeError(
                f"an encrypted column cannot be compared in SQL ({op.__name__}): "
                "search on its blind index, or compare in Python after loading"
            )
        return super().operate(op, *other, **kwargs)


class EncryptedText(TypeDecorator):
    """A string stored as a Fernet token; ``None`` stays NULL."""

    impl = Text
    cache_ok = True
    comparator_factory = _NoValueComparison

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt(str(value))

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return decrypt(value)

    def process_literal_param(self, value: Any, dialect: Any) -> str:  # pragma: no cover
        raise TypeError("an encrypted value is never written into SQL text")


class EncryptedJSON(TypeDecorator):
    """A JSON value (list or dict) stored as the Fernet token of its JSON text."""

    impl = Text
    cache_ok = True
    comparator_factory = _NoValueComparison

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        if value is None:
            return None
        return json.loads(decrypt(value))

    def process_literal_param(self, value: Any, dialect: Any) -> str:  # pragma: no cover
        raise TypeError("an encrypted value is never written into SQL text")


# --- Blind indexes ---

_NOT_DIGIT = re.compile(r"\D")


def normalise(kind: str, value: str) -> str:
    """What the index compares: a phone as the intake form stores it ('+14155550134', so
    '(415) 555-0134' matches), else its digits only; an e-mail trimmed and casefolded."""
    if kind == "phone":
        return _NOT_DIGIT.sub("", normalize_phone(value) or value)
    if kind == "email":
        return value.strip().casefold()
    if kind == "referral":  # a code of the intake's fixed vocabulary (vocab.REFERRAL_SOURCES)
        return value.strip()
    raise ValueError(f"no blind index of kind {kind!r}")


def blind_index(kind: str, value: str, app: Flask | None = None) -> str:
    """The keyed HMAC-SHA256 (hex, 64 characters) of a normalised value, for equality search
    on an encrypted column. ``kind`` ("phone", "email") is part of the message, so a phone and
    an e-mail never share an index value."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    key = app.config.get("BLIND_INDEX_KEY")
    if not key:
        raise RuntimeError("BLIND_INDEX_KEY is not set")
    message = f"{kind}:{normalise(kind, value)}".encode()
    return hmac.new(str(key).encode(), message, hashlib.sha256).hexdigest()


def contact_index(kind: str, value: str | None, app: Flask | None = None) -> str | None:
    """The index a row stores for its phone or e-mail: None when there is nothing to find."""
    if value is None or not normalise(kind, value):
        return None
    return blind_index(kind, value, app)


# --- Keys at start-up ---


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _development_keys(app: Flask) -> dict[str, str]:
    """Keys for a developer's machine, generated once into the instance folder (mode 0600) and
    read back on every start, so ``make run`` needs no set-up and a restart reads the data."""
    path = Path(app.instance_path) / "data_keys.json"
    if path.exists():
        return json.loads(path.read_text())
    keys = {"DATA_KEYS": generate_key(), "BLIND_INDEX_KEY": generate_key()}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as file:
        json.dump(keys, file)
    return keys


def init_app(app: Flask) -> None:
    """Check the keys: required in production (like SECRET_KEY), generated in development."""
    if app.config["CLINIC_ENV"] == "development" and not (
        app.config.get("DATA_KEYS") and app.config.get("BLIND_INDEX_KEY")
    ):
        generated = _development_keys(app)
        for name in ("DATA_KEYS", "BLIND_INDEX_KEY"):
            if not app.config.get(name):
                app.config[name] = generated[name]
    if not key_list(app.config.get("DATA_KEYS")):
        raise RuntimeError("DATA_KEYS must be set outside development and tests")
    if not app.config.get("BLIND_INDEX_KEY"):
        raise RuntimeError("BLIND_INDEX_KEY must be set outside development and tests")
    try:
        _fernet(app)
    except ValueError as error:
        # Fernet's own message names no key; never print the keys themselves.
        raise RuntimeError(f"DATA_KEYS holds a key that is not a Fernet key: {error}") from None


# --- Keeping the indexes in step with the values ---

# The searchable columns and the index each keeps (on ``models.ContactDetails``).
INDEXED = {"phone": "phone_index", "email": "email_index"}


def index_default(kind: str, source: str | None = None):
    """A column default that indexes an INSERT's own phone or e-mail (or the ``source``
    column's value): covers every insert, ORM, bulk or Core, that does not give the index."""

    def default(context: Any) -> str | None:
        return contact_index(kind, context.get_current_parameters().get(source or kind))

    return default


def referral_index(code: str | None, app: Flask | None = None) -> str | None:
    """The blind index of a referral source, so the reports count youth by referral in SQL
    (GROUP BY the index, then the vocabulary's few codes are indexed again to name each group)
    while the answer itself stays encrypted: whether a youth came from a court or probation is
    theirs. Plainly: over a vocabulary of nine codes the index is close to the answer itself
    for a reader of the database. It hides which code a group holds only from someone who
    knows neither the key nor any one youth's referral, nor the codes' rough shares; it does
    not hide which rows share an answer. The key is what keeps it from being plaintext."""
    return contact_index("referral", code, app)


def keep_referral_index(cls: type) -> None:
    """Keep ``referral_index`` in step when an object's ``referral_source`` is set."""
    from sqlalchemy import event

    def on_set(obj: Any, value: Any, old: Any, initiator: Any) -> None:
        obj.referral_index = referral_index(value)

    event.listen(cls.referral_source, "set", on_set)


def keep_blind_indexes(*classes: type) -> None:
    """Keep ``phone_index`` and ``email_index`` in step with ``phone`` and ``email`` on these
    mapped classes, however a value is written: setting the attribute on an object, or an
    ORM-enabled UPDATE statement (``session.execute(update(Youth).values(phone=...))``,
    or by primary key with a list of rows). Inserts are covered by ``index_default``."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    for cls in classes:
        for kind, target in INDEXED.items():

            def on_set(obj: Any, value: Any, old: Any, initiator: Any, kind=kind, target=target):
                setattr(obj, target, contact_index(kind, value))

            event.listen(getattr(cls, kind), "set", on_set)
    mapped = frozenset(classes)

    def on_execute(state: Any) -> None:
        if not state.is_update or state.bind_mapper is None:
            return
        if state.bind_mapper.class_ not in mapped:
            return
        state.statement = _index_values(state.statement)
        state.parameters = _index_rows(state.parameters)

    if not getattr(Session, "_clinic_blind_indexes", False):
        event.listen(Session, "do_orm_execute", on_execute)
        Session._clinic_blind_indexes = True  # type: ignore[attr-defined]


def _key(column: Any) -> str:
    return column if isinstance(column, str) else getattr(column, "key", str(column))


def _index_values(statement: Any) -> Any:
    """An UPDATE's ``.values(phone=...)`` gets the matching ``phone_index=...``."""
    values = getattr(statement, "_values", None) or {}
    given = {_key(column): value for column, value in values.items()}
    extra = {}
    for kind, target in INDEXED.items():
        if kind in given and target not in given:
            value = getattr(given[kind], "value", given[kind])
            if hasattr(value, "__clause_element__") or not (
                value is None or isinstance(value, str)
            ):
                raise TypeError(f"{kind} is set from an SQL expression: its index cannot follow")
            extra[target] = contact_index(kind, value)
    return statement.values(**extra) if extra else statement


def _index_rows(parameters: Any) -> Any:
    """An UPDATE by primary key with rows (``execute(update(Youth), [{...}])``)."""
    if not parameters:
        return parameters
    rows = parameters if isinstance(parameters, list) else [parameters]
    if not any(kind in row for row in rows for kind in INDEXED):
        return parameters
    indexed = []
    for row in rows:
        row = dict(row)
        for kind, target in INDEXED.items():
            if kind in row and target not in row:
                row[target] = contact_index(kind, row[kind])
        indexed.append(row)
    return indexed if isinstance(parameters, list) else indexed[0]


# --- File modes ---


def protect_files(database_url: str, instance_path: str) -> None:
    """The instance folder (keys, letterbox, the default database) is the owner's alone
    (0700), and an SQLite database file is created 0600, or made so: SQLite gives its -wal
    and -shm files the database file's mode."""
    from sqlalchemy import make_url

    os.makedirs(instance_path, mode=0o700, exist_ok=True)
    os.chmod(instance_path, 0o700)
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    if url.database.startswith("file:"):
        return  # a URI filename: whoever wrote it chose its mode
    path = Path(url.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.chmod(side, 0o600)
