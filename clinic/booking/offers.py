"""Seat offers: a freed seat goes to the next person on a list, held for them until they claim
it, say no, or let it lapse.

An open offer holds its seat: it is counted in ``Slot.booked``, taken by the same conditional
UPDATE as a booking (``seats.take_seat``), so a held seat can be neither booked nor offered to a
second person. Claiming turns the hold into an appointment without touching the counter; a
decline, a lapse or a withdrawal passes the seat straight on (given back and offered again in
the same transaction, so nobody else can take it in between), or gives it back.

Who is next for a seat: the first on that day's standby list whose time range holds the
seat's time, else the top of the program's waiting list (priority, rank, id); in both cases
someone with no offer out to them, who did not let an offer for that day lapse or decline it,
and who may be booked that day (the age rule, the healing interval, no other appointment
ahead). Nobody is offered a seat they would have less than ``OFFER_LEAST_MINUTES`` to answer.

Every function takes the rules and the clock from its caller. ``fill_freed`` writes in the
caller's transaction (a cancellation frees a seat and offers it in one commit); the others
are use cases, each one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Select, exists, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from clinic import audit
from clinic.booking.availability import (
    SlotAvailability,
    day_availability,
    day_plans,
    upcoming_appointment,
    upcoming_days,
)
from clinic.booking.checks import check_healed, check_youth
from clinic.booking.errors import (
    AlreadyBooked,
    BookingError,
    NoSeatToOffer,
    NotOnList,
    OfferGone,
    SlotUnavailable,
)
from clinic.booking.seats import (
    INTAKE_ANSWERS,
    give_back_seat,
    insert_ignoring_conflict,
    new_code,
)
from clinic.database import lock_day, try_lock_day, write_transaction
from clinic.extensions import db
from clinic.messaging import links, outbox
from clinic.models import (
    Appointment,
    AppointmentStatus,
    EntryStatus,
    Intake,
    ListEntry,
    ListKind,
    OfferStatus,
    SeatOffer,
    Slot,
    StaffUser,
    Youth,
    naive_utc,
)
from clinic.rules.calendar import SlotPlan, day_slots
from clinic.rules.eligibility import slot_start
from clinic.rules.policy import ClinicRules
from clinic.rules.selfservice import offer_expiry

CONTACT = (
    "phone",
    "email",
    "language",
    "contact_by",
    "guardian_name",
    "guardian_relationship",
    "guardian_phone",
)
# Candidates are read a page at a time: the first few nearly always fit.
_PAGE = 20


# --- Offering seats --------------------------------------------------------------------------


def fill_freed(day: date, rules: ClinicRules, now: datetime) -> int:
    """Offer each free, bookable seat on ``day`` to the next fitting person: the day's standby
    list first, then the program's waiting list. Returns how many offers were made.

    Runs in the CALLER's write transaction (call it after the seats are freed, before the
    commit). Safe under concurrency: each seat is taken by the conditional UPDATE, and each
    offer inserted in a savepoint, so a person another transaction offered a seat meanwhile
    (the partial unique index on open offers) is skipped for the next one.
    """
    _lock_offers()
    if not try_lock_day(day):
        return 0  # a schedule change to the day is under way: the sweep offers its seats
    _forget_seat_counters()
    availability = day_availability(day, rules, now)
    if availability is None:
        return 0
    made = 0
    for slot in availability.slots:
        if not slot.bookable:
            continue
        for _seat in range(slot.seats_left):
            if _offer_seat(slot, rules, now) is None:
                break
            made += 1
    return made


def _offer_seat(
    slot: SlotAvailability,
    rules: ClinicRules,
    now: datetime,
    *,
    only: ListEntry | None = None,
    staff_id: int | None = None,
) -> SeatOffer | None:
    """Offer one seat of ``slot`` to the next fitting person (or to ``only``), or to nobody:
    no one fits, the seat is gone, or too little time is left to answer."""
    expires = _expiry(slot, rules, now)
    if expires is None:
        return None
    candidates = [only] if only is not None else _candidates(slot.plan.day, slot.plan.start)
    for entry in candidates:
        if not _may_book(entry, slot.plan.day, rules, now):
            continue
        try:
            with db.session.begin_nested():
                slot_id = _hold_seat(slot.plan)
                offer = SeatOffer(
                    entry_id=entry.id,
                    slot_id=slot_id,
                    status=OfferStatus.OPEN,
                    offered_at=naive_utc(now),
                    expires_at=naive_utc(expires),
                    offered_by_id=staff_id,
                )
                db.session.add(offer)
                db.session.flush()
        except SlotUnavailable:
            return None  # taken meanwhile: nothing left to offer here
        except IntegrityError:
            continue  # offered a seat by another transaction just now: the next person
        outbox.seat_offered(offer.id, now)
        return offer
    return None


# --- Concurrency -------------------------------------------------------------------------------
#
# On PostgreSQL, offers are made one transaction at a time (an advisory lock, taken by whoever
# offers: ``_lock_offers``), and the one offering never waits for another: it skips a slot row
# that another transaction holds (``_hold_seat``: that transaction is booking it, or freeing it,
# and then offers it itself) and a day being changed by staff (``try_lock_day``; the sweep
# offers its seats afterwards). So two offers never pick the same person, and no transaction
# waiting for the lock can hold anything the holder needs: no deadlock. SQLite runs one write
# transaction at a time anyway.

_OFFERS_LOCK = {"namespace": 0x0FFE, "key": 0}


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _lock_offers() -> None:
    if _postgres():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"), _OFFERS_LOCK)


def _hold_seat(slot_plan: SlotPlan) -> int:
    """``seats.take_seat``, skipping a slot row another transaction holds (SlotUnavailable)."""
    insert_ignoring_conflict(
        Slot,
        {
            "day": slot_plan.day,
            "start_time": slot_plan.start,
            "end_time": slot_plan.end,
            "capacity": slot_plan.seats,
            "booked": 0,
        },
    )
    free = (
        select(Slot.id)
        .where(
            Slot.day == slot_plan.day,
            Slot.start_time == slot_plan.start,
            Slot.booked < slot_plan.seats,
            Slot.blocked.is_(False),
        )
        .with_for_update(skip_locked=True)
    )
    slot_id = db.session.scalar(
        update(Slot)
        .where(Slot.id.in_(free.scalar_subquery()), Slot.booked < slot_plan.seats)
        .values(booked=Slot.booked + 1, capacity=slot_plan.seats)
        .returning(Slot.id)
        .execution_options(synchronize_session=False)
    )
    if slot_id is None:
        raise SlotUnavailable("full")
    return slot_id


def _expiry(slot: SlotAvailability, rules: ClinicRules, now: datetime) -> datetime | None:
    starts = slot_start(slot.plan.day, slot.plan.start, rules.zone)
    return offer_expiry(now, starts, starts - rules.window.cutoff, rules.offers, rules.zone)


def _candidates(day: date, start: time) -> Iterator[ListEntry]:
    """The people a seat at ``start`` on ``day`` goes to, in order: the day's standby list
    (whose time range holds ``start``), then the program's waiting list; neither someone with
    an offer out to them nor someone who let one for that day lapse or declined it."""
    standby = _waiting(day).where(
        ListEntry.kind == ListKind.STANDBY,
        ListEntry.day == day,
        (ListEntry.earliest.is_(None)) | (ListEntry.earliest <= start),
        (ListEntry.latest.is_(None)) | (ListEntry.latest >= start),
    )
    program = _waiting(day).where(ListEntry.kind == ListKind.PROGRAM)
    yield from _paged(standby.order_by(ListEntry.rank, ListEntry.id))
    yield from _paged(program.order_by(ListEntry.priority, ListEntry.rank, ListEntry.id))


# The youth's entries on any list: an offer out to them on one counts for all.
_Other = ListEntry.__table__.alias("other_entry").c


def _offer_out():
    """The entry's youth holds an open offer already, from this list or another: nobody
    holds two seats at once."""
    return exists().where(
        SeatOffer.status == OfferStatus.OPEN,
        SeatOffer.entry_id == _Other.id,
        _Other.youth_id == ListEntry.youth_id,
    )


def _waiting(day: date) -> Select[tuple[ListEntry]]:
    offer_out = _offer_out()
    said_no_to_day = exists().where(
        SeatOffer.status.in_((OfferStatus.LAPSED, OfferStatus.DECLINED)),
        SeatOffer.entry_id == _Other.id,
        _Other.youth_id == ListEntry.youth_id,
        SeatOffer.slot_id == Slot.id,
        Slot.day == day,
    )
    return (
        select(ListEntry)
        .where(ListEntry.status == EntryStatus.WAITING, ~offer_out, ~said_no_to_day)
        .options(joinedload(ListEntry.youth))
    )


def _paged(query: Select[tuple[ListEntry]]) -> Iterator[ListEntry]:
    offset = 0
    while True:
        page = db.session.scalars(query.limit(_PAGE).offset(offset)).unique().all()
        yield from page
        if len(page) < _PAGE:
            return
        offset += _PAGE


def _may_book(entry: ListEntry, day: date, rules: ClinicRules, now: datetime) -> bool:
    """Whether the entry's youth may be booked on ``day``: the age rule (with the guardian
    they gave), the healing interval, and no other appointment ahead."""
    try:
        _check_may_book(entry, _youth(entry), day, rules, now)
    except BookingError:
        return False
    return True


def _check_may_book(
    entry: ListEntry, youth: Youth, day: date, rules: ClinicRules, now: datetime
) -> None:
    has_guardian = all((entry.guardian_name, entry.guardian_relationship, entry.guardian_phone))
    check_youth(youth.date_of_birth, day, has_guardian, rules)
    upcoming = upcoming_appointment(youth.id, now.date())
    if upcoming is not None:
        raise AlreadyBooked(upcoming.id)
    check_healed(youth.id, day, rules)


def _youth(entry: ListEntry) -> Youth:
    """The entry's youth, or the record an admin merged it into."""
    youth = entry.youth
    if youth.merged_into_id is not None:
        return db.session.get_one(Youth, youth.merged_into_id)
    return youth


def _forget_seat_counters() -> None:
    """Seat counters move by UPDATE statements that leave the session's copies of the slots
    as they were; read them afresh."""
    for held in list(db.session.identity_map.values()):
        if isinstance(held, Slot):
            db.session.expire(held)


def pass_on(slot_id: int, rules: ClinicRules, now: datetime) -> int:
    """Give back the seat an offer held and offer the day's free seats again (in the caller's
    transaction): the seat goes straight to the next person, or stays free. Returns the
    offers made."""
    give_back_seat(slot_id)
    day = db.session.scalar(select(Slot.day).where(Slot.id == slot_id))
    return fill_freed(day, rules, now)


def withdraw_offers(entry_ids: list[int], rules: ClinicRules, now: datetime) -> int:
    """Withdraw the entries' open offers (they left the list, were removed, or booked) and
    pass each seat on, in the caller's transaction. Returns the offers withdrawn."""
    if not entry_ids:
        return 0
    withdrawn = db.session.execute(
        update(SeatOffer)
        .where(SeatOffer.entry_id.in_(entry_ids), SeatOffer.status == OfferStatus.OPEN)
        .values(status=OfferStatus.WITHDRAWN, answered_at=naive_utc(now))
        .returning(SeatOffer.id, SeatOffer.slot_id)
        .execution_options(synchronize_session=False)
    ).all()
    for offer_id, slot_id in withdrawn:
        audit.changed("seat_offer", offer_id, ["status", "answered_at"])
        pass_on(slot_id, rules, now)
    return len(withdrawn)


# --- The sweep -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Swept:
    """What one sweep did."""

    lapsed: int = 0  # offers past their deadline, their seats passed on
    closed: int = 0  # standby entries whose day has passed
    offered: int = 0  # offers made, for lapsed seats and free seats alike


def sweep(rules: ClinicRules, now: datetime) -> int:
    """Lapse every open offer past its deadline (the youth is told; their seat passes to the
    next person), close standby entries whose day has passed, then offer the free seats of
    every bookable day in the window (a new month opening, seats added, a time unblocked).

    Each lapse, and each day's offers, is its own transaction; running it twice, or in two
    processes at once, makes no offer twice. Returns the offers made (``sweep_counts`` says
    more).
    """
    return sweep_counts(rules, now).offered


def sweep_counts(rules: ClinicRules, now: datetime) -> Swept:
    """As ``sweep``, counting what it did."""
    lapsed, offered = _lapse_due(rules, now)
    _withdraw_unbookable(rules, now)
    closed = _close_past_standby(now)
    for day in _days_with_free_seats(rules, now):
        with write_transaction():
            offered += fill_freed(day, rules, now)
    return Swept(lapsed=lapsed, closed=closed, offered=offered)


def _lapse_due(rules: ClinicRules, now: datetime) -> tuple[int, int]:
    due = db.session.scalars(
        select(SeatOffer.id)
        .where(SeatOffer.status == OfferStatus.OPEN, SeatOffer.expires_at <= naive_utc(now))
        .order_by(SeatOffer.expires_at, SeatOffer.id)
    ).all()
    lapsed = offered = 0
    for offer_id in due:
        with write_transaction():
            slot_id = db.session.scalar(
                update(SeatOffer)
                .where(
                    SeatOffer.id == offer_id,
                    SeatOffer.status == OfferStatus.OPEN,
                    SeatOffer.expires_at <= naive_utc(now),
                )
                .values(status=OfferStatus.LAPSED)
                .returning(SeatOffer.slot_id)
                .execution_options(synchronize_session=False)
            )
            if slot_id is None:
                continue  # claimed, declined or lapsed by another process meanwhile
            audit.changed("seat_offer", offer_id, ["status"])
            outbox.offer_lapsed(offer_id, now)
            offered += pass_on(slot_id, rules, now)
            lapsed += 1
    return lapsed, offered


def _still_in_schedule(slot_id: int, day: date, rules: ClinicRules) -> bool:
    """Whether the slot is still one the day offers: the day open, the time in its plan and
    not blocked."""
    slot = db.session.execute(select(Slot.start_time, Slot.blocked).where(Slot.id == slot_id)).one()
    return not slot.blocked and (day, slot.start_time) in _scheduled(day, day, rules)


def _scheduled(first: date, last: date, rules: ClinicRules) -> set[tuple[date, time]]:
    """Every (day, start) the schedule offers from ``first`` to ``last``, staff changes
    applied (closed days have none)."""
    return {
        (plan.day, slot.start) for plan in day_plans(first, last, rules) for slot in day_slots(plan)
    }


def _unscheduled_offers(rules: ClinicRules, *where: Any) -> list[int]:
    """The open offers (``where`` narrows them) whose seat staff took out of the schedule
    since: a day closed, its hours changed, a time blocked."""
    held = db.session.execute(
        select(SeatOffer.id, Slot.day, Slot.start_time, Slot.blocked)
        .join(Slot, Slot.id == SeatOffer.slot_id)
        .where(SeatOffer.status == OfferStatus.OPEN, *where)
    ).all()
    if not held:
        return []
    scheduled = _scheduled(min(row.day for row in held), max(row.day for row in held), rules)
    return [row.id for row in held if row.blocked or (row.day, row.start_time) not in scheduled]


def _withdraw(offer_id: int, now: datetime) -> None:
    """Withdraw one open offer and give its seat back (in the caller's transaction); one
    claimed or lapsed meanwhile is left as it is."""
    slot_id = db.session.scalar(
        update(SeatOffer)
        .where(SeatOffer.id == offer_id, SeatOffer.status == OfferStatus.OPEN)
        .values(status=OfferStatus.WITHDRAWN, answered_at=naive_utc(now))
        .returning(SeatOffer.slot_id)
        .execution_options(synchronize_session=False)
    )
    if slot_id is not None:
        audit.changed("seat_offer", offer_id, ["status", "answered_at"])
        give_back_seat(slot_id)


def withdraw_unscheduled(day: date, rules: ClinicRules, now: datetime) -> int:
    """Withdraw the open offers of seats a schedule change to ``day`` takes away (its hours
    changed, a time blocked, the day closed or removed), in the CALLER's transaction, after
    the change is written: a seat that is no longer in the schedule cannot be claimed. The
    person keeps their place on the list. Returns the offers withdrawn."""
    db.session.flush()
    gone = _unscheduled_offers(rules, Slot.day == day)
    for offer_id in gone:
        _withdraw(offer_id, now)
    return len(gone)


def _withdraw_unbookable(rules: ClinicRules, now: datetime) -> int:
    """As ``withdraw_unscheduled``, for every day, one offer per transaction: what the
    schedule changes, which withdraw their own, could not (the sweep runs it)."""
    gone = _unscheduled_offers(rules)
    for offer_id in gone:
        with write_transaction():
            _withdraw(offer_id, now)
    return len(gone)


def _close_past_standby(now: datetime) -> int:
    past = (
        ListEntry.kind == ListKind.STANDBY,
        ListEntry.status == EntryStatus.WAITING,
        ListEntry.day < now.date(),
    )
    if not db.session.scalar(select(exists().where(*past))):
        return 0  # the usual case: no write transaction for nothing
    with write_transaction():
        closed = (
            db.session.execute(
                update(ListEntry)
                .where(*past)
                .values(status=EntryStatus.CLOSED, closed_at=naive_utc(now))
                .returning(ListEntry.id)
                .execution_options(synchronize_session=False)
            )
            .scalars()
            .all()
        )
        for entry_id in closed:
            audit.changed("list_entry", entry_id, ["status", "closed_at"])
    return len(closed)


def _days_with_free_seats(rules: ClinicRules, now: datetime) -> list[date]:
    """The bookable days with a free seat and someone who could be offered it: the day's
    standby list or the program's waiting list has someone waiting."""
    waiting = select(ListEntry.kind, ListEntry.day).where(ListEntry.status == EntryStatus.WAITING)
    lists = {(row.kind, row.day) for row in db.session.execute(waiting.distinct())}
    if not lists:
        return []
    anyone = any(kind == ListKind.PROGRAM for kind, _day in lists)
    standby_days = {day for kind, day in lists if kind == ListKind.STANDBY}
    return [
        day.plan.day
        for day in upcoming_days(rules, now)
        if day.seats_left > 0 and (anyone or day.plan.day in standby_days)
    ]


# --- Answering an offer ----------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A seat taken: the appointment, and a fresh link to its page for the browser that took
    it (the youth's messages carry their own)."""

    appointment: Appointment
    token: str


def claim(offer_id: int, entry_id: int, rules: ClinicRules, now: datetime) -> Appointment:
    """Take an offered seat: book it for the entry's youth, from the answers and contact the
    entry keeps (no form), on the seat the offer holds (``Slot.booked`` does not move).

    One conditional UPDATE turns the offer from open to claimed, only while it is open and
    before its deadline: of two claims of one offer exactly one wins, and a claim after the
    deadline loses (``OfferGone``). Then the rules for that day: the age rule, no other
    appointment ahead, the healing interval; a youth they refuse gets the refusal raised (the
    offer is declined and its seat passed on, committed). The youth's other list entries
    close: they are booked.
    """
    return claim_with_link(offer_id, entry_id, rules, now).appointment


def claim_with_link(offer_id: int, entry_id: int, rules: ClinicRules, now: datetime) -> Claimed:
    """As ``claim``, with a new link to the appointment's page for whoever claimed it."""
    with write_transaction():
        outcome = _claim_once(offer_id, entry_id, rules, now)
    if isinstance(outcome, BookingError):
        raise outcome
    return outcome


def _claim_once(
    offer_id: int, entry_id: int, rules: ClinicRules, now: datetime
) -> Claimed | BookingError:
    offered_day = db.session.scalar(
        select(Slot.day)
        .join(SeatOffer, SeatOffer.slot_id == Slot.id)
        .where(SeatOffer.id == offer_id)
    )
    if offered_day is None:
        raise OfferGone()
    # Before the offer's row, like a booking: a schedule change to the day (closing it, blocking
    # the time) has either committed, and is seen below, or waits until this claim is done.
    lock_day(offered_day, exclusive=False)
    slot_id = db.session.scalar(
        update(SeatOffer)
        .where(
            SeatOffer.id == offer_id,
            SeatOffer.entry_id == entry_id,
            SeatOffer.status == OfferStatus.OPEN,
            SeatOffer.expires_at > naive_utc(now),
        )
        .values(status=OfferStatus.CLAIMED, answered_at=naive_utc(now))
        .returning(SeatOffer.slot_id)
        .execution_options(synchronize_session=False)
    )
    if slot_id is None:
        raise OfferGone()
    audit.changed("seat_offer", offer_id, ["status", "answered_at"])
    entry = db.session.scalars(
        select(ListEntry)
        .where(ListEntry.id == entry_id)
        .options(joinedload(ListEntry.youth))
        .execution_options(populate_existing=True)
    ).one()
    day = offered_day  # an offer's seat never changes
    if not _still_in_schedule(slot_id, day, rules):
        # Staff took the seat out of the schedule since it was offered (the sweep withdraws
        # such offers; this one was claimed first): nothing to book, and the seat goes back.
        db.session.execute(
            update(SeatOffer)
            .where(SeatOffer.id == offer_id)
            .values(status=OfferStatus.WITHDRAWN)
            .execution_options(synchronize_session=False)
        )
        give_back_seat(slot_id)
        return OfferGone()
    youth = _youth(entry)
    try:
        _check_may_book(entry, youth, day, rules, now)
    except BookingError as refusal:
        # The seat is not theirs to take after all: it goes to the next person, and they are
        # told why on the page (the visitor holds the link, so it is theirs to know).
        db.session.execute(
            update(SeatOffer)
            .where(SeatOffer.id == offer_id)
            .values(status=OfferStatus.DECLINED)
            .execution_options(synchronize_session=False)
        )
        pass_on(slot_id, rules, now)
        return refusal

    appointment = Appointment(
        code=new_code(), youth_id=youth.id, slot_id=slot_id, status=AppointmentStatus.BOOKED
    )
    appointment.intake = intake_from_entry(entry)
    db.session.add(appointment)
    db.session.flush()
    db.session.execute(
        update(SeatOffer)
        .where(SeatOffer.id == offer_id)
        .values(appointment_id=appointment.id)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(ListEntry)
        .where(ListEntry.id == entry_id)
        .values(status=EntryStatus.BOOKED, appointment_id=appointment.id, closed_at=naive_utc(now))
        .execution_options(synchronize_session=False)
    )
    audit.changed("seat_offer", offer_id, ["appointment_id"])
    audit.changed("list_entry", entry_id, ["status", "appointment_id", "closed_at"])
    _close_other_entries(youth.id, entry_id, rules, now)
    outbox.booked(appointment.id, now)
    return Claimed(appointment, links.mint(appointment_id=appointment.id))


def _close_other_entries(youth_id: int, booked_entry_id: int, rules: ClinicRules, now: datetime):
    """A youth booked: their other places on lists close (one appointment at a time)."""
    others = (
        db.session.execute(
            update(ListEntry)
            .where(
                ListEntry.youth_id == youth_id,
                ListEntry.status == EntryStatus.WAITING,
                ListEntry.id != booked_entry_id,
            )
            .values(status=EntryStatus.CLOSED, closed_at=naive_utc(now))
            .returning(ListEntry.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    for entry_id in others:
        audit.changed("list_entry", entry_id, ["status", "closed_at"], youth_id=youth_id)
    withdraw_offers(list(others), rules, now)


def intake_from_entry(entry: ListEntry) -> Intake:
    """The intake row a claimed seat's appointment records: the answers the entry kept from
    its form, and the contact it gave."""
    answers = {name: entry.answers[name] for name in INTAKE_ANSWERS if name in entry.answers}
    return Intake(**{name: getattr(entry, name) for name in CONTACT}, **answers)


def decline(offer_id: int, entry_id: int, rules: ClinicRules, now: datetime) -> None:
    """ "No thanks": the open offer is declined and its seat passes to the next person. The
    youth stays on the list; no other seat that day is offered to them. Raises ``OfferGone``
    when the offer is no longer open (claimed, lapsed, declined already)."""
    with write_transaction():
        slot_id = db.session.scalar(
            update(SeatOffer)
            .where(
                SeatOffer.id == offer_id,
                SeatOffer.entry_id == entry_id,
                SeatOffer.status == OfferStatus.OPEN,
            )
            .values(status=OfferStatus.DECLINED, answered_at=naive_utc(now))
            .returning(SeatOffer.slot_id)
            .execution_options(synchronize_session=False)
        )
        if slot_id is None:
            raise OfferGone()
        audit.changed("seat_offer", offer_id, ["status", "answered_at"])
        pass_on(slot_id, rules, now)


def invite(entry_id: int, actor: StaffUser, rules: ClinicRules, now: datetime) -> SeatOffer:
    """Staff invite someone on a list by hand: the earliest free, bookable seat in the booking
    window that fits them (their standby day and times; any day for the program list) and
    that they may be booked on, offered and held as a freed seat would be. Raises
    ``NotOnList`` for an entry no longer waiting (or with an offer out already) and
    ``NoSeatToOffer`` when no seat fits."""
    with write_transaction():
        _lock_offers()
        entry = db.session.scalars(
            _waiting_entry(entry_id).execution_options(populate_existing=True)
        ).one_or_none()
        if entry is None:
            raise NotOnList()
        for slot in _free_seats_for(entry, rules, now):
            offer = _offer_seat(slot, rules, now, only=entry, staff_id=actor.id)
            if offer is not None:
                return offer
        raise NoSeatToOffer()


def _waiting_entry(entry_id: int) -> Select[tuple[ListEntry]]:
    return (
        select(ListEntry)
        .where(
            ListEntry.id == entry_id,
            ListEntry.status == EntryStatus.WAITING,
            ~_offer_out(),
        )
        .options(joinedload(ListEntry.youth))
    )


def _free_seats_for(
    entry: ListEntry, rules: ClinicRules, now: datetime
) -> Iterator[SlotAvailability]:
    """The free, bookable seats that fit the entry, earliest first, leaving out the days on
    which they let an offer lapse or declined one."""
    if entry.kind == ListKind.STANDBY:
        found = day_availability(entry.day, rules, now)
        days = [found] if found is not None else []
    else:
        days = upcoming_days(rules, now)
    refused = set(
        db.session.scalars(
            select(Slot.day)
            .join(SeatOffer, SeatOffer.slot_id == Slot.id)
            .join(ListEntry, ListEntry.id == SeatOffer.entry_id)
            .where(
                ListEntry.youth_id == entry.youth_id,
                SeatOffer.status.in_((OfferStatus.LAPSED, OfferStatus.DECLINED)),
            )
        )
    )
    for day in days:
        # A day staff are changing is left alone, as ``fill_freed`` leaves it.
        if day.plan.day in refused or not try_lock_day(day.plan.day):
            continue
        for slot in day.slots:
            if slot.bookable and slot_fits(slot.plan.start, entry.earliest, entry.latest):
                yield slot


def slot_fits(start: time, earliest: time | None, latest: time | None) -> bool:
    """Whether a slot starting at ``start`` is within a standby entry's times (slot start
    times, both included; None: no bound)."""
    return (earliest is None or earliest <= start) and (latest is None or start <= latest)
