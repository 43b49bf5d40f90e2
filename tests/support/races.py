"""The race harness: callables released together by a barrier, and what must hold in the
database after any race, however the requests interleaved.

Used by the tests in ``tests/concurrency``, against real gunicorn workers and real worker
processes (see ``tests.support.live``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, Engine, text

from tests.support.live import connect

T = TypeVar("T")


def all_at_once(actions: Sequence[Callable[[], T]]) -> list[T]:
    """Run every callable in its own thread, released together by a barrier; their results,
    in the order given."""
    barrier = threading.Barrier(len(actions))

    def run(action: Callable[[], T]) -> T:
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(run, actions))


def assert_slot_counters_hold(connection: Connection) -> None:
    """Every slot's seat counter equals its seat-holding appointments and the open offers
    holding a seat for someone on a list, within its capacity (the statuses written out here,
    apart from the code that decides them)."""
    slots = connection.execute(
        text(
            "SELECT s.id, s.booked, s.capacity, "
            "(SELECT count(*) FROM appointment a WHERE a.slot_id = s.id AND a.status IN "
            "('booked', 'checked_in', 'in_treatment', 'completed')) "
            "+ (SELECT count(*) FROM seat_offer o WHERE o.slot_id = s.id AND o.status = 'open') "
            "AS holding "
            "FROM slot s"
        )
    ).all()
    for slot_id, booked, capacity, holding in slots:
        assert booked == holding, f"slot {slot_id}: counter {booked}, seat holders {holding}"
        assert 0 <= booked <= capacity, f"slot {slot_id}: {booked} booked of {capacity}"


def queue_invariants(database: str | Engine) -> None:
    """What must hold after any mix of clinic-day moves, however they raced: every slot's
    counter equals its seat-holding appointments, a station treats one youth at a time, and
    no two youth hold the same ticket on a day."""
    with connect(database) as connection:
        assert_slot_counters_hold(connection)
        doubled_stations = connection.execute(
            text(
                "SELECT station_day, station, count(*) FROM appointment "
                "WHERE status = 'in_treatment' GROUP BY station_day, station "
                "HAVING count(*) > 1"
            )
        ).all()
        stray_stations = connection.execute(
            text(
                "SELECT count(*) FROM appointment WHERE status = 'in_treatment' "
                "AND (station IS NULL OR station_day IS NULL)"
            )
        ).scalar()
        doubled_tickets = connection.execute(
            text(
                "SELECT s.day, a.ticket, count(*) FROM appointment a "
                "JOIN slot s ON s.id = a.slot_id WHERE a.ticket IS NOT NULL "
                "GROUP BY s.day, a.ticket HAVING count(*) > 1"
            )
        ).all()
    assert not doubled_stations, f"two youth on one station: {doubled_stations}"
    assert stray_stations == 0, "a youth in treatment at no station"
    assert not doubled_tickets, f"one ticket handed out twice: {doubled_tickets}"
