"""The clinic's scheduling rules, as pure functions over plain values.

Nothing here imports Flask or SQLAlchemy or reads the clock: callers pass ``today`` / ``now``
and the settings. That keeps every rule testable with a parametrized table and no app.

Times of day are wall-clock times in the clinic's time zone. Where a rule compares instants
(the booking cut-off), it takes time-zone-aware datetimes and compares them in UTC, so that a
daylight-saving change cannot shift a cut-off by an hour.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import MONTHLY, TU, rrule

# --- Clinic days -------------------------------------------------------------------------


def clinic_days(start: date, end: date) -> list[date]:
    """Return the regular clinic days from ``start`` to ``end``, both inclusive.

    Rule: the clinic opens on the second-to-last and the last Tuesday of every month,
    whether the month has four Tuesdays or five.
    """
    if end < start:
        return []
    recurrence = rrule(
        MONTHLY,
        byweekday=(TU(-2), TU(-1)),
        dtstart=datetime.combine(start, time()),
        until=datetime.combine(end, time()),
    )
    return [occurrence.date() for occurrence in recurrence]


@dataclass(frozen=True)
class DayDefaults:
    """The shape of an ordinary clinic day (settings)."""

    start: time = time(16, 0)
    end: time = time(20, 0)
    slot_minutes: int = 20
    seats: int = 2


@dataclass(frozen=True)
class DayException:
    """A per-date change to the regular schedule, as stored by staff.

    ``closed`` cancels the day; ``extra`` adds a day the rule does not generate; any other
    field left as None keeps the default for that date.
    """

    day: date
    closed: bool = False
    extra: bool = False
    start: time | None = None
    end: time | None = None
    slot_minutes: int | None = None
    seats: int | None = None


@dataclass(frozen=True)
class DayPlan:
    """One clinic day as it will actually run, after exceptions are applied."""

    day: date
    start: time
    end: time
    slot_minutes: int
    seats: int
    extra: bool = False


def plan_days(
    start: date,
    end: date,
    defaults: DayDefaults,
    exceptions: Iterable[DayException] = (),
) -> list[DayPlan]:
    """Return the clinic days from ``start`` to ``end`` (inclusive) as they will run.

    Rule: the regular days (``clinic_days``) minus the closed ones, plus extra days, with each
    date's own hours, slot length and seats where staff changed them.
    """
    by_day = {exc.day: exc for exc in exceptions if start <= exc.day <= end}
    regular = set(clinic_days(start, end))
    extra = {day for day, exc in by_day.items() if exc.extra}
    plans = []
    for day in sorted(regular | extra):
        exc = by_day.get(day)
        if exc is None:
            plans.append(
                DayPlan(day, defaults.start, defaults.end, defaults.slot_minutes, defaults.seats)
            )
            continue
        if exc.closed:
            continue
        plans.append(
            DayPlan(
                day=day,
                start=exc.start or defaults.start,
                end=exc.end or defaults.end,
                slot_minutes=exc.slot_minutes or defaults.slot_minutes,
                seats=defaults.seats if exc.seats is None else exc.seats,
                extra=day not in regular,
            )
        )
    return plans


# --- Slots -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotPlan:
    """One appointment time of a clinic day and how many youth it can take."""

    day: date
    start: time
    end: time
    seats: int


def day_slots(plan: DayPlan) -> list[SlotPlan]:
    """Return the appointment slots of a clinic day.

    Rule: back-to-back slots of ``slot_minutes`` from the day's start; a slot that would run
    past the day's end is not offered. Each slot has the day's number of seats.
    """
    if plan.slot_minutes <= 0:
        raise ValueError("slot_minutes must be positive")
    length = timedelta(minutes=plan.slot_minutes)
    cursor = datetime.combine(plan.day, plan.start)
    closing = datetime.combine(plan.day, plan.end)
    slots = []
    while cursor + length <= closing:
        slots.append(SlotPlan(plan.day, cursor.time(), (cursor + length).time(), plan.seats))
        cursor += length
    return slots


def find_slot(plan: DayPlan, start: time) -> SlotPlan | None:
    """Return the slot of ``plan`` that starts at ``start``, or None if there is none."""
    return next((slot for slot in day_slots(plan) if slot.start == start), None)


# --- Booking window ----------------------------------------------------------------------


@dataclass(frozen=True)
class BookingWindow:
    """How far ahead booking opens and how long before a slot it closes (settings)."""

    horizon_days: int = 60
    cutoff: timedelta = timedelta(hours=2)

    def last_day(self, today: date) -> date:
        """The furthest date that can be booked on ``today``."""
        return today + timedelta(days=self.horizon_days)


def slot_start(day: date, start: time, zone: tzinfo) -> datetime:
    """Return the aware instant at which a slot starts, from its clinic-local wall clock."""
    return datetime.combine(day, start, tzinfo=zone)


class SlotState(enum.Enum):
    """Whether a slot can be booked right now, and if not, why not."""

    OPEN = "open"
    TOO_FAR_AHEAD = "too_far_ahead"
    CLOSED = "closed"  # past the cut-off, or already over
    BLOCKED = "blocked"  # staff took this time out of the schedule
    FULL = "full"


def slot_state(
    starts_at: datetime,
    seats_left: int,
    now: datetime,
    window: BookingWindow,
    blocked: bool = False,
) -> SlotState:
    """Return whether a slot starting at ``starts_at`` (aware) can be booked at ``now`` (aware).

    Rule: booking opens ``horizon_days`` ahead (by the clinic's calendar date) and closes
    ``cutoff`` before the slot starts; a slot staff blocked takes no booking; a slot with no
    seat left is full.
    """
    if starts_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("slot_state needs time-zone-aware datetimes")
    today = now.astimezone(starts_at.tzinfo).date()
    if starts_at.date() > window.last_day(today):
        return SlotState.TOO_FAR_AHEAD
    if now.astimezone(UTC) > starts_at.astimezone(UTC) - window.cutoff:
        return SlotState.CLOSED
    if blocked:
        return SlotState.BLOCKED
    if seats_left <= 0:
        return SlotState.FULL
    return SlotState.OPEN


# --- Age and eligibility -----------------------------------------------------------------


def age_on(birth_date: date, day: date) -> int:
    """Return a person's age in whole years on ``day``.

    Rule: calendar arithmetic. A birthday counts from the day itself; someone born on
    29 February turns a year older on 1 March in common years.
    """
    if day < birth_date:
        raise ValueError("day is before birth_date")
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


@dataclass(frozen=True)
class AgeLimits:
    """The program's age range (settings): eligible from ``minimum`` up to ``maximum``."""

    minimum: int = 13
    maximum: int = 25
    adult: int = 18


class Eligibility(enum.Enum):
    """The outcome of the age rule for one person on one date."""

    ELIGIBLE = "eligible"
    TOO_YOUNG = "too_young"
    TOO_OLD = "too_old"
    NOT_BORN = "not_born"  # a date of birth after the appointment: a typing mistake


def eligibility(birth_date: date, day: date, limits: AgeLimits = AgeLimits()) -> Eligibility:
    """Return whether someone born on ``birth_date`` may be treated on ``day``.

    Rule: eligible means ``limits.minimum`` or older and not yet ``limits.maximum + 1`` on the
    appointment date itself (13 to 25 by default), not on the day of booking.
    """
    if birth_date > day:
        return Eligibility.NOT_BORN
    age = age_on(birth_date, day)
    if age < limits.minimum:
        return Eligibility.TOO_YOUNG
    if age > limits.maximum:
        return Eligibility.TOO_OLD
    return Eligibility.ELIGIBLE


def birthday_at_age(birth_date: date, age: int) -> date:
    """Return the date on which someone born on ``birth_date`` turns ``age``.

    Rule: as ``age_on``: a 29 February birthday falls on 1 March in common years.
    """
    anniversary = birth_date + relativedelta(years=age)
    if (birth_date.month, birth_date.day) == (2, 29) and anniversary.day == 28:
        return anniversary + timedelta(days=1)
    return anniversary


def needs_guardian(birth_date: date, day: date, limits: AgeLimits = AgeLimits()) -> bool:
    """Return whether a parent or guardian must consent for treatment on ``day``.

    Rule: anyone under ``limits.adult`` (18) on the appointment date needs a guardian's
    consent; emancipation and other exceptions are a staff decision at check-in.
    """
    return age_on(birth_date, day) < limits.adult


# --- All the settings together -----------------------------------------------------------


@dataclass(frozen=True)
class ClinicRules:
    """Every setting the rules above take, gathered from the app's configuration."""

    zone: tzinfo
    day: DayDefaults = DayDefaults()
    window: BookingWindow = BookingWindow()
    ages: AgeLimits = AgeLimits()
    follow_up: timedelta = timedelta(weeks=6)  # the least time between two sessions


# --- A visit on the clinic day -----------------------------------------------------------


class VisitStatus(enum.StrEnum):
    """Where an appointment stands. Stored as these strings."""

    BOOKED = "booked"
    CHECKED_IN = "checked_in"  # arrived, waiting to be called
    IN_TREATMENT = "in_treatment"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class VisitAction(enum.StrEnum):
    """What staff do to an appointment on the day."""

    CHECK_IN = "check_in"
    CALL = "call"
    COMPLETE = "complete"
    NO_SHOW = "no_show"
    CANCEL = "cancel"


# The only moves a visit can make. Anything else (completing a no-show, checking in a
# cancelled appointment, calling someone already in treatment) is refused.
TRANSITIONS: dict[tuple[VisitStatus, VisitAction], VisitStatus] = {
    (VisitStatus.BOOKED, VisitAction.CHECK_IN): VisitStatus.CHECKED_IN,
    (VisitStatus.BOOKED, VisitAction.NO_SHOW): VisitStatus.NO_SHOW,
    (VisitStatus.BOOKED, VisitAction.CANCEL): VisitStatus.CANCELLED,
    (VisitStatus.CHECKED_IN, VisitAction.CALL): VisitStatus.IN_TREATMENT,
    # A youth who arrived but leaves before being seen.
    (VisitStatus.CHECKED_IN, VisitAction.CANCEL): VisitStatus.CANCELLED,
    (VisitStatus.IN_TREATMENT, VisitAction.COMPLETE): VisitStatus.COMPLETED,
}

# Statuses that occupy a seat of their slot: the slot's counter equals the number of these.
SEAT_HOLDING = frozenset(
    {
        VisitStatus.BOOKED,
        VisitStatus.CHECKED_IN,
        VisitStatus.IN_TREATMENT,
        VisitStatus.COMPLETED,
    }
)


class InvalidTransition(ValueError):
    """A visit cannot make this move from where it stands."""

    def __init__(self, status: VisitStatus, action: VisitAction) -> None:
        super().__init__(f"{action.value} is not possible from {status.value}")
        self.status = status
        self.action = action


def next_status(status: VisitStatus, action: VisitAction) -> VisitStatus:
    """Return the status a visit moves to when staff take ``action``.

    Rule: only the moves in ``TRANSITIONS``; anything else raises ``InvalidTransition``.
    """
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransition(status, action) from None


def sources_of(action: VisitAction) -> frozenset[VisitStatus]:
    """The statuses from which ``action`` is allowed (for conditional updates)."""
    return frozenset(source for source, act in TRANSITIONS if act is action)


def seat_change(old: VisitStatus, new: VisitStatus) -> int:
    """How a move changes its slot's seat counter: -1 frees a seat, +1 takes one back.

    Rule: booked, checked in, in treatment and completed visits hold a seat; a no-show or a
    cancellation gives it back (so a walk-in can fill it), and undoing one takes it again.
    """
    return int(new in SEAT_HOLDING) - int(old in SEAT_HOLDING)


def is_late(starts_at: datetime, now: datetime, grace: timedelta) -> bool:
    """Return whether a booked youth who has not arrived may be marked a no-show.

    Rule: once ``grace`` has passed since the slot's start (aware datetimes), staff are
    offered the no-show; it is never applied on its own.
    """
    return now.astimezone(UTC) > starts_at.astimezone(UTC) + grace


@dataclass(frozen=True, order=True)
class QueuePlace:
    """What orders the waiting list: appointment time, then arrival, then ticket."""

    slot_start: time
    arrived_at: datetime
    ticket: int


def queue_order(places: Iterable[QueuePlace]) -> list[QueuePlace]:
    """Return the waiting youth in the order they are called.

    Rule: by appointment time, then by arrival time; a walk-in's appointment time is that of
    the free seat they took, so booked youth keep their place ahead of later walk-ins.
    """
    return sorted(places)


def walk_in_slot(slots: Iterable[SlotPlan], booked: dict[time, int], now: time) -> SlotPlan | None:
    """Return the slot a walk-in takes: the earliest not yet over with a free seat.

    Rule: walk-ins fill free seats from the current slot on; ``booked`` maps a slot's start
    to the seats already taken.
    """
    for slot in sorted(slots, key=lambda s: s.start):
        if slot.end > now and booked.get(slot.start, 0) < slot.seats:
            return slot
    return None


# --- Treatment over many visits ----------------------------------------------------------


def next_session_number(previous_sessions: int) -> int:
    """Return the number of the session about to be given: one more than those before."""
    if previous_sessions < 0:
        raise ValueError("previous_sessions must not be negative")
    return previous_sessions + 1


def earliest_follow_up(last_treatment: date | None, interval: timedelta) -> date | None:
    """Return the first date a next session may be booked, or None before any treatment.

    Rule: the skin needs ``interval`` (six weeks by default) to heal between sessions, so the
    next session is no sooner than the last treatment plus that interval.
    """
    if last_treatment is None:
        return None
    return last_treatment + interval


# --- Changing a day that has bookings ----------------------------------------------------


@dataclass(frozen=True)
class Stranded:
    """Bookings a schedule change would leave without a seat: ``count`` of the slot at
    ``start`` (all of them when the slot goes, the surplus when its seats shrink)."""

    start: time
    count: int


def stranded_bookings(
    booked: dict[time, int],
    new_plan: DayPlan | None,
    blocked: Iterable[time] = (),
) -> list[Stranded]:
    """Return the booked seats a new plan for a day would strand.

    Rule: a booking is stranded when its slot is no longer in the plan (the day closed, the
    hours or slot length changed), when its slot is blocked, or, for the bookings beyond
    the new number of seats, when the seats shrink. A change is never applied silently
    while this is not empty: staff choose what happens to these bookings.
    """
    offered = {slot.start: slot.seats for slot in (day_slots(new_plan) if new_plan else [])}
    shut = set(blocked)
    result = []
    for start in sorted(booked):
        taken = booked[start]
        if taken <= 0:
            continue
        if start not in offered or start in shut:
            result.append(Stranded(start, taken))
        elif taken > offered[start]:
            result.append(Stranded(start, taken - offered[start]))
    return result


# --- Reminders ---------------------------------------------------------------------------


class ReminderKind(enum.StrEnum):
    EARLY = "reminder_early"  # some days before (two by default)
    SAME_DAY = "reminder_same_day"  # the morning of the appointment


@dataclass(frozen=True)
class ReminderPolicy:
    """When reminders go out, in the clinic's wall-clock time. ``days_before`` 0 or a missing
    time turns that reminder off."""

    days_before: int = 2
    early_at: time | None = time(10, 0)
    same_day_at: time | None = time(9, 0)
    # A reminder due this soon after the booking was made adds nothing to its confirmation.
    quiet_after_booking: timedelta = timedelta(hours=1)

    @property
    def enabled(self) -> frozenset[ReminderKind]:
        """The kinds of reminder this policy sends at all."""
        kinds = set()
        if self.days_before > 0 and self.early_at is not None:
            kinds.add(ReminderKind.EARLY)
        if self.same_day_at is not None:
            kinds.add(ReminderKind.SAME_DAY)
        return frozenset(kinds)


@dataclass(frozen=True)
class Reminder:
    kind: ReminderKind
    send_at: datetime  # aware, UTC
    expires_at: datetime  # aware, UTC: the next reminder's time, or the appointment's start


def reminders_for(
    day: date,
    start: time,
    zone: tzinfo,
    booked_at: datetime,
    now: datetime,
    policy: ReminderPolicy = ReminderPolicy(),
) -> list[Reminder]:
    """The reminders an appointment on ``day`` at ``start`` should get, still worth sending.

    Rule: one ``days_before`` days ahead at ``early_at`` and one on the day at ``same_day_at``,
    both in the clinic's time zone (so a daylight-saving change in between moves neither).
    A reminder is left out when its time came before the booking was made or within
    ``quiet_after_booking`` of it (the confirmation has just said the same), or when the
    appointment has started. A reminder whose time has passed but whose appointment has not
    started is kept: it goes out late rather than never (the job that schedules it may not
    have run on time), until the next reminder is due. ``booked_at`` and ``now`` are aware.
    """
    starts = slot_start(day, start, zone).astimezone(UTC)
    if now >= starts:
        return []
    wanted: list[tuple[ReminderKind, date, time]] = []
    if ReminderKind.EARLY in policy.enabled:
        assert policy.early_at is not None
        wanted.append(
            (ReminderKind.EARLY, day - timedelta(days=policy.days_before), policy.early_at)
        )
    if ReminderKind.SAME_DAY in policy.enabled:
        assert policy.same_day_at is not None
        wanted.append((ReminderKind.SAME_DAY, day, policy.same_day_at))
    reminders: list[Reminder] = []
    for kind, on, at in reversed(wanted):
        send_at = slot_start(on, at, zone).astimezone(UTC)
        if send_at < booked_at + policy.quiet_after_booking or send_at >= starts:
            continue
        # A reminder still waiting when the next one is due (the worker was down) gives way
        # to it, rather than two arriving together.
        expires_at = reminders[0].send_at if reminders else starts
        reminders.insert(0, Reminder(kind, send_at, expires_at))
    return reminders


def retry_delay(attempt: int, base: timedelta, cap: timedelta, jitter: float) -> timedelta:
    """How long to wait before trying a message again after its ``attempt``-th failure.

    Rule: exponential backoff (``base``, doubling each time, never more than ``cap``), spread
    by ``jitter`` (a number from 0 to 1, random in production) over 80% to 120% of that, so
    that messages that failed together do not all retry in the same second.
    """
    # Doubling stops at the cap before it can overflow timedelta (about the 42nd doubling of
    # a minute), which a generous OUTBOX_MAX_ATTEMPTS would reach.
    step = base
    for _ in range(max(attempt - 1, 0)):
        if step >= cap:
            break
        step *= 2
    step = min(step, cap)
    spread = 0.8 + 0.4 * min(max(jitter, 0.0), 1.0)
    return step * spread
