"""Messages to youth: which way to reach them, when reminders go out and until when they are
worth sending, and how long to wait before trying a failed message again.

Pure: no Flask, no SQLAlchemy, no clock. Times are the clinic's wall clock until they become
instants here, in UTC, so that a daylight-saving change moves no reminder.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from clinic.rules.eligibility import slot_start


class Kind(enum.StrEnum):
    CONFIRMATION = "confirmation"  # booked online or by staff
    RESTORED = "restored"  # a cancellation undone by staff: booked again
    CANCELLED = "cancelled"  # cancelled by staff (the youth called, or asked)
    CLINIC_CANCELLED = "clinic_cancelled"  # the clinic closed the day or changed its hours
    MOVED = "moved"  # to another time the same day, by a schedule change
    REMINDER_EARLY = "reminder_early"
    REMINDER_SAME_DAY = "reminder_same_day"
    AFTERCARE = "aftercare"  # after a treatment
    # An online request in the youth's name that was not booked (see clinic.booking.book):
    ALREADY_BOOKED = "already_booked"  # they already have an appointment ahead
    TOO_SOON = "too_soon"  # sooner than the healing interval after their last treatment
    # What the youth did themselves, from their link:
    YOUTH_CANCELLED = "youth_cancelled"  # they cancelled
    RESCHEDULED = "rescheduled"  # they moved it to another day or time
    LINK_AGAIN = "link_again"  # "lost your link?": here it is again
    # About a standby or waiting-list entry (``OutboxMessage.entry_id``):
    LIST_JOINED = "list_joined"  # on a day's standby list, or on the program's waiting list
    SEAT_OFFERED = "seat_offered"  # a freed seat, held for them until the offer expires
    OFFER_LAPSED = "offer_lapsed"  # not taken in time: passed on; still on the list

    @property
    def is_reminder(self) -> bool:
        return self in (Kind.REMINDER_EARLY, Kind.REMINDER_SAME_DAY)

    @property
    def about_a_visit_ahead(self) -> bool:
        """Messages that only make sense while the appointment is still booked."""
        about_ahead = (
            Kind.CONFIRMATION,
            Kind.RESTORED,
            Kind.MOVED,
            Kind.RESCHEDULED,
            Kind.ALREADY_BOOKED,
        )
        return self in about_ahead or self.is_reminder

    @property
    def about_an_entry(self) -> bool:
        """Messages about a list entry rather than an appointment (``LINK_AGAIN`` can be
        about either)."""
        return self in (Kind.LIST_JOINED, Kind.SEAT_OFFERED, Kind.OFFER_LAPSED)


CHANNELS = ("email", "sms")


def choose_channel(contact_by: str | None, phone: str | None, email: str | None) -> str | None:
    """Which way to reach a youth: the way they chose if they gave that contact, else e-mail
    when they gave one, else a text; None when there is no way at all."""
    if contact_by == "sms" and phone:
        return "sms"
    if contact_by == "email" and email:
        return "email"
    if email:
        return "email"
    if phone:
        return "sms"
    return None


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
        assert policy.early_at is not None  # for mypy; ``enabled`` implies it  # nosec B101
        wanted.append(
            (ReminderKind.EARLY, day - timedelta(days=policy.days_before), policy.early_at)
        )
    if ReminderKind.SAME_DAY in policy.enabled:
        assert policy.same_day_at is not None  # for mypy; ``enabled`` implies it  # nosec B101
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
