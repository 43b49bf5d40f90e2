"""``flask keys generate``, ``flask keys rotate`` and ``flask keys reindex``: the encryption
keys of the data at rest (``clinic.crypto``; README "Data at rest").

Rotation, while the clinic books: put a new key first in DATA_KEYS on every app server and
worker (the old one stays after it, so everything still reads), restart them, then run
``flask keys rotate``. It re-encrypts every encrypted column of every table under the first
key, in batches of one short transaction each, with compare-and-set (``UPDATE ... WHERE id = :id
AND col = :old``), so a value the clinic changes meanwhile is never overwritten with an older
one. A value the first key already opens is skipped: the command is idempotent, and after an
interruption running it again finishes the rest. When it reports nothing left, the old key
can be removed from DATA_KEYS (keep it offline while backups made with it are kept).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import click
from cryptography.fernet import InvalidToken
from sqlalchemy import Column, Connection, Integer, Table, Text, column, func, select, table

from clinic import crypto
from clinic.database import WRITE_OPTION
from clinic.extensions import db


@click.group("keys")
def keys_group() -> None:
    """Encryption keys of the data at rest: make one, rotate to it, rebuild the indexes."""


@keys_group.command("generate")
def generate_command() -> None:
    """Print a new key for DATA_KEYS (or BLIND_INDEX_KEY). Keep it secret."""
    click.echo(crypto.generate_key())


def encrypted_columns() -> list[tuple[Table, Column]]:
    """Every column that holds Fernet tokens, in the models' table order."""
    found = []
    for model_table in db.metadata.sorted_tables:
        for model_column in model_table.columns:
            if isinstance(model_column.type, crypto.EncryptedText | crypto.EncryptedJSON):
                found.append((model_table, model_column))
    return found


def _raw(table_name: str, *names: str):
    """The table as plain text columns: the tokens as stored, never decrypted on the way."""
    return table(table_name, column("id", Integer), *(column(name, Text) for name in names))


def _write(connection: Connection) -> Connection:
    # SQLite: BEGIN IMMEDIATE, so the batch's read and its writes are one snapshot and never
    # fail to upgrade a read lock mid-way (clinic.database).
    return connection.execution_options(**{WRITE_OPTION: True})


@dataclass
class Tally:
    rotated: int = 0
    current: int = 0
    changed: int = 0  # changed by the clinic between this batch's read and its write
    unreadable: dict[str, int] = field(default_factory=dict)


def _batches(table_name: str, name: str, size: int) -> Iterator[list]:
    """(id, token) of the non-null values, ``size`` at a time, each batch read and written in
    its own transaction by the caller."""
    raw = _raw(table_name, name)
    last = 0
    while True:
        with db.engine.connect() as connection:
            connection = _write(connection)
            with connection.begin():
                rows = connection.execute(
                    select(raw.c.id, raw.c[name])
                    .where(raw.c.id > last, raw.c[name].is_not(None))
                    .order_by(raw.c.id)
                    .limit(size)
                ).all()
                if not rows:
                    return
                yield connection, rows
        last = rows[-1][0]


@keys_group.command("rotate")
@click.option("--batch-size", default=200, show_default=True, help="Rows per transaction.")
def rotate_command(batch_size: int) -> None:
    """Re-encrypt every encrypted value under the first key of DATA_KEYS."""
    fernet = crypto.first_fernet()
    everything = crypto.multi_fernet()
    columns = encrypted_columns()
    totals = {}
    with db.engine.connect() as connection:
        for model_table, model_column in columns:
            raw = _raw(model_table.name, model_column.name)
            totals[(model_table.name, model_column.name)] = connection.scalar(
                select(func.count()).select_from(raw).where(raw.c[model_column.name].is_not(None))
            )
    tally = Tally()
    with click.progressbar(length=sum(totals.values()), label="Re-encrypting") as bar:
        for model_table, model_column in columns:
            name = model_column.name
            raw = _raw(model_table.name, name)
            for connection, rows in _batches(model_table.name, name, batch_size):
                for row_id, token in rows:
                    try:
                        fernet.decrypt(token.encode("ascii"))
                        tally.current += 1
                        continue
                    except (InvalidToken, UnicodeEncodeError):
                        pass
                    try:
                        new = everything.rotate(token.encode("ascii")).decode("ascii")
                    except (InvalidToken, UnicodeEncodeError):
                        where = f"{model_table.name}.{name}"
                        tally.unreadable[where] = tally.unreadable.get(where, 0) + 1
                        continue
                    done = connection.execute(
                        raw.update()
                        .where(raw.c.id == row_id, raw.c[name] == token)
                        .values({name: new})
                    ).rowcount
                    if done:
                        tally.rotated += 1
                    else:
                        tally.changed += 1
                bar.update(len(rows))
    click.echo(
        f"Re-encrypted {tally.rotated:,} values; {tally.current:,} were already under the "
        f"first key; {tally.changed:,} changed meanwhile and were left as the clinic wrote them."
    )
    if tally.changed:
        click.echo("Run `flask keys rotate` again to check those too.")
    if tally.unreadable:
        listed = ", ".join(
            f"{where} ({count})" for where, count in sorted(tally.unreadable.items())
        )
        raise click.ClickException(
            f"no key in DATA_KEYS opens some values: {listed}. Add the key they were written "
            "with to DATA_KEYS (after the first) and run this again."
        )
    click.echo("Every value is under the first key: the other keys can be removed.")


@keys_group.command("reindex")
@click.option("--batch-size", default=200, show_default=True, help="Rows per transaction.")
def reindex_command(batch_size: int) -> None:
    """Recompute the phone, e-mail and referral indexes (after BLIND_INDEX_KEY changed)."""
    indexed = [
        model_table
        for model_table in db.metadata.sorted_tables
        if {"phone", "email", "phone_index", "email_index"} <= set(model_table.columns.keys())
    ]
    updated = changed = 0
    with db.engine.connect() as connection:
        total = sum(
            connection.scalar(select(func.count()).select_from(model_table))
            for model_table in (*indexed, table("intake"))
        )
    with click.progressbar(length=total, label="Reindexing") as bar:
        referrals = _reindex_referrals(batch_size, bar)
        for model_table in indexed:
            raw = _raw(model_table.name, "phone", "email", "phone_index", "email_index")
            last = 0
            while True:
                with db.engine.connect() as connection:
                    connection = _write(connection)
                    with connection.begin():
                        rows = connection.execute(
                            select(raw.c.id, raw.c.phone, raw.c.email)
                            .where(raw.c.id > last)
                            .order_by(raw.c.id)
                            .limit(batch_size)
                        ).all()
                        for row_id, phone, email in rows:
                            clear = {
                                kind: crypto.decrypt(token) if token is not None else None
                                for kind, token in (("phone", phone), ("email", email))
                            }
                            done = connection.execute(
                                raw.update()
                                .where(
                                    raw.c.id == row_id,
                                    raw.c.phone.is_not_distinct_from(phone),
                                    raw.c.email.is_not_distinct_from(email),
                                )
                                .values(
                                    phone_index=crypto.contact_index("phone", clear["phone"]),
                                    email_index=crypto.contact_index("email", clear["email"]),
                                )
                            ).rowcount
                            updated += bool(done)
                            changed += not done
                if not rows:
                    break
                last = rows[-1][0]
                bar.update(len(rows))
    updated, changed = updated + referrals[0], changed + referrals[1]
    click.echo(f"Reindexed {updated:,} rows; {changed:,} changed meanwhile (indexed as written).")


def _reindex_referrals(batch_size: int, bar: Any) -> tuple[int, int]:
    """The intakes' referral index (what the reports group by), compare-and-set on the value
    as every index here is: (rows updated, rows changed meanwhile)."""
    raw = _raw("intake", "referral_source", "referral_index")
    updated = changed = last = 0
    while True:
        with db.engine.connect() as connection:
            connection = _write(connection)
            with connection.begin():
                rows = connection.execute(
                    select(raw.c.id, raw.c.referral_source)
                    .where(raw.c.id > last)
                    .order_by(raw.c.id)
                    .limit(batch_size)
                ).all()
                for row_id, token in rows:
                    code = crypto.decrypt(token) if token is not None else None
                    done = connection.execute(
                        raw.update()
                        .where(
                            raw.c.id == row_id, raw.c.referral_source.is_not_distinct_from(token)
                        )
                        .values(referral_index=crypto.referral_index(code))
                    ).rowcount
                    updated += bool(done)
                    changed += not done
        if not rows:
            return updated, changed
        last = rows[-1][0]
        bar.update(len(rows))
