"""Use cases: the admin changes the schedule. Each change is one transaction that takes the
day's lock exclusively before it reads anything, so a booking (which takes it shared) either
finishes first and is seen, or starts after and sees the new plan; and none drops a booking
silently (``clinic.schedule.strand``)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time

from sqlalchemy import case, delete, exists, insert, select, true, update

from clinic import audit, booking
from clinic.booking import offers
from clinic.database import lock_day, write_transaction
from clinic.extensions import db
from clinic.models import Appointment, ClinicDay, RosterEntry, SeatOffer, Slot, StaffUser
from clinic.permissions import Action, Role, require
from clinic.rules.calendar import (
    DayDefaults,
    DayPlan,
    day_slots,
    find_slot,
)
from clinic.rules.policy import ClinicRules
from clinic.schedule.days import (
    MAX_SEATS,
    MAX_SLOT_MINUTES,
    Hours,
    Resolution,
    Setting,
    clinic_day_row,
    horizon_end,
    load_day,
    minutes_of,
    plan_for,
    setting_of,
)
from clinic.schedule.errors import (
    AlreadyAClinicDay,
    CannotMove,
    ClosedDay,
    DayPassed,
    InvalidHours,
    NoSuchSlot,
    NotAClinicDay,
    NotAClinician,
    NotClosed,
    NotExtra,
    Stranding,
    TooFarAhead,
)
from clinic.schedule.strand import (
    cancel_stranded,
    move_stranded,
    options_for,
    placements_for,
    stranded_by,
)


@dataclass
class Outcome:
    """What a change did: the codes it cancelled, the moves it made (code, from, to), and how
    many bookings it kept outside the new plan."""

    day: date
    cancelled: list[str] = field(default_factory=list)
    moved: list[tuple[str, time, time]] = field(default_factory=list)
    kept: int = 0


def check_hours(hours: Hours, defaults: DayDefaults) -> None:
    """Refuse hours that cannot make a clinic day.

    Rule: the end after the start (each defaulting to the clinic's), a slot of 1 to 240
    minutes, 0 to 20 seats, and room for at least one slot.
    """
    if hours.slot_minutes is not None and not 0 < hours.slot_minutes <= MAX_SLOT_MINUTES:
        raise InvalidHours("slot_minutes", "slot_minutes")
    if hours.seats is not None and not 0 <= hours.seats <= MAX_SEATS:
        raise InvalidHours("seats", "seats")
    start = hours.start or defaults.start
    end = hours.end or defaults.end
    if end <= start:
        raise InvalidHours("end" if hours.end else "start", "end_before_start")
    if minutes_of(end) - minutes_of(start) < (hours.slot_minutes or defaults.slot_minutes):
        concerned = "slot_minutes" if hours.slot_minutes else "end" if hours.end else "start"
        raise InvalidHours(concerned, "no_slots")


def add_extra_day(
    day: date, hours: Hours, actor: StaffUser, now: datetime, rules: ClinicRules
) -> Outcome:
    """Open the clinic on a date the rule does not, with the given hours (or the defaults).

    Rule: today or later, within the schedule's six months, not a date the clinic already
    opens, and not a closed clinic day (that one is reopened instead).
    """
    require(actor.role, Action.MANAGE_SCHEDULE)
    today = now.date()
    if day < today:
        raise DayPassed()
    if day > horizon_end(today):
        raise TooFarAhead()
    check_hours(hours, rules.day)
    with write_transaction():
        lock_day(day, exclusive=True)
        row = clinic_day_row(day)
        if row is not None and row.closed:
            raise ClosedDay()
        if plan_for(day, setting_of(row), rules) is not None:
            raise AlreadyAClinicDay()
        _store(row, Setting(extra=True, hours=hours), day)
        db.session.flush()
        # A new day is free seats: the waiting list hears of them at once.
        offers.fill_freed(day, rules, now)
    return Outcome(day)


def close_day(
    day: date,
    note: str | None,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    resolution: Resolution | None = None,
    seen: Collection[int] = (),
) -> Outcome:
    """Close a clinic day (a holiday, a broken laser), with a note staff see on the day.

    Rule: its bookings still ahead are never dropped silently: the change waits until the
    admin chooses to cancel them (the only choice, since no seat is left that day).
    """

    def write(setting: Setting | None) -> Setting:
        return replace(setting or Setting(), closed=True, note=note or None)

    return _change(day, actor, now, rules, write, resolution=resolution, seen=seen)


def reopen_day(day: date, actor: StaffUser, now: datetime, rules: ClinicRules) -> Outcome:
    """Open a closed day again, as it was planned. Its cancelled bookings stay cancelled:
    those youth book again."""

    def write(setting: Setting | None) -> Setting:
        if setting is None or not setting.closed:
            raise NotClosed()
        return replace(setting, closed=False, note=None)

    return _change(day, actor, now, rules, write, needs_open=False)


def change_hours(
    day: date,
    hours: Hours,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    resolution: Resolution | None = None,
    seen: Collection[int] = (),
) -> Outcome:
    """Set the hours, slot length and seats of one date (None: the default).

    Rule: a change that leaves bookings without a seat waits for the admin's choice: cancel
    them, move them to the nearest free time that day, or, when the slot length stays and
    only the hours or seats change, keep them (the day sheet still lists them).
    """
    check_hours(hours, rules.day)

    def write(setting: Setting | None) -> Setting:
        return replace(setting or Setting(), hours=hours)

    return _change(
        day, actor, now, rules, write, resolution=resolution, seen=seen, keep_allowed=True
    )


def set_roster(
    day: date,
    staff_ids: Collection[int],
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    resolution: Resolution | None = None,
    seen: Collection[int] = (),
) -> Outcome:
    """Roster these clinicians (active clinician accounts) on one clinic day, and only them.

    Rule: the day's seats per slot follow from the roster (``roster_seats``) unless seats were
    set for the date, and its stations are the first ones, one per clinician; nobody rostered
    is the ordinary day. Fewer seats under existing bookings wait for the admin's choice, as
    any other change: cancel, move, or keep them (the slot length stays).
    """
    roster = frozenset(staff_ids)
    return _change(
        day,
        actor,
        now,
        rules,
        None,
        resolution=resolution,
        seen=seen,
        keep_allowed=True,
        roster=roster,
    )


def remove_extra_day(
    day: date,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    resolution: Resolution | None = None,
    seen: Collection[int] = (),
) -> Outcome:
    """Take an extra day off the schedule. Its bookings still ahead are cancelled first, by
    the admin's choice, as when a day is closed."""

    def write(setting: Setting | None) -> None:
        if setting is None or not setting.extra:
            raise NotExtra()
        return None

    return _change(
        day, actor, now, rules, write, resolution=resolution, seen=seen, needs_open=False
    )


def block_slot(
    day: date,
    start: time,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    resolution: Resolution | None = None,
    seen: Collection[int] = (),
) -> Outcome:
    """Take one appointment time out of a day: it takes no booking or walk-in. Its bookings
    are cancelled or moved to the nearest free time, as the admin chooses."""
    return _change(day, actor, now, rules, None, resolution=resolution, seen=seen, block=start)


def unblock_slot(
    day: date, start: time, actor: StaffUser, now: datetime, rules: ClinicRules
) -> Outcome:
    """Offer a blocked time again (nothing to strand: it only adds seats)."""
    return _change(day, actor, now, rules, None, unblock=start, needs_open=False)


def _change(
    day: date,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    write: Callable[[Setting | None], Setting | None] | None,
    *,
    resolution: Resolution | None = None,
    seen: Collection[int] = (),
    block: time | None = None,
    unblock: time | None = None,
    needs_open: bool = True,
    keep_allowed: bool = False,
    roster: frozenset[int] | None = None,
) -> Outcome:
    """Apply one change to a date: its row, a slot's block, and the admin's choice for the
    bookings the change strands, all in one transaction under the day's exclusive lock."""
    require(actor.role, Action.MANAGE_SCHEDULE)
    if day < now.date():
        raise DayPassed()
    outcome = Outcome(day)
    with write_transaction():
        # Before any read: bookings take this lock shared, so none is half way through.
        lock_day(day, exclusive=True)
        current = load_day(day, rules)
        if needs_open and current.plan is None:
            raise NotAClinicDay()

        setting = setting_of(current.row)
        if write is not None:
            setting = write(setting)
        if roster is not None:
            _check_clinicians(roster)
        new_roster = current.roster if roster is None else roster
        new_plan = plan_for(day, setting, rules, len(new_roster))
        new_blocked = current.blocked
        if block is not None:
            if current.plan is None or find_slot(current.plan, block) is None:
                raise NoSuchSlot()
            new_blocked = new_blocked | {block}
        if unblock is not None:
            if unblock not in current.blocked:
                raise NoSuchSlot()
            new_blocked = new_blocked - {unblock}

        affected = stranded_by(current, new_plan, new_blocked, rules, day)
        placements = None
        if affected:
            options = options_for(current.plan, new_plan, keep_allowed)
            if Resolution.MOVE in options:
                placements = placements_for(affected, current, new_plan, new_blocked, now)
            if resolution is None or resolution not in options:
                raise Stranding(affected, options, movable=placements is not None)
            if not {a.id for a in affected} <= set(seen):
                raise Stranding(affected, options, placements is not None, changed=True)
            if resolution is Resolution.MOVE and placements is None:
                raise CannotMove(affected, options)

        if write is not None:
            _store(current.row, setting, day)
        if roster is not None:
            _store_roster(day, roster)
        if block is not None:
            _set_blocked(day, block, True, current.plan)
        if unblock is not None:
            _set_blocked(day, unblock, False, current.plan)
        if resolution is Resolution.CANCEL:
            outcome.cancelled = cancel_stranded(affected, actor, now)
        elif resolution is Resolution.MOVE and placements is not None:
            outcome.moved = move_stranded(placements, current, actor, now)
        elif resolution is Resolution.KEEP:
            outcome.kept = len(affected)
        # A seat held for someone on a list that the change takes away is theirs no more
        # (before the tidy: an offered seat keeps its slot row, as a booked one does).
        offers.withdraw_unscheduled(day, rules, now)
        _tidy(day, new_plan)
        if new_plan is not None:
            # Seats added, a time unblocked, bookings cancelled: whatever freed goes to the
            # day's standby list, then the waiting list, in this same transaction.
            offers.fill_freed(day, rules, now)
    return outcome


def _store(row: ClinicDay | None, setting: Setting | None, day: date) -> None:
    """Write a date's new setting; a row that would change nothing any more is removed."""
    if setting is None or setting == Setting():
        if row is not None:
            db.session.delete(row)
        return
    if row is None:
        row = ClinicDay(day=day)
        db.session.add(row)
    row.closed = setting.closed
    row.extra = setting.extra
    row.note = setting.note
    row.start_time = setting.hours.start
    row.end_time = setting.hours.end
    row.slot_minutes = setting.hours.slot_minutes
    row.seats = setting.hours.seats
    db.session.flush()


def _check_clinicians(staff_ids: frozenset[int]) -> None:
    """Every id an active clinician's account (read in the change's transaction)."""
    if not staff_ids:
        return
    found = db.session.scalars(
        select(StaffUser.id).where(
            StaffUser.id.in_(staff_ids),
            StaffUser.active.is_(True),
            StaffUser.role == Role.CLINICIAN,
        )
    ).all()
    if set(found) != staff_ids:
        raise NotAClinician()


def _store_roster(day: date, staff_ids: frozenset[int]) -> None:
    """Make the day's roster rows exactly ``staff_ids``: rows of anyone else go (a
    deactivated clinician's too), the missing ones are added. Core statements, audited here."""
    existing = dict(
        db.session.execute(
            select(RosterEntry.staff_id, RosterEntry.id).where(RosterEntry.day == day)
        ).all()
    )
    gone = [entry_id for staff_id, entry_id in existing.items() if staff_id not in staff_ids]
    if gone:
        db.session.execute(
            delete(RosterEntry)
            .where(RosterEntry.id.in_(gone))
            .execution_options(synchronize_session=False)
        )
        for entry_id in gone:
            audit.changed("roster_entry", entry_id, action=audit.DELETE)
    for staff_id in sorted(staff_ids - existing.keys()):
        entry_id = db.session.execute(
            insert(RosterEntry).values(day=day, staff_id=staff_id).returning(RosterEntry.id)
        ).scalar_one()
        audit.changed("roster_entry", entry_id, ["day", "staff_id"], action=audit.CREATE)


def _set_blocked(day: date, start: time, blocked: bool, plan: DayPlan | None) -> None:
    slot = find_slot(plan, start) if plan else None
    if slot is not None:
        # Blocking a time nobody booked yet: its row is made here.
        booking.insert_ignoring_conflict(
            Slot,
            {
                "day": day,
                "start_time": start,
                "end_time": slot.end,
                "capacity": slot.seats,
                "booked": 0,
            },
        )
    slot_ids = db.session.scalars(
        update(Slot)
        .where(Slot.day == day, Slot.start_time == start)
        .values(blocked=blocked)
        .returning(Slot.id)
        .execution_options(synchronize_session=False)
    ).all()
    for slot_id in slot_ids:
        audit.changed("slot", slot_id, ["blocked"])


def _tidy(day: date, plan: DayPlan | None) -> None:
    """Make the day's slot rows match its new plan. Rows no appointment or offer ever used
    whose time is gone are removed (the day sheet lists every row, so it would show empty
    times outside the hours); the others take the plan's end and seats, never fewer than the
    seats taken (the CHECK on the counter)."""
    planned = day_slots(plan) if plan else []
    # Offers made for a slot keep it too (their history, and the foreign key).
    unused = ~exists().where(Appointment.slot_id == Slot.id) & ~exists().where(
        SeatOffer.slot_id == Slot.id
    )
    gone = Slot.start_time.not_in([slot.start for slot in planned]) if planned else true()
    db.session.execute(
        delete(Slot)
        .where(Slot.day == day, unused, gone)
        .execution_options(synchronize_session=False)
    )
    for slot in planned:
        db.session.execute(
            update(Slot)
            .where(Slot.day == day, Slot.start_time == slot.start)
            .values(
                end_time=slot.end,
                capacity=case((Slot.booked > slot.seats, Slot.booked), else_=slot.seats),
            )
            .execution_options(synchronize_session=False)
        )
