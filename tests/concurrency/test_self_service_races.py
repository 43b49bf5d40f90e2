"""A youth's own changes under real parallel requests: gunicorn with 4 sync workers (on
PostgreSQL, two gunicorns, as two app servers would be), each youth's browser holding their
link (opened through ``/my/<token>``, the CSRF token from the page), requests released
together by a barrier, the real clock.

- Many youth move into one slot with a single free seat at once: exactly one moves, the
  others' appointments stay where they were, and they read "just filled up".
- One youth fires two moves to two different slots at once: the appointment ends in one
  slot, and no seat is held twice nor lost.

After every trial each slot's counter equals its seat-holding appointments plus the open
offers holding a seat (``offers.fill_freed`` may offer a freed one), within its capacity.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import date, datetime, time
from functools import partial

import pytest
from sqlalchemy import text

from clinic import booking, create_app, settings
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import links
from tests.support.live import (
    Browser,
    Response,
    app_servers,
    bookable_pairs,
    connect,
    hidden_value,
    wipe_bookings,
)
from tests.support.races import all_at_once

pytestmark = pytest.mark.slow

TRIALS = max(1, min(int(os.environ.get("RACE_TRIALS", 5)), 20))
CROWD = 8  # youth moving into the one free seat
FILLED_UP = "Sorry, this time just filled up"


@pytest.fixture(scope="module")
def seeder(live_db):
    """The app in the test's own process, on the servers' database: books and mints links."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": live_db})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def servers(live_db, seeder, tmp_path_factory):
    with app_servers(live_db, tmp_path_factory.mktemp("self-service-logs")) as servers:
        yield servers


def _wipe(url: str) -> None:
    with connect(url, begin=True) as connection:
        for table in ("youth_link", "seat_offer", "list_entry"):
            connection.execute(text(f"DELETE FROM {table}"))
    wipe_bookings(url)


def _book(seeder, n: int, day: str, start: str) -> tuple[int, str]:
    """Youth ``n`` booked for ``day`` at ``start``; their appointment and a link to it."""
    with seeder.app_context():
        rules = settings.current_rules()
        request = booking.BookingRequest(
            day=date.fromisoformat(day),
            start=time.fromisoformat(start),
            submission_key=f"race-{os.getpid()}-{n:04d}-{'k' * 16}",
            first_name=f"Mover{n}",
            last_name="Race",
            date_of_birth=date(2003, 1 + n % 12, 1 + n % 28),
            phone=f"+1415555{n:04d}",
            tattoo_locations=["arms"],
        )
        appointment = booking.book(request, rules, datetime.now(rules.zone))
        with write_transaction():
            token = links.mint(appointment_id=appointment.id)
        return appointment.id, token


class Youth:
    """A youth's browser that opened their link and holds the move form's CSRF token."""

    def __init__(self, server, token: str):
        self.browser = Browser(server)
        landing = self.browser.get(f"/my/{token}")
        assert landing.status == 303 and landing.location.endswith("/my"), landing
        page = self.browser.get("/my/reschedule")
        assert page.status == 200, (page.status, page.body[:500])
        self.csrf = hidden_value(page.body, "csrf_token")

    def move(self, day: str, start: str, browser: Browser | None = None) -> Response:
        """Move to ``day`` at ``start``, from this browser or another tab of it."""
        form = {"csrf_token": self.csrf, "slot": f"{day}T{start}"}
        return (browser or self.browser).post("/my/reschedule", form)


def _slot_of(url: str, appointment_id: int) -> tuple[str, str, str]:
    with connect(url) as connection:
        row = connection.execute(
            text(
                "SELECT s.day, s.start_time, a.status FROM appointment a "
                "JOIN slot s ON s.id = a.slot_id WHERE a.id = :id"
            ),
            {"id": appointment_id},
        ).one()
    return str(row[0]), str(row[1])[:5], row[2]


def _assert_counters_hold(url: str) -> dict[tuple[str, str], int]:
    """Every counter equals its seat holders (appointments, and open offers); returns the
    counters by (day, start)."""
    with connect(url) as connection:
        rows = connection.execute(
            text(
                "SELECT s.day, s.start_time, s.booked, s.capacity, "
                "(SELECT count(*) FROM appointment a WHERE a.slot_id = s.id AND a.status IN "
                "('booked', 'checked_in', 'in_treatment', 'completed')) "
                "+ (SELECT count(*) FROM seat_offer o WHERE o.slot_id = s.id "
                "AND o.status = 'open') FROM slot s"
            )
        ).all()
    for day, start, booked, capacity, holding in rows:
        assert booked == holding, f"{day} {start}: counter {booked}, seat holders {holding}"
        assert 0 <= booked <= capacity, f"{day} {start}: {booked} of {capacity}"
    return {(str(day), str(start)[:5]): booked for day, start, booked, _c, _h in rows}


def test_many_youth_move_into_the_last_seat_at_once(live_db, seeder, servers):
    tally: Counter[str] = Counter()
    for trial in range(TRIALS):
        _wipe(live_db)
        pairs = bookable_pairs(servers[0])
        (target_day, target_start), others = pairs[0], pairs[1 : 1 + CROWD // 2]
        assert len(others) == CROWD // 2, "not enough open times in the booking window"
        _book(seeder, 1000 + trial, target_day, target_start)  # one of its two seats taken
        movers = [
            _book(seeder, n, *others[n // 2])  # two to each of the other slots
            for n in range(CROWD)
        ]
        before = {appointment_id: _slot_of(live_db, appointment_id) for appointment_id, _ in movers}
        youth = [Youth(servers[n % len(servers)], token) for n, (_id, token) in enumerate(movers)]

        answers = all_at_once([partial(y.move, target_day, target_start) for y in youth])

        outcomes = []
        for answer in answers:
            if answer.status == 303 and answer.location.endswith("/my"):
                outcomes.append("moved")
            elif answer.status == 422 and FILLED_UP in answer.body:
                outcomes.append("full")
            else:
                raise AssertionError((answer.status, answer.body[:500]))
        assert outcomes.count("moved") == 1, outcomes
        for (appointment_id, _), outcome in zip(movers, outcomes, strict=True):
            where = _slot_of(live_db, appointment_id)
            if outcome == "moved":
                assert where == (target_day, target_start, "booked")
            else:
                assert where == before[appointment_id]
        seats = _assert_counters_hold(live_db)
        assert seats[(target_day, target_start)] == 2
        with connect(live_db) as connection:
            moves = connection.execute(
                text(
                    "SELECT count(*) FROM status_change WHERE action = 'reschedule' "
                    "AND actor = 'youth' AND staff_id IS NULL"
                )
            ).scalar()
        assert moves == 1
        tally.update(outcomes)
    print(f"\nmove race: {TRIALS} trials x {CROWD} youth -> {dict(tally)}")


def test_one_youth_moving_twice_at_once_ends_in_one_slot(live_db, seeder, servers):
    tally: Counter[str] = Counter()
    for trial in range(TRIALS):
        _wipe(live_db)
        pairs = bookable_pairs(servers[0])
        home, first, second = pairs[0], pairs[1], pairs[2]
        appointment_id, token = _book(seeder, 2000 + trial, *home)
        # Two tabs of one browser: the same session and CSRF token, two moves (on
        # PostgreSQL through the two app servers).
        youth = Youth(servers[0], token)
        other_tab = Browser(servers[-1], cookies=youth.browser.cookies)

        answers = all_at_once(
            [partial(youth.move, *first), partial(youth.move, *second, browser=other_tab)]
        )

        statuses = sorted(answer.status for answer in answers)
        assert statuses in ([303, 303], [303, 422]), [(a.status, a.body[:300]) for a in answers]
        day, start, status = _slot_of(live_db, appointment_id)
        assert status == "booked" and (day, start) in (first, second)
        seats = _assert_counters_hold(live_db)
        assert seats[home] == 0
        assert seats.get(first, 0) + seats.get(second, 0) == 1  # one seat held, not two
        tally["both moved, one after the other" if statuses == [303, 303] else "one moved"] += 1
    print(f"\ndouble move: {TRIALS} trials -> {dict(tally)}")
