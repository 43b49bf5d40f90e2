"""Races, crashes, a database restart and a backup, against real servers: gunicorn with 4 sync
workers (on PostgreSQL, two gunicorns, as two app servers would be), real HTTP from many
threads at once, the production configuration.

Every trial checks the same invariants in the database: no slot holds more bookings than
seats, each slot's seat counter equals its active appointments, every appointment has its
intake and every youth an appointment (nothing half-written), and each person's answer was a
confirmation or a clear "this time just filled up", never an error page.
"""

from __future__ import annotations

import http.client
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from sqlalchemy import create_engine, make_url, text

from config import TestingConfig
from tests.support import databases
from tests.support.live import (
    ROOT,
    Browser,
    Server,
    app_servers,
    bookable_pairs,
    bookable_slots,
    booked_keys,
    hidden_value,
    open_intake,
    outcome,
    staff_browser,
    wipe_bookings,
)
from tests.support.races import all_at_once, assert_slot_counters_hold

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("RACE_TRIALS", 20))
CROWD = 50  # people pressing "Book" for the same slot at the same moment
SEATS = 3
KILLS_PER_TRIAL = 3


@pytest.fixture(scope="module")
def servers(live_db, tmp_path_factory):
    """One gunicorn on SQLite (one machine); two on PostgreSQL (two app servers). Errors a
    person would not see as a 5xx still must not happen: their logs are checked after."""
    logs = tmp_path_factory.mktemp("logs")
    with app_servers(live_db, logs, SEATS_PER_SLOT=str(SEATS)) as servers:
        yield servers


@pytest.fixture
def fresh(live_db):
    wipe_bookings(live_db)
    return live_db


def invariants(url: str) -> dict[str, int]:
    """Check what must hold in the database whatever happened; return the counts."""
    engine = create_engine(url)
    with engine.connect() as connection:

        def scalar(sql: str) -> int:
            return connection.execute(text(sql)).scalar()

        assert_slot_counters_hold(connection)
        counts = {
            "booked": scalar("SELECT count(*) FROM appointment WHERE status = 'booked'"),
            "cancelled": scalar("SELECT count(*) FROM appointment WHERE status = 'cancelled'"),
            "youth": scalar("SELECT count(*) FROM youth"),
            "already_booked_notices": scalar(
                "SELECT count(*) FROM outbox_message WHERE kind = 'already_booked'"
            ),
            "without_intake": scalar(
                "SELECT count(*) FROM appointment a "
                "WHERE NOT EXISTS (SELECT 1 FROM intake i WHERE i.appointment_id = a.id)"
            ),
            "youth_without_appointment": scalar(
                "SELECT count(*) FROM youth y "
                "WHERE NOT EXISTS (SELECT 1 FROM appointment a WHERE a.youth_id = y.id)"
            ),
        }
    engine.dispose()
    assert counts["without_intake"] == 0
    assert counts["youth_without_appointment"] == 0
    return counts


def crowd(servers, day: str, start: str, size: int, first: int = 0):
    """``size`` different youth with the form open, spread over the app servers."""
    return [
        open_intake(servers[n % len(servers)], day, start, first + n)
        for n in range(first, first + size)
    ]


def test_fifty_youth_race_for_three_seats(servers, fresh):
    tally = Counter()
    for _ in range(TRIALS):
        wipe_bookings(fresh)
        day, starts = bookable_slots(servers[0])
        youth = crowd(servers, day, starts[-1], CROWD)

        results = [outcome(r) for r in all_at_once([y.submit for y in youth])]

        assert Counter(results) == {"booked": SEATS, "full": CROWD - SEATS}, Counter(results)
        counts = invariants(fresh)
        assert counts["booked"] == counts["youth"] == SEATS
        winners = [y for y, result in zip(youth, results, strict=True) if result == "booked"]
        assert booked_keys(fresh) == sorted(y.form["submission_key"] for y in winners)
        tally.update(results)
    print(f"\nrace: {TRIALS} trials x {CROWD} youth for {SEATS} seats -> {dict(tally)}")


def test_a_double_click_books_once(servers, fresh):
    for _ in range(TRIALS):
        wipe_bookings(fresh)
        day, starts = bookable_slots(servers[0])
        (youth,) = crowd(servers, day, starts[0], 1)
        # Ten presses of the same button: the same cookie and form, landing on any server;
        # each browser keeps the session cookie its own response set.
        presses = [
            Browser(servers[n % len(servers)], dict(youth.browser.cookies)) for n in range(10)
        ]
        responses = all_at_once([partial(b.post, youth.path, youth.form) for b in presses])

        assert [outcome(r) for r in responses] == ["booked"] * 10
        assert booked_keys(fresh) == [youth.form["submission_key"]]
        counts = invariants(fresh)
        assert counts["booked"] == counts["youth"] == 1


def test_one_youth_booking_twice_at_once_gets_one_appointment(servers, fresh):
    """A returning youth sends two different forms at the same moment (two tabs, a friend's
    phone): the youth's row lock makes the second see the first, never two bookings."""
    for _ in range(TRIALS):
        wipe_bookings(fresh)
        day, starts = bookable_slots(servers[0])
        forms = [
            open_intake(servers[n % len(servers)], day, starts[n % len(starts)], 7)
            for n in range(10)
        ]
        _make_returning(fresh, forms[0].form)

        results = Counter(outcome(r) for r in all_at_once([form.submit for form in forms]))

        # Online every request is answered alike; the nine others were declined quietly,
        # and the youth told once, at the contact on file.
        assert results == {"booked": 10}, results
        counts = invariants(fresh)
        assert counts["booked"] == counts["youth"] == 1
        assert counts["already_booked_notices"] <= 1


def _make_returning(url: str, form: dict) -> None:
    """Record the youth as seen before, as a past visit would have."""
    from datetime import date

    from clinic.models import Youth

    birth = date.fromisoformat(form["date_of_birth"])
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO youth (identity_key, first_name, last_name, date_of_birth, "
                "language, created_at, updated_at) VALUES (:key, :first, :last, :birth, 'en', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {
                "key": Youth.make_identity_key(form["first_name"], form["last_name"], birth),
                "first": form["first_name"],
                "last": form["last_name"],
                "birth": birth,
            },
        )
    engine.dispose()


def _staff_browser(server: Server, url: str) -> Browser:
    return staff_browser(server, url, "desk@race.test", "front_desk", "Desk")


def test_cancels_while_booking_never_lose_or_double_a_seat(servers, live_db):
    engine = create_engine(live_db)
    tally = Counter()
    for _ in range(TRIALS):
        wipe_bookings(live_db)
        desk = _staff_browser(servers[0], live_db)
        day, starts = bookable_slots(servers[0])
        start = starts[-1]
        first = crowd(servers, day, start, SEATS)
        assert [outcome(y.submit()) for y in first] == ["booked"] * SEATS
        with engine.connect() as connection:
            ids = connection.execute(text("SELECT id FROM appointment ORDER BY id")).scalars()
            ids = list(ids)
        sheet = desk.get(f"/staff/day/{day}")
        token = hidden_value(sheet.body, "csrf_token")

        def cancel(appointment_id, desk=desk, token=token, day=day):
            path = f"/staff/appointments/{appointment_id}/cancel"
            return partial(desk.post, path, {"csrf_token": token, "day": day})

        # Every booking cancelled once, the first one twice (two desks, one phone call),
        # while fifty others try to book the same slot.
        others = crowd(servers, day, start, CROWD, first=100)
        actions = [cancel(i) for i in ids] + [cancel(ids[0])] + [y.submit for y in others]
        random.shuffle(actions)
        responses = all_at_once(actions)

        cancels = [r for r in responses if r.location.startswith(f"/staff/day/{day}")]
        bookings = [outcome(r) for r in responses if r not in cancels]
        assert len(cancels) == SEATS + 1, [r.status for r in responses if r not in cancels]
        assert set(bookings) <= {"booked", "full"}, Counter(bookings)
        counts = invariants(live_db)
        assert counts["cancelled"] == SEATS  # the double cancel counted once
        assert counts["booked"] == bookings.count("booked") <= SEATS
        tally.update(bookings)
    engine.dispose()
    print(f"\ncancel race: {TRIALS} trials, {SEATS + 1} cancels + {CROWD} bookings -> {tally}")


def test_killing_workers_mid_booking_leaves_nothing_half_written(servers, fresh):
    """SIGKILL a worker while bookings are in flight, again and again. A person whose request
    died with the worker presses Book again: the same form either finds the booking it made
    or makes it now, never two."""
    kills = 0
    tally = Counter()
    for trial in range(max(TRIALS // 2, 1)):
        wipe_bookings(fresh)
        day, starts = bookable_slots(servers[0])
        youth = [
            open_intake(servers[n % len(servers)], day, starts[n % len(starts)], n)
            for n in range(CROWD)
        ]

        def killer(trial=trial):
            rng = random.Random(trial)
            for _ in range(KILLS_PER_TRIAL):
                time.sleep(rng.uniform(0.02, 0.15))
                server = rng.choice(servers)
                pids = server.worker_pids()
                if pids:
                    server.kill_a_worker(rng.choice(pids))
            return None

        def attempt(y):
            try:
                return outcome(y.submit())
            except (OSError, http.client.HTTPException) as error:  # the worker died under us
                return f"dropped: {type(error).__name__}"

        results = all_at_once([killer] + [lambda y=y: attempt(y) for y in youth])[1:]
        kills += KILLS_PER_TRIAL
        dropped = [y for y, r in zip(youth, results, strict=True) if r.startswith("dropped")]
        tally["dropped"] += len(dropped)
        for server in servers:
            server.wait_until_ready()
        final = {}
        for y, result in zip(youth, results, strict=True):
            final[id(y)] = outcome(y.submit()) if result.startswith("dropped") else result
        assert set(final.values()) <= {"booked", "full"}, Counter(final.values())
        counts = invariants(fresh)
        booked = [y for y in youth if final[id(y)] == "booked"]
        assert counts["booked"] == counts["youth"] == len(booked)
        tally.update(final.values())
    print(f"\ncrash: {kills} workers killed, outcomes {dict(tally)}")
    if TRIALS >= 10:  # with fewer trials every kill may land between requests
        assert tally["dropped"] > 0, "no kill hit a request in flight: the test proved nothing"


def _local_cluster(url: str) -> tuple[str, str] | None:
    """(version, name) of the PostgreSQL cluster behind ``url``, if this machine runs it and
    this test may restart it (Debian's pg_ctlcluster, as root)."""
    parts = make_url(url)
    if parts.host not in ("127.0.0.1", "localhost") or os.geteuid() != 0:
        return None
    if shutil.which("pg_lsclusters") is None:
        return None
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        version, name, port, status, *_ = line.split()
        if int(port) == (parts.port or 5432) and status == "online":
            return version, name
    return None


# The restart stops the server every other test of the run uses: run alongside them (xdist), it
# made a test on the other worker fail to connect ("the database system is shutting down").
# make test runs the exclusive tests on their own, after the parallel run.
@pytest.mark.exclusive
def test_the_app_rides_out_a_database_restart(servers, fresh):
    """PostgreSQL restarts under load; the same workers serve again once it is back
    (pool pre-ping), and meanwhile people get a 'back in a moment' page, never an error."""
    if not databases.on_postgres():
        pytest.skip("restarting the database server is a PostgreSQL test")
    cluster = _local_cluster(databases.POSTGRES_URL)
    if cluster is None:
        pytest.skip("cannot restart this PostgreSQL server from here (needs root, Debian tools)")
    workers_before = [sorted(server.worker_pids()) for server in servers]
    day, starts = bookable_slots(servers[0])
    youth = [
        open_intake(servers[n % len(servers)], day, starts[n % len(starts)], n) for n in range(40)
    ]

    def restart():
        time.sleep(0.1)
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"], check=True
        )

    def attempt(y):
        response = y.submit()
        if response.status == 503 and "back in a moment" in response.body:
            return "unavailable"
        return outcome(response)

    try:
        during = all_at_once([restart] + [partial(attempt, y) for y in youth])[1:]
    finally:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "start"])
    assert set(during) <= {"booked", "full", "unavailable"}, Counter(during)

    # Back up: everyone turned away tries again, on the same workers, and gets an answer.
    retried = [attempt(y) if r == "unavailable" else r for y, r in zip(youth, during, strict=True)]
    assert set(retried) <= {"booked", "full"}, Counter(retried)
    assert [sorted(server.worker_pids()) for server in servers] == workers_before
    counts = invariants(fresh)
    assert counts["booked"] == retried.count("booked")
    print(f"\ndatabase restart: during {Counter(during)}, after retry {Counter(retried)}")


def _flask(command: list[str], database_url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CLINIC_ENV": "production",
        "SECRET_KEY": "backup-test-secret",
        "DATA_KEYS": TestingConfig.DATA_KEYS,  # the keys the test databases were made with
        "BLIND_INDEX_KEY": TestingConfig.BLIND_INDEX_KEY,
        "RATELIMIT_SINGLE_PROCESS": "1",  # one command, one process
        "DATABASE_URL": database_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_a_backup_taken_under_load_restores_whole(servers, fresh, tmp_path):
    """`flask backup` while bookings keep coming, then `flask restore` into an empty database:
    a consistent instant, between the bookings before and after it, every invariant intact."""
    day_slots = bookable_pairs(servers[0])
    stop = threading.Event()
    made = Counter()

    def keep_booking(worker: int):
        n = 1000 * (worker + 1)
        while not stop.is_set():
            day, start = day_slots[n % len(day_slots)]
            made[outcome(open_intake(servers[n % len(servers)], day, start, n).submit())] += 1
            n += 1

    def booked_now() -> int:
        return invariants(fresh)["booked"]

    backup = tmp_path / "clinic.backup"
    with ThreadPoolExecutor(max_workers=4) as pool:
        loaders = [pool.submit(keep_booking, worker) for worker in range(4)]
        deadline = time.monotonic() + 60
        while booked_now() < 20:
            failed = [loader.exception() for loader in loaders if loader.done()]
            assert not failed and time.monotonic() < deadline, failed or "bookings stalled"
            time.sleep(0.05)
        before = booked_now()
        _flask(["backup", str(backup)], fresh)
        after = booked_now()
        time.sleep(0.5)
        stop.set()
        for loader in loaders:
            loader.result()
    assert set(made) <= {"booked", "full"}, made

    restored = databases.new_database("restored", tmp_path)
    try:
        if not databases.on_postgres():  # a new SQLite database is a new file
            databases.migrate(restored)
        _flask(["restore", str(backup), "--yes"], restored)
        counts = invariants(restored)
        assert before <= counts["booked"] <= after, (before, counts["booked"], after)
        assert counts["youth"] == counts["booked"]
        engine = create_engine(restored)
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            version = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert version.scalar() == head_revision()
        engine.dispose()
    finally:
        databases.drop_database(restored)
    print(f"\nbackup under load: {before} booked before, {after} after, {made} in all")


def head_revision() -> str:
    from alembic.script import ScriptDirectory
    from flask_migrate import Config

    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()
