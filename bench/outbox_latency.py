"""How long from a booking to its confirmation arriving, on loopback.

A real SMTP server (aiosmtpd) and a real worker process (`flask outbox run --loop`, as
production runs it) against a migrated database; bookings are made through the booking use
case, which commits the appointment and its outbox rows together. For each booking: the time
the booking took, and the time until the SMTP server held its confirmation. Then the same with
the SMTP server down for a while: the bookings take as long, and their confirmations arrive
after it is back.

Run: .venv/bin/python -m bench.outbox_latency [--bookings 20] [--postgres URL]
Not a test: nothing fails on a slow number.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from clinic import booking, create_app, settings
from tests.support.mailservers import SmtpServer, smtp_environment

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(ROOT / ".venv" / "bin" / "flask")


def migrate(url: str) -> None:
    env = {**os.environ, "CLINIC_ENV": "development", "DATABASE_URL": url}
    subprocess.run(
        [FLASK, "--app", "wsgi", "db", "upgrade"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )


def open_seats(rules, now, wanted: int):
    seats = []
    for day in booking.upcoming_days(rules, now):
        for slot in day.slots:
            if slot.bookable:
                seats.extend([(day.plan.day, slot.plan.start)] * slot.seats_left)
    return seats[:wanted]


def book_one(n: int, day: date, start, rules, now, run: str) -> float:
    request = booking.BookingRequest(
        day=day,
        start=start,
        submission_key=f"{run}{n:028d}",
        first_name=f"Bench{run}{'abcdefghijklmnopqrstuvwxyz'[n % 26]}{n}",
        last_name="Latency",
        date_of_birth=date(2005, 5, 1),
        email=f"bench{run}{n}@example.org",
        contact_by="email",
        language="es" if n % 2 else "en",
    )
    started = time.perf_counter()
    booking.book(request, rules, now)
    return time.perf_counter() - started


def wait_for(server: SmtpServer, address: str, timeout: float = 60) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if server.messages_to(address):
            return time.perf_counter()
        time.sleep(0.002)
    raise TimeoutError(address)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(url: str, bookings: int, poll: int) -> None:
    server = SmtpServer().start()
    env = {
        **os.environ,
        "CLINIC_ENV": "production",
        "SECRET_KEY": "bench",
        "DATABASE_URL": url,
        "OUTBOX_POLL_SECONDS": str(poll),
        # Twenty bookings from one address: not what the booking limits are for.
        "RATELIMIT_ENABLED": "0",
        # Short, so that the outage below is over in seconds rather than minutes.
        "OUTBOX_RETRY_BASE_SECONDS": "5",
        **smtp_environment(server),
    }
    worker = subprocess.Popen(
        [FLASK, "--app", "wsgi", "outbox", "run", "--loop"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            rules = settings.current_rules()
            now = settings.clinic_now(rules)
            seats = open_seats(rules, now, 2 * bookings)
            time.sleep(1.5)  # the worker is up and polling
            booked, delivered = [], []
            pause = random.Random(5)
            for n, (day, start) in enumerate(seats[:bookings]):
                # Bookings arrive at any moment of the worker's polling cycle.
                time.sleep(pause.uniform(0, poll * 1.5))
                started = time.perf_counter()
                booked.append(book_one(n, day, start, rules, now, "up"))
                delivered.append(wait_for(server, f"benchup{n}@example.org") - started)
            print(f"  SMTP up, worker polling every {poll} s, {bookings} bookings:")
            print(
                f"    booking  median {statistics.median(booked) * 1000:.1f} ms, "
                f"p95 {percentile(booked, 0.95) * 1000:.1f} ms"
            )
            print(
                f"    booking -> confirmation received: median {statistics.median(delivered):.2f}"
                f" s, p95 {percentile(delivered, 0.95):.2f} s, max {max(delivered):.2f} s"
            )

            server.stop()
            down = [
                book_one(n, day, start, rules, now, "dn")
                for n, (day, start) in enumerate(seats[bookings : 2 * bookings])
            ]
            print(f"  SMTP down, {len(down)} bookings:")
            print(
                f"    booking  median {statistics.median(down) * 1000:.1f} ms, "
                f"p95 {percentile(down, 0.95) * 1000:.1f} ms (none failed)"
            )
            time.sleep(poll + 1)  # the worker has tried them all once, and failed
            server.start()
            back = time.perf_counter()
            arrived = [
                wait_for(server, f"benchdn{n}@example.org", timeout=120) - back
                for n in range(len(down))
            ]
            print(
                f"    SMTP back: all {len(down)} confirmations received within "
                f"{max(arrived):.1f} s (retry base 5 s here, 60 s by default)"
            )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=20)
    parser.add_argument("--poll", type=int, default=2, help="OUTBOX_POLL_SECONDS")
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure too (emptied first!)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        migrate(url)
        print("SQLite")
        measure(url, args.bookings, args.poll)
    if args.postgres:
        from sqlalchemy import create_engine, text

        engine = create_engine(args.postgres)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        migrate(args.postgres)
        print("PostgreSQL")
        measure(args.postgres, args.bookings, args.poll)


if __name__ == "__main__":
    sys.exit(main())
