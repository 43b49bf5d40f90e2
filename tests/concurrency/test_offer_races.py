"""Seat offers under real parallel requests and processes, on SQLite and on PostgreSQL.

- Two browsers holding the same link press "Take this seat" at once, against real gunicorn
  workers (two gunicorns on PostgreSQL, as two app servers would be), with their CSRF tokens:
  exactly one gets the appointment, the other reads that the offer has ended.
- Seats freed by cancellations (each offering its seat in its own transaction, as the hooks
  where seats free do) race sweeps run by other processes: each freed seat is offered once,
  to a different person, in the list's order.

After every trial a slot's counter is its booked appointments plus its open offers, within
capacity, and nobody holds two offers (``tests.support.lists.seats_hold``).
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import date, time, timedelta
from functools import partial

import pytest
from sqlalchemy import func, select, text

from clinic import booking, create_app, settings
from clinic.booking import lists, offers
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import links
from clinic.models import Appointment, ClinicDay, ListEntry, SeatOffer
from tests.support.lists import seats_hold
from tests.support.live import Browser, app_servers, flashes, follow, hidden_value
from tests.support.races import all_at_once

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("RACE_TRIALS", 20))
CLAIMERS = 2
# Children before parents.
TABLES = (
    "outbox_message",
    "youth_link",
    "seat_offer",
    "list_entry",
    "status_change",
    "treatment",
    "intake",
    "appointment",
    "youth",
    "slot",
    "clinic_day",
)
SEATS_PER_SLOT = 2
SLOTS = 3  # 16:00, 16:20, 16:40
WAITING = 8


def _request(n: int, day: date, start: time, key: str) -> booking.BookingRequest:
    return booking.BookingRequest(
        day=day,
        start=start,
        submission_key=key,
        first_name=f"Racer{n}",
        last_name="Offer",
        date_of_birth=date(2004, 4, 4),
        phone=f"+1415555{n:04d}",
        language="en",
        tattoo_locations=["arms"],
    )


class Clinic:
    """The app in the test's own process, on the servers' database, with the real clock:
    a short clinic day ten days from now, filled, and people on its standby list."""

    def __init__(self, url: str):
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": url})

    def close(self) -> None:
        with self.app.app_context():
            db.engine.dispose()

    def reset(self) -> tuple[date, list[int], list[int]]:
        """Empty the tables, then: the day full (its appointments), WAITING on its standby list
        (their entries, in order)."""
        with self.app.app_context():
            for table in TABLES:
                db.session.execute(text(f"DELETE FROM {table}"))
            rules = settings.current_rules()
            now = settings.clinic_now(rules)
            day = now.date() + timedelta(days=10)
            minutes = 16 * 60 + 20 * SLOTS
            end = time(minutes // 60, minutes % 60)
            db.session.add(
                ClinicDay(
                    day=day,
                    extra=True,
                    start_time=time(16, 0),
                    end_time=end,
                    slot_minutes=20,
                    seats=SEATS_PER_SLOT,
                )
            )
            db.session.commit()
            booked = []
            n = 0
            for slot in booking.day_availability(day, rules, now).slots:
                for seat in range(SEATS_PER_SLOT):
                    key = f"race-booked-{n:04d}-{seat}-kkkkkkkk"
                    booked.append(
                        booking.book(_request(n, day, slot.plan.start, key), rules, now).id
                    )
                    n += 1
            waiting = []
            for m in range(100, 100 + WAITING):
                key = f"race-standby-{m:04d}-kkkkkkkkk"
                lists.join_standby(_request(m, day, time(16, 0), key), None, None, rules, now)
                waiting.append(
                    db.session.scalar(select(ListEntry.id).where(ListEntry.submission_key == key))
                )
            db.session.commit()
            return day, booked, waiting

    def free_a_seat(self, appointment_id: int) -> tuple[int, str]:
        """Cancel one booking, offering its seat; the offer's id and a link to the entry."""
        with self.app.app_context():
            rules = settings.current_rules()
            now = settings.clinic_now(rules)
            day = booking.cancel(appointment_id, None, now).day
            with write_transaction():
                offers.fill_freed(day, rules, now)
            offer = db.session.scalars(select(SeatOffer).where(SeatOffer.status == "open")).one()
            with write_transaction():
                token = links.mint(entry_id=offer.entry_id)
            return offer.id, token

    def invariants(self) -> None:
        with self.app.app_context():
            seats_hold()

    def count(self, query):
        with self.app.app_context():
            return db.session.scalar(query)


@pytest.fixture(scope="module")
def clinic(live_db):
    clinic = Clinic(live_db)
    yield clinic
    clinic.close()


@pytest.fixture(scope="module")
def servers(live_db, clinic, tmp_path_factory):
    with app_servers(live_db, tmp_path_factory.mktemp("offer-logs")) as servers:
        yield servers


def _holder(server, token: str) -> tuple[Browser, str]:
    """A browser that opened the link, with the offer's form token in hand."""
    browser = Browser(server)
    landing = browser.get(f"/my/{token}")
    assert landing.status == 303, (landing.status, landing.body[:300])
    page = follow(browser, landing)
    assert "Take this seat" in page.body, page.body[:1000]
    return browser, hidden_value(page.body, "csrf_token")


def _take(browser: Browser, csrf: str, offer_id: int) -> list[tuple[str, str]]:
    response = browser.post(
        "/my/list/offer", {"csrf_token": csrf, "offer_id": str(offer_id), "answer": "take"}
    )
    assert response.status == 303, (response.status, response.body[:500])
    return flashes(follow(browser, response).body)


def test_two_claims_of_one_offer_one_wins(clinic, servers):
    """The same link opened on two phones (or one double tap): both press Take this seat."""
    for trial in range(TRIALS):
        _day, booked, _waiting = clinic.reset()
        offer_id, token = clinic.free_a_seat(booked[trial % len(booked)])
        holders = [_holder(servers[n % len(servers)], token) for n in range(CLAIMERS)]
        told = all_at_once([partial(_take, browser, csrf, offer_id) for browser, csrf in holders])

        categories = sorted(flashed[0][0] for flashed in told)
        assert categories == ["error", "success"], told
        loser = next(flashed[0][1] for flashed in told if flashed[0][0] == "error")
        assert "This offer has ended" in loser
        # One cancelled, one made by the winner: as many booked as before.
        assert clinic.count(
            select(func.count(Appointment.id)).where(Appointment.status == "booked")
        ) == len(booked)
        assert (
            clinic.count(select(func.count(SeatOffer.id)).where(SeatOffer.status == "claimed")) == 1
        )
        clinic.invariants()
    print(f"\nclaim race: {TRIALS} trials x {CLAIMERS} claims -> one winner each time")


# One app per racing process, made once (a process's start-up is most of a race's cost).
_RACER: dict = {}


def _start_racer(url: str, barrier) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    app.app_context().push()
    _RACER.update(app=app, barrier=barrier)


def _race(job: tuple[str, int | None]) -> tuple[str, int]:
    """In a racing process: cancel a booking and offer its seat in the same transaction (as
    the hooks where seats free do), or sweep; released with the others by the barrier."""
    rules = settings.current_rules()
    _RACER["barrier"].wait(timeout=60)
    now = settings.clinic_now(rules)
    kind, appointment_id = job
    if kind == "cancel":
        day = booking.cancel(appointment_id, None, now).day
        with write_transaction():
            made = offers.fill_freed(day, rules, now)
    else:
        made = offers.sweep(rules, now)
    db.session.remove()
    return kind, made


RACERS = 6
SEAT_TRIALS = max(1, min(TRIALS, 10))


@pytest.fixture(scope="module")
def racers(live_db):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(RACERS)
    with context.Pool(RACERS, initializer=_start_racer, initargs=(live_db, barrier)) as pool:
        yield pool


def test_freed_seats_racing_sweeps_are_offered_once_each(clinic, racers):
    """Three seats freed at once, each offering its seat, while three sweeps run: three
    offers, to the first three on the list, and no seat or person counted twice."""
    for trial in range(SEAT_TRIALS):
        _day, booked, waiting = clinic.reset()
        freed = booked[trial % 4 : trial % 4 + 3]  # three seats, from two or three slots
        jobs = [("cancel", appointment_id) for appointment_id in freed] + [("sweep", None)] * 3
        made = racers.map(_race, jobs, chunksize=1)

        assert sum(count for _kind, count in made) == 3, made
        clinic.invariants()
        with clinic.app.app_context():
            offered = list(
                db.session.scalars(select(SeatOffer.entry_id).where(SeatOffer.status == "open"))
            )
        assert sorted(offered) == sorted(waiting[:3]), (offered, waiting)
    print(f"\nfill/sweep race: {SEAT_TRIALS} trials x {RACERS} processes -> 3 offers each time")
