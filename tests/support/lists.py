"""What the tests of the standby and waiting lists share (``tests/booking/test_lists.py``,
``test_offers.py``): a small, full clinic day, youth joining its lists through the use
cases at the frozen clinic clock, seats freed as staff free them, and the invariant every
step must keep: a slot's counter is its booked appointments plus its open offers."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import func, select, text
from sqlalchemy.orm import joinedload

from clinic import booking, settings
from clinic.booking import lists, offers
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.models import ClinicDay, ListEntry, OfferStatus, OutboxMessage, SeatOffer, Slot
from tests.conftest import NEXT_DAY

# The clinic days in the booking window at the frozen clock (NOW, Friday 20 November 2026).
LATER_DAYS = (date(2026, 12, 22), date(2026, 12, 29), date(2027, 1, 19))


def rules():
    return settings.current_rules()


def small_day(day: date = NEXT_DAY, slots: int = 2, seats: int = 1) -> None:
    """Make ``day`` a short clinic day: ``slots`` slots of 20 minutes from 16:00."""
    minutes = 16 * 60 + 20 * slots
    db.session.add(
        ClinicDay(
            day=day,
            start_time=time(16, 0),
            end_time=time(minutes // 60, minutes % 60),
            slot_minutes=20,
            seats=seats,
        )
    )
    db.session.commit()


def reopen(day: date, slots: int | None = None, seats: int = 1) -> None:
    """Open a day closed by ``only_next_day``: as usual, or ``slots`` slots of ``seats``."""
    db.session.execute(ClinicDay.__table__.delete().where(ClinicDay.day == day))
    db.session.commit()
    if slots is not None:
        small_day(day, slots, seats)


def close_days(*days: date) -> None:
    for day in days:
        db.session.add(ClinicDay(day=day, closed=True))
    db.session.commit()


def only_next_day(slots: int = 2, seats: int = 1) -> None:
    """The booking window holds one small clinic day (the next one): the others are closed."""
    small_day(NEXT_DAY, slots, seats)
    close_days(*LATER_DAYS)


def request(n: int, day: date = NEXT_DAY, start: time = time(16, 0), **overrides):
    """Youth ``n``'s intake (an adult, with their own phone), for ``day`` at ``start``."""
    values = {
        "day": day,
        "start": start,
        "submission_key": f"list-{n:04d}-{day.isoformat()}-{start:%H%M}-kkkk",
        "first_name": f"Youth{n}",
        "last_name": "Waiting",
        "date_of_birth": date(2004, 4, 4),
        "phone": f"+1415555{n:04d}",
        "language": "en",
        "tattoo_locations": ["arms"],
        "screening": ["tan"],
        "referral_source": "self",
        **overrides,
    }
    return booking.BookingRequest(**values)


def book(n: int, now: datetime, day: date = NEXT_DAY, start: time = time(16, 0), **overrides):
    """Youth ``n`` booked by staff for ``day`` at ``start``; returns the appointment's id."""
    return booking.book(request(n, day, start, **overrides), rules(), now).id


def fill(now: datetime, day: date = NEXT_DAY, first: int = 900) -> list[int]:
    """Book every seat of ``day`` for youth ``first``, ``first + 1``...; their appointments."""
    ids = []
    availability = booking.day_availability(day, rules(), now)
    n = first
    for slot in availability.slots:
        for _ in range(slot.seats_left):
            ids.append(book(n, now, day, slot.plan.start))
            n += 1
    return ids


def join_standby(n: int, now: datetime, day: date = NEXT_DAY, earliest=None, latest=None, **kw):
    """Youth ``n`` joins ``day``'s standby list; returns their entry's id."""
    key = kw.pop("submission_key", f"standby-{n:04d}-kkkkkkkkkkkk")
    req = request(n, day, earliest or time(16, 0), submission_key=key, **kw)
    lists.join_standby(req, earliest, latest, rules(), now)
    return entry_of(key)


def join_program(n: int, now: datetime, **overrides) -> int:
    """Youth ``n`` joins the program's waiting list; returns their entry's id."""
    key = overrides.pop("submission_key", f"program-{n:04d}-kkkkkkkkkkkk")
    req = request(n, now.date(), time(0), submission_key=key, **overrides)
    lists.join_program(req, rules(), now)
    return entry_of(key)


def entry_of(submission_key: str) -> int | None:
    db.session.rollback()
    return db.session.scalar(select(ListEntry.id).where(ListEntry.submission_key == submission_key))


def cancel(appointment_id: int, now: datetime) -> int:
    """Staff cancel a booking and the freed seat is offered (``fill_freed``, as the hooks
    where seats free do: called again here in case the cancellation does not yet); returns
    the offers made."""
    before = _offers_made()
    day = booking.cancel(appointment_id, None, now).day
    with write_transaction():
        offers.fill_freed(day, rules(), now)
    return _offers_made() - before


def _offers_made() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(SeatOffer.id)))


def offers_of(entry_id: int) -> list[SeatOffer]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(SeatOffer)
            .where(SeatOffer.entry_id == entry_id)
            .options(joinedload(SeatOffer.slot))
            .order_by(SeatOffer.id)
        )
    )


def open_offer(entry_id: int) -> SeatOffer | None:
    found = [o for o in offers_of(entry_id) if o.status == OfferStatus.OPEN]
    assert len(found) <= 1
    return found[0] if found else None


def entry(entry_id: int) -> ListEntry:
    db.session.rollback()
    return db.session.get_one(ListEntry, entry_id)


def messages(kind: str, entry_id: int | None = None) -> int:
    db.session.rollback()
    query = select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == kind)
    if entry_id is not None:
        query = query.where(OutboxMessage.entry_id == entry_id)
    return db.session.scalar(query)


def counter(day: date = NEXT_DAY, start: time = time(16, 0)) -> int:
    db.session.rollback()
    return db.session.scalar(select(Slot.booked).where(Slot.day == day, Slot.start_time == start))


def seats_hold(connection=None) -> None:
    """Every slot's counter is its booked appointments plus its open offers, within its
    capacity; nobody holds two open offers at once (the statuses written out, apart from the
    code that decides them)."""
    db.session.rollback()
    run = connection.execute if connection is not None else db.session.execute
    slots = run(
        text(
            "SELECT s.id, s.booked, s.capacity, "
            "(SELECT count(*) FROM appointment a WHERE a.slot_id = s.id AND a.status IN "
            "('booked', 'checked_in', 'in_treatment', 'completed')) AS holding, "
            "(SELECT count(*) FROM seat_offer o WHERE o.slot_id = s.id AND o.status = 'open') "
            "AS held FROM slot s"
        )
    ).all()
    for slot_id, booked, capacity, holding, held in slots:
        assert booked == holding + held, f"slot {slot_id}: {booked} != {holding} + {held} held"
        assert 0 <= booked <= capacity, f"slot {slot_id}: {booked} of {capacity}"
    doubled = run(
        text(
            "SELECT e.youth_id, count(*) FROM seat_offer o JOIN list_entry e "
            "ON e.id = o.entry_id WHERE o.status = 'open' GROUP BY e.youth_id "
            "HAVING count(*) > 1"
        )
    ).all()
    assert not doubled, f"a youth holds two offers: {doubled}"
