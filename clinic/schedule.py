"""Schedule management: the admin shapes the coming clinic days.

The rule (``clinic_days``) makes the ordinary days; every staff change to one date
is its ``ClinicDay`` row (closed with a note, an extra day, other hours, slot length or seats)
and a slot taken out of the day is its ``Slot`` row with ``blocked`` set. The public booking
pages read both, so a change shows up for youth at once.

A change never drops a booking silently. Before it is written, ``stranded_bookings``
says which seat-holding bookings the new plan leaves without a seat; if any are still ahead
(booked or checked in), the change is refused with the list (``Stranding``) until the admin
chooses what happens to them: cancel them (and call them, from ``cancelled_by_schedule``),
move them to the nearest free time the same day, or, when the slot length stays (fewer seats,
other hours), keep them on the day sheet. The choice names the appointments the admin saw; if
the change, recomputed under the day's lock, strands one they did not see (someone booked
meanwhile), nothing is done and they are asked again.

Every change takes the day's lock exclusively before it reads anything, so a booking (which
takes it shared) either finishes first and is seen, or starts after and sees the new plan.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time

from dateutil.relativedelta import relativedelta
from sqlalchemy import case, delete, exists, func, or_, select, true, update
from sqlalchemy.orm import selectinload

from clinic import booking
from clinic.database import lock_day, write_transaction
from clinic.extensions import db
from clinic.messaging import outbox
from clinic.models import Appointment, ClinicDay, Slot, StaffUser, StatusChange, naive_utc
from clinic.permissions import Action, require
from clinic.rules.calendar import (
    DayDefaults,
    DayException,
    DayPlan,
    SlotPlan,
    clinic_days,
    day_slots,
    find_slot,
    plan_days,
)
from clinic.rules.eligibility import needs_guardian
from clinic.rules.policy import ClinicRules
from clinic.rules.schedule import stranded_bookings
from clinic.rules.visits import SEAT_HOLDING, VisitAction, VisitStatus, next_status, seat_change

# How far ahead the schedule page looks, and how far ahead an extra day may be added (so
# that every extra day is on the page that manages it).
HORIZON = relativedelta(months=6)
MAX_SLOT_MINUTES = 240
MAX_SEATS = 20
NOTE_LENGTH = 200

# The history action of an appointment cancelled because its day or time was taken out of the
# schedule. Not the desk's "cancel": it must not be undone from the day sheet (that would put a
# booking back on a closed day), and the contact list finds these by it.
SCHEDULE_CANCEL = "schedule_cancel"

# Bookings a change may cancel or move: still ahead of the youth. Completed, no-show and
# cancelled ones are history; someone in treatment is already being seen.
ACTIVE = (VisitStatus.BOOKED, VisitStatus.CHECKED_IN)


# --- Refusals ----------------------------------------------------------------------------


class ScheduleError(Exception):
    """A schedule change refused by a rule; the view explains it."""


class DayPassed(ScheduleError):
    """A day in the past cannot be changed: it is the record of what happened."""


class NotAClinicDay(ScheduleError):
    """The clinic does not open that day (not on the rule, or closed), so it cannot be
    closed, changed or have a slot blocked."""


class AlreadyAClinicDay(ScheduleError):
    """An extra day on a date the clinic already opens."""


class ClosedDay(ScheduleError):
    """An extra day on a date that was closed: reopen it instead."""


class TooFarAhead(ScheduleError):
    """An extra day beyond the schedule page's horizon."""


class NotClosed(ScheduleError):
    pass


class NotExtra(ScheduleError):
    """Only an extra day can be removed; a regular day is closed instead."""


class NoSuchSlot(ScheduleError):
    """The day has no appointment time starting then."""


class InvalidHours(ScheduleError):
    """Hours, slot length or seats that cannot make a clinic day. ``field`` is the form field
    concerned; ``reason`` one of ``HOURS_REASONS``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


HOURS_REASONS = ("end_before_start", "slot_minutes", "seats", "no_slots")


class Resolution(enum.StrEnum):
    """What the admin chose for the bookings a change would strand."""

    CANCEL = "cancel"  # cancel them; staff contact them
    MOVE = "move"  # to the nearest free time the same day
    KEEP = "keep"  # fewer seats or shorter hours: they stay, listed on the day sheet


@dataclass(frozen=True)
class Affected:
    """A booking a change would strand (or did: the call list), with what the admin needs to
    decide and to call."""

    id: int
    code: str
    start: time
    status: str
    name: str
    phone: str | None
    email: str | None
    language: str
    minor: bool
    guardian_name: str | None
    guardian_phone: str | None


class Stranding(ScheduleError):
    """The change would strand these bookings: the admin must choose one of ``options``.

    ``changed`` means the admin had chosen already, but the list now holds a booking they did
    not see (someone booked meanwhile): nothing was done, and they are asked again. ``movable`` says
    whether every one of them fits in a free seat of the new plan the same day.
    """

    def __init__(
        self,
        affected: list[Affected],
        options: tuple[Resolution, ...],
        movable: bool,
        changed: bool = False,
    ) -> None:
        super().__init__(f"{len(affected)} bookings")
        self.affected = affected
        self.options = options
        self.movable = movable
        self.changed = changed


class CannotMove(Stranding):
    """The admin chose to move the bookings, but not every one fits in a free seat the same
    day: nothing was done, and the other choices stand."""

    def __init__(self, affected: list[Affected], options: tuple[Resolution, ...]) -> None:
        super().__init__(affected, options, movable=False)


class ChangedMeanwhile(ScheduleError):
    """A booking changed status while the change was being made (the desk cancelled or
    checked it in): nothing was done."""


# --- Reading the schedule ----------------------------------------------------------------


@dataclass(frozen=True)
class Hours:
    """Hours, slot length and seats for one date; None keeps the clinic's default."""

    start: time | None = None
    end: time | None = None
    slot_minutes: int | None = None
    seats: int | None = None


@dataclass(frozen=True)
class ScheduleDay:
    """One date of the schedule page: a clinic day (regular or extra), or a closed one."""

    day: date
    plan: DayPlan | None  # None: closed
    note: str | None
    changed: bool  # hours, slot length or seats differ from the defaults
    slots: int
    seats: int  # seats of the slots that are not blocked
    booked: int
    seats_left: int
    blocked: int

    @property
    def closed(self) -> bool:
        return self.plan is None

    @property
    def extra(self) -> bool:
        return bool(self.plan and self.plan.extra)


def horizon_end(today: date) -> date:
    return today + HORIZON


def overview(rules: ClinicRules, today: date) -> list[ScheduleDay]:
    """The clinic days from ``today`` to six months ahead, with the closed ones among them,
    and for each its seats booked and left.

    Two queries whatever the number of days or bookings: the staff changes of the range, and
    the slot rows of the range that hold a booking or are blocked.
    """
    end = horizon_end(today)
    rows = {
        row.day: row
        for row in db.session.scalars(select(ClinicDay).where(ClinicDay.day.between(today, end)))
    }
    plans = plan_days(today, end, rules.day, [row.as_exception() for row in rows.values()])
    booked: dict[date, dict[time, int]] = {}
    blocked: dict[date, set[time]] = {}
    for slot_day, start, taken, is_blocked in db.session.execute(
        select(Slot.day, Slot.start_time, Slot.booked, Slot.blocked).where(
            Slot.day.between(today, end), or_(Slot.booked > 0, Slot.blocked.is_(True))
        )
    ):
        booked.setdefault(slot_day, {})[start] = taken
        if is_blocked:
            blocked.setdefault(slot_day, set()).add(start)

    days = []
    for plan in plans:
        taken = booked.get(plan.day, {})
        shut = blocked.get(plan.day, set())
        open_slots = [s for s in day_slots(plan) if s.start not in shut]
        row = rows.get(plan.day)
        days.append(
            ScheduleDay(
                day=plan.day,
                plan=plan,
                note=None,
                changed=row is not None
                and any(
                    value is not None
                    for value in (row.start_time, row.end_time, row.slot_minutes, row.seats)
                ),
                slots=len(day_slots(plan)),
                seats=sum(s.seats for s in open_slots),
                booked=sum(taken.values()),
                seats_left=sum(max(s.seats - taken.get(s.start, 0), 0) for s in open_slots),
                blocked=len(shut),
            )
        )
    for row in rows.values():
        if row.closed and (row.extra or clinic_days(row.day, row.day)):
            days.append(
                ScheduleDay(
                    day=row.day,
                    plan=None,
                    note=row.note,
                    changed=False,
                    slots=0,
                    seats=0,
                    booked=sum(booked.get(row.day, {}).values()),
                    seats_left=0,
                    blocked=0,
                )
            )
    return sorted(days, key=lambda d: d.day)


@dataclass(frozen=True)
class EditorSlot:
    start: time
    end: time
    seats: int
    booked: int
    blocked: bool
    in_plan: bool  # False: a slot outside the day's hours that still holds bookings

    @property
    def seats_left(self) -> int:
        return 0 if self.blocked else max(self.seats - self.booked, 0)


@dataclass(frozen=True)
class DayEditor:
    """One date as the admin edits it."""

    day: date
    plan: DayPlan | None  # None: closed
    regular: bool  # a day the rule makes (else an extra day)
    closed: bool
    note: str | None
    hours: Hours  # what staff set for this date (None: the default)
    slots: list[EditorSlot]
    cancelled: int  # appointments cancelled by schedule changes: the contact list

    @property
    def extra(self) -> bool:
        return not self.regular

    @property
    def booked(self) -> int:
        return sum(slot.booked for slot in self.slots)


def day_editor(day: date, rules: ClinicRules) -> DayEditor | None:
    """One date with its slots, seats and blocks, or None when it is not a clinic day (on
    the rule or extra) and was not closed either."""
    row = _clinic_day(day)
    regular = bool(clinic_days(day, day))
    if not regular and not (row and row.extra):
        return None
    plan = _plan(day, _setting_of(row), rules)
    rows = db.session.scalars(select(Slot).where(Slot.day == day).order_by(Slot.start_time)).all()
    by_start = {slot.start_time: slot for slot in rows}
    slots = [
        EditorSlot(
            s.start,
            s.end,
            s.seats,
            by_start[s.start].booked if s.start in by_start else 0,
            bool(s.start in by_start and by_start[s.start].blocked),
            True,
        )
        for s in (day_slots(plan) if plan else [])
    ]
    planned = {slot.start for slot in slots}
    slots += [
        EditorSlot(slot.start_time, slot.end_time, 0, slot.booked, slot.blocked, False)
        for slot in rows
        if slot.start_time not in planned and slot.booked > 0
    ]
    return DayEditor(
        day=day,
        plan=plan,
        regular=regular,
        closed=bool(row and row.closed),
        note=row.note if row and row.closed else None,
        hours=_hours_of(row),
        slots=sorted(slots, key=lambda s: s.start),
        cancelled=_count_schedule_cancelled(day),
    )


def _clinic_day(day: date) -> ClinicDay | None:
    return db.session.scalar(select(ClinicDay).where(ClinicDay.day == day))


def _hours_of(row: ClinicDay | None) -> Hours:
    if row is None:
        return Hours()
    return Hours(row.start_time, row.end_time, row.slot_minutes, row.seats)


def _count_schedule_cancelled(day: date) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Appointment)
            .join(Slot, Slot.id == Appointment.slot_id)
            .where(Slot.day == day, _cancelled_by_schedule())
        )
        or 0
    )


def _cancelled_by_schedule():
    return (Appointment.status == VisitStatus.CANCELLED) & exists().where(
        StatusChange.appointment_id == Appointment.id, StatusChange.action == SCHEDULE_CANCEL
    )


def cancelled_by_schedule(day: date, rules: ClinicRules) -> list[Affected]:
    """The appointments of ``day`` that a schedule change cancelled, in time order, with the
    contact given on each booking (else the youth's record): the admin's call list."""
    rows = db.session.execute(
        select(Appointment, Slot.start_time)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Slot.day == day, _cancelled_by_schedule())
        .options(selectinload(Appointment.youth), selectinload(Appointment.intake))
        .order_by(Slot.start_time, Appointment.id)
    ).all()
    return [_affected(appointment, start, day, rules) for appointment, start in rows]


def _affected(appointment: Appointment, start: time, day: date, rules: ClinicRules) -> Affected:
    """Plain values (they outlive the transaction), contact from the booking's own intake
    first: contact details belong to a booking."""
    youth = appointment.youth
    intake = appointment.intake
    source = intake if intake is not None else youth
    minor = youth.date_of_birth <= day and needs_guardian(youth.date_of_birth, day, rules.ages)
    return Affected(
        id=appointment.id,
        code=appointment.code,
        start=start,
        status=appointment.status,
        name=youth.display_name,
        phone=source.phone or youth.phone,
        email=source.email or youth.email,
        language=source.language or youth.language,
        minor=minor,
        guardian_name=(source.guardian_name or youth.guardian_name) if minor else None,
        guardian_phone=(source.guardian_phone or youth.guardian_phone) if minor else None,
    )


# --- Changing the schedule ---------------------------------------------------------------


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
    if _minutes(end) - _minutes(start) < (hours.slot_minutes or defaults.slot_minutes):
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
        row = _clinic_day(day)
        if row is not None and row.closed:
            raise ClosedDay()
        if _plan(day, _setting_of(row), rules) is not None:
            raise AlreadyAClinicDay()
        _store(row, _Setting(extra=True, hours=hours), day)
    return Outcome(day)


@dataclass(frozen=True)
class _Setting:
    """What a date's ``ClinicDay`` row says, as a value a change can replace."""

    closed: bool = False
    extra: bool = False
    hours: Hours = Hours()
    note: str | None = None


def _setting_of(row: ClinicDay | None) -> _Setting | None:
    if row is None:
        return None
    return _Setting(row.closed, row.extra, _hours_of(row), row.note)


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

    def write(setting: _Setting | None) -> _Setting:
        return replace(setting or _Setting(), closed=True, note=note or None)

    return _change(day, actor, now, rules, write, resolution=resolution, seen=seen)


def reopen_day(day: date, actor: StaffUser, now: datetime, rules: ClinicRules) -> Outcome:
    """Open a closed day again, as it was planned. Its cancelled bookings stay cancelled:
    those youth book again."""

    def write(setting: _Setting | None) -> _Setting:
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

    def write(setting: _Setting | None) -> _Setting:
        return replace(setting or _Setting(), hours=hours)

    return _change(
        day, actor, now, rules, write, resolution=resolution, seen=seen, keep_allowed=True
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

    def write(setting: _Setting | None) -> None:
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


# --- The one way a day changes -----------------------------------------------------------


@dataclass
class _Day:
    """A date as it stands, read under its exclusive lock."""

    row: ClinicDay | None
    plan: DayPlan | None
    slots: list[Slot]

    @property
    def blocked(self) -> frozenset[time]:
        return frozenset(slot.start_time for slot in self.slots if slot.blocked)


def _change(
    day: date,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    write: Callable[[_Setting | None], _Setting | None] | None,
    *,
    resolution: Resolution | None = None,
    seen: Collection[int] = (),
    block: time | None = None,
    unblock: time | None = None,
    needs_open: bool = True,
    keep_allowed: bool = False,
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
        current = _load(day, rules)
        if needs_open and current.plan is None:
            raise NotAClinicDay()

        setting = _setting_of(current.row)
        if write is not None:
            setting = write(setting)
        new_plan = _plan(day, setting, rules)
        new_blocked = current.blocked
        if block is not None:
            if current.plan is None or find_slot(current.plan, block) is None:
                raise NoSuchSlot()
            new_blocked = new_blocked | {block}
        if unblock is not None:
            if unblock not in current.blocked:
                raise NoSuchSlot()
            new_blocked = new_blocked - {unblock}

        affected = _stranded(current, new_plan, new_blocked, rules, day)
        placements = None
        if affected:
            options = _options(current.plan, new_plan, keep_allowed)
            if Resolution.MOVE in options:
                placements = _placements(affected, current, new_plan, new_blocked, now)
            if resolution is None or resolution not in options:
                raise Stranding(affected, options, movable=placements is not None)
            if not {a.id for a in affected} <= set(seen):
                raise Stranding(affected, options, placements is not None, changed=True)
            if resolution is Resolution.MOVE and placements is None:
                raise CannotMove(affected, options)

        if write is not None:
            _store(current.row, setting, day)
        if block is not None:
            _set_blocked(day, block, True, current.plan)
        if unblock is not None:
            _set_blocked(day, unblock, False, current.plan)
        if resolution is Resolution.CANCEL:
            outcome.cancelled = _cancel(affected, actor, now)
        elif resolution is Resolution.MOVE and placements is not None:
            outcome.moved = _move(placements, current, actor, now)
        elif resolution is Resolution.KEEP:
            outcome.kept = len(affected)
        _tidy(day, new_plan)
    return outcome


def _plan(day: date, setting: _Setting | None, rules: ClinicRules) -> DayPlan | None:
    exceptions = []
    if setting is not None:
        hours = setting.hours
        exceptions.append(
            DayException(
                day=day,
                closed=setting.closed,
                extra=setting.extra,
                start=hours.start,
                end=hours.end,
                slot_minutes=hours.slot_minutes,
                seats=hours.seats,
            )
        )
    plans = plan_days(day, day, rules.day, exceptions)
    return plans[0] if plans else None


def _store(row: ClinicDay | None, setting: _Setting | None, day: date) -> None:
    """Write a date's new setting; a row that would change nothing any more is removed."""
    if setting is None or setting == _Setting():
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


def _load(day: date, rules: ClinicRules) -> _Day:
    row = _clinic_day(day)
    slots = db.session.scalars(
        select(Slot)
        .where(Slot.day == day)
        .options(
            selectinload(Slot.appointments).options(
                selectinload(Appointment.youth), selectinload(Appointment.intake)
            )
        )
        .order_by(Slot.start_time)
    ).all()
    return _Day(row, _plan(day, _setting_of(row), rules), list(slots))


def _stranded(
    current: _Day,
    new_plan: DayPlan | None,
    new_blocked: Iterable[time],
    rules: ClinicRules,
    day: date,
) -> list[Affected]:
    """The bookings still ahead that the new plan leaves without a seat.

    Per slot, ``stranded_bookings`` says how many seats are stranded: all of them
    when the time goes, the surplus when its seats shrink. Of a surplus, the newest bookings
    not yet arrived go first; history (completed, in treatment) is never touched.
    """
    holding = {
        slot.start_time: [a for a in slot.appointments if a.status in SEAT_HOLDING]
        for slot in current.slots
    }
    counts = {start: len(held) for start, held in holding.items()}
    affected = []
    for stranded in stranded_bookings(counts, new_plan, new_blocked):
        active = [a for a in holding[stranded.start] if a.status in ACTIVE]
        active.sort(key=lambda a: (a.status == VisitStatus.CHECKED_IN, -a.id))
        affected += [_affected(a, stranded.start, day, rules) for a in active[: stranded.count]]
    return sorted(affected, key=lambda a: (a.start, a.id))


def _options(
    old_plan: DayPlan | None, new_plan: DayPlan | None, keep_allowed: bool
) -> tuple[Resolution, ...]:
    """The choices a change offers for the bookings it strands: with no clinic left that
    day, only cancelling; keeping them only where their slot keeps its length (fewer seats,
    shorter hours), so the day sheet still lists them at their own time."""
    if new_plan is None:
        return (Resolution.CANCEL,)
    if keep_allowed and old_plan is not None and new_plan.slot_minutes == old_plan.slot_minutes:
        return (Resolution.CANCEL, Resolution.MOVE, Resolution.KEEP)
    return (Resolution.CANCEL, Resolution.MOVE)


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _placements(
    affected: list[Affected],
    current: _Day,
    new_plan: DayPlan | None,
    new_blocked: frozenset[time],
    now: datetime,
) -> list[tuple[Affected, SlotPlan]] | None:
    """Where each stranded booking goes: the nearest time the same day (the earlier one on a
    tie) with a free seat in the new plan, not blocked and not started yet. None if not all
    of them fit."""
    if new_plan is None:
        return None
    leaving = Counter(a.start for a in affected)
    held = {
        slot.start_time: sum(a.status in SEAT_HOLDING for a in slot.appointments)
        for slot in current.slots
    }
    slots = {
        slot.start: slot
        for slot in day_slots(new_plan)
        if slot.start not in new_blocked and (new_plan.day > now.date() or slot.start > now.time())
    }
    free = {
        start: slot.seats - (held.get(start, 0) - leaving[start]) for start, slot in slots.items()
    }
    placements = []
    for item in affected:
        choices = [start for start, seats in free.items() if seats > 0]
        if not choices:
            return None
        target = min(choices, key=lambda s: (abs(_minutes(s) - _minutes(item.start)), s))
        free[target] -= 1
        placements.append((item, slots[target]))
    return placements


def _cancel(affected: list[Affected], actor: StaffUser, now: datetime) -> list[str]:
    """Cancel each booking as last read (conditional on that status), free its seat, and
    record the move as a schedule cancellation."""
    at = naive_utc(now)
    codes = []
    for item in affected:
        old = VisitStatus(item.status)
        new = next_status(old, VisitAction.CANCEL)
        slot_id = db.session.execute(
            update(Appointment)
            .where(Appointment.id == item.id, Appointment.status == old)
            .values(status=new, cancelled_at=at, cancelled_by_id=actor.id)
            .returning(Appointment.slot_id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if slot_id is None:
            raise ChangedMeanwhile()
        if seat_change(old, new) < 0:
            _free_seat(slot_id)
        db.session.add(
            StatusChange(
                appointment_id=item.id,
                action=SCHEDULE_CANCEL,
                from_status=old.value,
                to_status=new.value,
                staff_id=actor.id,
                at=at,
            )
        )
        if old is VisitStatus.BOOKED:
            outbox.cancelled(item.id, now, by_clinic=True, staff_id=actor.id)
        codes.append(item.code)
    return codes


def _move(
    placements: list[tuple[Affected, SlotPlan]],
    current: _Day,
    actor: StaffUser,
    now: datetime,
) -> list[tuple[str, time, time]]:
    """Give each booking a seat at its new time (the same conditional UPDATE as a booking),
    then free its old one. The appointment keeps its code and status."""
    old_slot = {a.id: slot.id for slot in current.slots for a in slot.appointments}
    moved = []
    for item, target in placements:
        try:
            slot_id = booking.take_seat(target)
        except booking.SlotUnavailable:
            # Bookings and walk-ins wait for the day's lock; only a desk move that does not
            # take it (an undo) can have taken this seat. Look at the day again.
            raise ChangedMeanwhile() from None
        changed = db.session.execute(
            update(Appointment)
            .where(
                Appointment.id == item.id,
                Appointment.status == item.status,
                Appointment.slot_id == old_slot[item.id],
            )
            .values(slot_id=slot_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            raise ChangedMeanwhile()
        _free_seat(old_slot[item.id])
        if item.status == VisitStatus.BOOKED and target.start != item.start:
            outbox.moved(item.id, item.start, now, staff_id=actor.id)
        moved.append((item.code, item.start, target.start))
    return moved


def _free_seat(slot_id: int) -> None:
    db.session.execute(
        update(Slot)
        .where(Slot.id == slot_id)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )


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
    db.session.execute(
        update(Slot)
        .where(Slot.day == day, Slot.start_time == start)
        .values(blocked=blocked)
        .execution_options(synchronize_session=False)
    )


def _tidy(day: date, plan: DayPlan | None) -> None:
    """Make the day's slot rows match its new plan. Rows no appointment ever used whose time
    is gone are removed (the day sheet lists every row, so it would show empty times outside
    the hours); the others take the plan's end and seats, never fewer than the seats taken
    (the CHECK on the counter)."""
    planned = day_slots(plan) if plan else []
    unused = ~exists().where(Appointment.slot_id == Slot.id)
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
