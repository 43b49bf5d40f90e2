"""How the app talks to its database: SQLite made safe for several worker processes, and
write transactions that take their lock before they read.

PostgreSQL needs nothing here: its row locks and the conditional UPDATEs in the service layer
do the work. SQLite has one writer at a time, and a transaction that starts by reading and then
writes can fail at once with "database is locked" when another process wrote in between (the
busy timeout does not help an upgrade from reader to writer). So:

- every connection runs in WAL mode (readers never block the writer, nor it them) and waits up
  to ``SQLITE_BUSY_TIMEOUT_MS`` for the write lock instead of failing;
- a use case that writes calls ``begin_write()`` first, which makes its transaction start with
  ``BEGIN IMMEDIATE``: it waits for the write lock up front, then reads and writes safely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeVar

from flask import Flask, current_app
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from clinic.extensions import db

WRITE_OPTION = "clinic_write_transaction"


def dialect_insert(model: Any) -> Any:
    """``INSERT`` for the session's database, with its ``ON CONFLICT`` clauses (the generic
    ``insert`` has none): upserts and insert-unless-there, on SQLite and PostgreSQL alike."""
    dialect = db.session.get_bind().dialect.name
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](model)


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _make_sqlite_concurrent(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (Flask runs them
    # last-registered first) and leaves that one nothing to fail on.
    app.teardown_appcontext(_end_session)


def discard_transaction() -> None:
    """Roll back the session's transaction, even over a connection the server has closed.

    A restart, a failover or an idle timeout can drop the connection under a request. The
    rollback then fails; the connection is thrown away instead (the pool opens a new one for
    the next request), and the failure is a one-line warning, not a traceback.
    """
    try:
        db.session.rollback()
    except DBAPIError as error:
        current_app.logger.warning("database connection lost, discarded: %s", describe(error))
        db.session().invalidate()  # the scoped proxy does not pass this one through


def describe(error: DBAPIError) -> str:
    """The driver's error class and first line: what went wrong, without the statement's
    parameters or PostgreSQL's DETAIL line, either of which can hold a youth's data."""
    reason = str(error.orig).strip().splitlines()[0] if error.orig else "unknown"
    return f"{type(error.orig).__name__}: {reason}"


def _end_session(_exc: BaseException | None) -> None:
    # A request that never used the database (the health check, a static file) has no
    # session: asking for one to roll it back would build one for nothing on every request.
    if db.session.registry.has():
        discard_transaction()
        db.session.remove()


def _make_sqlite_concurrent(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Python's sqlite3 would otherwise issue its own deferred BEGIN; SQLAlchemy does it
        # below, so it can choose IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # Under WAL, NORMAL syncs the log at checkpoints rather than at every commit: a crash
        # of the app or the OS loses nothing and never corrupts the file; only a power cut may
        # undo the last commits (SQLite's documented trade, and its advice for WAL). FULL
        # cost each staff page view ~4 ms of fsync for its audit row. SQLite serves a laptop
        # or a one-machine clinic; production's PostgreSQL keeps its own synchronous_commit.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        writing = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


_FLUSHED = "clinic_flushed_uncommitted"


@event.listens_for(Session, "after_flush")
def _remember_flush(session: Session, _context: Any) -> None:
    # Flushed rows are no longer in session.new/dirty, but a rollback would still lose them.
    session.info[_FLUSHED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_flush(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_FLUSHED, None)


def begin_write() -> None:
    """Start the session's transaction as a writer (``BEGIN IMMEDIATE`` on SQLite).

    Call it first in a use case that writes. A read-only transaction the view opened before
    (to draw the form) is ended first, so the use case reads current data under its lock.
    """
    session = db.session()  # the request's own Session, not the scoped proxy
    if session.new or session.dirty or session.deleted or session.info.get(_FLUSHED):
        raise RuntimeError("begin_write() with unsaved changes: they belong to another use case")
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={WRITE_OPTION: True})


@contextmanager
def write_transaction() -> Iterator[None]:
    """A use case's one transaction: begun as a writer, committed at the end of the block, or
    rolled back entirely if anything in it raises."""
    begin_write()
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


T = TypeVar("T")


def retrying_transaction(
    work: Callable[[], T],
    *,
    retry_on: tuple[type[Exception], ...] = (IntegrityError,),
    attempts: int = 3,
) -> T:
    """Run ``work`` as one write transaction, and start it again from the top when it fails
    with one of ``retry_on`` (by default: a concurrent request inserted the same unique row
    first, which the next attempt's reads will find). The last attempt's failure is raised.
    """
    for attempt in range(attempts):
        try:
            with write_transaction():
                return work()
        except retry_on:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


# Advisory lock keys: a namespace for "clinic day" locks, then the date's ordinal.
_DAY_LOCK_NAMESPACE = 0x7A77


def lock_day(day: date, *, exclusive: bool) -> None:
    """Serialise schedule changes to ``day`` against seats being taken on it.

    Bookings and walk-ins take the lock shared (they do not wait for each other); closing the
    day, changing its hours or seats and blocking a slot take it exclusively, so they wait for
    bookings under way and bookings that start after them see the change. PostgreSQL holds
    the lock until the transaction ends. On SQLite every write transaction already holds the
    one write lock (BEGIN IMMEDIATE), so there is nothing more to take.
    """
    session = db.session()
    if session.get_bind().dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(
        text(f"SELECT {function}(:namespace, :day)"),
        {"namespace": _DAY_LOCK_NAMESPACE, "day": day.toordinal()},
    )


def try_lock_day(day: date) -> bool:
    """``lock_day(day, exclusive=False)`` if nobody holds it exclusively now (or we already
    hold it), else False at once: for work that can leave the day to a later pass rather than
    wait for a schedule change (the seat offers' sweep). Always True on SQLite."""
    session = db.session()
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        session.scalar(
            text("SELECT pg_try_advisory_xact_lock_shared(:namespace, :day)"),
            {"namespace": _DAY_LOCK_NAMESPACE, "day": day.toordinal()},
        )
    )
