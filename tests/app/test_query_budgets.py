"""Each page runs a small, fixed number of SQL statements, whether its day holds 10 bookings or
300. Relationships are eager-loaded; in tests a lazy load raises (see conftest), so a template
that reaches for an unloaded relationship fails here instead of becoming one query per row."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import insert

from clinic.extensions import db
from clinic.models import (
    Appointment,
    Intake,
    Slot,
    StaffRole,
    StaffUser,
    StatusChange,
    Treatment,
    Youth,
)
from clinic.rules.calendar import day_slots, plan_days
from clinic.settings import current_rules
from tests.conftest import NEXT_DAY
from tests.support.querycount import count_statements

SEATS = 25  # 12 slots of 25 seats: 300 bookings on one clinic day

# The most statements each page may run. The staff day: the signed-in user, the staff
# changes around the date, the slots, and their appointments with each one's youth, intake,
# sessions before and latest move (for undo) in one statement, then the day's standby count
# and seats held for offers.
# Each reader of a day's plan also counts the clinicians rostered (clinic.booking.roster): one
# grouped statement.
BUDGETS = {
    "/book": 3,
    f"/book/{NEXT_DAY}": 3,
    f"/book/{NEXT_DAY}/16:00": 3,
    "/api/availability": 3,
    f"/staff/day/{NEXT_DAY}": 8,  # + 1: the view in the audit trail (clinic.audit.viewed)
    f"/staff/day/{NEXT_DAY}/live": 7,  # what open screens fetch every few seconds
    "/now-serving/board": 2,  # the tickets, and the clinicians rostered (the open stations)
}


def fill_day(day: date, bookings: int) -> None:
    """``bookings`` appointments spread over the day's slots, written in a few bulk inserts."""
    plan = plan_days(day, day, current_rules().day, [])[0]
    slots = day_slots(plan)
    per_slot = [bookings // len(slots) + (i < bookings % len(slots)) for i in range(len(slots))]
    slot_ids = []
    for slot_plan, taken in zip(slots, per_slot, strict=True):
        slot_ids += [
            db.session.execute(
                insert(Slot).returning(Slot.id),
                [
                    {
                        "day": day,
                        "start_time": slot_plan.start,
                        "end_time": slot_plan.end,
                        "capacity": SEATS,
                        "booked": taken,
                    }
                ],
            ).scalar_one()
        ] * taken
    people = [
        {
            "identity_key": Youth.make_identity_key("Page", f"Load {n}", date(2006, 1, 1)),
            "first_name": "Page",
            "last_name": f"Load {n}",
            "date_of_birth": date(2006, 1, 1) + timedelta(days=n % 300),
            "language": "en",
        }
        for n in range(bookings)
    ]
    youth_ids = db.session.scalars(insert(Youth).returning(Youth.id), people).all()
    # Every stage of the day at once: still expected, waiting, done, did not come.
    statuses = ["booked", "checked_in", "completed", "no_show"]
    arrived = datetime(2026, 11, 25, 0, 10)
    appointments = [
        {
            "code": f"Q{n:05d}",
            "youth_id": youth_id,
            "slot_id": slot_id,
            "status": statuses[n % 4],
            "ticket": n + 1 if statuses[n % 4] in ("checked_in", "completed") else None,
            "arrived_at": arrived if statuses[n % 4] in ("checked_in", "completed") else None,
        }
        for n, (youth_id, slot_id) in enumerate(zip(youth_ids, slot_ids, strict=True))
    ]
    appointment_ids = db.session.scalars(
        insert(Appointment).returning(Appointment.id), appointments
    ).all()
    clinician = db.session.scalar(insert(StaffUser).returning(StaffUser.id), [_clinician()])
    changes = [
        {
            "appointment_id": appointment_id,
            "action": "check_in",
            "from_status": "booked",
            "to_status": "checked_in",
            "staff_id": clinician,
            "at": arrived,
        }
        for appointment_id, row in zip(appointment_ids, appointments, strict=True)
        if row["status"] != "booked"
    ]
    treatments = [
        {
            "appointment_id": appointment_id,
            "youth_id": row["youth_id"],
            "day": day,
            "session_number": 1,
            "areas": ["arms"],
            "clinician_id": clinician,
        }
        for appointment_id, row in zip(appointment_ids, appointments, strict=True)
        if row["status"] == "completed"
    ]
    for model, rows in ((StatusChange, changes), (Treatment, treatments)):
        if rows:
            db.session.execute(insert(model), rows)
    db.session.execute(
        insert(Intake),
        [
            {
                "appointment_id": appointment_id,
                "language": "en",
                "guardian_name": None,
                "tattoo_count": 1,
                "tattoo_locations": ["arms"],
                "tattoo_size": "small",
                "tattoo_colors": "black",
                "tattoo_kind": "amateur",
                "screening": [],
                "referral_source": "self",
            }
            for appointment_id in appointment_ids
        ],
    )
    db.session.commit()


def _clinician() -> dict:
    import secrets

    return {
        "email": f"clinician-{secrets.token_hex(4)}@clinic.test",
        "name": "Budget Clinician",
        "role": "clinician",
        "password_hash": "x",
        "active": True,
    }


def statements_per_page(staff_client, public_client) -> dict[str, int]:
    counted = {}
    for url in BUDGETS:
        client = staff_client if url.startswith("/staff") else public_client
        with count_statements() as statements:
            response = client.get(url)
        assert response.status_code == 200, url
        counted[url] = len(statements)
    return counted


@pytest.fixture
def staff_client(app, client, make_staff, login, clock):
    app.config["SEATS_PER_SLOT"] = SEATS
    # On the clinic day itself, mid-session: the queue, stations and walk-in seats all show.
    clock.set(datetime.combine(NEXT_DAY, time(16, 30), clock.now.tzinfo))
    login(make_staff(StaffRole.CLINICIAN))  # the fullest view: the flags column too
    return client


def test_pages_stay_within_budget_from_10_to_300_bookings(app, staff_client):
    youth_client = app.test_client()
    fill_day(NEXT_DAY, 10)
    with_ten = statements_per_page(staff_client, youth_client)
    for table in (Treatment, StatusChange, Intake, Appointment, Youth, Slot):
        db.session.execute(table.__table__.delete())
    db.session.execute(StaffUser.__table__.delete().where(StaffUser.name == "Budget Clinician"))
    db.session.commit()
    fill_day(NEXT_DAY, 300)
    with_three_hundred = statements_per_page(staff_client, youth_client)

    print("\nstatements per page (10 and 300 bookings):", with_three_hundred)
    assert with_ten == with_three_hundred
    for url, budget in BUDGETS.items():
        assert with_three_hundred[url] <= budget, with_three_hundred
    page = staff_client.get(f"/staff/day/{NEXT_DAY}").get_data(as_text=True)
    assert page.count("<code>Q") == 300  # every booking is on the sheet


def test_a_lazy_load_in_a_page_would_fail_the_tests(app):
    """The guard itself: touching an unloaded relationship raises in tests."""
    from sqlalchemy import select

    fill_day(NEXT_DAY, 1)
    appointment = db.session.scalars(select(Appointment)).one()
    with pytest.raises(Exception, match="lazy='raise'"):
        _ = appointment.youth


# --- The standby and waiting lists ----------------------------------------------------------

# The signed-in user, then the entries with their youth, and the offers with their seats,
# youth and inviting staff; the overview: the clinic days, the standby counts, the seats held,
# the waiting list's size; a record: as above, with its list entries and their offers.
LIST_BUDGETS = {
    f"/staff/lists/{NEXT_DAY}": 4,  # + 1 on each list and record: the view in the audit trail
    "/staff/lists/program": 4,
    "/staff/lists": 6,  # the coming days' plans, with their rosters
}
RECORD_BUDGET = 10


def fill_lists(people: int) -> int:
    """``people`` on NEXT_DAY's standby list and as many on the program's waiting list, every
    other one with an offer (open, lapsed, claimed, declined in turn), and one youth with
    ``people`` past entries; returns that youth's id. Bulk inserts."""
    from clinic.models import ListEntry, SeatOffer

    offered = people // 2
    slot_id = db.session.execute(
        insert(Slot).returning(Slot.id),
        [
            {
                "day": NEXT_DAY,
                "start_time": time(16, 0),
                "end_time": time(16, 20),
                "capacity": 2 * people,
                "booked": sum(1 for n in range(2 * offered) if n % 4 == 0),
            }
        ],
    ).scalar_one()
    youth_ids = db.session.scalars(
        insert(Youth).returning(Youth.id),
        [
            {
                "identity_key": Youth.make_identity_key("List", f"Person {n}", date(2006, 1, 1)),
                "first_name": "List",
                "last_name": f"Person {n}",
                "date_of_birth": date(2006, 1, 1),
                "language": "en",
            }
            for n in range(2 * people + 1)
        ],
    ).all()
    regular = youth_ids[:-1]
    rows = [
        {
            "kind": "standby" if n < people else "program",
            "youth_id": youth_id,
            "day": NEXT_DAY if n < people else None,
            "status": "waiting",
            "priority": 0 if n < people else n % 3,
            "rank": n,
            "answers": {},
            "joined_at": datetime(2026, 11, 18, 20, 0),
            "phone": "+14155550100",
            "language": "en",
        }
        for n, youth_id in enumerate(regular)
    ]
    # One youth's history: ``people`` entries, closed, on the days before.
    rows += [
        {
            "kind": "standby",
            "youth_id": youth_ids[-1],
            "day": NEXT_DAY - timedelta(days=n + 1),
            "status": "closed",
            "rank": 0,
            "answers": {},
            "joined_at": datetime(2026, 10, 1, 18, 0),
            "closed_at": datetime(2026, 10, 2, 18, 0),
            "language": "en",
        }
        for n in range(people)
    ]
    entry_ids = db.session.scalars(insert(ListEntry).returning(ListEntry.id), rows).all()
    statuses = ["open", "lapsed", "claimed", "declined"]
    waiting = entry_ids[: 2 * people]
    chosen = [e for n, e in enumerate(waiting) if n % 2 == 0] + entry_ids[2 * people :]
    db.session.execute(
        insert(SeatOffer),
        [
            {
                "entry_id": entry_id,
                "slot_id": slot_id,
                "status": statuses[n % 4] if entry_id in waiting else "lapsed",
                "offered_at": datetime(2026, 11, 20, 16, 0),
                "expires_at": datetime(2026, 11, 21, 1, 30),
            }
            for n, entry_id in enumerate(chosen)
        ],
    )
    db.session.commit()
    return youth_ids[-1]


def test_list_pages_and_records_stay_within_budget_from_4_to_120_people(app, staff_client):
    from clinic.models import ListEntry, SeatOffer

    def counted(youth_id: int) -> dict[str, int]:
        found = {}
        for url in [*LIST_BUDGETS, f"/staff/youth/{youth_id}"]:
            with count_statements() as statements:
                response = staff_client.get(url)
            assert response.status_code == 200, url
            found[url.replace(str(youth_id), "<id>")] = len(statements)
        return found

    few = counted(fill_lists(4))
    for table in (SeatOffer, ListEntry, Youth, Slot):
        db.session.execute(table.__table__.delete())
    db.session.commit()
    youth_id = fill_lists(120)
    many = counted(youth_id)
    print("\nstatements per list page (4 and 120 people):", many)
    assert few == many
    for url, budget in LIST_BUDGETS.items():
        assert many[url] <= budget, many
    assert many["/staff/youth/<id>"] <= RECORD_BUDGET, many
    body = staff_client.get(f"/staff/lists/{NEXT_DAY}").get_data(as_text=True)
    assert body.count('href="/staff/youth/') == 120  # everyone waiting
    # The offers made for the day's seats: to half of each list, and the one youth's 120.
    assert body.count("(Program waiting list)") == 60
    assert body.count("(Standby)") == 60 + 120
    record = staff_client.get(f"/staff/youth/{youth_id}").get_data(as_text=True)
    assert record.count("Not answered in time") == 120
