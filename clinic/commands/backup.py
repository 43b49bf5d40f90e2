"""``flask backup PATH`` and ``flask restore PATH``: a consistent copy of the live database,
taken while the clinic keeps booking, and the way back from one.

SQLite: the online backup API copies every page inside one read transaction, so the copy is
the database as of one instant, while WAL lets writers go on. PostgreSQL: ``pg_dump`` reads
from one snapshot too; the restore replaces the schema and data in one transaction.

Restore refuses anything that is not a clinic backup, and first backs up what it replaces.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess  # pg_dump and pg_restore, with argument lists, never a shell  # nosec B404
from contextlib import closing
from datetime import datetime
from pathlib import Path

import click
from alembic.script import ScriptDirectory
from sqlalchemy import URL, make_url

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
    if url.get_backend_name() == "sqlite":
        target = _sqlite_path(url)
        _require_clinic_tables(_sqlite_tables(path), path)
        if target.exists() and target.stat().st_size:
            # Whatever is replaced stays recoverable: the wrong file restored is undone by
            # restoring this one.
            keep = target.with_name(f"{target.name}.pre-restore-{stamp}")
            _keep_as_is(target, keep)
            click.echo(f"The database as it was is kept in {keep}.")
        restore_sqlite(path, target)
    else:
        listing = _run(["pg_restore", "--list"], None, path)
        _require_clinic_tables(set(re.findall(r"TABLE public (\w+)", listing)), path)
        keep = path.with_name(f"pre-restore-{url.database}-{stamp}.dump")
        backup_postgres(url, keep)
        click.echo(f"The database as it was is kept in {keep}.")
        restore_postgres(path, url)
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


def _sqlite_tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        try:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {name for (name,) in rows}
        except sqlite3.DatabaseError as error:
            raise click.ClickException(f"{path} is not a usable SQLite database: {error}") from None


def _schema_revision() -> str | None:
    with db.engine.connect() as connection:
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    db.engine.dispose()
    return revision


def _head_revision() -> str | None:
    return ScriptDirectory.from_config(migrate.get_config()).get_current_head()


def restore_postgres(backup: Path, url: URL) -> None:
    """Replace the database's tables with the backup's, in one transaction: the old schema is
    dropped first, so a backup from before a migration restores too, and any failure leaves
    the database as it was."""
    script = _run(["pg_restore", "--no-owner", "--file=-"], None, backup)
    _run(
        ["psql", "--quiet", "--no-psqlrc", "--single-transaction", "-v", "ON_ERROR_STOP=1"],
        url,
        stdin="DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n" + script,
    )


def backup_postgres(url: URL, target: Path) -> None:
    """pg_dump to a side file, check that pg_restore can read it, then put it in place."""
    partial = target.with_name(target.name + ".partial")
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={partial}"], url)
    _run(["pg_restore", "--list"], None, partial)
    partial.replace(target)  # last night's good backup is replaced only by a good one


def backup_sqlite(source: Path, target: Path, check: bool = True) -> None:
    """Copy a live SQLite database to ``target`` as one self-contained, checked file."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(partial)) as copy:
        live.backup(copy)  # all pages in one step: one snapshot, however busy the clinic is
        copy.execute("PRAGMA journal_mode = DELETE")  # no -wal file to carry alongside
        if check:
            _check(copy, partial)
    partial.replace(target)  # a reader of ``target`` never sees half a backup


def restore_sqlite(backup: Path, target: Path) -> None:
    """Put a backup in place of the database at ``target`` (the app servers stopped).

    The backup is copied to a side file and checked there, then renamed over the old
    database, which is never opened: restoring is what one does when it is damaged.
    """
    for leftover in ("-wal", "-shm"):
        # The old database's write-ahead log would be replayed into the restored file.
        target.with_name(target.name + leftover).unlink(missing_ok=True)
    backup_sqlite(backup, target)


def _keep_as_is(database: Path, keep: Path) -> None:
    """Save a database before it is replaced: through SQLite while it can still be read
    (that includes its write-ahead log), else byte for byte, damage and all."""
    try:
        backup_sqlite(database, keep, check=False)
    except sqlite3.DatabaseError:
        keep.with_name(keep.name + ".partial").unlink(missing_ok=True)
        for suffix in ("", "-wal"):
            source = database.with_name(database.name + suffix)
            if source.exists():
                shutil.copyfile(source, keep.with_name(keep.name + suffix))


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


def _run(command: list[str], url: URL | None, *arguments: Path, stdin: str | None = None) -> str:
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
    done = subprocess.run(  # fixed programs; arguments are paths and a URL  # nosec B603
        [*command, *dbname, *map(str, arguments)],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise click.ClickException(f"{command[0]} failed: {done.stderr}")
    return done.stdout
