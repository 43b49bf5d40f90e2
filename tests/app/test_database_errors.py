"""What a request gets when the database fails it: an outage is a translated 503 ("back in a
moment"), a connection lost or ended by the server is thrown away and the next request served,
a missed migration is an error and not a pause, a refused row never reaches the log, and an id
too large for the database is a 404, never a driver overflow."""

from __future__ import annotations

import time as clock_time

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from clinic import booking
from clinic.extensions import db
from clinic.models import StaffRole
from tests.support import databases
from tests.support.intake import book


def test_a_database_outage_is_a_translated_503_not_a_crash(client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def unreachable(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("down"))

    monkeypatch.setattr(booking, "days_to_book", unreachable)
    response = client.get("/book", headers={"Accept-Language": "es"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "Ya volvemos" in response.get_data(as_text=True)


def test_the_503_page_survives_a_rollback_on_a_dead_connection(client, monkeypatch, caplog):
    """The outage handler rolls back first; over a dead connection that fails too, and the
    person must still get the translated 'back in a moment' page rather than a crash."""
    engine = db.engine

    def unreachable(*args, **kwargs):
        db.session.execute(text("SELECT 1"))  # the request holds a connection when it breaks
        raise OperationalError("SELECT 1", {}, ConnectionResetError("reset"))

    def server_gone(_connection):
        raise OperationalError("ROLLBACK", {}, ConnectionResetError("reset"), True)

    monkeypatch.setattr(booking, "days_to_book", unreachable)
    event.listen(engine, "rollback", server_gone)
    try:
        response = client.get("/book", headers={"Accept-Language": "es"})
    finally:
        event.remove(engine, "rollback", server_gone)
    assert response.status_code == 503
    assert "Ya volvemos" in response.get_data(as_text=True)
    assert "database connection lost, discarded" in caplog.text


def test_a_connection_lost_before_cleanup_ends_the_request_quietly(app, client, caplog):
    """A restart or failover can drop the connection between the answer and the cleanup; the
    rollback then fails. The request still ends cleanly (no traceback in the log), the broken
    connection is thrown away, and the next request is served."""
    engine = db.engine
    drops = [True]

    def server_gone(_connection):
        if drops and drops.pop():
            raise OperationalError(
                "ROLLBACK",
                {},
                Exception("server closed the connection unexpectedly"),
                connection_invalidated=True,
            )

    event.listen(engine, "rollback", server_gone)
    try:
        assert client.get("/book").status_code == 200
    finally:
        event.remove(engine, "rollback", server_gone)
    assert not drops, "the request's cleanup never rolled back"
    assert "database connection lost, discarded: Exception: server closed" in caplog.text
    assert "Traceback" not in caplog.text
    assert client.get("/book").status_code == 200


def test_a_connection_the_server_terminates_is_replaced(app, client, caplog):
    """The real thing: PostgreSQL ends the request's connection (as a restart does) after
    the page is built and before the cleanup; the next request gets a new connection."""
    if not databases.on_postgres():
        pytest.skip("ending a connection from the server side is a PostgreSQL test")
    admin = create_engine(databases.POSTGRES_URL, isolation_level="AUTOCOMMIT")
    ended = []

    @app.after_request
    def terminate_once(response):
        if not ended:
            pid = db.session.scalar(text("SELECT pg_backend_pid()"))
            with admin.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                deadline = clock_time.monotonic() + 10
                alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
                while connection.scalar(alive, {"pid": pid}) and clock_time.monotonic() < deadline:
                    clock_time.sleep(0.02)
            ended.append(pid)
        return response

    try:
        assert client.get("/book").status_code == 200
        assert ended
        assert "database connection lost, discarded: AdminShutdown" in caplog.text
        assert client.get("/book").status_code == 200
    finally:
        admin.dispose()


def test_a_missing_table_is_an_error_not_a_pause(client, monkeypatch, caplog):
    """On SQLite a missed migration is an OperationalError too: it must not hide behind 503."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: slot"))

    monkeypatch.setattr(booking, "days_to_book", broken)
    response = client.get("/book")
    assert response.status_code == 500
    assert "no such table: slot" in caplog.text


def test_a_database_error_never_logs_the_row_it_refused(app, client, monkeypatch, caplog):
    from sqlalchemy.exc import IntegrityError

    app.config["PROPAGATE_EXCEPTIONS"] = False  # log and answer 500, as in production

    class NotNullViolation(Exception):
        def __str__(self):
            return (
                'null value in column "tattoo_kind" violates not-null constraint\n'
                "DETAIL:  Failing row contains (7, Ana, Flores, 2007-05-01, +14155550134)."
            )

    def refuse(*args, **kwargs):
        raise IntegrityError("INSERT INTO intake ...", {}, NotNullViolation())

    monkeypatch.setattr(booking, "request_online", refuse)
    response = book(client)
    assert response.status_code == 500
    assert "violates not-null constraint" in caplog.text  # the problem is logged...
    assert "Flores" not in caplog.text and "4155550134" not in caplog.text  # ...the youth not


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/staff/youth/99999999999999999999"),
        ("get", "/staff/accounts/99999999999999999999"),
        ("post", "/staff/appointments/99999999999999999999/cancel"),
        ("post", "/staff/messages/2147483648/resend"),
    ],
)
def test_an_id_too_large_for_the_database_is_not_found(client, make_staff, login, method, path):
    """A number longer than any row id (a mangled link) is a 404, never a driver overflow."""
    login(make_staff(StaffRole.ADMIN))
    assert getattr(client, method)(path).status_code == 404
