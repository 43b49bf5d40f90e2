"""Reading a youth's place on a list, for the page their link opens: their number on it, the
offer out to them, and on the program's waiting list how long the wait should be. Reads only.

A place is a number and nothing more: nothing here returns anything about the people ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from clinic.extensions import db
from clinic.models import (
    Appointment,
    EntryStatus,
    ListEntry,
    ListKind,
    OfferStatus,
    SeatOffer,
    naive_utc,
)
from clinic.rules.policy import ClinicRules
from clinic.rules.selfservice import expected_wait


@dataclass(frozen=True)
class Place:
    """Where a waiting entry stands: ``number`` 1 is next; ``wait`` on the program list only,
    None when it cannot be estimated yet."""

    number: int
    wait: timedelta | None = None


def position(entry: ListEntry) -> int:
    """The entry's number on its list (1: next), counting only people still waiting, in the
    list's order: priority, then rank, then id."""
    same_list = [ListEntry.kind == entry.kind, ListEntry.status == EntryStatus.WAITING]
    if entry.kind == ListKind.STANDBY:
        same_list.append(ListEntry.day == entry.day)
    ahead = or_(
        ListEntry.priority < entry.priority,
        and_(ListEntry.priority == entry.priority, ListEntry.rank < entry.rank),
        and_(
            ListEntry.priority == entry.priority,
            ListEntry.rank == entry.rank,
            ListEntry.id < entry.id,
        ),
    )
    return 1 + db.session.scalar(select(func.count(ListEntry.id)).where(*same_list, ahead))


def invitations_since(since: datetime) -> int:
    """How many people on the program list were offered a seat from ``since`` (aware) on."""
    return db.session.scalar(
        select(func.count(func.distinct(SeatOffer.entry_id)))
        .join(ListEntry, ListEntry.id == SeatOffer.entry_id)
        .where(ListEntry.kind == ListKind.PROGRAM, SeatOffer.offered_at >= naive_utc(since))
    )


def place(entry: ListEntry, rules: ClinicRules, now: datetime) -> Place:
    """The waiting entry's place, with the expected wait on the program list (from the pace
    of invitations over the last ``rules.offers.rate_weeks`` weeks)."""
    number = position(entry)
    if entry.kind != ListKind.PROGRAM:
        return Place(number)
    weeks = rules.offers.rate_weeks
    invited = invitations_since(now - timedelta(weeks=weeks))
    return Place(number, expected_wait(number, invited, weeks))


def booked_appointment(entry: ListEntry) -> Appointment | None:
    """The appointment a booked entry's claim made, with its slot."""
    if entry.appointment_id is None:
        return None
    return db.session.scalar(
        select(Appointment)
        .where(Appointment.id == entry.appointment_id)
        .options(joinedload(Appointment.slot))
    )


def open_offer(entry_id: int, now: datetime) -> SeatOffer | None:
    """The seat offered to the entry, not answered yet and still held at ``now``, with its
    slot (one past its deadline waits for the sweep to pass it on: it can no longer be
    taken)."""
    return db.session.scalar(
        select(SeatOffer)
        .where(
            SeatOffer.entry_id == entry_id,
            SeatOffer.status == OfferStatus.OPEN,
            SeatOffer.expires_at > naive_utc(now),
        )
        .options(joinedload(SeatOffer.slot))
    )
