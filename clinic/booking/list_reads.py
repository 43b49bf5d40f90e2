"""Reading the standby and waiting lists for staff: a clinic day's standby list with the seats
offered from it, the program's waiting list with its invitations, each youth's entries, and
the counts the day sheet and the schedule show. Reads only, each in a fixed number of
statements however long the lists.

What a list shows is filtered here by the acting staff member's role, as a youth's record is
(``clinic.records.record``): the youth's name to roles that open records (``VIEW_RECORDS``),
their phone and e-mail only to roles that see contact details (``SEE_CONTACT``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import contains_eager, joinedload

from clinic.extensions import db
from clinic.models import (
    EntryStatus,
    ListEntry,
    ListKind,
    OfferStatus,
    SeatOffer,
    Slot,
    StaffUser,
)
from clinic.permissions import Action, can, require


@dataclass(frozen=True)
class OfferView:
    """One seat offered to one list entry, and what became of it. Instants are naive UTC."""

    id: int
    entry_id: int
    kind: str  # the list the entry is on (``ListKind``)
    name: str | None  # the youth's name; None: the actor may not see it
    status: str  # ``OfferStatus``
    day: date
    start: time
    end: time
    offered_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    invited_by: str | None  # the staff member who invited by hand; None: the list moved

    @property
    def open(self) -> bool:
        return self.status == OfferStatus.OPEN


@dataclass(frozen=True)
class EntryView:
    """One place on a list as the acting staff member may see it."""

    id: int
    kind: str  # ``ListKind``
    youth_id: int
    name: str | None  # the name the youth goes by; None: the actor may not see it
    phone: str | None  # contact: None unless the actor may see contact details
    email: str | None
    contact_by: str | None
    day: date | None  # standby only
    earliest: time | None
    latest: time | None
    status: str  # ``EntryStatus``
    priority: int
    joined_at: datetime
    closed_at: datetime | None
    position: int | None  # 1 for the first person waiting; None: not waiting
    offers: tuple[OfferView, ...] = ()  # oldest first

    @property
    def waiting(self) -> bool:
        return self.status == EntryStatus.WAITING

    @property
    def open_offer(self) -> OfferView | None:
        return next((offer for offer in self.offers if offer.open), None)


@dataclass(frozen=True)
class StandbyList:
    """A clinic day's standby list."""

    day: date
    waiting: list[EntryView]  # in the order seats are offered
    earlier: list[EntryView]  # no longer waiting (booked, left, removed, closed): latest first
    offers: list[OfferView]  # every seat of the day offered from a list, latest first


@dataclass(frozen=True)
class ProgramList:
    """The program's waiting list: the people waiting, in the order they are invited."""

    waiting: list[EntryView]


@dataclass(frozen=True)
class HeldSeat:
    """An open offer's seat, held for its claim: what the day sheet and schedule show."""

    start: time
    expires_at: datetime  # naive UTC
    kind: str  # the list it was offered from


@dataclass
class DayLists:
    """How many wait on a day's standby list, and the seats held for open offers that day."""

    day: date
    standby: int = 0
    held: list[HeldSeat] = field(default_factory=list)  # soonest to expire first


# --- Reading ------------------------------------------------------------------------------


def _order():
    return (ListEntry.priority, ListEntry.rank, ListEntry.id)


def _offers(where: ColumnElement[bool], names: bool) -> list[OfferView]:
    """The offers ``where`` selects, with their seat, the entry's youth and who invited: one
    statement."""
    rows = db.session.execute(
        select(SeatOffer, StaffUser.name)
        .join(SeatOffer.slot)
        .outerjoin(StaffUser, StaffUser.id == SeatOffer.offered_by_id)
        .where(where)
        .options(
            contains_eager(SeatOffer.slot),
            joinedload(SeatOffer.entry).joinedload(ListEntry.youth),
        )
        .order_by(SeatOffer.id)
    ).all()
    return [
        OfferView(
            id=offer.id,
            entry_id=offer.entry_id,
            kind=offer.entry.kind,
            name=offer.entry.youth.display_name if names else None,
            status=offer.status,
            day=offer.slot.day,
            start=offer.slot.start_time,
            end=offer.slot.end_time,
            offered_at=offer.offered_at,
            expires_at=offer.expires_at,
            answered_at=offer.answered_at,
            invited_by=invited_by,
        )
        for offer, invited_by in rows
    ]


def _entry_view(
    entry: ListEntry,
    offers: Sequence[OfferView],
    position: int | None,
    names: bool,
    contact: bool,
) -> EntryView:
    return EntryView(
        id=entry.id,
        kind=entry.kind,
        youth_id=entry.youth_id,
        name=entry.youth.display_name if names else None,
        phone=entry.phone if contact else None,
        email=entry.email if contact else None,
        contact_by=entry.contact_by if contact else None,
        day=entry.day,
        earliest=entry.earliest,
        latest=entry.latest,
        status=entry.status,
        priority=entry.priority,
        joined_at=entry.joined_at,
        closed_at=entry.closed_at,
        position=position,
        offers=tuple(offers),
    )


def _by_entry(offers: Sequence[OfferView]) -> dict[int, list[OfferView]]:
    grouped: dict[int, list[OfferView]] = defaultdict(list)
    for offer in offers:
        grouped[offer.entry_id].append(offer)
    return grouped


def _may_see(actor: StaffUser) -> tuple[bool, bool]:
    """Whether the actor sees names, and contact details, on a list."""
    return can(actor.role, Action.VIEW_RECORDS), can(actor.role, Action.SEE_CONTACT)


def standby_list(day: date, actor: StaffUser) -> StandbyList:
    """``day``'s standby list as ``actor`` may see it, with every seat of that day offered
    from a list (to standby entries, and to the program list's top).

    Rule: the people waiting in the order seats are offered (priority, then rank, which staff
    may change, then joining order); names only to roles that open records, contact only to
    roles that see contact details. Two statements, however long the list.
    """
    require(actor.role, Action.VIEW_DAY)
    names, contact = _may_see(actor)
    entries = db.session.scalars(
        select(ListEntry)
        .where(ListEntry.kind == ListKind.STANDBY, ListEntry.day == day)
        .options(joinedload(ListEntry.youth))
        .order_by(*_order())
    ).all()
    offers = _offers(Slot.day == day, names)
    grouped = _by_entry(offers)
    waiting = [e for e in entries if e.status == EntryStatus.WAITING]
    earlier = sorted(
        (e for e in entries if e.status != EntryStatus.WAITING),
        key=lambda e: (e.closed_at or e.joined_at, e.id),
        reverse=True,
    )
    return StandbyList(
        day=day,
        waiting=[
            _entry_view(e, grouped.get(e.id, []), n, names, contact)
            for n, e in enumerate(waiting, start=1)
        ],
        earlier=[_entry_view(e, grouped.get(e.id, []), None, names, contact) for e in earlier],
        offers=offers[::-1],
    )


def program_list(actor: StaffUser) -> ProgramList:
    """The program's waiting list as ``actor`` may see it: everyone waiting, in the order
    they are invited (priority, then joining order), each with their invitations.

    Same filtering as ``standby_list``. Two statements, however long the list.
    """
    require(actor.role, Action.VIEW_DAY)
    names, contact = _may_see(actor)
    waiting_program = (ListEntry.kind == ListKind.PROGRAM) & (
        ListEntry.status == EntryStatus.WAITING
    )
    entries = db.session.scalars(
        select(ListEntry)
        .where(waiting_program)
        .options(joinedload(ListEntry.youth))
        .order_by(*_order())
    ).all()
    waiting_ids = select(ListEntry.id).where(waiting_program)
    grouped = _by_entry(_offers(SeatOffer.entry_id.in_(waiting_ids), names))
    return ProgramList(
        waiting=[
            _entry_view(e, grouped.get(e.id, []), n, names, contact)
            for n, e in enumerate(entries, start=1)
        ]
    )


def program_size() -> int:
    """How many wait on the program's list."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(ListEntry)
            .where(ListEntry.kind == ListKind.PROGRAM, ListEntry.status == EntryStatus.WAITING)
        )
        or 0
    )


def entry_view(entry_id: int, actor: StaffUser) -> EntryView | None:
    """One entry as ``actor`` may see it, with its offers (its place on the list not
    counted), or None if there is no such entry. Two statements."""
    require(actor.role, Action.VIEW_DAY)
    names, contact = _may_see(actor)
    entry = db.session.scalars(
        select(ListEntry).where(ListEntry.id == entry_id).options(joinedload(ListEntry.youth))
    ).one_or_none()
    if entry is None:
        return None
    offers = _offers(SeatOffer.entry_id == entry_id, names)
    return _entry_view(entry, offers, None, names, contact)


def offer_view(offer_id: int) -> OfferView | None:
    """One offer's seat and deadline (no name: for a flashed confirmation)."""
    return next(iter(_offers(SeatOffer.id == offer_id, False)), None)


def youth_entries(youth_id: int) -> list[EntryView]:
    """Every list entry of one youth, newest first, with its offers: for their record, which
    shows identity and contact by its own rules (so neither is repeated here). Two
    statements."""
    entries = db.session.scalars(
        select(ListEntry)
        .where(ListEntry.youth_id == youth_id)
        .order_by(ListEntry.joined_at.desc(), ListEntry.id.desc())
    ).all()
    if not entries:
        return []
    grouped = _by_entry(_offers(SeatOffer.entry_id.in_([e.id for e in entries]), False))
    return [_entry_view(e, grouped.get(e.id, []), None, False, False) for e in entries]


def lists_by_day(start: date, end: date) -> dict[date, DayLists]:
    """For each date from ``start`` to ``end`` with anyone on standby or a seat held for an
    open offer: how many wait, and the seats held until when. Two statements, however many
    days and entries."""
    days: dict[date, DayLists] = {}
    for day, waiting in db.session.execute(
        select(ListEntry.day, func.count())
        .where(
            ListEntry.kind == ListKind.STANDBY,
            ListEntry.status == EntryStatus.WAITING,
            ListEntry.day.between(start, end),
        )
        .group_by(ListEntry.day)
    ):
        days[day] = DayLists(day, standby=waiting)
    for day, start_time, expires_at, kind in db.session.execute(
        select(Slot.day, Slot.start_time, SeatOffer.expires_at, ListEntry.kind)
        .join(SeatOffer, SeatOffer.slot_id == Slot.id)
        .join(ListEntry, ListEntry.id == SeatOffer.entry_id)
        .where(SeatOffer.status == OfferStatus.OPEN, Slot.day.between(start, end))
        .order_by(SeatOffer.expires_at, Slot.start_time, SeatOffer.id)
    ):
        days.setdefault(day, DayLists(day)).held.append(HeldSeat(start_time, expires_at, kind))
    return days


def day_lists(day: date) -> DayLists:
    """``lists_by_day`` for one date (an empty summary when nobody waits)."""
    return lists_by_day(day, day).get(day, DayLists(day))
