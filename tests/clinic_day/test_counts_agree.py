"""One clinic day, every page that counts it: the day page, its live counters and the
schedule show the same numbers (clinic/rules/counts.py), and a youth who missed two recent
appointments is marked on the sheet so the desk can call them the day before."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest

from clinic.extensions import db
from clinic.models import ClinicDay, Slot, StaffRole
from tests.conftest import LA, NEXT_DAY
from tests.records.test_youth_records import add_visit, add_youth

MID_SESSION = datetime.combine(NEXT_DAY, time(17, 5), LA)  # 16:00-17:00 over, 17:00 under way


def tally(page: str) -> dict[str, int]:
    """The day page's counters, by name (``data-count`` on each)."""
    return {
        name: int(number)
        for name, number in re.findall(
            r'data-count="([a-z_]+)"><strong>(\d+)</strong>', page, flags=re.S
        )
    }


def schedule_row(page: str, day: date) -> list[str]:
    link = f'<th scope="row"><a href="/staff/schedule/{day.isoformat()}"'
    row = re.search(rf"<tr[^>]*>\s*{re.escape(link)}.*?</tr>", page, flags=re.S).group(0)
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
    ]


@pytest.fixture
def busy_day(app, clock):
    """NEXT_DAY at 17:05 with every kind of visit, a blocked slot and a past slot."""
    clock.set(MID_SESSION)
    statuses = [
        (time(16, 0), "completed"),
        (time(16, 0), "no_show"),
        (time(16, 20), "completed"),
        (time(16, 40), "in_treatment"),
        (time(17, 0), "checked_in"),
        (time(17, 0), "checked_in"),
        (time(17, 20), "booked"),
        (time(18, 0), "booked"),
        (time(18, 0), "cancelled"),
    ]
    for n, (start, status) in enumerate(statuses):
        add_visit(add_youth(first=f"Youth{n}", phone=f"415555{n:04d}"), NEXT_DAY, start, status)
    db.session.add(
        Slot(
            day=NEXT_DAY,
            start_time=time(19, 0),
            end_time=time(19, 20),
            capacity=2,
            booked=0,
            blocked=True,
        )
    )
    db.session.commit()
    return NEXT_DAY


def test_the_day_page_the_live_counters_and_the_schedule_agree(client, staff, login, busy_day):
    login(staff[StaffRole.ADMIN])
    day_page = client.get(f"/staff/day/{busy_day}").get_data(as_text=True)
    live = client.get(f"/staff/day/{busy_day}/live").get_data(as_text=True)
    counts = tally(day_page)
    assert counts == tally(live)
    assert counts == {
        "appointments": 8,  # the cancelled one is not counted
        "expected": 2,
        "arrived": 5,
        "waiting": 2,
        "in_treatment": 1,
        "done": 2,
        "no_show": 1,
        # 12 slots of 2 seats; from 17:00 on (17:00 is under way): 17:00 full (2 checked in),
        # 17:20 one left, 17:40 two, 18:00 one (the cancelled seat is free again), then
        # 18:20, 18:40, 19:20 and 19:40 two each (19:00 is blocked): 0 + 1 + 2 + 1 + 8 = 12.
        "seats_left": 12,
    }
    assert counts["appointments"] == counts["expected"] + counts["arrived"] + counts["no_show"]
    # The header says the same number of appointments.
    assert "8 appointments" in day_page

    schedule = client.get("/staff/schedule").get_data(as_text=True)
    cells = schedule_row(schedule, busy_day)
    # The schedule's row: hours, slot length, seats per slot, appointments, seats left, ...
    assert cells[3:5] == [str(counts["appointments"]), str(counts["seats_left"])], cells


def test_a_coming_day_counts_every_seat_and_a_past_day_none(client, staff, login, clock, busy_day):
    login(staff[StaffRole.FRONT_DESK])
    clock.set(datetime.combine(NEXT_DAY - timedelta(days=1), time(9, 0), LA))
    ahead = tally(client.get(f"/staff/day/{busy_day}").get_data(as_text=True))
    # The day before, every slot counts: 24 seats, less the blocked slot's 2, less the 7 seats
    # held (a no-show and a cancellation hold none): 15.
    assert ahead["seats_left"] == 24 - 2 - 7
    clock.set(datetime.combine(NEXT_DAY + timedelta(days=1), time(9, 0), LA))
    after = tally(client.get(f"/staff/day/{busy_day}").get_data(as_text=True))
    assert "seats_left" not in after  # a past day has no seats to offer


def no_show_on(youth_id: int, day: date) -> None:
    """A no-show on ``day``, made a clinic day (an extra one) if it is not one already."""
    if not db.session.query(ClinicDay).filter_by(day=day).count():
        db.session.add(ClinicDay(day=day, extra=True))
        db.session.commit()
    add_visit(youth_id, day, time(16, 0), "no_show")


def test_two_recent_no_shows_mark_the_youth_on_the_sheet(client, staff, login, clock):
    login(staff[StaffRole.FRONT_DESK])
    twice = add_youth(first="Twice", phone="4155550001")
    once = add_youth(first="Once", phone="4155550002")
    long_ago = add_youth(first="Longago", phone="4155550003")
    for youth_id, days in (
        (twice, [date(2026, 6, 2), date(2026, 9, 1)]),
        (once, [date(2026, 9, 1)]),
        (long_ago, [date(2025, 3, 4), date(2025, 6, 3)]),  # more than a year before the day
    ):
        for day in days:
            no_show_on(youth_id, day)
        add_visit(youth_id, NEXT_DAY, time(16, 0), "booked", capacity=4)
    page = client.get(f"/staff/day/{NEXT_DAY}").get_data(as_text=True)
    marked = re.findall(
        r"<td>(\w+) Flores[^<]*(?:<span[^>]*>[^<]*</span>\s*)*"
        r'<span class="badge warn" data-marker="no-shows">([^<]+)</span>',
        page,
    )
    assert [name for name, _ in marked] == ["Twice"]
    assert "2 recent no-shows: call the day before" in page
