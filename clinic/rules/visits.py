"""A visit on the clinic day: its statuses and the moves between them, which statuses hold a
seat, the order of the waiting queue, lateness, and sessions over a course of treatment.

Pure: no Flask, no SQLAlchemy, no clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from clinic.rules.calendar import SlotPlan

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


@dataclass(frozen=True)
class Waiting:
    """A youth in the waiting queue, as the call order sees them."""

    place: QueuePlace
    appointment_id: int
    # A minor whose guardian's consent is not recorded (confirmed or exempt) yet.
    awaiting_consent: bool = False


def awaiting_consent(is_minor: bool, consent_given: bool) -> bool:
    """Return whether a waiting youth must not be called yet.

    Rule: a minor (see ``eligibility.needs_guardian``) is called only once the guardian's
    consent is confirmed, or recorded as not needed; an adult never waits for one.
    """
    return is_minor and not consent_given


def call_order(waiting: Iterable[Waiting]) -> list[Waiting]:
    """Return the youth who can be called now, in the order they will be called.

    Rule: the queue order (``queue_order``: appointment time, then arrival, then ticket);
    a minor awaiting consent keeps their place but is passed over until it is recorded. The
    clinicians' "call next" and the waiting-room screen both follow this one order, so the
    screen's "next" is who will really be called.
    """
    return sorted((w for w in waiting if not w.awaiting_consent), key=lambda w: w.place)


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


# The Fitzpatrick skin types, as a treatment records them.
SKIN_TYPES = ("I", "II", "III", "IV", "V", "VI")


def missing_treatment_details(
    areas: Iterable[str], skin_type: str | None, settings: str | None
) -> list[str]:
    """Return what a treatment record lacks, by name ("areas", "skin_type", "settings").

    Rule: every treatment records the area treated, the skin type (Fitzpatrick I to VI) and
    the laser settings used, which the next session's clinician starts from; notes are
    optional. An empty list: the record is complete.
    """
    missing = []
    if not [area for area in areas if area]:
        missing.append("areas")
    if skin_type not in SKIN_TYPES:
        missing.append("skin_type")
    if not (settings or "").strip():
        missing.append("settings")
    return missing


def earliest_follow_up(last_treatment: date | None, interval: timedelta) -> date | None:
    """Return the first date a next session may be booked, or None before any treatment.

    Rule: the skin needs ``interval`` (six weeks by default) to heal between sessions, so the
    next session is no sooner than the last treatment plus that interval.
    """
    if last_treatment is None:
        return None
    return last_treatment + interval
