"""Several outbox workers at once, as real processes (``flask --app wsgi outbox run``, the
production configuration), on one database, delivering to one SMTP server in this process.

Each message must reach the server exactly once and be recorded as sent once: on PostgreSQL
the workers' claims skip each other's locked rows (``FOR UPDATE SKIP LOCKED``); on SQLite
they take turns under the write lock and mark their claim in the row. Each trial starts the
workers together on the same queue and checks the server's inbox and every row.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from clinic import booking, create_app, settings
from clinic.extensions import db
from clinic.models import utcnow
from config import TestingConfig
from tests.support.live import ROOT, SECRET_KEY
from tests.support.mailservers import smtp_environment, smtp_server

pytestmark = pytest.mark.slow

WORKERS = 4
MESSAGES = 60
TRIALS = int(os.environ.get("OUTBOX_RACE_TRIALS", 3))
FLASK = Path(sys.executable).with_name("flask")
REPORT = re.compile(r"(\d+) sent, (\d+) to retry, (\d+) dead, (\d+) no longer needed")


def address(n: int) -> str:
    return f"youth{n}@example.org"


def seed(url: str) -> None:
    """MESSAGES youth book online with an e-mail address: MESSAGES confirmations queued."""
    # Confirmations only: reminders are timed by the clinic clock, not the workers' real one.
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "REMINDER_EARLY_AT": "", "REMINDER_SAME_DAY_AT": ""}
    )
    with app.app_context():
        rules = settings.current_rules()
        # The workers run on the real clock and do not send about a visit already past, so
        # the visits are the clinic's coming ones by that clock, not by the tests' frozen NOW.
        now = settings.clinic_now(rules)
        seats = [
            (day.plan.day, slot.plan.start)
            for day in booking.upcoming_days(rules, now)
            for slot in day.slots
            if slot.bookable
            for _ in range(slot.seats_left)
        ]
        assert len(seats) >= MESSAGES
        for n, (day, start) in zip(range(MESSAGES), seats, strict=False):
            booking.book(
                booking.BookingRequest(
                    day=day,
                    start=start,
                    submission_key=f"outbox-race-{n:04d}".ljust(32, "x"),
                    first_name=f"Racer{n}",
                    last_name="Mailer",
                    date_of_birth=date(2004, 1 + n % 12, 1 + n % 28),
                    email=address(n),
                    contact_by="email",
                    language="es" if n % 2 else "en",
                    tattoo_locations=["arms"],
                    screening=["tan"],
                ),
                rules,
                now,
            )
        db.engine.dispose()


@pytest.fixture(scope="module")
def database(live_db):
    seed(live_db)
    return live_db


def requeue(url: str) -> None:
    """Every message queued again, untried and due now, for the next trial."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE outbox_message SET status = 'queued', attempts = 0, sent_at = NULL, "
                "recipient = NULL, provider_ref = NULL, last_error = NULL, "
                "last_attempt_at = NULL, claim_token = NULL, claimed_until = NULL, "
                "send_after = :due"
            ),
            {"due": utcnow() - timedelta(seconds=1)},
        )
    engine.dispose()


def rows(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT m.id, m.kind, m.channel, m.status, m.attempts, m.recipient, "
                "m.provider_ref, m.claim_token, i.email "
                "FROM outbox_message m JOIN intake i ON i.appointment_id = m.appointment_id "
                "ORDER BY m.id"
            )
        ).all()
    engine.dispose()
    return found


def due_now(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM outbox_message WHERE send_after <= :now"),
            {"now": utcnow()},
        ).scalar()
    engine.dispose()
    return count


def start_workers(url: str, mail_settings: dict[str, str], log_dir: Path) -> list:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWILIO_", "MAIL_", "OUTBOX_", "REMINDER_"))
    }
    environment.update(
        CLINIC_ENV="production",
        SECRET_KEY=SECRET_KEY,
        # The keys the test databases were made with (clinic/crypto.py).
        DATA_KEYS=TestingConfig.DATA_KEYS,
        BLIND_INDEX_KEY=TestingConfig.BLIND_INDEX_KEY,
        DATABASE_URL=url,
        # Small batches: many claims per worker, so the workers' claims interleave.
        OUTBOX_BATCH_SIZE="3",
        # Exactly-once delivery is the point here, not the per-destination limit.
        RATELIMIT_ENABLED="0",
        **mail_settings,
    )
    workers = []
    for n in range(WORKERS):
        stdout = (log_dir / f"worker{n}.out").open("w+b")
        stderr = (log_dir / f"worker{n}.err").open("w+b")
        process = subprocess.Popen(
            [str(FLASK), "--app", "wsgi", "outbox", "run"],
            cwd=ROOT,
            env=environment,
            stdout=stdout,
            stderr=stderr,
        )
        workers.append((process, stdout, stderr))
    return workers


def finish(workers: list, timeout: float = 120) -> list[tuple[int, int, int, int]]:
    """Wait for every worker; returns each one's (sent, retried, dead, skipped)."""
    reports = []
    deadline = time.monotonic() + timeout
    for process, stdout, stderr in workers:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stdout.seek(0)
        stderr.seek(0)
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        stdout.close()
        stderr.close()
        assert process.returncode == 0, f"worker exited {process.returncode}:\n{out}\n{err}"
        assert "Traceback" not in err, err
        assert "database is locked" not in err, err
        match = REPORT.search(out)
        assert match, out
        reports.append(tuple(int(number) for number in match.groups()))
    return reports


def test_workers_at_once_send_each_message_exactly_once(database, tmp_path):
    with smtp_server() as server:
        # A little time per message, as a real server takes: the workers overlap.
        server.delay = 0.05
        for trial in range(TRIALS):
            if trial:
                requeue(database)
            server.clear()
            before = rows(database)
            assert len(before) == MESSAGES
            assert all(row.status == "queued" and row.attempts == 0 for row in before)
            assert due_now(database) == MESSAGES, "not due by the workers' real clock"

            started = time.monotonic()
            reports = finish(start_workers(database, smtp_environment(server), tmp_path))
            elapsed = time.monotonic() - started

            received = Counter(rcpt for message in server.received for rcpt in message.rcpt_tos)
            doubles = {rcpt: count for rcpt, count in received.items() if count > 1}
            assert not doubles, f"trial {trial}: sent more than once: {doubles}"
            assert set(received) == {address(n) for n in range(MESSAGES)}, trial
            assert len(server.received) == MESSAGES

            assert sum(report[0] for report in reports) == MESSAGES, reports
            assert all(report[1:] == (0, 0, 0) for report in reports), reports
            # The race really happened: the queue was shared out, not drained by one worker.
            busy = [report[0] for report in reports if report[0]]
            assert len(busy) >= 2, f"trial {trial}: one worker did everything: {reports}"

            by_recipient = {m.rcpt_tos[0]: m.message_id for m in server.received}
            for row in rows(database):
                assert (row.status, row.attempts, row.claim_token) == ("sent", 1, None), row.id
                # Both encrypted at rest (each write its own token): compare the values.
                email = Fernet(TestingConfig.DATA_KEYS.encode()).decrypt(row.email).decode()
                recipient = Fernet(TestingConfig.DATA_KEYS.encode()).decrypt(row.recipient)
                assert recipient.decode() == email
                assert row.provider_ref == by_recipient[email]
            print(
                f"trial {trial}: {MESSAGES} messages, {WORKERS} workers {reports}, {elapsed:.2f}s"
            )
