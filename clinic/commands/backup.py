"""``flask backup PATH`` and ``flask restore PATH``: a consistent copy of the live database,
taken while the clinic keeps booking, and the way back from one.

SQLite: the online backup API copies every page inside one read transaction, so the copy is
the database as of one instant, while WAL lets writers go on. PostgreSQL: ``pg_dump`` reads
from one snapshot too; the restore replaces the schema and data in one transaction.

Backups are encrypted (``clinic.crypto``: Fernet, the first DATA_KEYS key; a clear header
names the format) and written with mode 0600; the copy never touches the disk in clear (SQLite
is copied into memory, ``pg_dump`` into a pipe). Restore reads one with any DATA_KEYS key and
refuses a wrong key with a clear message; an unencrypted backup from before this format still
restores.

Restore refuses anything that is not a clinic backup, and first backs up what it replaces.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import struct
import subprocess  # pg_dump and pg_restore, with argument lists, never a shell  # nosec B404
from contextlib import closing
from datetime import datetime
from pathlib import Path

import click
from alembic.script import ScriptDirectory
from sqlalchemy import URL, make_url

from clinic import crypto
from clinic.extensions import db, migrate


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Write a consistent copy of the database to PATH (safe while the app runs)."""
    url = db.engine.url
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        backup_sqlite(_sqlite_path(url), path)
    else:
        backup_postgres(url, path)
    click.echo(f"Backup written to {path} ({path.stat().st_size:,} bytes).")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
def restore_command(path: Path, yes: bool) -> None:
    """Replace the database with the backup at PATH. Stop the app servers first."""
    url = db.engine.url
    if not yes:
        click.confirm(
            f"Replace every row in {url.render_as_string(hide_password=True)} "
            f"with the backup {path}?",
            abort=True,
        )
    db.engine.dispose()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    data = read_backup(path)
    if url.get_backend_name() == "sqlite":
        target = _sqlite_path(url)
        with closing(_sqlite_from(path, data)) as copy:
            _require_clinic_tables(_sqlite_tables(copy, path), path)
            if target.exists() and target.stat().st_size:
                # Whatever is replaced stays recoverable: the wrong file restored is undone by
                # restoring this one.
                keep = target.with_name(f"{target.name}.pre-restore-{stamp}")
                _keep_as_is(target, keep)
                click.echo(f"The database as it was is kept in {keep}.")
            restore_sqlite(copy, path, target)
    else:
        dump = data if data is not None else path.read_bytes()
        listing = _run(["pg_restore", "--list"], None, stdin=dump).decode()
        _require_clinic_tables(set(re.findall(r"TABLE public (\w+)", listing)), path)
        keep = path.with_name(f"pre-restore-{url.database}-{stamp}.dump")
        backup_postgres(url, keep)
        click.echo(f"The database as it was is kept in {keep}.")
        restore_postgres(dump, url)
    click.echo(f"Restored from {path}.")
    restored, head = _schema_revision(), _head_revision()
    if restored != head:
        click.echo(
            f"The backup's schema is revision {restored}; this code expects {head}. "
            "Run `flask db upgrade` before starting the app."
        )


# A clinic backup has these tables; anything else (an empty file, another app's database) is
# refused before it can replace the clinic's data.
CLINIC_TABLES = {"alembic_version", "slot", "youth", "appointment", "intake", "staff_user"}


def _require_clinic_tables(tables: set[str], path: Path) -> None:
    missing = CLINIC_TABLES - tables
    if missing:
        raise click.ClickException(
            f"{path} is not a backup of this clinic's database (no {', '.join(sorted(missing))})"
        )


def _sqlite_tables(connection: sqlite3.Connection, path: Path) -> set[str]:
    try:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}
    except sqlite3.DatabaseError as error:
        raise click.ClickException(f"{path} is not a usable SQLite database: {error}") from None


def _sqlite_from(path: Path, data: bytes | None) -> sqlite3.Connection:
    """The backup as an SQLite connection: decrypted into memory, or (an unencrypted backup
    from before) the file itself, read-only."""
    if data is None:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(_rollback_journal(data))
    except sqlite3.DatabaseError as error:
        connection.close()
        raise click.ClickException(f"{path} is not a usable SQLite database: {error}") from None
    return connection


def _schema_revision() -> str | None:
    with db.engine.connect() as connection:
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    db.engine.dispose()
    return revision


def _head_revision() -> str | None:
    return ScriptDirectory.from_config(migrate.get_config()).get_current_head()


def restore_postgres(dump: bytes, url: URL) -> None:
    """Replace the database's tables with the backup's, in one transaction: the old schema is
    dropped first, so a backup from before a migration restores too, and any failure leaves
    the database as it was."""
    script = _run(["pg_restore", "--no-owner", "--file=-"], None, stdin=dump).decode()
    _run(
        ["psql", "--quiet", "--no-psqlrc", "--single-transaction", "-v", "ON_ERROR_STOP=1"],
        url,
        stdin=("DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n" + script).encode(),
    )


def backup_postgres(url: URL, target: Path) -> None:
    """pg_dump into a pipe, check that pg_restore can read it, then encrypt it to a side file
    and put that in place."""
    dump = _run(["pg_dump", "--format=custom", "--no-owner"], url)
    _run(["pg_restore", "--list"], None, stdin=dump)
    write_backup(dump, target)  # last night's good backup is replaced only by a good one


def backup_sqlite(source: Path, target: Path, check: bool = True) -> None:
    """Copy a live SQLite database to ``target`` as one self-contained, checked, encrypted
    file."""
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(":memory:")) as copy:
        live.backup(copy)  # all pages in one step: one snapshot, however busy the clinic is
        if check:
            _check(copy, target)
        data = _rollback_journal(copy.serialize())
    write_backup(data, target)


def _rollback_journal(data: bytes) -> bytes:
    """The file's header says WAL when the live database is in WAL mode (bytes 18 and 19,
    SQLite's file format), which a copy in memory cannot open: say rollback journal (1)."""
    if len(data) >= 20 and data[18:20] == b"\x02\x02":
        return data[:18] + b"\x01\x01" + data[20:]
    return data


def restore_sqlite(backup: sqlite3.Connection, path: Path, target: Path) -> None:
    """Put a backup in place of the database at ``target`` (the app servers stopped).

    The backup is copied to a side file and checked there, then renamed over the old
    database, which is never opened: restoring is what one does when it is damaged.
    """
    for leftover in ("-wal", "-shm"):
        # The old database's write-ahead log would be replayed into the restored file.
        target.with_name(target.name + leftover).unlink(missing_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    _private_file(partial).close()  # created 0600 before SQLite writes a byte of it
    with closing(sqlite3.connect(partial)) as copy:
        try:
            backup.backup(copy)
        except sqlite3.DatabaseError as error:
            raise click.ClickException(f"{path} is not a usable SQLite database: {error}") from None
        copy.execute("PRAGMA journal_mode = DELETE")  # no -wal file to carry alongside
        _check(copy, path)
    partial.replace(target)  # a reader of ``target`` never sees half a database


# --- The encrypted format ---------------------------------------------------------------------

# A clear header, so restore knows the file for what it is (and `file`, `head` tell a person).
MAGIC = b"CLINIC-ENCRYPTED-BACKUP 1\n"
CHUNK = 1 << 20
# Each chunk is a Fernet token of: its number (8 bytes), 1 if it is the last (1 byte), then
# the data. A truncated, reordered or spliced file fails to decrypt or to end.
_CHUNK_HEAD = struct.Struct(">QB")
_LENGTH = struct.Struct(">I")


def _private_file(path: Path):
    """``path`` opened for writing, created with mode 0600 (and made so if it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb")


def write_backup(data: bytes, target: Path) -> None:
    """Encrypt ``data`` with the first DATA_KEYS key into a side file (mode 0600), then put it
    in place."""
    fernet = crypto.first_fernet()
    partial = target.with_name(target.name + ".partial")
    with _private_file(partial) as file:
        file.write(MAGIC)
        count = max(1, -(-len(data) // CHUNK))
        for number in range(count):
            piece = data[number * CHUNK : (number + 1) * CHUNK]
            token = fernet.encrypt(_CHUNK_HEAD.pack(number, number == count - 1) + piece)
            file.write(_LENGTH.pack(len(token)) + token)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(target)


def read_backup(path: Path) -> bytes | None:
    """The decrypted content of an encrypted backup, or None for an unencrypted one."""
    with path.open("rb") as file:
        if file.read(len(MAGIC)) != MAGIC:
            return None
        pieces = []
        ended = False
        while not ended:
            length = file.read(_LENGTH.size)
            if len(length) < _LENGTH.size:
                raise click.ClickException(f"{path} is cut short: the backup is incomplete")
            token = file.read(_LENGTH.unpack(length)[0])
            try:
                clear = crypto.decrypt_bytes(token)
            except crypto.InvalidToken:
                raise click.ClickException(
                    f"{path} cannot be decrypted with any key in DATA_KEYS: it was made with "
                    "another key (add that key to DATA_KEYS, after the current one), or it is "
                    "damaged"
                ) from None
            number, ended = _CHUNK_HEAD.unpack_from(clear)
            if number != len(pieces):
                raise click.ClickException(f"{path} is damaged: its parts are out of order")
            pieces.append(clear[_CHUNK_HEAD.size :])
    return b"".join(pieces)


def _keep_as_is(database: Path, keep: Path) -> None:
    """Save a database before it is replaced: as an encrypted backup while SQLite can still
    read it (that includes its write-ahead log), else byte for byte (mode 0600), damage and
    all."""
    try:
        backup_sqlite(database, keep, check=False)
    except sqlite3.DatabaseError:
        keep.with_name(keep.name + ".partial").unlink(missing_ok=True)
        for suffix in ("", "-wal"):
            source = database.with_name(database.name + suffix)
            if source.exists():
                with (
                    source.open("rb") as old,
                    _private_file(keep.with_name(keep.name + suffix)) as new,
                ):
                    shutil.copyfileobj(old, new)


def _check(connection: sqlite3.Connection, path: Path) -> None:
    try:
        result = connection.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise click.ClickException(f"{path} is not a usable SQLite database: {error}") from None
    if result != "ok":
        raise click.ClickException(f"{path} failed SQLite's integrity check: {result}")


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise click.ClickException("an in-memory database has nothing to back up")
    return Path(url.database)


def _run(command: list[str], url: URL | None, *, stdin: bytes | None = None) -> bytes:
    """Run a PostgreSQL client tool (against ``url``, if given) and return what it printed.
    The password goes by environment, so it never shows in the process list."""
    if shutil.which(command[0]) is None:
        raise click.ClickException(f"{command[0]} not found: install the PostgreSQL client tools")
    env = dict(os.environ)
    dbname = []
    if url is not None:
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        target = make_url(url).set(drivername="postgresql", password=None)
        dbname = [f"--dbname={target.render_as_string(hide_password=False)}"]
    done = subprocess.run(  # fixed programs; arguments are options and a URL  # nosec B603
        [*command, *dbname],
        env=env,
        input=stdin,
        capture_output=True,
    )
    if done.returncode != 0:
        raise click.ClickException(f"{command[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout
