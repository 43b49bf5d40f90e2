"""Encryption at rest of contact, guardian, screening, notes and referral; blind indexes for search.

Revision ID: 14b2e2c00002
Revises: 14a1a0d17001
Create Date: 2026-12-06 07:00:00

The columns become text holding Fernet tokens (clinic/crypto.py), encrypted here in place, in
batches, with the app's first DATA_KEYS key; the phone and e-mail get blind indexes (keyed
HMAC-SHA256 of the normalised value, BLIND_INDEX_KEY) so search keeps working. The downgrade
decrypts back. The keys come from the app this runs in (Flask-Migrate's app context); the
encryption itself is frozen here, so the migration keeps its meaning when the app's code moves.
"""

import hashlib
import hmac
import re

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet, MultiFernet
from flask import current_app

# revision identifiers, used by Alembic.
revision = "14b2e2c00002"
down_revision = "14a1a0d17001"
branch_labels = None
depends_on = None

BATCH = 500

_CONTACT = {
    "phone": sa.String(length=20),
    "email": sa.String(length=254),
    "guardian_name": sa.String(length=120),
    "guardian_relationship": sa.String(length=40),
    "guardian_phone": sa.String(length=20),
}
# Each table's encrypted columns and their types before this revision.
COLUMNS = {
    "youth": dict(_CONTACT),
    "intake": {
        **_CONTACT,
        "tattoo_notes": sa.Text(),
        "screening": sa.JSON(),
        "referral_source": sa.String(length=20),
    },
    "list_entry": {**_CONTACT, "answers": sa.JSON()},
    "treatment": {"settings": sa.String(length=200), "notes": sa.Text()},
    "outbox_message": {"recipient": sa.String(length=254)},
}
INDEXED_TABLES = ("youth", "intake", "list_entry")


def _keys():
    config = current_app.config
    value = config.get("DATA_KEYS") or ""
    keys = value.split(",") if isinstance(value, str) else list(value)
    keys = [key.strip() for key in keys if key and key.strip()]
    if not keys or not config.get("BLIND_INDEX_KEY"):
        raise RuntimeError("DATA_KEYS and BLIND_INDEX_KEY must be set to run this migration")
    return MultiFernet([Fernet(key.encode()) for key in keys]), str(config["BLIND_INDEX_KEY"])


def _us_phone(text):
    # A frozen copy of clinic.rules.eligibility.normalize_phone.
    digits = re.sub(r"[\s().\-]", "", text)
    if digits.startswith("+1"):
        digits = digits[2:]
    elif digits.startswith("1") and len(digits) == 11:
        digits = digits[1:]
    return "+1" + digits if re.fullmatch(r"[2-9]\d{9}", digits) else None


def _index(index_key, kind, value):
    # A frozen copy of clinic.crypto.blind_index.
    if value is None:
        return None
    if kind == "phone":
        normal = re.sub(r"\D", "", _us_phone(value) or value)
    else:
        normal = value.strip().casefold()
    if not normal:
        return None
    message = f"{kind}:{normal}".encode()
    return hmac.new(index_key.encode(), message, hashlib.sha256).hexdigest()


def _rewrite(table_name, convert, with_indexes):
    """Every row of the table, in batches by id: each encrypted column through ``convert``,
    and the blind indexes from the clear phone and e-mail."""
    connection = op.get_bind()
    names = list(COLUMNS[table_name])
    table = sa.table(
        table_name,
        sa.column("id", sa.Integer),
        *(sa.column(name, sa.Text) for name in names),
        *(sa.column(name, sa.String) for name in ("phone_index", "email_index")),
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, *(table.c[name] for name in names))
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        updates = []
        for row in rows:
            values = {"row_id": row.id}
            clear = {}
            for name in names:
                value, clear[name] = convert(getattr(row, name))
                values[name] = value
            if with_indexes:
                values["phone_index"] = with_indexes("phone", clear["phone"])
                values["email_index"] = with_indexes("email", clear["email"])
            updates.append(values)
        targets = names + (["phone_index", "email_index"] if with_indexes else [])
        connection.execute(
            table.update()
            .where(table.c.id == sa.bindparam("row_id"))
            .values({name: sa.bindparam(name) for name in targets}),
            updates,
        )
        last = rows[-1].id


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for table_name, columns in COLUMNS.items():
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            for name, old_type in columns.items():
                extra = {}
                if postgres and isinstance(old_type, sa.JSON):
                    extra["postgresql_using"] = f"{name}::text"
                batch_op.alter_column(name, existing_type=old_type, type_=sa.Text(), **extra)
            if table_name in INDEXED_TABLES:
                batch_op.add_column(sa.Column("phone_index", sa.String(length=64), nullable=True))
                batch_op.add_column(sa.Column("email_index", sa.String(length=64), nullable=True))
                if table_name == "youth":
                    # An index of ciphertext finds nothing: the blind index replaces it.
                    batch_op.drop_index("ix_youth_phone")
                batch_op.create_index(
                    batch_op.f(f"ix_{table_name}_phone_index"), ["phone_index"], unique=False
                )
                batch_op.create_index(
                    batch_op.f(f"ix_{table_name}_email_index"), ["email_index"], unique=False
                )

    fernet, index_key = _keys()

    def encrypt(value):
        if value is None:
            return None, None
        return fernet.encrypt(value.encode()).decode("ascii"), value

    def index(kind, value):
        return _index(index_key, kind, value)

    for table_name in COLUMNS:
        _rewrite(table_name, encrypt, index if table_name in INDEXED_TABLES else None)


def downgrade():
    fernet, _ = _keys()

    def decrypt(value):
        if value is None:
            return None, None
        clear = fernet.decrypt(value.encode("ascii")).decode()
        return clear, clear

    for table_name in COLUMNS:
        _rewrite(table_name, decrypt, None)

    postgres = op.get_bind().dialect.name == "postgresql"
    for table_name, columns in COLUMNS.items():
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            if table_name in INDEXED_TABLES:
                batch_op.drop_index(batch_op.f(f"ix_{table_name}_email_index"))
                batch_op.drop_index(batch_op.f(f"ix_{table_name}_phone_index"))
                batch_op.drop_column("email_index")
                batch_op.drop_column("phone_index")
            for name, old_type in columns.items():
                extra = {}
                if postgres and isinstance(old_type, sa.JSON):
                    extra["postgresql_using"] = f"{name}::json"
                batch_op.alter_column(name, existing_type=sa.Text(), type_=old_type, **extra)
            if table_name == "youth":
                batch_op.create_index("ix_youth_phone", ["phone"], unique=False)
