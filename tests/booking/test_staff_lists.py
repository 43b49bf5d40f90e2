"""The staff side of standby and the waiting list: each day's standby list in order with its
open offer and deadline (in the clinic's time), the offers made and their outcome, the
program's waiting list with priorities and "Invite now", moving and removing entries through
the routes, the counts on the day sheet and the schedule, and the youth's record with their
list entries and the changes they made from their link. In English and Spanish, as each role.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from clinic.extensions import db
from clinic.models import (
    Actor,
    Appointment,
    EntryStatus,
    ListEntry,
    ListKind,
    OfferStatus,
    SeatOffer,
    Slot,
    StaffRole,
    StatusChange,
    Youth,
)
from tests.conftest import NEXT_DAY, PASSWORD
from tests.conftest import sign_in as form_sign_in

EN = {"Accept-Language": "en"}
ES = {"Accept-Language": "es"}
LATER_DAY = date(2026, 12, 22)  # a clinic day in the booking window
# Naive UTC, as the columns hold instants: 01:30 UTC on Sat 21 Nov is 5:30 PM on Friday 20 Nov
# in the clinic (PST, UTC-8). A page that showed UTC would say Sat, 1:30 AM.
EXPIRES = datetime(2026, 11, 21, 1, 30)
JOINED = datetime(2026, 11, 18, 20, 5)  # Wed 18 Nov, 12:05 PM in the clinic
_keys = itertools.count(1)


# --- Helpers -----------------------------------------------------------------------------


class _Staff(dict):
    """One account per role, made when first asked for."""

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, role: StaffRole):
        self[role] = self.make(role)
        return self[role]


@pytest.fixture
def users(make_staff):
    return _Staff(make_staff)


@pytest.fixture
def as_role(app, users):
    """A test client signed in with the given role (each its own cookie jar)."""

    def sign_in(role: StaffRole):
        client = app.test_client()
        response = form_sign_in(client, users[role].email, PASSWORD)
        assert response.status_code == 303
        return client

    return sign_in


def add_youth(first: str, last: str = "Flores", preferred: str | None = None) -> int:
    birth = date(2007, 5, 1)
    youth = Youth(
        identity_key=Youth.make_identity_key(first, last, birth),
        first_name=first,
        last_name=last,
        preferred_name=preferred,
        search_name=Youth.make_search_name(first, last, preferred),
        date_of_birth=birth,
        language="en",
    )
    db.session.add(youth)
    db.session.commit()
    return youth.id


def add_entry(
    youth_id: int,
    kind: ListKind = ListKind.STANDBY,
    day: date | None = NEXT_DAY,
    *,
    earliest: time | None = None,
    latest: time | None = None,
    priority: int = 0,
    rank: int | None = None,
    joined_at: datetime = JOINED,
    status: EntryStatus = EntryStatus.WAITING,
    closed_at: datetime | None = None,
    phone: str | None = "+14155550188",
) -> int:
    """An entry as joining writes it: the intake's answers, contact, and a rank in joining
    order."""
    n = next(_keys)
    entry = ListEntry(
        kind=kind,
        youth_id=youth_id,
        day=day if kind == ListKind.STANDBY else None,
        earliest=earliest,
        latest=latest,
        status=status,
        priority=priority,
        rank=n if rank is None else rank,
        answers={"tattoo_locations": ["hands"], "referral_source": "self"},
        submission_key=f"staff-lists-{n:04d}" + "k" * 20,
        joined_at=joined_at,
        closed_at=closed_at,
        phone=phone,
        language="en",
        contact_by="sms",
    )
    db.session.add(entry)
    db.session.commit()
    return entry.id


def add_offer(
    entry_id: int,
    day: date = NEXT_DAY,
    start: time = time(16, 0),
    *,
    status: OfferStatus = OfferStatus.OPEN,
    expires_at: datetime = EXPIRES,
    answered_at: datetime | None = None,
    offered_by_id: int | None = None,
) -> int:
    """An offer of a seat at ``start``; an open one holds its seat (counted in the slot)."""
    slot = db.session.scalar(select(Slot).where(Slot.day == day, Slot.start_time == start))
    if slot is None:
        end = (datetime.combine(day, start) + timedelta(minutes=20)).time()
        slot = Slot(day=day, start_time=start, end_time=end, capacity=2, booked=0)
        db.session.add(slot)
        db.session.flush()
    if status == OfferStatus.OPEN:
        slot.booked += 1
    offer = SeatOffer(
        entry_id=entry_id,
        slot_id=slot.id,
        status=status,
        offered_at=datetime(2026, 11, 20, 16, 0),
        expires_at=expires_at,
        answered_at=answered_at,
        offered_by_id=offered_by_id,
    )
    db.session.add(offer)
    db.session.commit()
    return offer.id


def page(response) -> str:
    """The page's text with every run of white space as one space (Babel writes "4:00 PM"
    with a narrow no-break space)."""
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def order_of(body: str, *names: str) -> list[int]:
    return [body.index(name) for name in names]


@pytest.fixture
def standby(app):
    """NEXT_DAY's standby list: Ana (goes by Anita; a seat at 4:00 PM held for her), then Bea
    (from 5:00 PM), then Caro; Dani left it."""
    ana = add_entry(add_youth("Ana", preferred="Anita"))
    bea = add_entry(add_youth("Bea", "Soto"), earliest=time(17, 0))
    caro = add_entry(add_youth("Caro", "Reyes"), earliest=time(16, 0), latest=time(17, 0))
    dani = add_entry(
        add_youth("Dani", "Cruz"),
        status=EntryStatus.LEFT,
        closed_at=datetime(2026, 11, 19, 18, 0),
    )
    offer = add_offer(ana)
    return {"ana": ana, "bea": bea, "caro": caro, "dani": dani, "offer": offer}


# --- The standby list --------------------------------------------------------------------


def test_a_days_standby_list_in_order_with_the_open_offer_held_until_clinic_time(as_role, standby):
    body = page(as_role(StaffRole.FRONT_DESK).get(f"/staff/lists/{NEXT_DAY}", headers=EN))
    # The name each youth goes by, in the order seats are offered.
    assert order_of(body, "Anita Flores", "Bea Soto", "Caro Reyes") == sorted(
        order_of(body, "Anita Flores", "Bea Soto", "Caro Reyes")
    )
    assert "Seat offered: 4:00 PM" in body
    assert "held until Fri, Nov 20, 5:30 PM" in body  # the clinic's time, not UTC
    assert "From 5:00 PM" in body and "4:00 PM – 5:00 PM" in body and "Any time that day" in body
    assert "Wed, Nov 18, 12:05 PM" in body  # joined
    # Dani left: listed apart, with when.
    assert "No longer waiting" in body and "Dani Cruz" in body and "Left the list" in body
    # The offers made for the day and their outcome.
    assert "Seats offered for this day" in body and "Seat held" in body


def test_the_standby_list_in_spanish(as_role, standby):
    body = page(as_role(StaffRole.FRONT_DESK).get(f"/staff/lists/{NEXT_DAY}", headers=ES))
    assert "reservado hasta" in body
    assert "5:30 p.m." in body  # Friday 20 November, 5:30 PM in the clinic (es_US)
    assert "A cualquier hora ese día" in body


def test_offers_made_for_a_day_show_their_outcome_and_who_invited(as_role, users, standby):
    desk = users[StaffRole.FRONT_DESK]
    program = add_entry(add_youth("Eva", "Luna"), ListKind.PROGRAM, None, priority=0)
    add_offer(
        standby["bea"],
        start=time(17, 0),
        status=OfferStatus.LAPSED,
        answered_at=datetime(2026, 11, 20, 4, 0),
    )
    add_offer(
        program,
        start=time(17, 20),
        status=OfferStatus.CLAIMED,
        answered_at=datetime(2026, 11, 20, 19, 0),
        offered_by_id=desk.id,
    )
    body = page(as_role(StaffRole.ADMIN).get(f"/staff/lists/{NEXT_DAY}", headers=EN))
    assert "Not answered in time" in body
    assert "Taken" in body and "Eva Luna" in body and "(Program waiting list)" in body
    assert f"invited by {desk.name}" in body
    assert "when the seat freed" in body


@pytest.mark.parametrize("role", list(StaffRole))
def test_each_role_sees_names_contact_only_for_the_desk_and_actions_only_for_managers(
    as_role, standby, role
):
    body = page(as_role(role).get(f"/staff/lists/{NEXT_DAY}", headers=EN))
    assert "Anita Flores" in body  # every role opens records, so sees names
    assert ("(415) 555-0188" in body) is (role != StaffRole.CLINICIAN)
    manages = role in (StaffRole.ADMIN, StaffRole.FRONT_DESK)
    assert (f"/staff/lists/entries/{standby['bea']}/move" in body) is manages
    assert (f"/staff/lists/entries/{standby['bea']}/remove" in body) is manages


def test_clinicians_cannot_change_the_lists(as_role, standby):
    client = as_role(StaffRole.CLINICIAN)
    for action in ("move", "remove", "invite"):
        response = client.post(
            f"/staff/lists/entries/{standby['bea']}/{action}", data={"direction": "up"}
        )
        assert response.status_code == 403, action
    assert client.get(f"/staff/lists/entries/{standby['bea']}/remove").status_code == 403
    entries = db.session.execute(select(ListEntry.id, ListEntry.status, ListEntry.rank)).all()
    assert all(
        status == EntryStatus.WAITING for _id, status, _rank in entries if _id != standby["dani"]
    )


def test_the_overview_counts_standby_and_held_seats_per_day(as_role, standby):
    add_entry(add_youth("Eva", "Luna"), day=LATER_DAY)
    add_entry(add_youth("Fer", "Paz"), ListKind.PROGRAM, None)
    body = page(as_role(StaffRole.CLINICIAN).get("/staff/lists", headers=EN))
    assert "1 person waiting." in body  # the program list
    assert f'href="/staff/lists/{NEXT_DAY}"' in body and f'href="/staff/lists/{LATER_DAY}"' in body
    assert "4:00 PM, held until Fri, Nov 20, 5:30 PM" in body
    assert "Anita" not in body  # counts only


def test_unknown_entries_and_bad_days_are_not_found(as_role):
    client = as_role(StaffRole.FRONT_DESK)
    assert client.get("/staff/lists/entries/999999/remove").status_code == 404
    assert (
        client.post("/staff/lists/entries/999999/move", data={"direction": "up"}).status_code == 404
    )
    assert client.post("/staff/lists/entries/999999/invite").status_code == 404
    assert client.get("/staff/lists/2026-02-30").status_code == 404


# --- The day sheet, the schedule, the record ---------------------------------------------


def test_the_day_sheet_shows_standby_and_the_seats_held(as_role, standby):
    for url in (f"/staff/day/{NEXT_DAY}", f"/staff/day/{NEXT_DAY}/live"):
        body = page(as_role(StaffRole.CLINICIAN).get(url, headers=EN))
        assert "3</strong> on standby" in body
        assert "1</strong> seat held for an offer" in body
        assert "1 seat offered, held until Fri, Nov 20, 5:30 PM" in body
    body = page(as_role(StaffRole.CLINICIAN).get(f"/staff/day/{NEXT_DAY}", headers=ES))
    assert "en espera" in body


def test_the_schedule_shows_standby_and_the_seats_held(as_role, standby):
    admin = as_role(StaffRole.ADMIN)
    body = page(admin.get("/staff/schedule", headers=EN))
    assert "3 on standby" in body
    assert "4:00 PM seat held until Fri, Nov 20, 5:30 PM" in body
    body = page(admin.get(f"/staff/schedule/{NEXT_DAY}", headers=EN))
    assert "3 on standby" in body
    assert "counts as booked until it is taken" in body


def _appointment(youth_id: int, day: date, start: time, status: str = "booked") -> int:
    slot = db.session.scalar(select(Slot).where(Slot.day == day, Slot.start_time == start))
    if slot is None:
        end = (datetime.combine(day, start) + timedelta(minutes=20)).time()
        slot = Slot(day=day, start_time=start, end_time=end, capacity=2, booked=0)
        db.session.add(slot)
        db.session.flush()
    if status == "booked":
        slot.booked += 1
    appointment = Appointment(
        code=f"S{next(_keys):05d}", youth_id=youth_id, slot_id=slot.id, status=status
    )
    db.session.add(appointment)
    db.session.commit()
    return appointment.id


def test_the_record_shows_list_entries_and_the_youths_own_changes(as_role, users, standby):
    desk = users[StaffRole.FRONT_DESK]
    youth_id = db.session.scalar(select(ListEntry.youth_id).where(ListEntry.id == standby["ana"]))
    add_entry(
        youth_id,
        ListKind.PROGRAM,
        None,
        status=EntryStatus.BOOKED,
        closed_at=datetime(2026, 11, 19, 18, 0),
    )
    moved = _appointment(youth_id, LATER_DAY, time(17, 20))
    cancelled = _appointment(youth_id, date(2026, 12, 29), time(16, 0), status="cancelled")
    db.session.add_all(
        [
            StatusChange(
                appointment_id=moved,
                action="reschedule",
                from_status="booked",
                to_status="booked",
                actor=Actor.YOUTH,
                detail={"from": "2026-12-29T16:00", "to": "2026-12-22T17:20"},
                at=datetime(2026, 11, 19, 17, 0),
            ),
            StatusChange(
                appointment_id=cancelled,
                action="cancel",
                from_status="booked",
                to_status="cancelled",
                actor=Actor.YOUTH,
                at=datetime(2026, 11, 19, 18, 0),
            ),
            StatusChange(
                appointment_id=moved,
                action="check_in",
                from_status="booked",
                to_status="checked_in",
                actor=Actor.STAFF,
                staff_id=desk.id,
                at=datetime(2026, 11, 20, 0, 37),
                undone_at=datetime(2026, 11, 20, 0, 38),
            ),
        ]
    )
    db.session.commit()
    client = as_role(StaffRole.CLINICIAN)
    body = page(client.get(f"/staff/youth/{youth_id}", headers=EN))
    assert "Moved by the youth from Tue, Dec 29, 4:00 PM to Tue, Dec 22, 5:20 PM" in body
    assert "Cancelled by the youth" in body
    assert f"Checked in by {desk.name}" in body and "undone" in body
    # The list entries: kind, day, status, joined, closed, the offer and its deadline.
    assert f"Standby for {NEXT_DAY:%A}, November 24, 2026" in body
    assert "The program's waiting list" in body
    assert "Took a seat" in body and "Thu, Nov 19, 10:00 AM" in body  # closed, clinic time
    assert "Seat held (held until Fri, Nov 20, 5:30 PM)" in body
    body = page(client.get(f"/staff/youth/{youth_id}", headers=ES))
    assert "Cancelada por la persona joven" in body
    assert (
        "Movida por la persona joven del mar, 29 de dic, 4:00 p.m. al mar, 22 de dic, 5:20 p.m."
        in body
    )


# --- Changes through the routes (clinic.booking.lists and offers) -------------------------


def ranks(*entry_ids: int) -> list[int]:
    """The entries' ids in list order."""
    rows = db.session.execute(
        select(ListEntry.id)
        .where(ListEntry.id.in_(entry_ids))
        .order_by(ListEntry.priority, ListEntry.rank, ListEntry.id)
    ).scalars()
    return list(rows)


def test_moving_up_and_down_reorders_the_days_list(as_role, standby):
    client = as_role(StaffRole.FRONT_DESK)
    ana, bea, caro = standby["ana"], standby["bea"], standby["caro"]
    response = client.post(
        f"/staff/lists/entries/{caro}/move", data={"direction": "up"}, headers=EN
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/lists/{NEXT_DAY}"
    assert ranks(ana, bea, caro) == [ana, caro, bea]
    body = page(client.get(f"/staff/lists/{NEXT_DAY}", headers=EN))
    assert "Moved up." in body
    assert order_of(body, "Anita Flores", "Caro Reyes", "Bea Soto") == sorted(
        order_of(body, "Anita Flores", "Caro Reyes", "Bea Soto")
    )
    client.post(f"/staff/lists/entries/{ana}/move", data={"direction": "down"}, headers=EN)
    assert ranks(ana, bea, caro) == [caro, ana, bea]


def test_a_move_without_a_direction_is_refused_in_words(as_role, standby):
    client = as_role(StaffRole.ADMIN)
    before = ranks(standby["ana"], standby["bea"], standby["caro"])
    response = client.post(
        f"/staff/lists/entries/{standby['bea']}/move", data={"direction": "sideways"}, headers=ES
    )
    assert response.status_code == 303
    assert ranks(standby["ana"], standby["bea"], standby["caro"]) == before
    body = page(client.get(f"/staff/lists/{NEXT_DAY}", headers=ES))
    assert "Elija subir o bajar." in body


def test_removal_asks_first_then_withdraws_the_open_offer(as_role, standby):
    client = as_role(StaffRole.FRONT_DESK)
    confirm = page(client.get(f"/staff/lists/entries/{standby['ana']}/remove", headers=EN))
    assert "Remove from the list?" in confirm and "Anita Flores" in confirm
    assert "A seat is held for them" in confirm
    assert "held until Fri, Nov 20, 5:30 PM" in confirm
    # Nothing changed by looking.
    assert db.session.get(ListEntry, standby["ana"]).status == EntryStatus.WAITING

    response = client.post(f"/staff/lists/entries/{standby['ana']}/remove", headers=EN)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/lists/{NEXT_DAY}"
    entry = db.session.get(ListEntry, standby["ana"])
    assert entry.status == EntryStatus.REMOVED and entry.closed_at is not None
    offer = db.session.get(SeatOffer, standby["offer"])
    assert offer.status == OfferStatus.WITHDRAWN
    # Its seat was given back or passed on: the slot counts exactly the offers still open.
    slot = db.session.get(Slot, offer.slot_id)
    still_open = db.session.scalars(
        select(SeatOffer).where(SeatOffer.slot_id == slot.id, SeatOffer.status == "open")
    ).all()
    assert slot.booked == len(still_open)
    assert standby["ana"] not in {o.entry_id for o in still_open}
    body = page(client.get(f"/staff/lists/{NEXT_DAY}", headers=EN))
    assert "Removed from the list." in body
    assert "Removed by staff" in body


def test_removing_someone_no_longer_waiting_says_so(as_role, standby):
    client = as_role(StaffRole.FRONT_DESK)
    body = page(client.get(f"/staff/lists/entries/{standby['dani']}/remove", headers=EN))
    assert "This person is no longer on the list." in body
    assert f'action="/staff/lists/entries/{standby["dani"]}/remove"' not in body
    response = client.post(f"/staff/lists/entries/{standby['dani']}/remove", headers=ES)
    assert response.status_code == 303
    assert db.session.get(ListEntry, standby["dani"]).status == EntryStatus.LEFT
    assert "ya no está en la lista" in page(client.get(f"/staff/lists/{NEXT_DAY}", headers=ES))


def test_moves_that_cannot_be_made_are_explained(as_role, standby):
    client = as_role(StaffRole.FRONT_DESK)
    program = add_entry(add_youth("Eva", "Luna"), ListKind.PROGRAM, None)
    client.post(f"/staff/lists/entries/{program}/move", data={"direction": "up"}, headers=EN)
    body = page(client.get("/staff/lists/program", headers=EN))
    assert "Only a day&#39;s standby list is put in order by hand." in body
    client.post(f"/staff/lists/entries/{standby['dani']}/move", data={"direction": "up"})
    body = page(client.get(f"/staff/lists/{NEXT_DAY}", headers=EN))
    assert "This person is no longer on the list." in body
    # The first cannot go further up: nothing changes.
    before = ranks(standby["ana"], standby["bea"], standby["caro"])
    client.post(f"/staff/lists/entries/{standby['ana']}/move", data={"direction": "up"})
    assert ranks(standby["ana"], standby["bea"], standby["caro"]) == before


# --- The program's waiting list ------------------------------------------------------------


@pytest.fixture
def program(app):
    """The waiting list: Gil (no priority, joined first), Hugo (a referral), Ines (a visible
    tattoo): invited Ines, Hugo, Gil."""
    gil = add_entry(
        add_youth("Gil", "Mora"),
        ListKind.PROGRAM,
        None,
        priority=2,
        joined_at=datetime(2026, 10, 1, 18, 0),
    )
    hugo = add_entry(add_youth("Hugo", "Vega"), ListKind.PROGRAM, None, priority=1)
    ines = add_entry(add_youth("Ines", "Rios"), ListKind.PROGRAM, None, priority=0)
    return {"gil": gil, "hugo": hugo, "ines": ines}


def test_the_waiting_list_by_priority_with_its_reasons(as_role, program):
    body = page(as_role(StaffRole.FRONT_DESK).get("/staff/lists/program", headers=EN))
    assert order_of(body, "Ines Rios", "Hugo Vega", "Gil Mora") == sorted(
        order_of(body, "Ines Rios", "Hugo Vega", "Gil Mora")
    )
    assert "Visible tattoo (face, neck or hands)" in body
    assert "Referral (job, re-entry or probation program)" in body
    assert "Thu, Oct 1, 11:00 AM" in body  # Gil joined: 18:00 UTC is 11 AM in October (PDT)
    assert body.count("Invite now") == 3
    body = page(as_role(StaffRole.FRONT_DESK).get("/staff/lists/program", headers=ES))
    assert "Tatuaje visible" in body and "Invitar ahora" in body


def test_the_waiting_list_shows_an_open_invitation_and_its_expiry(as_role, program):
    add_offer(program["hugo"], LATER_DAY, time(16, 20))
    body = page(as_role(StaffRole.CLINICIAN).get("/staff/lists/program", headers=EN))
    assert "Tue, Dec 22, 4:20 PM" in body
    assert "held until Fri, Nov 20, 5:30 PM" in body
    assert "Invite now" not in body  # clinicians see, but do not change


def test_invite_now_holds_a_seat_for_them_and_says_until_when(as_role, program):
    client = as_role(StaffRole.FRONT_DESK)
    response = client.post(f"/staff/lists/entries/{program['gil']}/invite", headers=EN)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/lists/program"
    offer = db.session.scalars(select(SeatOffer).where(SeatOffer.entry_id == program["gil"])).one()
    assert offer.status == OfferStatus.OPEN and offer.offered_by_id is not None
    body = page(client.get("/staff/lists/program", headers=EN))
    assert "Invitation sent: a seat on" in body and "held until" in body
    assert body.count("Invite now") == 2


def test_a_refused_invitation_is_explained(as_role, program, app):
    # Every day in the window full: there is no seat to offer.
    app.config["SEATS_PER_SLOT"] = 0
    client = as_role(StaffRole.ADMIN)
    response = client.post(f"/staff/lists/entries/{program['gil']}/invite", headers=EN)
    assert response.status_code == 303
    assert db.session.scalars(select(SeatOffer)).all() == []
    body = page(client.get("/staff/lists/program", headers=EN))
    assert "There is no free seat to offer in the booking window" in body


def test_removing_from_the_waiting_list_goes_back_to_it(as_role, program):
    client = as_role(StaffRole.ADMIN)
    response = client.post(f"/staff/lists/entries/{program['hugo']}/remove", headers=EN)
    assert response.headers["Location"] == "/staff/lists/program"
    assert db.session.get(ListEntry, program["hugo"]).status == EntryStatus.REMOVED
    body = page(client.get("/staff/lists/program", headers=EN))
    assert "Hugo Vega" not in body and "2 people waiting." in body


def test_list_pages_count_as_record_reads(app, as_role, standby):
    app.config["STAFF_RECORD_READS_PER_ACCOUNT"] = "2 per minute"
    client = as_role(StaffRole.FRONT_DESK)
    assert client.get(f"/staff/lists/{NEXT_DAY}").status_code == 200
    assert client.get("/staff/lists/program").status_code == 200
    assert client.get(f"/staff/youth/{add_youth('Zed')}").status_code == 429
    assert client.get("/staff/lists").status_code == 200  # counts only: not a read
