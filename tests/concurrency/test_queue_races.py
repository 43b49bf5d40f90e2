"""The clinic day's queue under real parallel requests: gunicorn with 4 sync workers (on
PostgreSQL, two gunicorns, as two app servers would be), staff browsers signed in through the
real form with their CSRF tokens, requests released together by a barrier, the real clock.

Each race is run RACE_TRIALS times on a fresh queue. After every trial the database must hold
what no interleaving may break: each slot's counter equals its seat-holding appointments, a
station treats one youth at a time, and no ticket is handed out twice on a day. Whoever loses
a race gets a clear, translated explanation on the page they land on, never an error page.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import time
from functools import partial

import pytest
from sqlalchemy import Engine, text

from tests.support.live import (
    Browser,
    ClinicToday,
    Server,
    app_servers,
    flashes,
    follow,
    hidden_value,
    sign_in,
    wipe_bookings,
)
from tests.support.races import all_at_once, queue_invariants

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("RACE_TRIALS", 20))
STATIONS = ("Laser 1", "Laser 2", "Laser 3", "Laser 4")
SEATS = 2
DESKS = ("desk1@race.test", "desk2@race.test")
CLINICIANS = tuple(f"clinician{n}@race.test" for n in range(1, 5))

# What the loser of a race reads (English: the staff browsers ask for it).
CHANGED_MEANWHILE = (
    "Someone else changed this appointment a moment ago. Here is the queue as it is now."
)
NOTHING_TO_UNDO = "There is nothing here to undo."


def now_is(status: str) -> str:
    return f"Not possible: this appointment is now “{status}”."


def named(youth) -> str:
    """How a flash names a youth to staff: first name and last initial ("Ana L."), not a code."""
    first, last = youth.name.split(" ", 1)
    return f"{first} {last[0]}."


@pytest.fixture(scope="module")
def clinic(live_db):
    """Today, a short clinic day (its hours do not matter to the queue) and its staff."""
    clinic = ClinicToday(live_db, STATIONS=STATIONS)
    try:
        clinic.open_today(start=time(0, 0), end=time(2, 0), seats=SEATS)
        for n, email in enumerate(DESKS, 1):
            clinic.add_staff(email, "front_desk", f"Desk {n}")
        for n, email in enumerate(CLINICIANS, 1):
            clinic.add_staff(email, "clinician", f"Clinician {n}")
        yield clinic
    finally:
        clinic.close()


@pytest.fixture(scope="module")
def servers(live_db, clinic, tmp_path_factory):
    """One gunicorn on SQLite (one machine); two on PostgreSQL (two app servers)."""
    logs = tmp_path_factory.mktemp("queue-logs")
    with app_servers(live_db, logs, STATIONS=",".join(STATIONS)) as servers:
        yield servers


class Staff:
    """A staff member at their own screen: signed in, the day page's CSRF token in hand."""

    def __init__(self, server: Server, email: str, day: str):
        self.email = email
        self.browser: Browser = sign_in(server, email)
        page = self.browser.get(f"/staff/day/{day}")
        assert page.status == 200, page.status
        # Every form on the day page carries these two hidden fields.
        self.hidden = {"csrf_token": hidden_value(page.body, "csrf_token"), "day": day}

    def press(self, path: str, **form: str) -> list[tuple[str, str]]:
        """Press a button (a POST), land where it redirects, and read the flashed messages."""
        response = self.browser.post(path, {**self.hidden, **form})
        assert response.status == 303, (response.status, response.body[:500])
        return flashes(follow(self.browser, response).body)


@pytest.fixture(scope="module")
def staff(servers, clinic):
    """Every account signed in on its own browser, spread over the app servers."""
    day = clinic.today().isoformat()
    emails = DESKS + CLINICIANS
    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        signed_in = pool.map(
            lambda n: Staff(servers[n % len(servers)], emails[n], day), range(len(emails))
        )
        return dict(zip(emails, signed_in, strict=True))


@pytest.fixture
def fresh(clinic):
    wipe_bookings(clinic.engine)
    return clinic


def one_winner(results: list[list[tuple[str, str]]]) -> tuple[int, str, tuple[str, str]]:
    """Of two presses at once: which one succeeded, its message, and what the other read."""
    assert all(len(flashed) == 1 for flashed in results), results
    told = [flashed[0] for flashed in results]
    winners = [n for n, (category, _) in enumerate(told) if category == "success"]
    assert len(winners) == 1, told
    (winner,) = winners
    return winner, told[winner][1], told[1 - winner]


def rows(engine: Engine, sql: str, **params) -> list:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).all()


def appointment(engine: Engine, appointment_id: int):
    (row,) = rows(
        engine,
        "SELECT status, station, ticket, arrived_at FROM appointment WHERE id = :id",
        id=appointment_id,
    )
    return row


def changes(engine: Engine, appointment_id: int) -> list:
    return rows(
        engine,
        "SELECT action, from_status, to_status, undone_at FROM status_change "
        "WHERE appointment_id = :id ORDER BY id",
        id=appointment_id,
    )


def test_two_clinicians_calling_the_same_youth_one_gets_them(servers, staff, fresh):
    db = fresh.engine
    first, second = staff[CLINICIANS[0]], staff[CLINICIANS[1]]
    outcomes = {"in treatment": 0, "changed meanwhile": 0}
    for trial in range(TRIALS):
        wipe_bookings(db)
        youth = fresh.book(time(0, 0), f"Called{trial}")
        fresh.check_in(youth.id, by=DESKS[0])
        path = f"/staff/appointments/{youth.id}/call"
        pressed = [(first, "Laser 1"), (second, "Laser 2")]
        random.shuffle(pressed)

        results = all_at_once([partial(who.press, path, station=s) for who, s in pressed])

        winner, message, lost = one_winner(results)
        won = pressed[winner][1]
        assert message == f"{named(youth)} called to {won}."
        assert lost in (("error", now_is("In treatment")), ("error", CHANGED_MEANWHILE)), lost
        outcomes["changed meanwhile" if lost[1] == CHANGED_MEANWHILE else "in treatment"] += 1
        status, station, ticket, _ = appointment(db, youth.id)
        assert (status, station, ticket) == ("in_treatment", won, 1)
        assert [c.action for c in changes(db, youth.id)] == ["check_in", "call"]
        queue_invariants(db)
    print(f"\nsame youth called twice: {TRIALS} trials, the loser was told {outcomes}")


def test_four_clinicians_calling_next_at_once_take_the_first_four(servers, staff, fresh):
    db = fresh.engine
    clinicians = [staff[email] for email in CLINICIANS]
    for trial in range(TRIALS):
        wipe_bookings(db)
        # Six youth, two per slot, checked in latest appointment first: the queue is by
        # appointment time, then arrival, not by ticket.
        booked = [
            fresh.book(start, f"Next{trial}x{n}")
            for n, start in enumerate([time(0, 0)] * 2 + [time(0, 20)] * 2 + [time(0, 40)] * 2)
        ]
        for youth in reversed(booked):
            fresh.check_in(youth.id, by=DESKS[1])
        # The flash names the youth; each has their own first name, so the name finds the code.
        code_of = {named(youth): youth.code for youth in booked}
        assert len(code_of) == len(booked)
        first_four = {youth.code for youth in booked[:4]}
        path = f"/staff/day/{fresh.today().isoformat()}/call-next"
        stations = list(STATIONS)
        random.shuffle(stations)

        results = all_at_once(
            [
                partial(who.press, path, station=s)
                for who, s in zip(clinicians, stations, strict=True)
            ]
        )

        called = {}
        for station, result in zip(stations, results, strict=True):
            assert len(result) == 1 and result[0][0] == "success", result
            name, _, where = result[0][1].partition(" called to ")
            assert where == f"{station}.", result
            called[code_of[name]] = station
        assert set(called) == first_four, (called, first_four)
        treated = rows(
            db,
            "SELECT a.code, a.station FROM appointment a WHERE a.status = 'in_treatment'",
        )
        assert dict(treated) == called
        calls = rows(
            db,
            "SELECT appointment_id, count(*) FROM status_change WHERE action = 'call' "
            "GROUP BY appointment_id",
        )
        assert sorted(count for _, count in calls) == [1, 1, 1, 1]
        waiting = rows(db, "SELECT code FROM appointment WHERE status = 'checked_in'")
        assert {code for (code,) in waiting} == {youth.code for youth in booked[4:]}
        queue_invariants(db)


def test_two_desks_checking_in_the_same_youth_hand_out_one_ticket(servers, staff, fresh):
    db = fresh.engine
    desks = [staff[email] for email in DESKS]
    for trial in range(TRIALS):
        wipe_bookings(db)
        youth = fresh.book(time(0, 20), f"Arriving{trial}")
        path = f"/staff/appointments/{youth.id}/check-in"

        results = all_at_once([partial(desk.press, path) for desk in desks])

        _, message, lost = one_winner(results)
        assert message == f"Checked in: {named(youth)}."
        assert lost in (("error", now_is("Waiting")), ("error", CHANGED_MEANWHILE)), lost
        status, _, ticket, arrived_at = appointment(db, youth.id)
        assert (status, ticket) == ("checked_in", 1)
        assert arrived_at is not None
        assert [c.action for c in changes(db, youth.id)] == ["check_in"]
        # No number is lost to the refused check-in (on PostgreSQL it may have drawn one
        # before finding the youth checked in; its rollback returned it): the next gets 2.
        assert rows(db, "SELECT last_ticket FROM ticket_counter") == [(1,)]
        queue_invariants(db)


@pytest.mark.parametrize("move", ["check_in", "cancel"])
def test_two_staff_undoing_the_same_move_undo_it_once(servers, staff, fresh, move):
    """Undoing a check-in hands the ticket back; undoing a cancellation takes the seat back.
    Pressed twice at once (two screens), either happens once."""
    db = fresh.engine
    desks = [staff[email] for email in DESKS]
    for trial in range(max(TRIALS // 2, 1)):
        wipe_bookings(db)
        youth = fresh.book(time(0, 40), f"Undone{trial}")
        if move == "check_in":
            fresh.check_in(youth.id, by=DESKS[0])
        else:
            fresh.cancel(youth.id, by=DESKS[0])
        path = f"/staff/appointments/{youth.id}/undo"

        results = all_at_once([partial(desk.press, path) for desk in desks])

        _, message, lost = one_winner(results)
        assert message == f"Undone: {named(youth)} is “Booked” again."
        assert lost in (("error", NOTHING_TO_UNDO), ("error", CHANGED_MEANWHILE)), lost
        status, station, ticket, arrived_at = appointment(db, youth.id)
        assert (status, station, ticket, arrived_at) == ("booked", None, None, None)
        history = changes(db, youth.id)
        assert [c.action for c in history] == [move]
        assert history[0].undone_at is not None
        (booked,) = rows(
            db,
            "SELECT s.booked FROM slot s JOIN appointment a ON a.slot_id = s.id WHERE a.id = :id",
            id=youth.id,
        )
        assert booked == (1,)  # the seat is held once, whichever move was undone
        queue_invariants(db)


def test_two_clinicians_calling_two_youth_to_one_station_one_waits(servers, staff, fresh):
    """The station side of the same race: Laser 1 treats one youth at a time, however close
    together two clinicians press Call."""
    db = fresh.engine
    first, second = staff[CLINICIANS[2]], staff[CLINICIANS[3]]
    for trial in range(TRIALS):
        wipe_bookings(db)
        youth = [fresh.book(time(0, 0), f"Station{trial}x{n}") for n in range(2)]
        for one in youth:
            fresh.check_in(one.id, by=DESKS[0])

        results = all_at_once(
            [
                partial(who.press, f"/staff/appointments/{one.id}/call", station="Laser 1")
                for who, one in zip((first, second), youth, strict=True)
            ]
        )

        winner, message, lost = one_winner(results)
        assert message == f"{named(youth[winner])} called to Laser 1."
        assert lost == ("error", "Laser 1 is busy: complete its treatment first."), lost
        assert appointment(db, youth[winner].id)[:2] == ("in_treatment", "Laser 1")
        assert appointment(db, youth[1 - winner].id)[:2] == ("checked_in", None)
        queue_invariants(db)
