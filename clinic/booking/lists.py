"""Standby and waiting lists: a youth joins a full day's standby list, or the program's waiting
list when every day in the booking window is full, with the same intake as booking; leaves it
from their link; staff remove entries and reorder a day's standby list. Offers of seats to the
people on the lists are in ``clinic.booking.offers``.

Joining is answered like ``book.request_online`` (see its module): the answer depends only on
what the visitor typed and the state of the days, never on what the database holds about the
name and birth date typed. A youth who already has an appointment ahead is put on no list and
told so at the contact on file; one already on the list is sent their link again; the visitor
sees the same "you are on the list, we sent you a message with your link" page either way.
Only what the visitor's own answers or the days decide is raised (``BookingError``): the age
and consent rule, a list that cannot be joined now (``ListNotOpen``), a reused form.

Each use case is one transaction, committed once; each takes the rules and the clock from
its caller.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from clinic import audit
from clinic.booking.availability import day_availability, upcoming_appointment, upcoming_days
from clinic.booking.checks import check_healed, check_youth
from clinic.booking.errors import ListNotOpen, NotOnList, SubmissionReused, TooSoon
from clinic.booking.offers import slot_fits, withdraw_offers
from clinic.booking.request import BookingRequest
from clinic.booking.seats import INTAKE_ANSWERS, upsert_youth
from clinic.database import lock_day, retrying_transaction, write_transaction
from clinic.extensions import db
from clinic.messaging import outbox
from clinic.models import EntryStatus, ListEntry, ListKind, StaffUser, Youth, naive_utc
from clinic.rules.eligibility import SlotState
from clinic.rules.policy import ClinicRules
from clinic.rules.selfservice import priority

# --- Joining ---------------------------------------------------------------------------------


def join_standby(
    request: BookingRequest,
    earliest: time | None,
    latest: time | None,
    rules: ClinicRules,
    now: datetime,
) -> None:
    """Put the youth on the standby list of ``request.day``, for the times from ``earliest``
    to ``latest`` (slot start times, both included; None: from the first, to the last).

    Only a clinic day in the booking window that has no free bookable seat in those times and
    a full one among them can be joined (``ListNotOpen("open_times")``: book one instead;
    ``"not_offered"``: nothing there to wait for). The age rule is the booking's, for that
    day. A youth too soon after their last treatment for that day is told so by message, as a
    booking would be, and not put on the list. Returns nothing: see the module's docstring.
    """
    retrying_transaction(lambda: _join(request, ListKind.STANDBY, earliest, latest, rules, now))


def join_program(request: BookingRequest, rules: ClinicRules, now: datetime) -> None:
    """Put the youth on the program's waiting list, at their priority (the clinic's
    ``WAITLIST_PRIORITY`` rules applied to their answers) and after everyone who joined
    before them with that priority.

    Only while every bookable day in the window is full (``ListNotOpen("open_times")``
    otherwise). ``request.day`` is the date the age rule is checked for (the caller passes
    today; each seat offered later is checked again for its own day); ``request.start`` is
    not used. Returns nothing: see the module's docstring.
    """
    retrying_transaction(lambda: _join(request, ListKind.PROGRAM, None, None, rules, now))


def _join(
    request: BookingRequest,
    kind: ListKind,
    earliest: time | None,
    latest: time | None,
    rules: ClinicRules,
    now: datetime,
) -> ListEntry | None:
    standby = kind is ListKind.STANDBY
    earlier = _by_submission(request.submission_key)
    if earlier is not None:
        if not _repeats(earlier, request, kind):
            raise SubmissionReused()
        return earlier  # a double tap, a reload: the first submission's entry, nothing more

    if standby:
        # Read the day's plan only once a schedule change to it can no longer be half way.
        lock_day(request.day, exclusive=False)
        _check_standby_open(request.day, earliest, latest, rules, now)
    else:
        _check_program_open(rules, now)
    check_youth(request.date_of_birth, request.day, request.has_guardian, rules)

    youth = upsert_youth(request)
    upcoming = upcoming_appointment(youth.id, now.date())
    if upcoming is not None:
        outbox.already_booked(upcoming.id, request.day, request.start, now, joining=kind.value)
        return None
    if standby:
        try:
            check_healed(youth.id, request.day, rules)
        except TooSoon as refusal:
            if refusal.last_visit_id is not None:
                outbox.too_soon(
                    refusal.last_visit_id,
                    refusal.earliest,
                    request.day,
                    request.start,
                    now,
                    joining=kind.value,
                )
            return None

    on_it = _waiting_entry_of(youth.id, kind, request.day if standby else None)
    if on_it is not None:
        # Already on this list: their place stays, and their link goes to the contact they
        # gave then (never to one typed now), at most once a day.
        outbox.link_again(now, entry_id=on_it.id)
        return on_it

    entry = ListEntry(
        kind=kind,
        youth_id=youth.id,
        day=request.day if standby else None,
        earliest=earliest if standby else None,
        latest=latest if standby else None,
        status=EntryStatus.WAITING,
        priority=0
        if standby
        else priority(
            request.tattoo_locations, request.referral_source, rules.offers.priority_rules
        ),
        rank=_next_rank(kind, request.day if standby else None),
        answers=answers_from(request),
        submission_key=request.submission_key,
        joined_at=naive_utc(now),
        **request.contact,
    )
    db.session.add(entry)
    db.session.flush()
    # In this transaction: the entry and the message with its link commit together.
    outbox.joined_list(entry.id, now)
    return entry


def answers_from(request: BookingRequest) -> dict[str, Any]:
    """What the entry keeps of the intake form: what its appointment's ``Intake`` will
    record when the youth takes an offered seat (JSON: lists, numbers, text)."""
    return {
        name: list(value) if isinstance(value, list | tuple) else value
        for name in INTAKE_ANSWERS
        for value in (getattr(request, name),)
    }


def _check_standby_open(
    day: date, earliest: time | None, latest: time | None, rules: ClinicRules, now: datetime
) -> None:
    availability = day_availability(day, rules, now)
    slots = [
        slot
        for slot in (availability.slots if availability is not None else [])
        if slot_fits(slot.plan.start, earliest, latest)
    ]
    if any(slot.bookable for slot in slots):
        raise ListNotOpen("open_times")
    if not any(slot.state is SlotState.FULL for slot in slots):
        # Closed, blocked, past or not open for booking yet: no seat there to wait for.
        raise ListNotOpen("not_offered")


def _check_program_open(rules: ClinicRules, now: datetime) -> None:
    if any(day.bookable for day in upcoming_days(rules, now)):
        raise ListNotOpen("open_times")


def _by_submission(submission_key: str) -> ListEntry | None:
    return db.session.scalar(
        select(ListEntry)
        .where(ListEntry.submission_key == submission_key)
        .options(joinedload(ListEntry.youth))
    )


def _repeats(entry: ListEntry, request: BookingRequest, kind: ListKind) -> bool:
    """Whether a submission repeats the one that made ``entry`` (same youth, same list)."""
    key = Youth.make_identity_key(request.first_name, request.last_name, request.date_of_birth)
    same_list = entry.kind == kind and (kind is ListKind.PROGRAM or entry.day == request.day)
    return entry.youth.identity_key == key and same_list


def _waiting_entry_of(youth_id: int, kind: ListKind, day: date | None) -> ListEntry | None:
    query = select(ListEntry).where(
        ListEntry.youth_id == youth_id,
        ListEntry.kind == kind,
        ListEntry.status == EntryStatus.WAITING,
    )
    if day is not None:
        query = query.where(ListEntry.day == day)
    return db.session.scalar(query)


def _next_rank(kind: ListKind, day: date | None) -> int:
    """The joining order: one more than anyone's on the list so far (two joining at the same
    instant may share one; the id then orders them)."""
    query = select(func.coalesce(func.max(ListEntry.rank), 0)).where(ListEntry.kind == kind)
    if day is not None:
        query = query.where(ListEntry.day == day)
    return db.session.scalar(query) + 1


# --- Leaving ---------------------------------------------------------------------------------


def leave(entry_id: int, rules: ClinicRules, now: datetime) -> None:
    """The youth leaves the list from their link. An offer out to them is withdrawn and its
    seat passed to the next person (under ``rules``). Raises ``NotOnList`` when the entry is
    no longer waiting."""
    with write_transaction():
        _close(entry_id, EntryStatus.LEFT, None, rules, now)


def remove(entry_id: int, actor: StaffUser, rules: ClinicRules, now: datetime) -> None:
    """Staff take an entry off its list (recorded as theirs). An offer out to it is withdrawn
    and its seat passed to the next person (under ``rules``). Raises ``NotOnList`` when the
    entry is no longer waiting."""
    with write_transaction():
        _close(entry_id, EntryStatus.REMOVED, actor.id, rules, now)


def _close(
    entry_id: int, status: EntryStatus, staff_id: int | None, rules: ClinicRules, now: datetime
) -> None:
    closed = db.session.execute(
        update(ListEntry)
        .where(ListEntry.id == entry_id, ListEntry.status == EntryStatus.WAITING)
        .values(status=status, closed_at=naive_utc(now), closed_by_id=staff_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not closed:
        raise NotOnList()
    audit.changed("list_entry", entry_id, ["status", "closed_at", "closed_by_id"])
    withdraw_offers([entry_id], rules, now)


# --- Reordering a standby list -------------------------------------------------------------


def move(entry_id: int, up: bool, actor: StaffUser) -> None:
    """Staff move a waiting entry one place up (towards the next seat) or down its day's
    standby list. The first cannot go up, nor the last down (nothing changes). Raises
    ``NotOnList`` when the entry is no longer waiting; the program list's order is its
    priority rules' and the joining dates', never moved by hand (``ValueError``)."""
    with write_transaction():
        entry = db.session.scalar(
            select(ListEntry)
            .where(ListEntry.id == entry_id, ListEntry.status == EntryStatus.WAITING)
            .execution_options(populate_existing=True)
        )
        if entry is None:
            raise NotOnList()
        if entry.kind != ListKind.STANDBY:
            raise ValueError("only a standby list is reordered by hand")
        # Lock the day's list: two staff moving entries at once take turns.
        db.session.execute(
            update(ListEntry)
            .where(ListEntry.kind == ListKind.STANDBY, ListEntry.day == entry.day)
            .values(rank=ListEntry.rank)
            .execution_options(synchronize_session=False)
        )
        order = list(
            db.session.scalars(
                select(ListEntry)
                .where(
                    ListEntry.kind == ListKind.STANDBY,
                    ListEntry.day == entry.day,
                    ListEntry.status == EntryStatus.WAITING,
                )
                .order_by(ListEntry.priority, ListEntry.rank, ListEntry.id)
                .execution_options(populate_existing=True)
            )
        )
        at = next((n for n, other in enumerate(order) if other.id == entry_id), None)
        if at is None:
            raise NotOnList()  # claimed or removed while the list's lock was awaited
        to = at - 1 if up else at + 1
        if not 0 <= to < len(order):
            return
        order[at], order[to] = order[to], order[at]
        # Renumbered from 1: ties from joins at the same instant cannot undo the move.
        for rank, other in enumerate(order, start=1):
            other.rank = rank
