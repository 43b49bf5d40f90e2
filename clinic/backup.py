"""``flask backup PATH`` and ``flask restore PATH``: a consistent copy of the live database,
taken while the clinic keeps booking, and the way back from one.

SQLite: the online backup API copies every page inside one read transaction, so the copy is
the database as of one instant, while WAL lets writers go on. PostgreSQL: ``pg_dump`` reads
from one snapshot too; ``pg_restore`` puts it back in one transaction.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import URL, make_url

from clinic.extensions import db


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Write a consistent copy of the database to PATH (safe while the app runs)."""
    url = db.engine.url
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        backup_sqlite(_sqlite_path(url), path)
    else:
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={path}"], url)
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
    if url.get_backend_name() == "sqlite":
        restore_sqlite(path, _sqlite_path(url))
    else:
        _run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction"],
            url,
            path,
        )
    click.echo(f"Restored from {path}.")


def backup_sqlite(source: Path, target: Path) -> None:
    """Copy a live SQLite database to ``target`` as one self-contained, checked file."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with _connect(source) as live, _connect(partial) as copy:
        live.backup(copy)  # all pages in one step: one snapshot, however busy the clinic is
        copy.execute("PRAGMA journal_mode = DELETE")  # no -wal file to carry alongside
        _check(copy, partial)
    partial.replace(target)  # a reader of ``target`` never sees half a backup


def restore_sqlite(backup: Path, target: Path) -> None:
    """Write a backup's pages over the database at ``target`` (itself checked first)."""
    with _connect(backup) as copy:
        _check(copy, backup)
        with _connect(target) as live:
            live.execute("PRAGMA busy_timeout = 10000")
            copy.backup(live)
            _check(live, target)


class _Closing(sqlite3.Connection):
    def __exit__(self, *exc):  # sqlite3's own __exit__ commits but does not close
        super().__exit__(*exc)
        self.close()
        return False


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, factory=_Closing)


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


def _run(command: list[str], url: URL, *arguments: Path) -> None:
    """Run a PostgreSQL client tool against ``url``; the password goes by environment, so it
    never shows in the process list."""
    if shutil.which(command[0]) is None:
        raise click.ClickException(f"{command[0]} not found: install the PostgreSQL client tools")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    target = make_url(url).set(drivername="postgresql", password=None)
    dbname = f"--dbname={target.render_as_string(hide_password=False)}"
    done = subprocess.run([*command, dbname, *map(str, arguments)], env=env, capture_output=True)
    if done.returncode != 0:
        raise click.ClickException(f"{command[0]} failed: {done.stderr.decode(errors='replace')}")
