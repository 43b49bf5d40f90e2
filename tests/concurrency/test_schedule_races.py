"""The schedule against real gunicorn workers: an admin closes a day, cancelling what it
lists, while youth book it. The schedule's other tests are in tests/schedule/test_schedule.py."""

from __future__ import annotations

import os
import random
import re
import time as time_module
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial

import pytest
from sqlalchemy import create_engine, text

from tests.support import databases
from tests.support.live import (
    BOOKING_TABLES,
    Browser,
    Server,
    bookable_slots,
    hidden_value,
    open_intake,
    staff_browser,
)
from tests.support.races import all_at_once

# Bounded so that the race stays under a minute per database.
TRIALS = max(1, min(int(os.environ.get("RACE_TRIALS", 3)), 5))
CROWD = 30


def _wipe(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in (*BOOKING_TABLES, "clinic_day"):
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


def _admin_browser(server: Server, url: str) -> Browser:
    return staff_browser(server, url, "admin@race.test", "admin", "Admin")


def _close_cancelling(admin: Browser, day: str, token: str, delay: float):
    """The admin closes the day and, each time it lists bookings, cancels exactly those; a
    list that changed meanwhile is shown again and answered again. Returns the last answer
    and how many times the admin was asked."""
    path = f"/staff/schedule/{day}"
    time_module.sleep(delay)
    form = {"csrf_token": token, "change": "close", "note": "Laser broken"}
    for asked in range(50):
        response = admin.post(path, form)
        if response.status == 303:
            return response, asked
        assert response.status == 422, (response.status, response.body[:500])
        assert "This change affects" in response.body
        seen = re.findall(r'name="seen" value="(\d+)"', response.body)
        form = {**form, "resolution": "cancel", "seen": seen}
    raise AssertionError("the admin was asked fifty times")


def _submit_after(youth, delay: float):
    time_module.sleep(delay)
    return youth.submit()


@pytest.mark.slow
def test_closing_a_day_while_youth_book_it(tmp_path):
    """Thirty youth book a day while the admin closes it, cancelling what it lists. No
    booking survives on the closed day, none is lost without being on the call list, and
    every seat counter matches its appointments."""
    url = databases.new_database("schedule_race", tmp_path)
    databases.migrate(url)
    server = Server(url, tmp_path, workers=4, SEATS_PER_SLOT="3")
    tally: Counter[str] = Counter()
    try:
        server.start()
        admin = _admin_browser(server, url)
        engine = create_engine(url)
        for trial in range(TRIALS):
            _wipe(url)
            day, starts = bookable_slots(server)
            with ThreadPoolExecutor(max_workers=8) as pool:
                youth = list(
                    pool.map(
                        open_intake,
                        [server] * CROWD,
                        [day] * CROWD,
                        [starts[n % len(starts)] for n in range(CROWD)],
                        range(CROWD),
                    )
                )
            token = hidden_value(admin.get(f"/staff/schedule/{day}").body, "csrf_token")
            # The youth press Book in two waves, and the admin closes the day during the
            # first or between them, a different moment each trial: bookings race the
            # listing, the confirmation, and the closed day.
            rng = random.Random(trial)
            waves = [rng.uniform(0, 0.6) if n % 2 else rng.uniform(2.5, 3.0) for n in range(CROWD)]
            results = all_at_once(
                [partial(_close_cancelling, admin, day, token, rng.uniform(0, 1.5))]
                + [partial(_submit_after, y, wave) for y, wave in zip(youth, waves, strict=True)]
            )
            (closed, asked), responses = results[0], results[1:]

            assert closed.status == 303
            outcomes = []
            for response in responses:
                if response.status == 303 and response.location.endswith("/book/confirmed"):
                    outcomes.append("booked")
                elif response.status == 422:
                    outcomes.append("refused")
                else:
                    raise AssertionError((response.status, response.body[:500]))
            booked_names = {
                f"{y.form['first_name']} Live"
                for y, result in zip(youth, outcomes, strict=True)
                if result == "booked"
            }
            with engine.connect() as connection:
                statuses = Counter(
                    connection.execute(
                        text(
                            "SELECT a.status FROM appointment a JOIN slot s "
                            "ON s.id = a.slot_id WHERE s.day = :day"
                        ),
                        {"day": date.fromisoformat(day)},
                    ).scalars()
                )
                drifted = connection.execute(
                    text(
                        "SELECT s.id, s.booked, s.capacity, (SELECT count(*) FROM appointment a "
                        "WHERE a.slot_id = s.id AND a.status IN "
                        "('booked', 'checked_in', 'in_treatment', 'completed')) FROM slot s"
                    )
                ).all()
                schedule_cancels = connection.execute(
                    text("SELECT count(*) FROM status_change WHERE action = 'schedule_cancel'")
                ).scalar()
                youth_rows = connection.execute(text("SELECT count(*) FROM youth")).scalar()
            assert statuses == ({"cancelled": len(booked_names)} if booked_names else {})
            assert schedule_cancels == len(booked_names) == youth_rows
            for slot_id, counter, capacity, holding in drifted:
                assert counter == holding == 0, (slot_id, counter, holding)
                assert 0 <= counter <= capacity
            call_list = admin.get(f"/staff/schedule/{day}/cancelled").body
            listed = set(re.findall(r"<td>(Racer\d+ Live)</td>", call_list))
            assert listed == booked_names
            tally.update(outcomes)
            tally["asked"] += asked
        engine.dispose()
    finally:
        server.stop()
        log = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
        databases.drop_database(url)
    assert "Traceback" not in log and "database is locked" not in log, log[-3000:]
    print(f"\nclose race: {TRIALS} trials x {CROWD} youth -> {dict(tally)}")
